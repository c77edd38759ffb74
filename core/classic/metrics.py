"""Scores for segmentation (P/R/F1 over word spans, OOV recall), tagging (accuracy) and named
entities (entity-level P/R/F1), as the SIGHAN bakeoffs and CoNLL compute them."""
from __future__ import annotations

from dataclasses import dataclass


def spans(words) -> set[tuple[int, int]]:
    """{(start, end)} character spans of a segmentation (end exclusive)."""
    out, pos = set(), 0
    for w in words:
        out.add((pos, pos + len(w)))
        pos += len(w)
    return out


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    correct: int
    predicted: int
    gold: int

    @staticmethod
    def of(correct: int, predicted: int, gold: int) -> "PRF":
        p = correct / predicted if predicted else 0.0
        r = correct / gold if gold else 0.0
        return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0, correct, predicted, gold)


def segmentation_prf(gold_sents, pred_sents) -> PRF:
    """Word-level P/R/F1 over all sentences: a predicted word is right when its span is a gold word."""
    correct = predicted = gold = 0
    for g, p in zip(gold_sents, pred_sents, strict=True):
        gs, ps = spans(g), spans(p)
        correct += len(gs & ps)
        predicted += len(ps)
        gold += len(gs)
    return PRF.of(correct, predicted, gold)


def oov_recall(gold_sents, pred_sents, vocabulary) -> float:
    """Share of gold words not in `vocabulary` (the training words) that the segmenter got exactly."""
    found = total = 0
    for g, p in zip(gold_sents, pred_sents, strict=True):
        ps = spans(p)
        pos = 0
        for w in g:
            if w not in vocabulary:
                total += 1
                found += (pos, pos + len(w)) in ps
            pos += len(w)
    return found / total if total else 0.0


def accuracy(gold_tags, pred_tags) -> float:
    """Share of positions whose predicted tag equals the gold tag (over all sequences)."""
    right = total = 0
    for g, p in zip(gold_tags, pred_tags, strict=True):
        right += sum(a == b for a, b in zip(g, p, strict=True))
        total += len(g)
    return right / total if total else 0.0


def entity_prf(gold_spans, pred_spans) -> PRF:
    """Entity-level P/R/F1: an entity counts when its span and type both match."""
    correct = predicted = gold = 0
    for g, p in zip(gold_spans, pred_spans, strict=True):
        correct += len(set(g) & set(p))
        predicted += len(p)
        gold += len(g)
    return PRF.of(correct, predicted, gold)
