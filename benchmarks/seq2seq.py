"""Translation quality and speed of the shipped English→Chinese seq2seq model.

    .venv/bin/python benchmarks/seq2seq.py [--pairs PATH] [--limit N] [--beam 5] [--alpha 0.7]

PATH: tab-separated `English<TAB>Chinese[<TAB>attribution]` lines. Without --pairs it uses the
held-out validation pairs of the bundled Tatoeba data (every 10th pair, never trained on).
Scores are character-level BLEU-4 (sacrebleu on our character tokens, tokenize="none"); the
sacrebleu "zh" tokenizer on raw strings is printed as a cross-check. The baseline in the same run
is the shipped no-attention model (same data and budget). Ends with one summary line:
`seq2seq: pairs=... bleu_greedy=... bleu_beam=... sents_per_s=...` (sents_per_s = batched greedy).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sequence import seq2seq as S  # noqa: E402
from core.corpora import held_out_pairs  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402


def sacre_zh(hyps, refs) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(["".join(h) for h in hyps], [["".join(r) for r in refs]], tokenize="zh").score)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", default="", help="tab-separated English<TAB>Chinese pairs (default: bundled validation split)")
    ap.add_argument("--model", default=str(MODELS_DIR / "seq2seq-en-zh"))
    ap.add_argument("--baseline", default=str(MODELS_DIR / "seq2seq-en-zh" / "no-attention"))
    ap.add_argument("--limit", type=int, default=0, help="use the first N pairs (0: all)")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    pairs, where = held_out_pairs(args.pairs, args.limit)
    if not pairs:
        sys.exit("No pairs found: the file needs lines 'English<TAB>Chinese'.")
    bundle = S.load_checkpoint(args.model)
    print(f"model: {args.model} ({bundle.config.attention} attention, {S.count_parameters(bundle.model):,} params)")
    print(f"pairs: {len(pairs)} from {where}")

    t0 = time.perf_counter()
    greedy = S.evaluate_bleu(bundle, pairs, "greedy")
    t1 = time.perf_counter()
    beam = S.evaluate_bleu(bundle, pairs, "beam", beam_width=args.beam, alpha=args.alpha)
    t2 = time.perf_counter()
    n = len(greedy["references"])
    g_rate, b_rate = n / (t1 - t0), n / (t2 - t1)
    print(f"greedy (batched): char BLEU-4 {greedy['bleu']:.2f}  (sacrebleu zh tokenizer: "
          f"{sacre_zh(greedy['hypotheses'], greedy['references']):.2f})  {g_rate:.1f} sentences/s")
    print(f"beam {args.beam}, alpha {args.alpha} (one by one): char BLEU-4 {beam['bleu']:.2f}  (sacrebleu zh: "
          f"{sacre_zh(beam['hypotheses'], beam['references']):.2f})  {b_rate:.1f} sentences/s")
    for row in S.bleu_by_length(greedy["sources"], greedy["hypotheses"], greedy["references"]):
        print(f"  greedy BLEU, source length {row['bucket']:>5}: {row['bleu']:6.2f} ({row['pairs']} pairs)")
    base_bleu = float("nan")
    if Path(args.baseline, "model.safetensors").exists():
        base = S.load_checkpoint(args.baseline)
        bg = S.evaluate_bleu(base, pairs, "greedy")
        base_bleu = bg["bleu"]
        print(f"baseline {args.baseline} ({base.config.attention} attention), greedy: char BLEU-4 {base_bleu:.2f}")
        for row in S.bleu_by_length(bg["sources"], bg["hypotheses"], bg["references"]):
            print(f"  baseline greedy BLEU, source length {row['bucket']:>5}: {row['bleu']:6.2f} ({row['pairs']} pairs)")
    for i in range(min(5, n)):
        print(f"  {greedy['sources'][i]!r} -> greedy {''.join(greedy['hypotheses'][i])!r} | beam "
              f"{''.join(beam['hypotheses'][i])!r} | ref {''.join(greedy['references'][i])!r}")
    print(f"beam >= greedy: {beam['bleu'] >= greedy['bleu']}")
    print(f"seq2seq: pairs={n} bleu_greedy={greedy['bleu']:.2f} bleu_beam={beam['bleu']:.2f} "
          f"sents_per_s={g_rate:.1f} beam_sents_per_s={b_rate:.1f} bleu_greedy_no_attention={base_bleu:.2f}")


if __name__ == "__main__":
    main()
