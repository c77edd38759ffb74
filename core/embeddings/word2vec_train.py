"""Training word2vec (gensim) on a small corpus, with progress and loss per epoch.

Skip-gram with negative sampling maximizes, for every (centre w, context c) pair in a window,

    log σ(u_c · v_w) + Σ_{k=1..K} log σ(−u_{n_k} · v_w),   n_k ~ P(w)^{3/4}

and CBOW predicts the centre word from the mean of the context vectors with the same loss.
Frequent words are sub-sampled: a word of relative frequency f is kept with probability
(√(f/t) + 1) · t/f (gensim's rule, t = `sample`).
"""
from __future__ import annotations

import io
import numbers
import re
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from core.i18n import N_, _

OnStep = Callable[[int, int, "dict | None"], None]

MAX_CORPUS_CHARS = 2_000_000  # uploads are capped at 2 MB by core.textio; bundled ones fit too
MAX_EPOCHS = 30
MAX_DIM = 200
MAX_WINDOW = 10
MAX_NEGATIVE = 20
MAX_TOKENS_X_EPOCHS = 6_000_000  # tokens × epochs per run: ~20 s on one shared CPU core

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class W2VConfig:
    sg: bool = True  # True: skip-gram (跳字模型), False: CBOW (连续词袋模型)
    vector_size: int = 50  # dimension of each word vector
    window: int = 5  # max distance between centre and context word
    negative: int = 5  # negative samples per positive pair (负采样)
    sample: float = 1e-3  # sub-sampling threshold t for frequent words (0 = off)
    epochs: int = 5  # passes over the corpus
    min_count: int = 3  # words seen fewer times are dropped from the vocabulary
    alpha: float = 0.025  # initial learning rate (decays linearly to min_alpha)
    min_alpha: float = 0.0001  # final learning rate
    seed: int = 0  # seeds the initial vectors and the sampling (one worker: reproducible)

    def check(self) -> "W2VConfig":
        not_ints = [n for n in ("vector_size", "window", "negative", "epochs", "min_count", "seed")
                    if not isinstance(getattr(self, n), numbers.Integral)]
        if not_ints:
            raise ValueError(_("{names} must be whole numbers.").format(names=", ".join(not_ints)))
        if not all(isinstance(getattr(self, n), (int, float)) for n in ("sample", "alpha", "min_alpha")):
            raise ValueError(_("The sub-sampling threshold and the learning rates must be numbers."))
        if not 0 < self.alpha <= 1:
            raise ValueError(_("The initial learning rate alpha must be in (0, 1] (typical: 0.025)."))
        if not 0 <= self.min_alpha <= self.alpha:
            raise ValueError(_("The final learning rate min_alpha must be between 0 and alpha (typical: 0.0001)."))
        if not 2 <= self.vector_size <= MAX_DIM:
            raise ValueError(_("Vector dimension must be between 2 and {most}.").format(most=MAX_DIM))
        if not 1 <= self.window <= MAX_WINDOW:
            raise ValueError(_("Window must be between 1 and {most}.").format(most=MAX_WINDOW))
        if not 1 <= self.negative <= MAX_NEGATIVE:
            raise ValueError(_("Negative samples must be between 1 and {most}.").format(most=MAX_NEGATIVE))
        if not 0 <= self.sample <= 0.1:
            raise ValueError(_("The sub-sampling threshold must be between 0 and 0.1 (typical: 1e-3 to 1e-5)."))
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(_("Epochs must be between 1 and {most}.").format(most=MAX_EPOCHS))
        if not 1 <= self.min_count <= 100:
            raise ValueError(_("Minimum count must be between 1 and 100."))
        if not 0 <= self.seed < 2**31:
            raise ValueError(_("The seed must be between 0 and 2^31 - 1."))
        return self


