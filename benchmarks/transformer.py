"""The Transformer (issue 20): the shipped Transformer translator against the shipped GRU + attention model on
the same held-out English→Chinese pairs, and our encoder–decoder on the Annotated Transformer's copy task.

    .venv/bin/python benchmarks/transformer.py [--pairs PATH] [--limit N] [--save] [--seconds 30] [--threads 2]
Ends with: transformer: bleu_greedy=… bleu_beam=… rnn_bleu_beam=… sents_per_s=… copy_exact=… copy_train_s=…
(then: rnn_bleu_greedy, rnn_sents_per_s, beam_sents_per_s, rnn_beam_sents_per_s, pairs, copy_steps, params, load)

- translation: `assets/models/transformer-en-zh` (ours, `core.transformers.translator`) and
  `assets/models/seq2seq-en-zh` (GRU + additive attention) translate the same pairs: by default every pair
  of the fixed held-out split (`core.corpora.split_pairs(tatoeba("zh"))`, every 10th Tatoeba pair, the split
  both were validated on), or a TSV file `source<TAB>reference` given with --pairs. Character-level BLEU-4
  (sacrebleu on our tokens), greedy (batched) and beam 5 (α 0.7, one sentence at a time); sents_per_s is
  the Transformer's greedy decoding speed on this machine (rnn_sents_per_s the GRU's, same run, same
  threads). Target: bleu_beam ≥ rnn_bleu_beam. `--save` writes both models' figures and BLEU by length to
  assets/models/transformer-en-zh/comparison.json, which the Transformer page shows.

- copy task: `core.transformers.transformer.ToyTask("copy", n_symbols=8, min_len=10, max_len=10)`, the
  Annotated Transformer's (a vocabulary of 11 with <pad>, <s>, </s>; sequences of 10), a 2-layer
  encoder–decoder (d_model 64, 4 heads, d_ff 256, post-norm), batches of 64 fresh-drawn training pairs,
  Adam at the paper's warm-up schedule (200 steps). Every 50 steps it decodes 500 held-out sequences
  greedily; copy_exact is the exact-match share when training stops (at 100% or after --seconds of
  training), copy_train_s the training seconds it took (evaluations not counted). Target: copy_exact = 1.0
  within 30 s on 2 CPU threads. Anchor: the Annotated Transformer's copy task goes from loss 1.93 to 0.27
  in 10 epochs.
- `--tips SECONDS`: label smoothing (0.1 vs 0), warm-up (200 steps vs none: the peak rate from step 1) and
  pre- vs post-norm, each two runs of the same 2-layer model on the reverse task (length 3–8) for SECONDS,
  scored by held-out exact match; written to assets/models/transformer-tips.json for the page.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.transformers import transformer as T  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="copy-task training budget, seconds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", default="", help="TSV of source<TAB>reference pairs (default: the held-out split)")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N pairs (0: all)")
    ap.add_argument("--save", action="store_true", help="write assets/models/transformer-en-zh/comparison.json")
    ap.add_argument("--skip-copy", action="store_true", help="skip the copy task (copy_exact/copy_train_s = nan)")
    ap.add_argument("--tips", type=float, default=0.0, metavar="SECONDS",
                    help="also run the three training-tip comparisons on the reverse task, SECONDS per model, and "
                         "write assets/models/transformer-tips.json (the page shows it)")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, {args.threads} thread(s)", flush=True)

    mt = run_translation(args)
    if args.skip_copy:
        exact, train_s, steps, params = float("nan"), float("nan"), 0, 0
    else:
        exact, train_s, steps, params = run_copy(args)
    if args.tips > 0:
        run_tips(args)
    load = os.getloadavg()[0]
    g = lambda model, key: mt.get(model, {}).get(key, float("nan"))  # noqa: E731
    print(f"transformer: bleu_greedy={g('tf_greedy', 'bleu'):.2f} bleu_beam={g('tf_beam', 'bleu'):.2f} "
          f"rnn_bleu_beam={g('rnn_beam', 'bleu'):.2f} sents_per_s={g('tf_greedy', 'sents_per_s'):.1f} "
          f"copy_exact={exact:.3f} copy_train_s={train_s:.1f} rnn_bleu_greedy={g('rnn_greedy', 'bleu'):.2f} "
          f"rnn_sents_per_s={g('rnn_greedy', 'sents_per_s'):.1f} beam_sents_per_s={g('tf_beam', 'sents_per_s'):.1f} "
          f"rnn_beam_sents_per_s={g('rnn_beam', 'sents_per_s'):.1f} pairs={int(g('tf_greedy', 'pairs') or 0)} "
          f"copy_steps={steps} params={params} load={load:.1f}")


def run_translation(args) -> dict:
    """Both shipped translators on the same pairs, greedy and beam: {"tf_greedy": {...}, "rnn_beam": ...}."""
    import json

    from core import sources
    from core.corpora import held_out_pairs
    from core.sequence import seq2seq as S
    from core.transformers import translator as TR

    bundles = {}
    for key, name in (("tf", TR.SHIPPED), ("rnn", TR.BASELINE)):
        ref = Path(sources.get_source("seq2seq", name).ref)
        if (ref / "model.safetensors").exists():
            bundles[key] = S.load_checkpoint(ref)
        else:
            print(f"translation: {ref} is missing (train it: see its model card); its figures are nan")
    pairs, where = held_out_pairs(args.pairs, args.limit)
    if not pairs:
        sys.exit("No pairs found: the file needs lines 'English<TAB>Chinese'.")
    print(f"translation: {len(pairs)} pairs from {where}", flush=True)
    out = {}
    if not bundles:
        return out
    torch.set_num_threads(args.threads)
    for method in ("greedy", "beam"):
        res = TR.compare(bundles, pairs, method, beam_width=5, alpha=0.7)
        for key, r in res.items():
            out[f"{key}_{method}"] = r
            print(f"  {key:>3} {method:>6}: BLEU {r['bleu']:.2f} on {r['pairs']} pairs, {r['sents_per_s']:.1f} "
                  f"sentences/s ({r['seconds']:.1f} s), {r['parameters']:,} parameters; by source length: "
                  + ", ".join(f"{b['bucket']}: {b['bleu']:.1f}" for b in r["by_length"]), flush=True)
    if "tf_greedy" in out:
        for i in range(min(5, len(pairs))):
            print(f"  e.g. {pairs[i * len(pairs) // 5][0]!r}: tf {out['tf_beam']['hypotheses'][i * len(pairs) // 5]}"
                  + (f" | gru {out['rnn_beam']['hypotheses'][i * len(pairs) // 5]}" if "rnn_beam" in out else ""))
    if args.save and set(bundles) == {"tf", "rnn"}:
        keep = ("bleu", "sents_per_s", "pairs", "by_length", "parameters")
        data = {"date": time.strftime("%Y-%m-%d"), "pairs_from": where, "threads": args.threads,
                "torch": torch.__version__, "load": round(os.getloadavg()[0], 2), "beam_width": 5, "alpha": 0.7,
                "results": {k: {f: v[f] for f in keep} for k, v in out.items()},
                "examples": [{"en": out["tf_beam"]["sources"][i], "transformer": out["tf_beam"]["hypotheses"][i],
                              "gru": out["rnn_beam"]["hypotheses"][i]}
                             for i in range(0, len(pairs), max(1, len(pairs) // 12))][:12]}
        TR.COMPARISON_FILE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"saved {TR.COMPARISON_FILE}")
    return out


def run_copy(args) -> tuple[float, float, int, int]:
    """The Annotated Transformer's copy task: (exact match, training seconds, steps, parameters)."""
    task = T.ToyTask("copy", n_symbols=8, min_len=10, max_len=10)
    train, held = T.toy_pairs(task, 20_000, seed=args.seed), T.toy_pairs(task, 500, seed=args.seed + 12_345)
    cfg = T.TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=64, n_heads=4, n_layers=2, d_ff=256)
    model = T.build_transformer(cfg, args.seed)
    params = T.count_params(model)
    print(f"copy task: vocabulary {task.vocab}, length 10; {cfg}: {params:,} parameters", flush=True)
    start, spent_eval, exact = time.monotonic(), [0.0], [0.0]

    def should_stop(step: int) -> bool:
        if step % 50:
            return time.monotonic() - start - spent_eval[0] >= args.seconds
        t0 = time.monotonic()
        exact[0] = T.exact_match(model, held)
        spent_eval[0] += time.monotonic() - t0
        train_s = time.monotonic() - start - spent_eval[0]
        print(f"  step {step}: held-out exact match {exact[0]:.3f} after {train_s:.1f} s of training", flush=True)
        return exact[0] == 1.0 or train_s >= args.seconds

    res = T.train(model, train, steps=100_000, max_seconds=0, batch_size=64, warmup=200, seed=args.seed,
                  threads=args.threads, should_stop=should_stop)
    train_s = res["seconds"] - spent_eval[0]
    if res["steps"] % 50:
        exact[0] = T.exact_match(model, held)
    print(f"copy: exact match {exact[0]:.3f} on 500 held-out sequences after {res['steps']} steps, {train_s:.1f} s "
          f"of training (target 1.0 within 30 s on 2 threads); final loss {res['loss']:.3f}")
    return exact[0], train_s, res["steps"], params


def run_tips(args) -> None:
    """Label smoothing, warm-up and pre/post-norm, each as two runs of the same model, data and seed."""
    import json

    task = T.ToyTask("reverse", n_symbols=8, min_len=3, max_len=8)
    cfg = T.experiment_config(task)
    out = {"task": task.name, "seconds": args.tips, "seed": args.seed, "date": time.strftime("%Y-%m-%d"),
           "torch": torch.__version__, "tips": {}}
    for tip in T.TIPS:
        res = T.run_variants(task, T.tip_variants(tip, cfg), args.tips, args.seed)
        out["tips"][tip] = {name: {k: r[k] for k in ("exact", "teacher_forced", "loss", "steps")}
                            for name, r in res.items()}
        print(f"tip {tip}: " + "; ".join(f"{name}: exact {r['exact']:.3f}, loss {r['loss']:.3f}, {r['steps']} steps"
                                         for name, r in res.items()), flush=True)
    out["load"] = round(os.getloadavg()[0], 2)
    T.TIPS_FILE.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"saved {T.TIPS_FILE}")


if __name__ == "__main__":
    main()
