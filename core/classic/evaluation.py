"""One scoreboard for every classic model on the fixed test split of People's Daily: segmenters
(P/R/F1, OOV recall, speed), POS taggers (accuracy, a confusion matrix) and NER (entity F1).
The models are passed in (trained or shipped), so a page and the benchmarks score the same objects."""
from __future__ import annotations

import time
from collections import Counter
from typing import Callable

import numpy as np

from core.classic import corpus, metrics, segment
from core.i18n import N_

TAGGER_LABELS = {"pos": N_("POS tagging (accuracy on gold words)"), "ner": N_("NER (entity F1 on gold words)")}


def _segment_row(name: str, label: str, fn: Callable, gold: list, vocab, train_s: float) -> dict:
    texts = ["".join(g) for g in gold]
    t0 = time.perf_counter()
    pred = [fn(t) for t in texts]
    seconds = time.perf_counter() - t0
    prf = metrics.segmentation_prf(gold, pred)
    return {"method": name, "label": label, "precision": prf.precision, "recall": prf.recall, "f1": prf.f1,
            "oov_recall": metrics.oov_recall(gold, pred, vocab), "seconds": seconds,
            "chars_per_s": sum(map(len, texts)) / max(seconds, 1e-9), "train_s": train_s}


def segmenters(extra: dict[str, tuple[str, Callable, float]] | None = None, test=None,
               on_step: Callable | None = None) -> list[dict]:
    """Rows for the dictionary methods, the bigram lattice and jieba (`segment.evaluate`), then one
    per `extra` segmenter: {name: (label, text -> words, training seconds)} (the HMM, the CRF)."""
    train, split_test = corpus.train_test()
    test = split_test if test is None else test
    rows = segment.evaluate(train, test, on_step=on_step)
    gold = [list(s.words) if hasattr(s, "words") else list(s) for s in test]
    vocab = set(corpus.word_counts(train))
    for i, (name, (label, fn, train_s)) in enumerate((extra or {}).items()):
        rows.append(_segment_row(name, label, fn, gold, vocab, train_s))
        if on_step:
            on_step(len(segment.METHODS) + i + 1, len(segment.METHODS) + len(extra), {"now": name})
    return rows


def pos_scores(taggers: dict[str, Callable], test=None, top_tags: int = 12) -> dict:
    """{"rows": [{"method", "accuracy", "oov_accuracy", "seconds"}], "confusion": {method: (tags,
    matrix)}}: accuracy on gold words, on words unseen in training, and a confusion matrix over the
    `top_tags` most frequent gold tags (rows gold, columns predicted; the rest pooled as "other")."""
    train, split_test = corpus.train_test()
    test = split_test if test is None else test
    vocab = set(corpus.word_counts(train))
    gold = [list(s.tags) for s in test]
    frequent = [t for t, _n in Counter(t for g in gold for t in g).most_common(top_tags)]
    index = {t: i for i, t in enumerate(frequent)}
    out = {"rows": [], "confusion": {}}
    for name, fn in taggers.items():
        t0 = time.perf_counter()
        pred = [fn(list(s.words)) for s in test]
        seconds = time.perf_counter() - t0
        oov = [(p == g) for s, ps, gs in zip(test, pred, gold) for w, p, g in zip(s.words, ps, gs) if w not in vocab]
        matrix = np.zeros((len(frequent) + 1, len(frequent) + 1), dtype=np.int64)  # (gold, predicted)
        for ps, gs in zip(pred, gold):
            for p, g in zip(ps, gs):
                matrix[index.get(g, len(frequent)), index.get(p, len(frequent))] += 1
        out["rows"].append({"method": name, "accuracy": metrics.accuracy(gold, pred),
                            "oov_accuracy": sum(oov) / len(oov) if oov else 0.0, "seconds": seconds})
        out["confusion"][name] = ([*frequent, "other"], matrix)
    return out


def ner_scores(taggers: dict[str, Callable], test=None) -> list[dict]:
    """[{"method", "precision", "recall", "f1", "seconds"}]: entity-level scores of B-/I-/O taggers
    (`fn(words, pos_tags) -> bio tags`) against corpus.ner_bio on the test split."""
    test = corpus.train_test()[1] if test is None else test
    gold = [corpus.entities(corpus.ner_bio(s)[1]) for s in test]
    rows = []
    for name, fn in taggers.items():
        t0 = time.perf_counter()
        pred = [corpus.entities(fn(list(s.words), list(s.tags))) for s in test]
        prf = metrics.entity_prf(gold, pred)
        rows.append({"method": name, "precision": prf.precision, "recall": prf.recall, "f1": prf.f1,
                     "seconds": time.perf_counter() - t0})
    return rows
