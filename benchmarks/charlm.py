"""Benchmark: how good is the default LSTM after S seconds of training on 2 CPU threads?

    .venv/bin/python benchmarks/charlm.py --text assets/data/tinyshakespeare.txt --seconds 60

Trains `CharLMConfig()` + `TrainConfig()` (the page's defaults for a fresh LSTM, i.e. AdamW with
warm-up + cosine decay over the time budget, truncated BPTT with the state carried across chunks,
clipping at 1) on the Tiny Shakespeare training split for S seconds, then reports validation loss
(nats/char) on PATH. If PATH is the bundled Tiny Shakespeare file, only its held-out last 5%
(`core.corpora.VAL_FRACTION`, never trained on) is used; any other file is evaluated whole.
Characters outside the model's vocabulary are dropped (and counted). It also evaluates the shipped checkpoint on the same text and,
unless --no-baseline, a plain baseline in the same run: a 1-layer 256-unit LSTM with constant-LR Adam
(2e-3), batch 32 × 64, state reset every chunk, for the same S seconds.

Ends with one line: `charlm: steps=… train_s=… val_loss=… shipped_val_loss=… baseline_val_loss=…`.
Targets: val_loss ≤ 1.6 after 60 s; shipped_val_loss ≤ 1.5.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sequence import charlm  # noqa: E402
from core.corpora import SHAKESPEARE, VAL_FRACTION, shakespeare, split_text  # noqa: E402
from core.sources import get_source  # noqa: E402


def eval_text(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    if path.resolve() == SHAKESPEARE.resolve():
        return split_text(text)[1], f"held-out last {VAL_FRACTION:.0%} of Tiny Shakespeare"
    return text, f"all of {path}"


def encode_known(vocab: charlm.Vocab, text: str) -> tuple[torch.Tensor, int]:
    known = "".join(c for c in text if c in vocab.stoi)
    return vocab.encode(known), len(text) - len(known)


def run(cfg: charlm.CharLMConfig, tc: charlm.TrainConfig, corpus, seed: int):
    model = charlm.build_model(cfg, seed)
    res = charlm.train(model, corpus, tc, seed=seed)
    return model, res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", default=str(SHAKESPEARE), help="text to evaluate on (nats/char)")
    p.add_argument("--seconds", type=float, default=60.0, help="training budget (wall-clock)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-baseline", action="store_true", help="skip the plain-LSTM baseline run")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"threads={torch.get_num_threads()} load_avg_1min={load:.2f} (on a shared machine, seconds buy less)")
    corpus = charlm.make_corpus(shakespeare(), "tinyshakespeare")
    text, what = eval_text(Path(args.text))
    print(f"evaluating on {what}: {len(text):,} characters")

    cfg = charlm.CharLMConfig(vocab_size=len(corpus.vocab))
    tc = charlm.TrainConfig(max_steps=1_000_000, max_seconds=args.seconds, eval_every=0)
    print(f"default config: {cfg}\n                {tc}")
    model, res = run(cfg, tc, corpus, args.seed)
    ids, dropped = encode_known(corpus.vocab, text)
    val = charlm.evaluate(model, ids)
    print(f"default LSTM: {res.steps} steps, {res.seconds:.1f} s, {res.steps * tc.batch_size * tc.seq_len:,} chars "
          f"seen, val {val:.4f} nats/char ({dropped} unknown characters dropped)")

    shipped_val = float("nan")
    try:
        bundle = get_source("char_lm", "shakespeare-lstm").load()
        sids, sdropped = encode_known(bundle.vocab, text)
        t0 = time.perf_counter()
        shipped_val = charlm.evaluate(bundle.model, sids)
        print(f"shipped checkpoint: {bundle.config.n_layers}x{bundle.config.hidden_size} {bundle.config.cell}, "
              f"{charlm.count_params(bundle.model):,} params, val {shipped_val:.4f} nats/char "
              f"({time.perf_counter() - t0:.1f} s to evaluate, {sdropped} unknown dropped)")
    except ValueError as exc:
        print(f"shipped checkpoint unavailable: {exc}")

    summary = (f"charlm: steps={res.steps} train_s={res.seconds:.1f} val_loss={val:.4f} "
               f"shipped_val_loss={shipped_val:.4f}")
    if not args.no_baseline:
        bcfg = charlm.CharLMConfig("lstm", len(corpus.vocab), 1, 256, 64)
        btc = charlm.TrainConfig(batch_size=32, seq_len=64, lr=2e-3, warmup_frac=0.0, min_lr_frac=1.0,
                                 weight_decay=0.0, clip=0.0, carry_state=False, max_steps=1_000_000,
                                 max_seconds=args.seconds, eval_every=0)
        bmodel, bres = run(bcfg, btc, corpus, args.seed)
        bval = charlm.evaluate(bmodel, ids)
        print(f"baseline (1x256 LSTM, Adam 2e-3 constant, 32x64, no state carry): {bres.steps} steps, "
              f"{bres.seconds:.1f} s, val {bval:.4f} nats/char")
        summary += f" baseline_val_loss={bval:.4f}"
    print(f"targets: val_loss <= 1.6 after 60 s, shipped_val_loss <= 1.5")
    print(summary + f" load_avg={load:.1f}")


if __name__ == "__main__":
    main()
