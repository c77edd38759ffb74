"""Bengio et al. (2003)'s neural network language model (神经网络语言模型, NNLM).

The model reads the n−1 words before w_t, looks each one up in the shared matrix C (|V| × m: the
word vectors, 词向量), concatenates them and scores every word of the vocabulary:

    x = (C[w_{t-n+1}], ..., C[w_{t-1}])          (n−1)·m numbers
    y = b + W x + U tanh(d + H x)                 |V| scores (W: the optional direct connections)
    P(w_t = i | context) = softmax(y)_i

Everything the language-model lineage page needs for this step lives here:

- `Vocab` (words <-> ids with `<s>`, `</s>` and `<UNK>`, `min_count` / `max_size`), `make_windows`
  (sentences -> (context, next word) pairs) and `make_data` (a train / held-out pair of them);
- `NNLMConfig`, `NNLM` (parameters named as in the paper: C, H, d, U, W, b), `build_nnlm`, `count_params`;
- `train(...)`: AdamW or SGD on shuffled mini-batches, bounded by epochs, steps and seconds, reporting
  through `on_step` and appending to a caller-owned `history` list; `perplexity(...)`;
- `neighbours(...)`: the rows of C as word vectors ("word vectors are a by-product" of the LM).

Padding follows the n-gram module (and nltk's padded_everygram pipeline): every sentence is preceded
by n−1 `<s>` and followed by one `</s>`; the model predicts each word and the final `</s>` (never
`<s>`), so a sentence of k words gives k+1 predictions and perplexities compare with the n-gram models
over the same vocabulary. Words outside the vocabulary are `<UNK>` (in the context and as targets).

Nothing here touches the global RNG: weights and batch order come from `core.device.make_generator(seed)`.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.device import (builds_models, check_seed, count_params, get_device, make_generator,  # noqa: F401
                         model_device, on_device)  # count_params: nnlm.count_params
from core.i18n import N_, _
from core.sequence.charlm import torch_threads

BOS, EOS, UNK = "<s>", "</s>", "<UNK>"  # same symbols as core.classic.ngram
SPECIALS = (BOS, EOS, UNK)  # ids 0, 1, 2 of every vocabulary

MAX_CONTEXT = 8  # longest context n−1 (a 9-gram model)
MAX_VOCAB = 200_000  # words a vocabulary may have (People's Daily has 52,649 distinct training words)
MAX_WINDOWS = 5_000_000  # (context, next word) pairs one call may build (People's Daily: about 1.03 M)
OPTIMIZERS = {"adamw": N_("AdamW"), "sgd": N_("SGD (plain, as in the paper)")}
STOPPED_BY = {"epochs": N_("all epochs done"), "steps": N_("step limit reached"), "time": N_("time limit reached")}


# ---------------------------------------------------------------------------------------------
# vocabulary and windows
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocab:
    words: tuple[str, ...]  # id -> token: "<s>", "</s>", "<UNK>", then words by falling count (ties: sorted)
    counts: tuple[int, ...]  # id -> count in the training sentences ("<s>" and "<UNK>": 0 unless <UNK> in the text)

    @classmethod
    def build(cls, sentences, min_count: int = 1, max_size: int | None = None) -> "Vocab":
        """The words of `sentences` seen at least `min_count` times, the `max_size` most frequent at most
        (the three special tokens are not counted in `max_size`). Rarer words become `<UNK>`."""
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(_("min_count must be a whole number >= 1; got {value!r}.").format(value=min_count))
        if max_size is not None and (not isinstance(max_size, int) or not 1 <= max_size <= MAX_VOCAB):
            raise ValueError(_("max_size must be a whole number between 1 and {limit} (or None for no limit); "
                               "got {value!r}.").format(limit=MAX_VOCAB, value=max_size))
        counts = Counter(t for s in _check_sentences(sentences) for t in s)
        for special in (BOS, EOS):
            counts.pop(special, None)
        unk_in_text = counts.pop(UNK, 0)
        ranked = sorted(((w, n) for w, n in counts.items() if n >= min_count), key=lambda wn: (-wn[1], wn[0]))
        if max_size is not None:
            ranked = ranked[:max_size]
        if not ranked:
            raise ValueError(_("No word occurs at least {min_count} times; lower min_count or use a longer "
                               "text.").format(min_count=min_count))
        if len(ranked) > MAX_VOCAB:
            raise ValueError(_("The text has {n} different words; the limit is {limit}. Raise min_count or set "
                               "max_size.").format(n=len(ranked), limit=MAX_VOCAB))
        kept = {w for w, _n in ranked}
        unk = unk_in_text + sum(n for w, n in counts.items() if w not in kept)
        n_sentences = sum(1 for s in sentences if len(s))  # each non-empty sentence ends with one </s>
        return cls(SPECIALS + tuple(w for w, _n in ranked), (0, n_sentences, unk) + tuple(n for _w, n in ranked))

    @property
    def stoi(self) -> dict[str, int]:
        cache = self.__dict__.get("_stoi")
        if cache is None:
            cache = {w: i for i, w in enumerate(self.words)}
            object.__setattr__(self, "_stoi", cache)
        return cache

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def id(self, word: str) -> int:
        """The id of `word` (the id of `<UNK>` for a word outside the vocabulary)."""
        return self.stoi.get(word, 2)

    def encode(self, tokens) -> list[int]:
        stoi = self.stoi
        return [stoi.get(t, 2) for t in tokens]

    def decode(self, ids) -> list[str]:
        return [self.words[int(i)] for i in ids]

    def map_sentences(self, sentences) -> list[list[str]]:
        """The sentences with every word outside the vocabulary replaced by "<UNK>": feed these to the
        n-gram models so every model of the lineage predicts over the same vocabulary."""
        stoi = self.stoi
        return [[t if t in stoi else UNK for t in s] for s in sentences]

    def to_json(self) -> str:
        return json.dumps({"words": list(self.words), "counts": list(self.counts)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> "Vocab":
        obj = json.loads(data)
        return cls(tuple(obj["words"]), tuple(int(n) for n in obj["counts"]))


def _check_sentences(sentences) -> list:
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise ValueError(_("Give the text as a list of sentences, each a list of tokens."))
    for s in sentences:
        if isinstance(s, str) or not isinstance(s, (list, tuple)):
            raise ValueError(_("Each sentence must be a list of tokens, not {kind}.").format(kind=type(s).__name__))
    if not any(len(s) for s in sentences):
        raise ValueError(_("The text is empty: there are no tokens to learn from. Pick a corpus or type "
                           "some sentences."))
    return sentences


def _check_context(context) -> int:
    if isinstance(context, bool) or not isinstance(context, int) or not 1 <= context <= MAX_CONTEXT:
        raise ValueError(_("The context (n−1 previous words) must be a whole number between 1 and {limit}; "
                           "got {value!r}.").format(limit=MAX_CONTEXT, value=context))
    return context


def make_windows(sentences, vocab: Vocab, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (n−1 previous tokens, next token) pair of `sentences`: X (N, n−1) int64, y (N,) int64.

    Each sentence is padded with `context` × `<s>` in front and one `</s>` at the end, so a sentence of
    k tokens gives k+1 rows (its words and `</s>` as targets); windows never cross sentences. Empty
    sentences are skipped. Words outside `vocab` become `<UNK>`.
    """
    context = _check_context(context)
    sentences = [s for s in _check_sentences(sentences) if len(s)]
    n_rows = sum(len(s) + 1 for s in sentences)
    if n_rows > MAX_WINDOWS:
        raise ValueError(_("The text gives {n} training pairs; the limit is {limit}. Use fewer sentences.").format(
            n=n_rows, limit=MAX_WINDOWS))
    stoi = vocab.stoi
    bos, eos = stoi[BOS], stoi[EOS]
    flat: list[int] = []
    targets: list[int] = []  # positions in `flat` of every predicted token
    for s in sentences:
        flat.extend([bos] * context)
        start = len(flat)
        flat.extend(stoi.get(t, 2) for t in s)
        flat.append(eos)
        targets.extend(range(start, len(flat)))
    ids = np.asarray(flat, dtype=np.int64)  # (L,)
    pos = np.asarray(targets, dtype=np.int64)  # (N,)
    X = ids[pos[:, None] - context + np.arange(context)[None, :]]  # (N, n−1)
    return X, ids[pos]  # (N, n−1), (N,)


