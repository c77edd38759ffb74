"""Train the shipped CRFs of the Classic NLP page on the fixed split of People's Daily, score them on
the test split and write their checkpoints + model cards:

    nice -n 10 .venv/bin/python scripts/train_classic_crf.py --kind seg --algorithm lbfgs \
        --max-iterations 150 --page-check
    nice -n 10 .venv/bin/python scripts/train_classic_crf.py --kind pos --algorithm ap \
        --max-iterations 20 --page-check
    nice -n 10 .venv/bin/python scripts/train_classic_crf.py --kind ner --algorithm lbfgs \
        --max-iterations 100 --page-check

(pos before ner: NER is also scored with the POS tags the shipped POS model predicts.)

Writes assets/models/classic-crf-{seg,pos,ner}/ (model.crfsuite, config.json, training.json,
README.md, and dictionary.txt for seg). `--page-check` first trains once more with the page's
defaults (`CRFSegmenter.train(train)` / `CRFTagger.train(train, kind=...)`: averaged perceptron, 10
passes) and puts its test score and seconds in the card too. `--no-save` only measures.
Segmentation is also compared with jieba (`jieba.lcut`, HMM on) on the same test sentences; NER is
scored with the gold POS tags (names hidden as n) and, when the shipped POS model exists, with the
POS tags it predicts. Prints one line `classic_crf_<kind>: key=value ...` at the end.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.classic import corpus, crf, metrics  # noqa: E402
from scripts._cli import card_args  # noqa: E402


def score_seg(model, test, vocab) -> dict:
    gold = [list(s.words) for s in test]
    t0 = time.perf_counter()
    pred = [model.segment_clean(s.text) for s in test]
    seconds = time.perf_counter() - t0
    prf = metrics.segmentation_prf(gold, pred)
    chars = sum(len(s.text) for s in test)
    return {"precision": prf.precision, "recall": prf.recall, "f1": prf.f1,
            "oov_recall": metrics.oov_recall(gold, pred, vocab), "chars_per_s": chars / seconds}


def score_jieba(test) -> dict:
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    t0 = time.perf_counter()
    pred = [jieba.lcut(s.text) for s in test]
    seconds = time.perf_counter() - t0
    prf = metrics.segmentation_prf([list(s.words) for s in test], pred)
    return {"f1": prf.f1, "precision": prf.precision, "recall": prf.recall,
            "chars_per_s": sum(len(s.text) for s in test) / seconds}


def score_pos(model, test, vocab) -> dict:
    gold = [list(s.tags) for s in test]
    pred = [model.tag(list(s.words)) for s in test]
    oov = [p == g for s, ps, gs in zip(test, pred, gold) for w, p, g in zip(s.words, ps, gs) if w not in vocab]
    return {"accuracy": metrics.accuracy(gold, pred), "oov_accuracy": sum(oov) / len(oov), "oov_words": len(oov)}


def score_ner(model, test, pos_of=None) -> dict:
    gold = [corpus.entities(corpus.ner_bio(s)[1]) for s in test]
    pos = [list(s.tags) for s in test] if pos_of is None else [pos_of(list(s.words)) for s in test]
    pred = [corpus.entities(model.tag(list(s.words), p)) for s, p in zip(test, pos)]
    prf = metrics.entity_prf(gold, pred)
    out = {"precision": prf.precision, "recall": prf.recall, "f1": prf.f1}
    for kind in ("PER", "LOC", "ORG"):
        k = metrics.entity_prf([{e for e in g if e[2] == kind} for g in gold],
                               [{e for e in p if e[2] == kind} for p in pred])
        out[f"f1_{kind}"] = k.f1
    return out


def train(kind: str, train_set, **kwargs):
    if kind == "seg":
        return crf.CRFSegmenter.train(train_set, **kwargs)
    return crf.CRFTagger.train(train_set, kind=kind, **kwargs)


def evaluate(kind: str, model, test, vocab) -> dict:
    if kind == "seg":
        return score_seg(model, test, vocab)
    if kind == "pos":
        return score_pos(model, test, vocab)
    out = score_ner(model, test)
    pos_path = crf.SHIPPED["pos"] / crf.MODEL_FILE
    if pos_path.exists():
        tagger = crf.load_shipped("pos")
        out.update({f"{k}_predicted_pos": v for k, v in score_ner(model, test, tagger.tag).items()
                    if k in ("precision", "recall", "f1")})
    return out


MAIN = {"seg": "f1", "pos": "accuracy", "ner": "f1"}
NAMES = {"precision": "precision", "recall": "recall", "f1": "F1", "oov_recall": "OOV recall",
         "chars_per_s": "characters per second (tagging the test split)", "accuracy": "accuracy",
         "oov_accuracy": "accuracy on words unseen in training", "oov_words": "test words unseen in training",
         "f1_PER": "F1, PER only", "f1_LOC": "F1, LOC only", "f1_ORG": "F1, ORG only",
         "precision_predicted_pos": "precision, POS predicted by classic-crf-pos",
         "recall_predicted_pos": "recall, POS predicted by classic-crf-pos",
         "f1_predicted_pos": "F1, POS predicted by classic-crf-pos"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=crf.KINDS, required=True)
    ap.add_argument("--algorithm", choices=crf.ALGORITHMS, default="lbfgs")
    ap.add_argument("--max-iterations", type=int, default=150)
    ap.add_argument("--c1", type=float, default=None, help="L1 penalty (lbfgs; default 0.1)")
    ap.add_argument("--c2", type=float, default=None, help="L2 penalty (lbfgs; default 0.01)")
    ap.add_argument("--seconds", type=float, default=None, help="time budget for training (estimated passes)")
    ap.add_argument("--page-check", action="store_true", help="also train with the page's defaults and report")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="default: assets/models/classic-crf-<kind>")
    args = ap.parse_args(argv)

    train_set, test = corpus.train_test()
    vocab = set(corpus.word_counts(train_set))
    notes, results = [], {}
    if args.page_check:
        t0 = time.perf_counter()
        page = train(args.kind, train_set)
        page_s = time.perf_counter() - t0
        page_scores = evaluate(args.kind, page, test, vocab)
        results.update({"page_" + MAIN[args.kind]: page_scores[MAIN[args.kind]], "page_train_s": page_s})
        print(f"page defaults ({page.config.algorithm}, {page.info.iterations} passes): "
              f"{MAIN[args.kind]} {page_scores[MAIN[args.kind]]:.4f} in {page_s:.1f} s", flush=True)
        call = "CRFSegmenter.train(train)" if args.kind == "seg" else f"CRFTagger.train(train, kind={args.kind!r})"
        notes.append(
            f"In the page (`{call}`: {page.config.algorithm}, {page.info.iterations} passes) the same data "
            f"trains in {page_s:.1f} s on this machine and scores {NAMES[MAIN[args.kind]]} **{page_scores[MAIN[args.kind]]:.4f}** "
            f"({page.info.features:,} features, {len(page.model) / 1e6:.1f} MB).")
        del page

    kwargs = {"algorithm": args.algorithm, "max_iterations": args.max_iterations, "seconds": args.seconds}
    if args.algorithm == "lbfgs":
        kwargs.update(c1=args.c1, c2=args.c2)

    def progress(done, total, info=None):
        if info and info.get("phase") == "train" and (done % 10 == 0 or done == total):
            print(f"  pass {done}/{total} loss {info.get('loss')}", flush=True)

    t0 = time.perf_counter()
    model = train(args.kind, train_set, on_step=progress, **kwargs)
    seconds = time.perf_counter() - t0
    scores = evaluate(args.kind, model, test, vocab)
    results.update({MAIN[args.kind]: scores[MAIN[args.kind]], "train_s": seconds})
    if args.kind == "seg":
        jb = score_jieba(test)
        scores.update({"jieba_f1": jb["f1"], "jieba_chars_per_s": jb["chars_per_s"]})
        NAMES.update({"jieba_f1": "jieba (`jieba.lcut`) F1 on the same sentences",
                      "jieba_chars_per_s": "jieba characters per second"})
        results.update({"oov_recall": scores["oov_recall"], "jieba_f1": jb["f1"]})
    for k, v in scores.items():
        print(f"{NAMES.get(k, k)}: {v:.4f}" if isinstance(v, float) else f"{NAMES.get(k, k)}: {v}")
    print(f"trained in {seconds:.1f} s ({model.info.iterations} passes, {model.info.features:,} features, "
          f"{len(model.model) / 1e6:.1f} MB)")
    if not args.no_save:
        out = args.out or crf.SHIPPED[args.kind]
        card_scores = {NAMES.get(k, k): (round(v) if k.endswith("per_s") or k == "oov_words" else v)
                       for k, v in scores.items()}
        notes.append(f"Machine: {platform.machine()} CPU, Python {platform.python_version()}; one training process "
                     "on a 2-core CPU shared with other jobs.")
        model.save(out, scores=card_scores, notes=notes,
                   command=f"python scripts/train_classic_crf.py {card_args(drop=('--out',), argv=argv)}")
        print(f"saved {out}")
    print(f"classic_crf_{args.kind}: " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                                 for k, v in results.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
