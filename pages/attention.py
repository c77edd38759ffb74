"""Attention page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("Attention", [
    "Scaled dot-product attention step by step",
    "Causal and padding masks",
    "Multi-head attention",
    "Positional encodings",
    "Attention in MiniLM and SmolLM2",
])
