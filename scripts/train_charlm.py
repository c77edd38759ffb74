"""Train the shipped character-level LSTM on Tiny Shakespeare and write its checkpoint + model card.

    nice -n 10 .venv/bin/python scripts/train_charlm.py --minutes 55 --threads 1

Writes assets/models/charlm-shakespeare-lstm/{model.safetensors, config.json, vocab.json, README.md}.
The weights are stored in fp16 (the card reports the validation loss of the stored fp16 weights).
A checkpoint is also written every --save-every steps, so an interrupted run still leaves a model.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sequence import charlm  # noqa: E402
from core.corpora import VAL_FRACTION, shakespeare  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402
from scripts._cli import card_args  # noqa: E402

OUT = MODELS_DIR / "charlm-shakespeare-lstm"


def _where(args) -> str:
    if args.device.startswith("cuda"):
        return f"one GPU ({torch.cuda.get_device_name(0)}, float32 with TF32 matrix products)"
    return f"a 2-core CPU ({args.threads} torch thread(s))"


def card(args, cfg, tc, corpus, steps, seconds, val_fp32, val_fp16, size_mb, final, samples) -> str:
    status = "final" if final else f"INTERMEDIATE (training still running at step {steps})"
    sample = samples[-1][1] if samples else ""
    return f"""# charlm-shakespeare-lstm

A character-level LSTM language model trained on Tiny Shakespeare, shipped so the RNN text page can
generate text before anyone trains. Produced by `scripts/train_charlm.py` ({status}).

## Model
- Architecture: embedding ({cfg.embed_size}) → {cfg.n_layers}-layer {cfg.cell.upper()} ({cfg.hidden_size} units)
  → dropout {cfg.dropout} → linear over {cfg.vocab_size} characters; {charlm.count_params(charlm.CharLM(cfg)):,} parameters.
- Config: `config.json` (`core.sequence.charlm.CharLMConfig`); vocabulary: `vocab.json` (sorted characters).
- Weights: `model.safetensors`, stored in float16 ({size_mb:.1f} MB); loaded as float32.

## Data
- Tiny Shakespeare (`assets/data/tinyshakespeare.txt`, public domain, {len(corpus.vocab)} distinct characters).
- Fixed split `core.corpora.split_text`: first {1 - args.val_fraction:.0%} training ({corpus.train_ids.numel():,} chars),
  last {args.val_fraction:.0%} validation ({corpus.val_ids.numel():,} chars, never trained on).

## Training
{f"- Before this run: {args.before}" + chr(10) + "- This run: " if args.before else "- "}AdamW (betas 0.9/0.99, weight decay {tc.weight_decay}), peak learning rate {tc.lr}, linear warmup over
  {tc.warmup_frac:.0%} of the run then cosine decay to {tc.min_lr_frac:.0%} of the peak (progress: the larger of
  the step and wall-clock fractions), gradient clipping at norm {tc.clip}.
- Truncated BPTT: batch {tc.batch_size} contiguous streams × {tc.seq_len} characters, hidden state carried
  across consecutive chunks.
- {steps:,} steps ({steps * tc.batch_size * tc.seq_len / 1e6:.1f} M characters, about
  {steps * tc.batch_size * tc.seq_len / max(1, corpus.train_ids.numel()):.1f} epochs) in {seconds / 60:.1f} minutes on
  {_where(args)}, seed {args.seed}.
- Command: `python scripts/train_charlm.py {card_args(drop=("--out",))}`

## Measured quality (held-out validation, whole last {args.val_fraction:.0%} of Tiny Shakespeare)
- Validation loss, float32 weights: **{val_fp32:.4f} nats/char** ({val_fp32 / 0.693147:.3f} bits/char)
- Validation loss, stored float16 weights: **{val_fp16:.4f} nats/char**
- For scale: a uniform guess over {len(corpus.vocab)} characters is {torch.log(torch.tensor(float(len(corpus.vocab)))):.2f} nats/char.

## Sample (temperature 0.8, seed {args.seed})
```
{sample[:400]}
```