@dataclass
class LMData:
    vocab: Vocab  # the training vocabulary (with <s>, </s>, <UNK>)
    context: int  # n−1
    X_train: np.ndarray  # (N_train, n−1) int64 contexts
    y_train: np.ndarray  # (N_train,) int64 next tokens
    X_val: np.ndarray  # (N_val, n−1) int64 (N_val = 0 without held-out text)
    y_val: np.ndarray  # (N_val,) int64

    @property
    def info(self) -> dict:
        return {"vocab": len(self.vocab), "context": self.context, "train_pairs": int(self.y_train.size),
                "held_out_pairs": int(self.y_val.size),
                "held_out_unk": float(np.mean(self.y_val == 2)) if self.y_val.size else 0.0}


def make_data(train_sentences, held_out_sentences, context: int, min_count: int = 1,
              max_size: int | None = None, vocab: Vocab | None = None) -> LMData:
    """The vocabulary of `train_sentences` (`Vocab.build(min_count, max_size)`, or `vocab` as given) and
    the windows of both sentence lists. `held_out_sentences` may be empty (no validation)."""
    vocab = vocab or Vocab.build(train_sentences, min_count, max_size)
    X, y = make_windows(train_sentences, vocab, context)
    if held_out_sentences and any(len(s) for s in held_out_sentences):
        Xv, yv = make_windows(held_out_sentences, vocab, context)
    else:
        Xv, yv = np.zeros((0, context), dtype=np.int64), np.zeros(0, dtype=np.int64)  # (0, n−1), (0,)
    return LMData(vocab, context, X, y, Xv, yv)


