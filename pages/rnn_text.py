"""RNN text generation page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("RNN text generation", [
    "Train RNN, GRU and LSTM character language models",
    "Generation with temperature",
    "Vanishing gradients and clipping",
    "A shipped Shakespeare LSTM",
])
