"""Bundled corpora and their fixed train/validation splits."""
from __future__ import annotations

import functools
from pathlib import Path

from core.i18n import _
from core.sources import ASSETS

DATA = ASSETS / "data"
SHAKESPEARE = DATA / "tinyshakespeare.txt"
TATOEBA = {"zh": DATA / "tatoeba-cmn-eng.tsv", "fr": DATA / "tatoeba-fra-eng-5k.tsv"}
# The last 5% of a text is held out for validation. Why 5%, not the usual 10%: the bundled Tiny
# Shakespeare is the classic 1,115,394-character corpus minus its last 5%, and the classic split
# (char-rnn, nanoGPT) trains on the first 1,003,854 characters of the full corpus. Holding out our
# last 5% ends training at character 1,006,566, i.e. at the same place, 28k characters into The Taming
# of the Shrew. A 90/10 split of our shorter copy would end training 25k characters *before* that
# play, so the whole held-out text would be a play the model never saw (its names, its prose): every
# model then levels off near 1.6 nats/char, whatever its size (see the model cards).
VAL_FRACTION = 0.05


@functools.lru_cache(maxsize=4)
def gensim_test_file(name: str) -> Path:
    """A data file of gensim's wheel (questions-words.txt, wordsim353.tsv, lee_background.cor, ...): the path
    `gensim.test.utils.datapath(name)` gives, without importing that module (it pulls in ~11 MB of gensim)."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(_("gensim is not installed: run `make install`."))
    return Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / name


def read_text(path: str | Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def shakespeare() -> str:
    """Tiny Shakespeare (public domain), ~1.06 M characters."""
    return read_text(SHAKESPEARE)


def split_text(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Fixed split: the first 95% for training, the last 5% (`VAL_FRACTION`) for validation."""
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def read_pairs(path: str | Path) -> list[tuple[str, str, str]]:
    """Tab-separated pairs `source<TAB>target[<TAB>attribution]` -> list of 3-tuples."""
    pairs = []
    for line in read_text(path).splitlines():
        cols = line.split("\t")
        if len(cols) >= 2 and cols[0].strip() and cols[1].strip():
            pairs.append((cols[0].strip(), cols[1].strip(), cols[2].strip() if len(cols) > 2 else ""))
    return pairs


@functools.lru_cache(maxsize=2)
def tatoeba(lang: str) -> list[tuple[str, str, str]]:
    """English–`lang` Tatoeba pairs (CC-BY 2.0 FR; attribution in the third field)."""
    if lang not in TATOEBA:
        raise ValueError(_("No bundled pairs for {lang!r}; choose one of {choices}.").format(
            lang=lang, choices=sorted(TATOEBA)))
    return read_pairs(TATOEBA[lang])


def split_pairs(pairs: list, every: int = 10) -> tuple[list, list]:
    """Fixed split: every 10th pair is validation, the rest training."""
    train = [p for i, p in enumerate(pairs) if i % every != every - 1]
    val = [p for i, p in enumerate(pairs) if i % every == every - 1]
    return train, val


def held_out_pairs(path: str | Path = "", limit: int = 0, lang: str = "zh") -> tuple[list, str]:
    """(pairs, where they came from) for a translation benchmark: a TSV file `source<TAB>reference` when
    `path` is given, else the fixed held-out split of Tatoeba en–`lang` (every 10th pair, never trained
    on); the first `limit` pairs when limit > 0."""
    if path:
        pairs, where = read_pairs(path), str(path)
    else:
        pairs, where = split_pairs(tatoeba(lang))[1], f"the held-out split of Tatoeba en-{lang} (every 10th pair)"
    return (pairs[:limit] if limit else pairs), where


LM_KINDS = ("words_zh", "chars_en")  # the tokenisations shared by the language-model lineage (issue 19)


@functools.lru_cache(maxsize=8)
def lm_split(kind: str, max_train_tokens: int | None = None) -> dict:
    """The fixed language-model split shared by the n-gram, NNLM, LSTM and GPT models.

    "words_zh": People's Daily 1998 (`core.classic.corpus.train_test()`), tokens are the gold words,
    one sentence per corpus sentence; the train sentences train, the test sentences are held out.
    "chars_en": Tiny Shakespeare (`split_text(shakespeare())`), tokens are characters, one sentence
    per non-empty line (the newline itself is not a token: the end-of-sentence symbol plays its part).
    `max_train_tokens` keeps only the first training sentences up to that many tokens (at least one).
    Returns {"kind", "train": list of sentences (lists of tokens), "held_out": same, "vocab": sorted
    train tokens}. Cached: treat the result as read-only.
    """
    if kind not in LM_KINDS:
        raise ValueError(_("Unknown corpus {kind!r}; choose one of {choices}.").format(kind=kind, choices=list(LM_KINDS)))
    if max_train_tokens is not None and max_train_tokens < 1:
        raise ValueError(_("max_train_tokens must be at least 1, got {n}; use None for the whole corpus.").format(
            n=max_train_tokens))
    if kind == "words_zh":
        from core.classic.corpus import train_test
        train_s, test_s = train_test()
        train = (list(s.words) for s in train_s)  # copied only as far as they are kept (below)
        held_out = [list(s.words) for s in test_s]
    else:
        train_text, val_text = split_text(shakespeare())
        train = (list(line) for line in train_text.splitlines() if line)
        held_out = [list(line) for line in val_text.splitlines() if line]
    if max_train_tokens is not None:
        kept, total = [], 0
        for s in train:
            if kept and total + len(s) > max_train_tokens:
                break
            kept.append(s)
            total += len(s)
        train = kept
    else:
        train = list(train)
    vocab = sorted({t for s in train for t in s})
    return {"kind": kind, "train": train, "held_out": held_out, "vocab": vocab}