def split_data(kind: str = "words_zh", context: int = 3, min_count: int = 2, max_size: int | None = None,
               max_train_tokens: int | None = None) -> LMData:
    """`make_data` on the shared language-model split `core.corpora.lm_split(kind)` (the same text and
    tokens as the n-gram, LSTM and GPT steps of the lineage)."""
    from core.corpora import lm_split

    split = lm_split(kind, max_train_tokens)
    return make_data(split["train"], split["held_out"], context, min_count, max_size)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NNLMConfig:
    vocab_size: int = 20_003  # |V|: rows of C and of the softmax (including <s>, </s>, <UNK>)
    context: int = 3  # n−1: previous words read (a 4-gram model for context 3)
    embed_dim: int = 64  # m: size of a word vector (a row of C)
    hidden: int = 128  # h: tanh hidden units
    direct: bool = False  # the paper's direct connections W from the word vectors to the output

    def __post_init__(self):
        _check_context(self.context)
        for name, lo, hi in (("vocab_size", 2, MAX_VOCAB + len(SPECIALS)), ("embed_dim", 1, 1024),
                             ("hidden", 1, 4096)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if not isinstance(self.direct, bool):
            raise ValueError(_("direct must be True or False; got {value!r}.").format(value=self.direct))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "NNLMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class NNLM(nn.Module):
    """y = b + W x + U tanh(d + H x), x = the concatenated rows of C for the n−1 context words."""

    def __init__(self, config: NNLMConfig):
        super().__init__()
        self.config = config
        V, n1, m, h = config.vocab_size, config.context, config.embed_dim, config.hidden
        self.C = nn.Parameter(torch.empty(V, m))  # (|V|, m) word vectors
        self.H = nn.Parameter(torch.empty(h, n1 * m))  # (h, (n−1)m) input -> hidden
        self.d = nn.Parameter(torch.empty(h))  # (h,) hidden bias
        self.U = nn.Parameter(torch.empty(V, h))  # (|V|, h) hidden -> output
        if config.direct:
            self.W = nn.Parameter(torch.empty(V, n1 * m))  # (|V|, (n−1)m) direct connections
        else:
            self.register_parameter("W", None)
        self.b = nn.Parameter(torch.empty(V))  # (|V|,) output bias

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "NNLM":
        """Draw every parameter from `gen` (never the process-wide RNG): C ~ N(0, 1) (as nn.Embedding);
        H, d ~ U(±1/√((n−1)m)), U ~ U(±1/√h), W ~ U(±1/√((n−1)m)) (as nn.Linear); b = 0."""
        c = self.config
        self.C.normal_(0.0, 1.0, generator=gen)
        bound_x = 1.0 / math.sqrt(c.context * c.embed_dim)
        self.H.uniform_(-bound_x, bound_x, generator=gen)
        self.d.uniform_(-bound_x, bound_x, generator=gen)
        bound_h = 1.0 / math.sqrt(c.hidden)
        self.U.uniform_(-bound_h, bound_h, generator=gen)
        if self.W is not None:
            self.W.uniform_(-bound_x, bound_x, generator=gen)
        self.b.zero_()
        return self

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """x: the concatenated word vectors of the contexts `idx` (B, n−1) -> (B, (n−1)m)."""
        return F.embedding(idx, self.C).reshape(idx.size(0), -1)  # (B, n−1, m) -> (B, (n−1)m)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Scores y (B, |V|) for the next word after each context row of `idx` (B, n−1); softmax(y) is P."""
        x = self.features(idx)  # (B, (n−1)m)
        a = torch.tanh(F.linear(x, self.H, self.d))  # (B, h) = tanh(d + H x)
        y = torch.addmm(self.b, a, self.U.t())  # (B, |V|) = b + U a
        if self.W is not None:
            y = y + x @ self.W.t()  # (B, |V|) + W x
        return y

    def scores_of(self, idx: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """y restricted to the output words `rows` (S,): (B, S), the same numbers as forward(idx)[:, rows]
        at S/|V| of the cost (sampled-softmax training)."""
        x = self.features(idx)  # (B, (n−1)m)
        a = torch.tanh(F.linear(x, self.H, self.d))  # (B, h)
        y = torch.addmm(self.b[rows], a, self.U[rows].t())  # (B, S)
        if self.W is not None:
            y = y + x @ self.W[rows].t()  # (B, S)
        return y

    def log_probs(self, idx: torch.Tensor) -> torch.Tensor:
        """log P(w | context) for every word: (B, |V|), each row's exp sums to 1."""
        return F.log_softmax(self.forward(idx), dim=-1)  # (B, |V|)


@builds_models
def build_nnlm(cfg: NNLMConfig, seed: int = 0, vocab: Vocab | None = None) -> NNLM:
    """A freshly initialised model whose weights depend only on `seed` (global RNG untouched).

    With `vocab` (the training vocabulary), the output bias b starts at the log unigram frequencies of
    its counts (add-½), so the untrained model is the unigram model rather than the uniform one: the
    bias alone would need thousands of small Adam steps to get there, which a short run can't spare.
    """
    with torch.device("meta"):  # no weights yet: nothing drawn from the process-wide RNG
        model = NNLM(cfg)
    model = model.to_empty(device="cpu").init_weights(make_generator(seed))
    if vocab is not None:
        if len(vocab) != cfg.vocab_size:
            raise ValueError(_("The vocabulary has {vocab_words} words but the config says {config_words}; "
                               "set vocab_size=len(vocab).").format(vocab_words=len(vocab),
                                                                    config_words=cfg.vocab_size))
        counts = torch.tensor(vocab.counts, dtype=torch.float64) + 0.5  # (|V|,)
        with torch.no_grad():
            model.b.copy_((counts / counts.sum()).log())
    return model


def param_count(cfg: NNLMConfig) -> int:
    """Parameters of a model with this config (computed, no model built):
    |V|·m (C) + h·(n−1)m + h (H, d) + |V|·h + |V| (U, b) [+ |V|·(n−1)m (W)]."""
    V, x, h = cfg.vocab_size, cfg.context * cfg.embed_dim, cfg.hidden
    return V * cfg.embed_dim + h * x + h + V * h + V + (V * x if cfg.direct else 0)


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
def _as_long(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))


def _check_ids(model: NNLM, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
    c = model.config
    if X.dim() != 2 or X.size(1) != c.context:
        raise ValueError(_("The contexts must be an (N, {context}) array of word ids for this model; got shape "
                           "{shape}. Build the windows with the model's context.").format(
                               context=c.context, shape=tuple(X.shape)))
    for arr in (X,) if y is None else (X, y):
        if arr.numel() and (int(arr.min()) < 0 or int(arr.max()) >= c.vocab_size):
            raise ValueError(_("Word ids must be between 0 and {top}; build the model from this data's "
                               "vocabulary.").format(top=c.vocab_size - 1))
    if y is not None and (y.dim() != 1 or y.numel() != X.size(0)):
        raise ValueError(_("There must be one target per context row: {rows} rows, {targets} targets.").format(
            rows=X.size(0), targets=y.numel()))


@torch.inference_mode()
def mean_nll(model: NNLM, X, y, batch_size: int = 4096) -> float:
    """Mean −log P(y | X) in nats over all rows."""
    X, y = _as_long(X), _as_long(y)
    _check_ids(model, X, y)
    if y.numel() == 0:
        raise ValueError(_("There is nothing to evaluate: the held-out text is empty."))
    dev = model_device(model)
    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for s in range(0, y.numel(), batch_size):
            xb, yb = X[s:s + batch_size].to(dev), y[s:s + batch_size].to(dev)  # (b, n−1), (b,)
            total += float(F.cross_entropy(model(xb), yb, reduction="sum"))
    finally:
        model.train(was_training)
    return total / y.numel()


@torch.inference_mode()
def log_probs_of(model: NNLM, X, y, batch_size: int = 4096) -> torch.Tensor:
    """log P(y_i | X_i) for every row: (N,) float32 (to mix with another model's probabilities)."""
    X, y = _as_long(X), _as_long(y)
    _check_ids(model, X, y)
    dev = model_device(model)
    was_training = model.training
    model.eval()
    try:
        out = [model.log_probs(X[s:s + batch_size].to(dev)).gather(1, y[s:s + batch_size, None].to(dev))[:, 0].cpu()
               for s in range(0, y.numel(), batch_size)]  # each (b,)
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def perplexity(model: NNLM, X, y, batch_size: int = 4096) -> float:
    """exp(mean −log P(y | X)): the held-out perplexity over every (context, next word) row."""
    return math.exp(mean_nll(model, X, y, batch_size))


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
class LogUniformSampler:
    """Sampled softmax with a log-uniform proposal q(i) = log((i+2)/(i+1)) / log(|V|+1) over ids ranked by
    frequency (ours are, after the three specials): `size` words drawn with replacement per step, shared
    by the batch. Each candidate's score is corrected by −log(size · q(i)) (its expected count), so the
    softmax over [target, samples] estimates the full one (Jean et al. 2015); a sample equal to the row's
    target is masked out."""

    def __init__(self, vocab_size: int, size: int, gen: torch.Generator, device):
        self.size, self.gen, self.device = size, gen, device
        ranks = torch.arange(vocab_size, dtype=torch.float64)  # (|V|,)
        q = torch.log((ranks + 2) / (ranks + 1)) / math.log(vocab_size + 1)  # (|V|,) sums to 1
        self.q = q.float()
        self.log_expected = torch.log(size * q).float().to(device)  # (|V|,)

    def loss(self, model: "NNLM", X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        samples = torch.multinomial(self.q, self.size, replacement=True, generator=self.gen).to(self.device)  # (S,)
        rows = torch.cat([y, samples])  # (B + S,)
        scores = model.scores_of(X, rows) - self.log_expected[rows]  # (B, B + S)
        B = y.numel()
        true = scores[torch.arange(B, device=scores.device), torch.arange(B, device=scores.device)]  # (B,)
        sampled = scores[:, B:].masked_fill(samples[None, :] == y[:, None], float("-inf"))  # (B, S)
        logits = torch.cat([true[:, None], sampled], dim=1)  # (B, 1 + S): the target first
        return F.cross_entropy(logits, torch.zeros(B, dtype=torch.long, device=scores.device))


def lr_at(progress: float, lr: float, warmup_frac: float = 0.02, min_frac: float = 0.05) -> float:
    """Linear warm-up over the first `warmup_frac` of the run, then cosine decay to `min_frac` of `lr`."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup_frac:
        return lr * (0.1 + 0.9 * progress / warmup_frac)
    cos = 0.5 * (1 + math.cos(math.pi * (progress - warmup_frac) / (1 - warmup_frac)))
    return lr * (min_frac + (1 - min_frac) * cos)


def _check_number(name: str, value, lo: float, hi: float, integer: bool = False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if ok and integer:
        ok = isinstance(value, int)
    if not ok or not lo <= value <= hi:
        raise ValueError(_("{name} must be a {kind} between {lo} and {hi}; got {value!r}.").format(
            name=name, kind=_("whole number") if integer else _("number"), lo=lo, hi=hi, value=value))


def train(model: NNLM, data: LMData, epochs: int = 1, max_steps: int | None = None, lr: float = 3e-3,
          batch_size: int = 512, seed: int = 0, max_seconds: float = 60.0, on_step: Callable | None = None,
          history: list | None = None, device: str | None = None, optimizer: str = "adamw",
          weight_decay: float = 0.01, eval_every: int = 200, eval_rows: int = 10_000,
          threads: int | None = None, step_offset: int = 0, softmax_sample: int = 0) -> dict:
    """Train `model` in place on `data`'s training windows (shuffled every epoch with `seed`).

    Runs for `epochs` passes, at most `max_steps` steps (None = no cap) and `max_seconds` seconds of
    training (0 = no cap; evaluations are not counted). The learning rate warms up over the first 2%
    and decays along a cosine to 5% of `lr`, where progress = max(steps, seconds) fraction of the budget,
    so a run stopped by the clock still finishes its decay. `optimizer` "adamw" (weight decay on H, U, W
    only) or "sgd" (plain SGD, the paper's; use lr ≈ 0.1–1). `history` (if given) gets one dict per step
    {step, epoch, loss, lr, time_s} and one per evaluation {step, val_loss, val_ppl, time_s}, appended in
    place so a caller keeps what was trained if the run is interrupted. Evaluations every `eval_every`
    steps (0 = only at the end) use the first `eval_rows` held-out rows; the final one uses all of them.
    `on_step(done, total, info)` after every step. `device` (None = `core.device.get_device()`) trains
    there; the model goes back where it was afterwards. `threads`: intra-op CPU threads for the run.

    `softmax_sample` > 0 trains with a sampled softmax (Bengio & Senécal 2003 trained this very model
    by importance sampling; here Jean et al. 2015's form): each step scores the batch's targets and
    `softmax_sample` words drawn from a log-uniform (Zipf-like) proposal over the frequency-ranked ids,
    each score corrected by −log(expected count), accidental hits masked. The model and every evaluation
    keep the full softmax; only the training step is cheaper (about |V| / softmax_sample times fewer
    output rows). 0 = the full softmax, as in the paper.

    Returns {"val_ppl" (None without held-out rows), "val_loss", "train_loss" (mean of the last 50 steps,
    nats), "seconds", "steps", "epochs" (fractional), "examples", "stopped_by" ("epochs" | "steps" | "time")}.
    """
    _check_number("epochs", epochs, 1, 1000, integer=True)
    if max_steps is not None:
        _check_number("max_steps", max_steps, 1, 10**8, integer=True)
    _check_number("lr", lr, 1e-7, 10.0)
    _check_number("batch_size", batch_size, 1, 65536, integer=True)
    _check_number("max_seconds", max_seconds, 0, 10**6)
    _check_number("weight_decay", weight_decay, 0, 1)
    _check_number("eval_every", eval_every, 0, 10**9, integer=True)
    _check_number("eval_rows", eval_rows, 1, 10**9, integer=True)
    _check_number("softmax_sample", softmax_sample, 0, MAX_VOCAB, integer=True)
    seed = check_seed(seed)
    if optimizer not in OPTIMIZERS:
        raise ValueError(_("The optimizer must be one of {choices}, not {value!r}.").format(
            choices=", ".join(OPTIMIZERS), value=optimizer))
    if len(data.vocab) != model.config.vocab_size:
        raise ValueError(_("The model has {model_words} words but the data's vocabulary has {data_words}; build "
                           "the model from this data's vocabulary.").format(
                               model_words=model.config.vocab_size, data_words=len(data.vocab)))
    if data.context != model.config.context:
        raise ValueError(_("The model reads {model_context} previous words but the data's windows have "
                           "{data_context}; build both with the same context.").format(
                               model_context=model.config.context, data_context=data.context))
    if data.y_train.size == 0:
        raise ValueError(_("There are no training pairs. Give the model some sentences."))
    device = device or get_device()
    with on_device(model, device), torch_threads(threads if torch.device(device).type == "cpu" else None):
        return _train(model, data, epochs, max_steps, lr, batch_size, seed, max_seconds, on_step,
                      history if history is not None else [], optimizer, weight_decay, eval_every, eval_rows,
                      step_offset, softmax_sample)


def _make_optimizer(model: NNLM, optimizer: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    decay = [p for name, p in model.named_parameters() if name in ("H", "U", "W")]
    rest = [p for name, p in model.named_parameters() if name not in ("H", "U", "W")]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def _train(model, data, epochs, max_steps, lr, batch_size, seed, max_seconds, on_step, history, optimizer,
           weight_decay, eval_every, eval_rows, step_offset, softmax_sample=0) -> dict:
    gen = make_generator(seed)
    dev = model_device(model)
    X, y = _as_long(data.X_train), _as_long(data.y_train)
    _check_ids(model, X, y)
    Xv, yv = _as_long(data.X_val), _as_long(data.y_val)
    n = y.numel()
    per_epoch = math.ceil(n / batch_size)
    total = epochs * per_epoch if max_steps is None else min(max_steps, epochs * per_epoch)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    X_dev, y_dev = X.to(dev), y.to(dev)
    V = model.config.vocab_size
    sampler = LogUniformSampler(V, softmax_sample, gen, dev) if 0 < softmax_sample < V else None
    model.train()
    start = time.monotonic()
    eval_s = 0.0
    recent: list[float] = []
    val_loss = None
    step = examples = 0
    stopped_by = "epochs" if max_steps is None or max_steps >= epochs * per_epoch else "steps"
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen).to(dev)  # (N,)
        for s in range(0, n, batch_size):
            if step >= total:
                break
            step += 1
            elapsed = time.monotonic() - start - eval_s
            progress = (step - 1) / total
            if max_seconds > 0:
                progress = max(progress, elapsed / max_seconds)
            rate = lr_at(progress, lr)
            for group in opt.param_groups:
                group["lr"] = rate
            rows = order[s:s + batch_size]  # (b,)
            examples += rows.numel()
            if sampler is None:
                loss = F.cross_entropy(model(X_dev[rows]), y_dev[rows])  # logits (b, |V|)
            else:
                loss = sampler.loss(model, X_dev[rows], y_dev[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_v = float(loss.detach())
            if not math.isfinite(loss_v):
                raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
            recent = (recent + [loss_v])[-50:]
            elapsed = time.monotonic() - start - eval_s
            global_step = step_offset + step
            history.append({"step": global_step, "epoch": epoch + min(1.0, (s + len(rows)) / n), "loss": loss_v,
                            "lr": rate, "time_s": elapsed})
            out_of_time = max_seconds > 0 and elapsed >= max_seconds
            last = step == total or out_of_time
            info = {"loss": loss_v}
            if yv.numel() and (last or (eval_every and step % eval_every == 0)):
                t0 = time.monotonic()
                rows_v = yv.numel() if last else min(eval_rows, yv.numel())
                val_loss = mean_nll(model, Xv[:rows_v], yv[:rows_v])
                model.train()
                eval_s += time.monotonic() - t0
                history.append({"step": global_step, "val_loss": val_loss, "val_ppl": math.exp(val_loss),
                                "time_s": elapsed})
                info["val_loss"] = val_loss
                info["val_ppl"] = math.exp(val_loss)
            if on_step is not None:
                on_step(step, total, info)
            if out_of_time:
                stopped_by = "time"
                break
        if stopped_by == "time" or step >= total:
            break
    model.eval()
    return {"val_ppl": math.exp(val_loss) if val_loss is not None else None, "val_loss": val_loss,
            "train_loss": sum(recent) / max(1, len(recent)), "seconds": time.monotonic() - start - eval_s,
            "steps": step, "epochs": examples / n, "examples": examples, "stopped_by": stopped_by}


@torch.inference_mode()
def next_words(model: NNLM, vocab: Vocab, context, k: int = 15) -> tuple[list[str], list[tuple[str, float]]]:
    """The model's `k` most likely next words after `context` (a list of tokens; only the last n−1 are
    read, missing ones are <s>, unknown ones <UNK>). Returns (the context as read, [(word, P), ...])."""
    check_vocab_size(model, vocab)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(vocab):
        raise ValueError(_("k must be a whole number between 1 and {top}; got {value!r}.").format(
            top=len(vocab), value=k))
    c = model.config.context
    read = ([BOS] * c + [t if t in vocab.stoi else UNK for t in context])[-c:]
    ids = torch.tensor([vocab.encode(read)], device=model_device(model))  # (1, n−1)
    was_training = model.training
    model.eval()
    try:
        probs = model.log_probs(ids).exp()[0].cpu()  # (|V|,)
    finally:
        model.train(was_training)
    top = torch.topk(probs, k)
    return read, [(vocab.words[int(i)], float(p)) for p, i in zip(top.values, top.indices)]


def check_vocab_size(model: nn.Module, vocab: Vocab) -> None:
    """The model's output size (`model.config.vocab_size`: the NNLM, `core.sequence.sentlm`) is the vocabulary's."""
    if len(vocab) != model.config.vocab_size:
        raise ValueError(_("The vocabulary has {vocab_words} words but the model {model_words}; use the "
                           "vocabulary the model was trained with.").format(
                               vocab_words=len(vocab), model_words=model.config.vocab_size))


# ---------------------------------------------------------------------------------------------
# the word vectors
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def neighbours(model: NNLM, vocab: Vocab, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The `k` words whose rows of C have the highest cosine similarity with `word`'s row, most similar
    first; the word itself and the special tokens (<s>, </s>, <UNK>) are left out."""
    check_vocab_size(model, vocab)
    if word not in vocab.stoi or word in SPECIALS:
        raise ValueError(_("{word!r} is not in the model's vocabulary (words seen at least min_count times in "
                           "training). Pick another word.").format(word=word))
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(_("k must be a whole number >= 1; got {value!r}.").format(value=k))
    C = model.C.detach().float().cpu()  # (|V|, m)
    unit = C / C.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (|V|, m)
    i = vocab.stoi[word]
    sims = unit @ unit[i]  # (|V|,)
    sims[i] = -math.inf
    sims[: len(SPECIALS)] = -math.inf
    k = min(k, len(vocab) - len(SPECIALS) - 1)
    if k <= 0:
        return []
    top = torch.topk(sims, k)
    return [(vocab.words[int(j)], float(s)) for s, j in zip(top.values, top.indices)]


@torch.no_grad()
def embedding_map(model: NNLM, vocab: Vocab, top: int = 200) -> tuple[list[str], np.ndarray]:
    """The `top` most frequent words (specials left out) and their rows of C projected on C's first two
    principal components: (words, (top, 2) coordinates)."""
    check_vocab_size(model, vocab)
    if isinstance(top, bool) or not isinstance(top, int) or top < 2:
        raise ValueError(_("top must be a whole number >= 2; got {value!r}.").format(value=top))
    ids = [i for i in np.argsort(-np.asarray(vocab.counts), kind="stable") if vocab.words[i] not in SPECIALS][:top]
    C = model.C.detach().float().cpu().numpy()[ids]  # (top, m)
    C = C - C.mean(axis=0, keepdims=True)
    _u, _s, vt = np.linalg.svd(C, full_matrices=False)  # vt: (m, m)
    return [vocab.words[i] for i in ids], C @ vt[:2].T  # (top, 2)

