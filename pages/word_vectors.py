"""Word vectors page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("Word vectors", [
    "One-hot vs dense vectors",
    "Analogies (3CosAdd / 3CosMul) with GloVe 6B 50d",
    "Neighbours and 2-D/3-D maps",
    "Scoreboard on the Google analogy set, WordSim-353, SimLex-999",
    "Train word2vec on your own text",
])
