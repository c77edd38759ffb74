"""Process-wide settings read from the environment once (documented in README "Hosting")."""
from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# NLP_PLAYGROUND_LOW_MEMORY=1 serves smaller defaults for small hosts: SmolLM2 held in bfloat16 (half
# of its ~540 MB; measured here: same perplexity, no slower), no second (fast) copy of it, GloVe
# restricted to its 50k most frequent words, and one model fewer kept loaded. (A cap below what the
# six pages use makes models load again and again: 3 raised the peak RSS, see README "Hosting".)
LOW_MEMORY = _flag("NLP_PLAYGROUND_LOW_MEMORY")
# How many distinct models stay loaded per process (least recently used is evicted first).
MAX_MODELS = int(os.environ.get("NLP_PLAYGROUND_MAX_MODELS", "5" if LOW_MEMORY else "6"))
# GloVe vocabulary kept in memory (the file is frequency-ordered, so this keeps the common words).
GLOVE_MAX_WORDS = 50_000 if LOW_MEMORY else 400_000
