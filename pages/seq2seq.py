"""Seq2seq translation page (placeholder until its issue lands)."""
from pages._shared import placeholder

placeholder("Seq2seq translation", [
    "English→Chinese and English→French translators",
    "Teacher forcing and exposure bias",
    "Greedy and beam search",
    "Attention heatmaps",
])
