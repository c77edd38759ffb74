"""The shipped Chinese BERT on held-out People's Daily: masked-character accuracy and next-sentence accuracy.

    .venv/bin/python benchmarks/bert_zh.py [--model assets/models/bert-zh-peoples-daily] [--pairs 2000]
Ends with: bert_zh: mlm_top1=… mlm_top5=… nsp_acc=… pretrain_s=… (then char_top1, unigram_top1, unigram_top5,
pairs, ms_per_pair, load)

The held-out split is `core.transformers.bert_zh.corpus_split` (every 10th block of 200 sentences); the pairs
and masks are fixed by a seed, so every model is scored on the same predictions. mlm_* use whole-word masking
(as pre-trained), char_top1 single-character masking. The baseline in the same run is a unigram guesser
(always the most frequent training characters) on the same masked positions; NSP's chance level is 0.5.
Targets (issue 21): mlm_top1 ≥ 0.5, nsp_acc ≥ 0.85.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.device import make_generator  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402
from core.transformers import bert_zh as B  # noqa: E402


def unigram(vocab: B.CharVocab, train, held, n: int) -> tuple[float, float]:
    """Top-1 / top-5 of always guessing the most frequent training characters, on `evaluate`'s positions."""
    counts = Counter(c for s in train for w in s for c in w)
    best = [vocab.stoi[c] for c, _n in counts.most_common() if c in vocab.stoi][:5]
    gen = make_generator(12345)  # evaluate's seed: the same pairs and masks
    triples = B.nsp_pairs(held, n, gen)
    hit1 = hit5 = total = 0
    for a, b, _y in triples:
        ex = B.mask_example(a, b, vocab, gen, 128)
        gold = [y for y in ex["labels"] if y != B.IGNORE]
        hit1 += sum(y == best[0] for y in gold)
        hit5 += sum(y in best for y in gold)
        total += len(gold)
    return hit1 / total, hit5 / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(MODELS_DIR / "bert-zh-peoples-daily"))
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    bundle = B.load(args.model)
    train, held = B.corpus_split()
    t0 = time.perf_counter()
    res = B.evaluate(bundle.model, bundle.vocab, held, n=args.pairs)
    ms = (time.perf_counter() - t0) * 1000 / args.pairs
    chars = B.evaluate(bundle.model, bundle.vocab, held, n=args.pairs, whole_word=False)
    u1, u5 = unigram(bundle.vocab, train, held, args.pairs)
    print(f"{args.model}: {B.count_params(bundle.model):,} parameters; {args.pairs} held-out pairs, "
          f"{res['predictions']:,} masked characters")
    print(f"MLM whole-word masking: top-1 {res['mlm_top1']:.3f}, top-5 {res['mlm_top5']:.3f}, CE {res['mlm_ce']:.3f}; "
          f"single characters: top-1 {chars['mlm_top1']:.3f}; unigram guesser: top-1 {u1:.3f}, top-5 {u5:.3f}")
    print(f"NSP accuracy {res['nsp_acc']:.3f} (chance 0.5)")
    pre_s = 60 * float(bundle.meta.get("minutes", float("nan")))
    print(f"bert_zh: mlm_top1={res['mlm_top1']:.3f} mlm_top5={res['mlm_top5']:.3f} nsp_acc={res['nsp_acc']:.3f} "
          f"pretrain_s={pre_s:.0f} char_top1={chars['mlm_top1']:.3f} unigram_top1={u1:.3f} unigram_top5={u5:.3f} "
          f"pairs={args.pairs} ms_per_pair={ms:.2f} load={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
