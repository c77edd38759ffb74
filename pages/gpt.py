"""GPT sampling page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("GPT sampling", [
    "Streaming generation with SmolLM2",
    "Temperature, top-k, top-p",
    "Compare decoders",
    "A tiny GPT trained in the app",
])