def tokenize(text: str, max_chars: int = MAX_CORPUS_CHARS) -> list[list[str]]:
    """Lower-cased word tokens, one sentence per non-empty line."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("The corpus is empty. Pick a bundled corpus or upload a .txt file."))
    text = text[:max_chars]
    sentences = [_TOKEN_RE.findall(line.lower()) for line in text.splitlines()]
    sentences = [s for s in sentences if s]
    if sum(len(s) for s in sentences) < 50:
        raise ValueError(_("The corpus has fewer than 50 words; upload a longer text (a few pages at least)."))
    return sentences


# keys: option values (English); values: labels, translated where shown
BUNDLED = {
    "lee": N_("Lee background corpus (news, 300 documents, ~60k words)"),
    "shakespeare": N_("Tiny Shakespeare (~200k words)"),
}


def bundled_text(name: str) -> str:
    if name == "lee":
        from core.corpora import gensim_test_file

        with open(gensim_test_file("lee_background.cor"), encoding="utf-8") as fin:
            return fin.read()
    if name == "shakespeare":
        from core.corpora import shakespeare

        return shakespeare()
    raise ValueError(_("No bundled corpus called {name!r}; choose one of {names}.").format(
        name=name, names=sorted(BUNDLED)))


def corpus_stats(sentences: list[list[str]]) -> dict:
    tokens = sum(len(s) for s in sentences)
    return {"sentences": len(sentences), "tokens": tokens, "types": len({w for s in sentences for w in s})}


def train_word2vec(sentences: list[list[str]], config: W2VConfig, on_step: OnStep | None = None,
                   history: list | None = None, keep: dict | None = None):
    """Train gensim word2vec; returns (KeyedVectors, history) with one dict per epoch.

    `history` (if given) is filled in place after every epoch: {"epoch", "loss", "seconds"},
    where loss is gensim's summed training loss of that epoch (so a stopped run keeps its curve);
    `keep` (if given) gets keep["kv"] = the vectors so far after every epoch, so a stopped run
    keeps its model too.
    `on_step(epoch, epochs, info)` is called after each epoch from a gensim callback.
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    config = config.check()
    stats = corpus_stats(sentences)
    if stats["tokens"] * config.epochs > MAX_TOKENS_X_EPOCHS:
        raise ValueError(_(
            "{tokens:,} tokens × {epochs} epochs is over this server's limit of "
            "{limit:,}. Use fewer epochs or a shorter corpus."
        ).format(tokens=stats['tokens'], epochs=config.epochs, limit=MAX_TOKENS_X_EPOCHS))
    history = history if history is not None else []

    class _Progress(CallbackAny2Vec):
        def __init__(self):
            self.previous = 0.0
            self.started = time.perf_counter()

        def on_epoch_end(self, model):
            total = model.get_latest_training_loss()  # cumulative within this train() call
            loss, self.previous = total - self.previous, total
            history.append({"epoch": len(history) + 1, "loss": float(loss),
                            "seconds": time.perf_counter() - self.started})
            if keep is not None:
                keep["kv"] = model.wv
            if on_step:
                on_step(len(history), config.epochs, {"loss": float(loss)})

    model = Word2Vec(vector_size=config.vector_size, window=config.window, min_count=config.min_count,
                     sg=int(config.sg), hs=0, negative=config.negative, sample=config.sample,
                     alpha=config.alpha, min_alpha=config.min_alpha, seed=config.seed, workers=1,
                     compute_loss=True)
    model.build_vocab(sentences)
    if len(model.wv.index_to_key) < 10:
        raise ValueError(_(
            "Only {n} words occur at least {min_count} times; "
            "lower the minimum count or use a longer corpus."
        ).format(n=len(model.wv.index_to_key), min_count=config.min_count))
    if on_step:
        on_step(0, config.epochs, None)
    model.train(sentences, total_examples=model.corpus_count, epochs=config.epochs, compute_loss=True,
                callbacks=[_Progress()])
    return model.wv, history


def to_word2vec_text(kv) -> str:
    """The vectors in word2vec text format: a header `V D`, then `word v1 … vD` per line."""
    out = io.StringIO()
    vectors = np.asarray(kv.vectors, dtype=np.float32)  # (V, D)
    out.write(f"{vectors.shape[0]} {vectors.shape[1]}\n")
    for word, row in zip(kv.index_to_key, vectors):
        out.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")
    return out.getvalue()


def load_word2vec_file(path: str):
    """A word2vec-format file (text; binary when the name ends in .bin) as KeyedVectors."""
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=str(path).endswith(".bin"))
    except (OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
        raise ValueError(_("Could not read {path} as word2vec format: {error}").format(path=path, error=exc)) from exc


def config_dict(config: W2VConfig) -> dict:
    return asdict(config)
