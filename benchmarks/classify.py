"""Chinese review sentiment, every model of the text classification page on the fixed split.

    .venv/bin/python benchmarks/classify.py [--models nb,tfidf_lr,...] [--no-curves] [--save]
Ends with: classify: acc_nb=… acc_tfidf_lr=… acc_textcnn=… acc_bilstm=… acc_bert_features=… acc_bert_finetune=…
acc_snownlp=… finetune_s=… (then acc_words_lr, acc_w2v_lr, acc1k_tfidf_lr, acc1k_bert_finetune, max_train_s,
test, load)

Every model trains on the training part (13,899 distinct reviews) and is scored on the test part (1,763); the
split is `core.transformers.classify.part_of` (a hash of each text). The baselines naive Bayes and TF-IDF + LR
run in every invocation, whatever --models says. Learning curves train each model again on stratified samples
of 100, 1,000 and 10,000 texts. --save merges the figures into assets/models/classify-results.json, which the
page shows next to live runs (a model missing from --models keeps its saved figures).
Targets (issue 22): fine-tuned BERT ≥ the best non-pre-trained model + 2 points and ≥ snownlp; with 1k labels,
fine-tuned BERT ≥ TF-IDF + LR + 5 points; every model the page trains finishes in ≤ 120 s on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import sources  # noqa: E402
from core.transformers import classify as C  # noqa: E402

BASELINES = ("nb", "tfidf_lr")
PAGE_SECONDS = 120.0  # the page's cap for one neural training run
PRETRAINED = ("bert_features", "bert_finetune")


def config_for(key: str, args) -> C.ClassifyConfig:
    if key == "bert_finetune":
        return C.ClassifyConfig(finetune_steps=args.finetune_steps, finetune_lr=args.finetune_lr, batch_size=32,
                                max_seconds=0.0, max_len=args.max_len)
    return C.ClassifyConfig(max_seconds=PAGE_SECONDS, max_len=args.max_len)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(C.MODELS))
    ap.add_argument("--no-curves", action="store_true")
    ap.add_argument("--finetune-steps", type=int, default=400)
    ap.add_argument("--finetune-lr", type=float, default=2e-4)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    keys = list(BASELINES) + [k for k in args.models.split(",") if k in C.MODELS and k not in BASELINES]
    found = sources.sources_for("zh_encoder")
    bert = load_bert(found[0]) if found else None
    if bert is None:
        skipped = [k for k in keys if k in C.NEEDS_BERT]
        keys = [k for k in keys if k not in C.NEEDS_BERT]
        if skipped:
            print(f"(no Chinese BERT installed: skipping {', '.join(skipped)})")
    else:
        print(f"Chinese BERT: {found[0].ref} ({bert.model.cfg.n_layers} layers, d_model {bert.model.cfg.d_model}, "
              f"held-out MLM top-1 {bert.meta.get('held_out', {}).get('mlm_top1', float('nan')):.3f})")
    parts = C.review_split()
    print(f"split: train {len(parts['train'])} · val {len(parts['val'])} · test {len(parts['test'])}", flush=True)
    full, curves = {}, {}
    snownlp_test = None
    for key in keys:
        if key == "snownlp":
            t0 = time.perf_counter()
            res = C.snownlp_on_test(use_saved=False)
            snownlp_test = res
            full[key] = {"accuracy": res["accuracy"], "macro_f1": res["macro_f1"], "seconds": 0.0,
                         "score_s": time.perf_counter() - t0}
            print(f"{key:14s} acc {res['accuracy']:.4f}  F1 {res['macro_f1']:.4f}  (scored in "
                  f"{full[key]['score_s']:.0f} s; trained by snownlp on these files)", flush=True)
            continue
        model = C.train(key, parts["train"], config_for(key, args), args.seed, bert=bert, val=parts["val"])
        t0 = time.perf_counter()
        res = C.evaluate(model, parts["test"])
        full[key] = {"accuracy": res["accuracy"], "macro_f1": res["macro_f1"], "seconds": model.seconds,
                     "test_s": time.perf_counter() - t0, **{k: v for k, v in model.info.items()
                                                             if isinstance(v, (int, float, str))}}
        print(f"{key:14s} acc {res['accuracy']:.4f}  F1 {res['macro_f1']:.4f}  train {model.seconds:6.1f} s  "
              f"test {full[key]['test_s']:.1f} s  {model.info}", flush=True)
        if not args.no_curves:
            curve_cfg = config_for(key, args)
            points = []
            for n in C.SIZES:
                sub = C.sample(parts["train"], n, args.seed)
                cfg = curve_cfg
                if key == "bert_finetune":  # at most 10 epochs of a small sample
                    cfg = C.config_with(curve_cfg, finetune_steps=max(20, min(args.finetune_steps, 10 * n // 32)))
                m = C.train(key, sub, cfg, args.seed, bert=bert, val=parts["val"], unlabeled=parts["train"].texts)
                points.append({"n": n, "accuracy": C.evaluate(m, parts["test"])["accuracy"], "seconds": m.seconds})
                print(f"    n={n:6d}: acc {points[-1]['accuracy']:.4f} ({m.seconds:.1f} s)", flush=True)
            points.append({"n": len(parts["train"]), "accuracy": res["accuracy"], "seconds": model.seconds})
            curves[key] = points
    load = os.getloadavg()[0]
    saved = C.shipped_results() or {}
    allfull = {**saved.get("full", {}), **full}
    allcurves = {**saved.get("curves", {}), **curves}

    def acc(key, table=allfull):
        return f"{table[key]['accuracy']:.4f}" if key in table else "nan"

    def acc1k(key):
        pts = [p for p in allcurves.get(key, []) if p["n"] == 1000]
        return f"{pts[0]['accuracy']:.4f}" if pts else "nan"

    page_trained = [v["seconds"] for k, v in allfull.items() if k != "bert_finetune"]
    line = (f"classify: acc_nb={acc('nb')} acc_tfidf_lr={acc('tfidf_lr')} acc_textcnn={acc('textcnn')} "
            f"acc_bilstm={acc('bilstm')} acc_bert_features={acc('bert_features')} "
            f"acc_bert_finetune={acc('bert_finetune')} acc_snownlp={acc('snownlp')} "
            f"finetune_s={allfull.get('bert_finetune', {}).get('seconds', float('nan')):.1f} "
            f"acc_words_lr={acc('words_lr')} acc_w2v_lr={acc('w2v_lr')} acc1k_tfidf_lr={acc1k('tfidf_lr')} "
            f"acc1k_bert_finetune={acc1k('bert_finetune')} max_train_s={max(page_trained or [0]):.1f} "
            f"test={len(parts['test'])} load={load:.1f}")
    if args.save:
        probe = saved.get("probe")
        if bert is not None and any(k in PRETRAINED for k in keys):
            probe = C.layer_probe(bert, parts["train"], parts["test"], max_len=args.max_len)
            print("probe:", " ".join(f"{r['pool']}{r['layer']}={r['accuracy']:.3f}" for r in probe))
        out = {"date": datetime.date.today().isoformat(), "torch": torch.__version__, "threads": args.threads,
               "load": round(load, 2), "split": {p: len(parts[p]) for p in C.PARTS}, "full": allfull,
               "curves": allcurves, "probe": probe, "line": line,
               "snownlp_test": snownlp_test or saved.get("snownlp_test"),
               "command": "python benchmarks/classify.py " + " ".join(sys.argv[1:])}
        C.RESULTS_PATH.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"saved {C.RESULTS_PATH}")
    print(line)


def load_bert(source):
    from core.transformers import bert_zh

    return bert_zh.load(source.ref)


if __name__ == "__main__":
    main()
