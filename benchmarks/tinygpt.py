"""Validation loss of the shipped tiny GPT (nats/char) on a text file.

    .venv/bin/python benchmarks/tinygpt.py                       # held-out last 5% of Tiny Shakespeare
    .venv/bin/python benchmarks/tinygpt.py --text path/to/held_out.txt

Baselines in the same run: a uniform guess (log V) and a character unigram model fitted on the
training 95% (the last 5%, `core.corpora.VAL_FRACTION`, is held out). Target: <= 1.5 nats/char on
held-out Shakespeare. Ends with `tinygpt: val_loss=...`.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import corpora  # noqa: E402
from core.transformers import tinygpt  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default="", help="UTF-8 text file (default: the held-out last 5%% of Tiny Shakespeare)")
    ap.add_argument("--model", default=str(MODELS_DIR / "tinygpt-shakespeare"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = tinygpt.load_checkpoint(args.model)
    train_text, held_out = corpora.split_text(corpora.shakespeare())
    text = Path(args.text).read_text(encoding="utf-8") if args.text else held_out
    unknown = set(text) - set(model.config.vocab)
    if unknown:
        print(f"dropping {sum(text.count(c) for c in unknown)} characters the model does not know: {sorted(unknown)}")
        text = "".join(c for c in text if c not in unknown)
    t0 = time.perf_counter()
    loss = tinygpt.evaluate(model, text)
    secs = time.perf_counter() - t0
    counts = Counter(train_text)
    total = sum(counts.values())
    unigram = -sum(math.log((counts.get(c, 0) + 1) / (total + len(counts))) for c in text) / len(text)
    print(f"model: {model.num_params():,} params, context {model.config.block_size}; text: {len(text):,} characters")
    print(f"uniform guess: {math.log(model.config.vocab_size):.3f} nats/char; unigram: {unigram:.3f}; "
          f"tiny GPT: {loss:.4f} ({loss / math.log(2):.3f} bits/char) in {secs:.1f} s")
    print(f"tinygpt: val_loss={loss:.4f} bits_per_char={loss / math.log(2):.3f} unigram={unigram:.3f} "
          f"target=1.5 met={str(loss <= 1.5).lower()}")


if __name__ == "__main__":
    main()
