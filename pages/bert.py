"""BERT fill-mask page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("BERT fill-mask", [
    "Fill-mask with probabilities",
    "How MLM corruption works",
    "Contextual word vectors",
])
