"""Train the shipped tiny character-level GPT on Tiny Shakespeare and write its checkpoint.

    nice -n 10 .venv/bin/python scripts/train_tinygpt.py            # ~45 min on 1 CPU thread
    .venv/bin/python scripts/train_tinygpt.py --steps 200 --out /tmp/tg   # quick try

Writes model.safetensors + config.json + README.md (model card with the measured validation
loss) to assets/models/tinygpt-shakespeare/. The best checkpoint so far (by validation loss on
the first 20k held-out characters) is saved at every evaluation, so an interrupted run still
leaves a usable model; the card is rewritten at the end with the loss on the full held-out text.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import corpora  # noqa: E402
from core.transformers import tinygpt  # noqa: E402
from scripts._cli import card_args  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402

CARD = """# Tiny GPT on Tiny Shakespeare (character level)

A small decoder-only transformer trained from scratch in this repo by
`scripts/train_tinygpt.py` (code: `core/transformers/tinygpt.py`).

- **Architecture**: {n_layer} pre-norm blocks, {n_head} heads, width {n_embd}, learned positions,
  context {block_size} characters, GELU MLP (4x), head tied to the token embedding;
  {params:,} parameters; vocabulary of {vocab_size} characters.
- **Data**: Tiny Shakespeare (`assets/data/tinyshakespeare.txt`, public domain), split with
  `core.corpora.split_text`: first {train_pct} ({n_train:,} characters) for training, last {val_pct}
  ({n_val:,} characters) held out.
{before}- **Training**: AdamW (betas 0.9/0.99, weight decay 0.1), lr {lr} with {warmup} warm-up steps and
  cosine decay to lr/10, batch {batch_size} x {block_size} characters, dropout {dropout}, gradient
  clipping 1.0, seed {seed}; {steps_done} steps ({tokens:,} characters seen) in {minutes:.1f} min on
  {where}.
- **Quality**: validation loss on the full held-out {val_pct} = **{val_loss:.3f} nats/char**
  ({bpc:.3f} bits/char); final training-batch loss {train_loss:.3f}. Best checkpoint kept by
  validation loss on {eval_on} (step {best_step}).
  Re-measure with `python benchmarks/tinygpt.py --text <held-out text>`.
- **Command**: `{command}`
- **Sample** (seed 0, temperature 0.8, prompt "ROMEO:"):

```
{sample}
```

Limitations: it only knows the {vocab_size} characters of Tiny Shakespeare, spells words and
imitates the play format but makes little sense over more than a line or two.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(MODELS_DIR / "tinygpt-shakespeare"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--max-minutes", type=float, default=45.0, help="time budget; the lr schedule fits into it")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-chars", type=int, default=20_000,
                    help="held-out characters for the periodic evaluation that picks the best step (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (bfloat16 autocast on a GPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", default="", help="continue from this checkpoint folder (its config wins)")
    ap.add_argument("--steps-before", type=int, default=0, help="steps already done by --init (for the card)")
    ap.add_argument("--minutes-before", type=float, default=0.0, help="minutes already spent by --init")
    ap.add_argument("--before", default="", help="how the --init checkpoint was trained (one line for the card)")
    ap.add_argument("--val-fraction", type=float, default=corpora.VAL_FRACTION,
                    help="held-out fraction at the end of the text (default: core.corpora.VAL_FRACTION)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    text = corpora.shakespeare()
    train_text, val_text = corpora.split_text(text, args.val_fraction)
    cfg = tinygpt.TinyGPTConfig(vocab=tinygpt.vocab_of(text), block_size=args.context, n_layer=args.layers,
                                n_head=args.heads, n_embd=args.width, dropout=args.dropout)
    model = tinygpt.new_model(cfg, seed=args.seed)
    if args.init:
        model = tinygpt.load_checkpoint(args.init)
        cfg = model.config
        for p in model.parameters():
            p.requires_grad_(True)
    print(f"model: {model.num_params():,} params, {cfg}", flush=True)
    out = Path(args.out)
    best = {"val": float("inf"), "step": 0}
    history: list[dict] = []
    t0 = time.time()

    def on_step(done: int, total: int, info: dict | None) -> None:
        info = info or {}
        if done % 50 == 0:
            print(f"step {done}/{total} loss {info.get('loss', float('nan')):.3f} "
                  f"{time.time() - t0:.0f}s", flush=True)
        if "val_loss" in info:
            print(f"  step {done} val_loss({args.eval_chars or 'all'}) {info['val_loss']:.4f}", flush=True)
            if info["val_loss"] < best["val"]:
                best.update(val=info["val_loss"], step=done)
                tinygpt.save_checkpoint(model, out)

    tinygpt.train(model, train_text, val_text, steps=args.steps, batch_size=args.batch, lr=args.lr,
                  warmup=args.warmup, seed=args.seed, eval_every=args.eval_every,
                  eval_chars=args.eval_chars or None, max_seconds=args.max_minutes * 60, on_step=on_step, history=history, device=args.device)
    minutes = (time.time() - t0) / 60 + args.minutes_before
    where = (f"one GPU ({torch.cuda.get_device_name(0)}, bfloat16 autocast)" if args.device.startswith("cuda")
             else f"{args.threads} CPU thread(s) of a 2-core machine")
    steps_done = history[-1]["step"] + args.steps_before
    model = tinygpt.load_checkpoint(out).to(args.device)  # the best one, as stored (float16 weights)
    val_loss = tinygpt.evaluate(model, val_text)
    sample = "ROMEO:" + tinygpt.generate(model, "ROMEO:", 300, temperature=0.8, seed=0)
    card = CARD.format(n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, block_size=cfg.block_size,
                       params=model.num_params(), vocab_size=cfg.vocab_size, n_train=len(train_text),
                       n_val=len(val_text), lr=args.lr, warmup=args.warmup, batch_size=args.batch,
                       dropout=cfg.dropout, seed=args.seed, steps_done=steps_done,
                       tokens=steps_done * args.batch * cfg.block_size, minutes=minutes, threads=args.threads,
                       val_loss=val_loss, bpc=val_loss / 0.6931471805599453, train_loss=history[-1]["loss"],
                       best_step=best["step"], sample=sample.replace("```", "'''"), where=where,
                       train_pct=f"{1 - args.val_fraction:.0%}", val_pct=f"{args.val_fraction:.0%}",
                       before=f"- **Before this run**: {args.before}\n" if args.before else "",
                       eval_on=f"the first {args.eval_chars:,} held-out characters" if args.eval_chars else "all of it",
                       command="python scripts/train_tinygpt.py " + card_args())
    tinygpt.save_checkpoint(model, out, card=card)
    print(f"saved {out}; val_loss={val_loss:.4f} nats/char after {steps_done} steps, {minutes:.1f} min")


if __name__ == "__main__":
    main()