## Limits
Trained on 1 MB of Elizabethan English only: it invents words, loses track of plot within a line or
two, and knows no characters outside its {len(corpus.vocab)}-character vocabulary. Written {dt.date.today()}.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cell", default="lstm", choices=charlm.CELLS)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--minutes", type=float, default=25.0, help="wall-clock training budget")
    p.add_argument("--max-steps", type=int, default=200_000)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda (a GPU trains in minutes what takes a CPU hours)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup-frac", type=float, default=charlm.TrainConfig.warmup_frac)
    p.add_argument("--init", default="", help="continue from this checkpoint folder (its config and vocabulary win)")
    p.add_argument("--before", default="", help="how the --init checkpoint was trained (one line for the card)")
    p.add_argument("--val-fraction", type=float, default=VAL_FRACTION,
                   help="held-out fraction at the end of the text (default: core.corpora.VAL_FRACTION)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    init = charlm.load_checkpoint(args.init) if args.init else None
    corpus = charlm.make_corpus(shakespeare(), "tinyshakespeare", vocab=init.vocab if init else None,
                                val_fraction=args.val_fraction)
    cfg = init.model.config if init else charlm.CharLMConfig(args.cell, len(corpus.vocab), args.layers, args.hidden,
                                                              args.embed, args.dropout)
    tc = charlm.TrainConfig(batch_size=args.batch, seq_len=args.seq, lr=args.lr, max_steps=args.max_steps,
                            warmup_frac=args.warmup_frac,
                            max_seconds=args.minutes * 60, eval_every=args.eval_every, eval_chars=30_000,
                            sample_every=args.save_every, sample_len=300)
    model = init.model if init else charlm.build_model(cfg, args.seed)
    print(f"params {charlm.count_params(model):,}  corpus {corpus.info}", flush=True)
    t0 = time.monotonic()
    out = Path(args.out)

    best: dict = {"val": float("inf")}

    def save(steps, seconds, final, samples):
        """Evaluate on the whole validation text; write the checkpoint only if it is the best so far."""
        val32 = charlm.evaluate(model, corpus.val_ids)
        model.train()
        print(f"step {steps}: full validation {val32:.4f}" + ("" if val32 < best["val"] else " (not better)"),
              flush=True)
        if val32 < best["val"]:
            charlm.save_checkpoint(model, corpus.vocab, out, info={"steps": steps, "corpus": "tinyshakespeare"})
            loaded = charlm.load_checkpoint(out).model.to(args.device)
            val16 = charlm.evaluate(loaded, corpus.val_ids)
            best.update(val=val32, val16=val16, steps=steps, seconds=seconds, samples=list(samples))
            write_card(final)
        elif final:
            write_card(True)  # the best checkpoint stays; its card now says the run is over

    def write_card(final):
        size = (out / "model.safetensors").stat().st_size / 1e6
        info = {"steps": best["steps"], "train_minutes": round(best["seconds"] / 60, 1),
                "val_loss": round(best["val16"], 4), "val_loss_fp32": round(best["val"], 4),
                "corpus": "tinyshakespeare", "final": final}
        text = card(args, cfg, tc, corpus, best["steps"], best["seconds"], best["val"], best["val16"], size, final,
                    best["samples"])
        loaded = charlm.load_checkpoint(out)
        charlm.save_checkpoint(loaded.model, corpus.vocab, out, info=info, card=text)
        print(f"saved step {best['steps']}: val fp32 {best['val']:.4f} fp16 {best['val16']:.4f} ({size:.1f} MB)",
              flush=True)

    samples: list = []
    history: list = []

    def on_step(done, total, info):
        if "val_loss" in info:
            last = history[-2] if len(history) > 1 else {}
            print(f"step {done} t={time.monotonic() - t0:.0f}s loss {info['loss']:.3f} val {info['val_loss']:.3f} "
                  f"lr {last.get('lr', 0):.2e}", flush=True)
        if done % args.save_every == 0:
            save(done, history[-1]["time_s"], False, samples)

    model.to(args.device)  # train there; evaluations and checkpoints follow the model
    res = charlm.train(model, corpus, tc, seed=args.seed, on_step=on_step, history=history, samples=samples,
                       device=args.device)
    print(f"done: {res.steps} steps, {res.seconds:.0f}s, stopped by {res.stopped_by}", flush=True)
    save(res.steps, res.seconds, True, samples)


if __name__ == "__main__":
    main()
