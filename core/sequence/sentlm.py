"""Sentence language models for the lineage comparison: an LSTM LM and a tiny GPT over the same
vocabulary, padding and predictions as the n-gram models and Bengio's NNLM.

Both read a sentence from its start, `<s> w_1 … w_k`, and predict `w_1 … w_k </s>`: k+1 predictions
per sentence, exactly the ones `core.classic.ngram` and `core.embeddings.nnlm` score, so held-out
perplexities compare one to one. The vocabulary is `core.embeddings.nnlm.Vocab` (ids 0, 1, 2 are
`<s>`, `</s>`, `<UNK>`); words outside it are `<UNK>`, as for the other models. What differs is only
how much of the sentence each model reads: an n-gram n−1 words, the NNLM its fixed window, the LSTM
everything so far through its state, the GPT everything so far through attention (up to `max_len`
tokens; longer sentences are scored in overlapping windows that keep at least half the window as
context).

- `SentLMConfig` ("lstm" or "gpt"), `SentLM`, `build_sentlm(cfg, seed, vocab)` (output bias starts at
  the log unigram frequencies, as `nnlm.build_nnlm` does; input and output embeddings are tied);
- `train(...)`: AdamW with warm-up and cosine decay over a step / time budget, shuffled length-bucketed
  batches, `on_step` progress and a caller-owned `history` (Stop keeps what was trained);
- `perplexity(...)`, `token_logprobs(...)`: the held-out figures.

Nothing here touches the global RNG: weights and batch order come from `core.device.make_generator`.
No dropout: the budgets here are a few minutes, far from over-fitting 1 M training words.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.device import (builds_models, check_seed, count_params, get_device, make_generator,  # noqa: F401
                         model_device, on_device, torch_threads)  # count_params: sentlm.count_params
from core.embeddings.nnlm import SPECIALS, Vocab, check_vocab_size, lr_at
from core.i18n import N_, _
from core.transformers.tinygpt import Block, TinyGPTConfig

ARCHS = {"lstm": N_("LSTM"), "gpt": N_("tiny GPT (Transformer decoder)")}
MAX_VOCAB = 200_003  # as nnlm: words + the three specials
BUCKET = 50  # batches drawn together and sorted by length (less padding), then shuffled again
STOPPED_BY = {"steps": N_("step limit reached"), "time": N_("time limit reached")}


@dataclass(frozen=True)
class SentLMConfig:
    arch: str = "lstm"  # "lstm" (recurrent) or "gpt" (causal self-attention, learned positions)
    vocab_size: int = 20_003  # |V| with <s>, </s>, <UNK>: rows of the tied embedding / softmax
    embed_dim: int = 128  # E: token embedding = output embedding (tied), the GPT's width d_model
    hidden: int = 256  # LSTM cells per layer (projected back to E before the tied softmax); unused by "gpt"
    n_layers: int = 1  # LSTM layers / Transformer blocks
    n_head: int = 4  # attention heads per block ("gpt"; E must be divisible by it)
    max_len: int = 64  # "gpt": longest window in tokens (learned positions 0..max_len−1); training crops to it
    cutoffs: tuple = (2000, 10000)  # adaptive softmax (Grave et al. 2017): the ids below the first cutoff (the
    # most frequent words) and one entry per cluster form the head; rarer words sit in clusters of smaller
    # vectors (E/4, E/16). Exact probabilities at a fraction of the cost of a 28k-word softmax. Cutoffs at or
    # past the vocabulary are dropped; none left (or ()) = the full softmax, tied to the input embedding

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(_("The architecture must be one of {choices}, not {value!r}.").format(
                choices=", ".join(ARCHS), value=self.arch))
        for name, lo, hi in (("vocab_size", len(SPECIALS) + 1, MAX_VOCAB), ("embed_dim", 8, 1024),
                             ("hidden", 4, 4096), ("n_layers", 1, 8), ("n_head", 1, 16), ("max_len", 8, 1024)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if not isinstance(self.cutoffs, (tuple, list)) or any(
                isinstance(c, bool) or not isinstance(c, int) for c in self.cutoffs) or list(self.cutoffs) != sorted(
                set(self.cutoffs)) or (self.cutoffs and self.cutoffs[0] < 1):
            raise ValueError(_("cutoffs must be increasing whole numbers >= 1 (or empty for the full softmax); got "
                               "{value!r}.").format(value=self.cutoffs))
        object.__setattr__(self, "cutoffs", tuple(self.cutoffs))
        if self.arch == "gpt" and self.embed_dim % self.n_head:
            raise ValueError(_("The width ({width}) must be divisible by the number of heads ({heads}).").format(
                width=self.embed_dim, heads=self.n_head))

    @property
    def active_cutoffs(self) -> tuple[int, ...]:
        """The cutoffs this vocabulary can use (each below |V| − 1); () = the full softmax."""
        return tuple(c for c in self.cutoffs if c < self.vocab_size - 1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "SentLMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class SentLM(nn.Module):
    """Embedding -> LSTM (+ projection to E) or Transformer blocks -> adaptive softmax (or the full
    softmax tied to the embedding) over the vocabulary."""

    def __init__(self, config: SentLMConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)  # (|V|, E)
        if c.active_cutoffs:
            self.out = nn.AdaptiveLogSoftmaxWithLoss(c.embed_dim, c.vocab_size, list(c.active_cutoffs),
                                                     div_value=4.0, head_bias=True)
            self.register_parameter("bias", None)
        else:
            self.out = None
            self.bias = nn.Parameter(torch.zeros(c.vocab_size))  # (|V|,) output bias; the matrix is embed.weight
        if c.arch == "lstm":
            self.rnn = nn.LSTM(c.embed_dim, c.hidden, num_layers=c.n_layers, batch_first=True)
            self.proj = nn.Linear(c.hidden, c.embed_dim) if c.hidden != c.embed_dim else nn.Identity()
        else:
            block_cfg = TinyGPTConfig(block_size=c.max_len, n_layer=c.n_layers, n_head=c.n_head, n_embd=c.embed_dim)
            self.pos = nn.Embedding(c.max_len, c.embed_dim)  # (max_len, E) learned positions
            self.blocks = nn.ModuleList([Block(block_cfg) for _i in range(c.n_layers)])
            self.ln_f = nn.LayerNorm(c.embed_dim)

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "SentLM":
        """Every weight drawn from `gen`: embeddings N(0, 0.02²)·(GPT) or N(0, 0.1²)·(LSTM, whose inputs
        are not normalised); LSTM and projection U(±1/√H) with forget-gate bias 1; GPT blocks as GPT-2
        (N(0, 0.02²), residual projections scaled by 1/√(2L)); LayerNorms 1 and 0; the adaptive softmax's
        matrices N(0, 0.02²); output biases 0 (`build_sentlm` sets them to the unigram frequencies)."""
        c = self.config
        for name, p in self.named_parameters():
            if name in ("embed.weight", "pos.weight"):
                p.normal_(0.0, 0.02 if c.arch == "gpt" else 0.1, generator=gen)
            elif name in ("bias", "out.head.bias"):
                p.zero_()
            elif name.startswith("out."):  # adaptive softmax matrices: small, so the unigram bias shows through
                p.normal_(0.0, 0.02, generator=gen)
            elif c.arch == "lstm":
                bound = 1.0 / math.sqrt(c.hidden)
                p.uniform_(-bound, bound, generator=gen)
            elif "ln" in name.split(".")[-2] or name.startswith("ln_f"):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif p.dim() >= 2:
                residual = name.endswith("proj.weight") or name.endswith("mlp.2.weight")
                std = 0.02 / math.sqrt(2 * c.n_layers) if residual else 0.02
                p.normal_(0.0, std, generator=gen)
            else:
                p.zero_()
        if c.arch == "lstm":
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p[c.hidden:2 * c.hidden].fill_(1.0)  # remember by default (Jozefowicz et al. 2015)
        return self

    def hidden_states(self, idx: torch.Tensor) -> torch.Tensor:
        """The vector each position predicts from: (B, T) ids -> (B, T, E). Position t has read idx[:, :t+1]."""
        x = self.embed(idx)  # (B, T, E)
        if self.config.arch == "lstm":
            out, _state = self.rnn(x)  # (B, T, H)
            return self.proj(out)  # (B, T, E)
        T = idx.size(1)
        if T > self.config.max_len:
            raise ValueError(_("A window of {n} tokens is longer than the model's {limit}.").format(
                n=T, limit=self.config.max_len))
        x = x + self.pos(torch.arange(T, device=idx.device))  # (B, T, E)
        for block in self.blocks:
            x, _w = block(x)  # (B, T, E)
        return self.ln_f(x)  # (B, T, E)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """log P(w) for every word of the vocabulary from hidden vectors h (N, E) -> (N, |V|); rows sum to 1."""
        if self.out is not None:
            return self.out.log_prob(h)  # (N, |V|): head + each cluster's conditional
        return F.log_softmax(F.linear(h, self.embed.weight, self.bias), dim=-1)  # (N, |V|)

    def nll(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """−log P(target) per row of h (N, E), targets (N,) -> (N,). The adaptive softmax computes a
        cluster only for the rows whose target lies in it (that is where the time goes to)."""
        if self.out is not None:
            return -self.out(h, targets).output  # (N,)
        return F.cross_entropy(F.linear(h, self.embed.weight, self.bias), targets, reduction="none")  # (N,)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """log P of the next token (B, T, |V|) after every prefix of `idx` (B, T)."""
        h = self.hidden_states(idx)  # (B, T, E)
        return self.log_probs(h.reshape(-1, h.size(-1))).view(*idx.shape, -1)  # (B, T, |V|)


@builds_models
def build_sentlm(cfg: SentLMConfig, seed: int = 0, vocab: Vocab | None = None) -> SentLM:
    """A fresh model whose weights depend only on `seed`. With `vocab`, the output bias starts at the
    log unigram frequencies (add-½) of its counts, so the untrained model is the unigram model."""
    with torch.device("meta"):  # no weights yet: nothing drawn from the process-wide RNG
        model = SentLM(cfg)
    model = model.to_empty(device="cpu").init_weights(make_generator(seed))
    if vocab is not None:
        if len(vocab) != cfg.vocab_size:
            raise ValueError(_("The vocabulary has {vocab_words} words but the config says {config_words}; "
                               "set vocab_size=len(vocab).").format(vocab_words=len(vocab),
                                                                    config_words=cfg.vocab_size))
        counts = torch.tensor(vocab.counts, dtype=torch.float64) + 0.5  # (|V|,)
        logp = (counts / counts.sum()).log()  # (|V|,)
        with torch.no_grad():
            if model.out is None:
                model.bias.copy_(logp)
            else:  # the head: its words' log-frequencies, then each cluster's total log-frequency
                bounds = [*cfg.active_cutoffs, cfg.vocab_size]
                clusters = [torch.logsumexp(logp[a:b], 0) for a, b in zip(bounds[:-1], bounds[1:])]
                model.out.head.bias.copy_(torch.cat([logp[:bounds[0]], torch.stack(clusters)]))
    return model


# ---------------------------------------------------------------------------------------------
# sentences -> ids
# ---------------------------------------------------------------------------------------------
def frame(vocab: Vocab, sentences) -> list[np.ndarray]:
    """Each non-empty sentence as ids `<s> w_1 … w_k </s>` (k+2 ids: inputs are [:-1], targets [1:])."""
    if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
        raise ValueError(_("Give a list of sentences, each a list of tokens."))
    out = []
    for s in sentences:
        if isinstance(s, (str, bytes)):
            raise ValueError(_("Each sentence must be a list of tokens, not a string: split it first."))
        if len(s):
            out.append(np.asarray([0, *vocab.encode(s), 1], dtype=np.int64))
    return out


def _windows(ids: np.ndarray, max_len: int | None) -> list[tuple[int, int]]:
    """(start, first scored target) of each window over inputs ids[:-1]: every target scored once, each
    window at most `max_len` inputs, and every target after the first window sees ≥ max_len/2 tokens."""
    n = len(ids) - 1  # predictions
    if max_len is None or n <= max_len:
        return [(0, 0)]
    stride = max(1, max_len // 2)
    out, scored = [(0, 0)], max_len
    while scored < n:
        end = min(scored + stride, n)
        out.append((end - max_len, scored))
        scored = end
    return out


def _pad(rows: list[np.ndarray], fill: int) -> torch.Tensor:
    T = max(len(r) for r in rows)
    out = np.full((len(rows), T), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return torch.from_numpy(out)  # (B, T)


def _pieces(model: SentLM, framed: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets with −100 where a target is not scored) per window of every sentence."""
    max_len = model.config.max_len if model.config.arch == "gpt" else None
    out = []
    for ids in framed:
        for start, first in _windows(ids, max_len):
            stop = len(ids) - 1 if max_len is None else min(start + max_len, len(ids) - 1)
            x, y = ids[start:stop], ids[start + 1:stop + 1].copy()
            y[:first - start] = -100
            out.append((x, y))
    return out


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def _scored(model: SentLM, framed: list[np.ndarray], batch_size: int = 64) -> tuple[float, int]:
    """(total −log P in nats, predictions) over every target of the framed sentences."""
    pieces = sorted(_pieces(model, framed), key=lambda p: len(p[0]))
    dev = model_device(model)
    total, n = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for s in range(0, len(pieces), batch_size):
            chunk = pieces[s:s + batch_size]
            x = _pad([p[0] for p in chunk], 1).to(dev)  # (B, T)
            y = _pad([p[1] for p in chunk], -100).to(dev)  # (B, T)
            keep = y != -100  # (B, T)
            h = model.hidden_states(x)[keep]  # (N, E)
            total += float(model.nll(h, y[keep]).sum())
            n += int(keep.sum())
    finally:
        model.train(was_training)
    return total, n


def mean_nll(model: SentLM, vocab: Vocab, sentences, batch_size: int = 64) -> float:
    """Mean −log P over every token and one `</s>` per sentence, in nats."""
    check_vocab_size(model, vocab)
    total, n = _scored(model, frame(vocab, sentences), batch_size)
    if n == 0:
        raise ValueError(_("There is nothing to evaluate: the held-out text is empty."))
    return total / n


def perplexity(model: SentLM, vocab: Vocab, sentences, batch_size: int = 64) -> float:
    """exp(mean −log P): held-out perplexity over the same predictions as the n-gram models."""
    return math.exp(mean_nll(model, vocab, sentences, batch_size))


@torch.inference_mode()
def token_logprobs(model: SentLM, vocab: Vocab, tokens) -> list[dict]:
    """One row per prediction of one sentence: {"token", "context" (what the model has read), "prob",
    "logprob"} for w_1 … w_k and `</s>` (the n-gram page's step table, for this model)."""
    check_vocab_size(model, vocab)
    framed = frame(vocab, [list(tokens)])
    if not framed:
        raise ValueError(_("The sentence is empty: type at least one word."))
    ids = framed[0]
    rows = []
    for x, y in _pieces(model, framed):
        logp = model(torch.from_numpy(x)[None].to(model_device(model)))[0].float()  # (T, |V|)
        for t, target in enumerate(y):
            if target != -100:
                lp = float(logp[t, target])
                rows.append({"token": vocab.words[target], "logprob": lp, "prob": math.exp(lp)})
    words = vocab.decode(ids)
    for i, r in enumerate(rows):
        r["context"] = " ".join(words[:i + 1])
    return rows


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def _batches(n_pieces: int, lengths: np.ndarray, batch_size: int, gen: torch.Generator):
    """Endless batches of piece indices: shuffled, sorted by length within BUCKET batches, shuffled again."""
    while True:
        order = torch.randperm(n_pieces, generator=gen).numpy()
        span = batch_size * BUCKET
        for s in range(0, n_pieces, span):
            chunk = order[s:s + span]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            groups = [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
            for g in torch.randperm(len(groups), generator=gen).tolist():
                yield groups[g]


def train(model: SentLM, vocab: Vocab, sentences, held_out=None, *, max_steps: int = 100_000,
          max_seconds: float = 60.0, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
          weight_decay: float = 0.01, clip: float = 1.0, eval_every: int = 0, eval_sentences: int = 500,
          on_step: Callable | None = None, history: list | None = None, device: str | None = None,
          threads: int | None = None) -> dict:
    """Train `model` in place on `sentences` (lists of tokens) for `max_steps` steps or `max_seconds`
    seconds of training (0 = no time cap), whichever ends first.

    AdamW (weight decay on matrices, not on embeddings, biases or norms), warm-up over 2% and cosine decay
    to 5% of `lr`, progress = the larger of the step and the time fraction; the global gradient norm is
    clipped to `clip` (0 = off). The GPT trains on windows of `max_len` tokens (long sentences are cut
    into overlapping windows, as in evaluation). `history` gets {"step", "loss", "lr", "time_s"} per step
    and {"step", "val_loss", "val_ppl", "time_s"} per evaluation (every `eval_every` steps on the first
    `eval_sentences` held-out sentences; the final one on all of them). `on_step(done, total, info)`.

    Returns {"val_ppl" (None without held-out text), "val_loss", "train_loss" (mean of the last 50 steps),
    "seconds", "steps", "epochs", "stopped_by" ("steps" | "time"), "params"}.
    """
    check_vocab_size(model, vocab)
    for name, value, lo, hi in (("max_steps", max_steps, 1, 10**8), ("batch_size", batch_size, 1, 4096),
                                ("eval_every", eval_every, 0, 10**9), ("eval_sentences", eval_sentences, 1, 10**9)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                name=name, lo=lo, hi=hi, value=value))
    for name, value, lo, hi in (("lr", lr, 1e-7, 1.0), ("max_seconds", max_seconds, 0, 10**6),
                                ("weight_decay", weight_decay, 0, 1), ("clip", clip, 0, 10**6)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or not lo <= value <= hi:
            raise ValueError(_("{name} must be a number between {lo} and {hi}; got {value!r}.").format(
                name=name, lo=lo, hi=hi, value=value))
    seed = check_seed(seed)
    framed = frame(vocab, sentences)
    if not framed:
        raise ValueError(_("There are no training sentences. Give the model some text."))
    held = frame(vocab, held_out or [])
    device = device or get_device()
    with on_device(model, device) as dev, torch_threads(threads if dev.type == "cpu" else None):
        return _train(model, framed, held, max_steps, float(max_seconds), float(lr), batch_size, seed,
                      float(weight_decay), float(clip), eval_every, eval_sentences, on_step,
                      history if history is not None else [], dev)


def _train(model, framed, held, max_steps, max_seconds, lr, batch_size, seed, weight_decay, clip, eval_every,
           eval_sentences, on_step, history, dev) -> dict:
    gen = make_generator(seed)
    pieces = _pieces(model, framed)
    lengths = np.asarray([len(p[0]) for p in pieces])
    n_targets = int(sum(int((p[1] != -100).sum()) for p in pieces))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n not in ("embed.weight", "pos.weight")]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n not in ("embed.weight", "pos.weight"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
    batches = _batches(len(pieces), lengths, batch_size, gen)
    model.train()
    start = time.monotonic()
    eval_s, seen, step = 0.0, 0, 0
    recent: list[float] = []
    val_loss = None
    stopped_by = "steps"
    while step < max_steps:
        step += 1
        elapsed = time.monotonic() - start - eval_s
        progress = (step - 1) / max_steps
        if max_seconds > 0:
            progress = max(progress, elapsed / max_seconds)
        rate = lr_at(progress, lr)
        for group in opt.param_groups:
            group["lr"] = rate
        chunk = [pieces[i] for i in next(batches)]
        x = _pad([p[0] for p in chunk], 1).to(dev)  # (B, T)
        y = _pad([p[1] for p in chunk], -100).to(dev)  # (B, T)
        keep = y != -100  # (B, T): the softmax runs on real targets only, never on padding
        loss = model.nll(model.hidden_states(x)[keep], y[keep]).mean()  # (N,) -> ()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
        seen += int(keep.sum())
        recent = (recent + [loss_v])[-50:]
        elapsed = time.monotonic() - start - eval_s
        history.append({"step": step, "loss": loss_v, "lr": rate, "time_s": elapsed})
        out_of_time = max_seconds > 0 and elapsed >= max_seconds
        last = step == max_steps or out_of_time
        info = {"loss": loss_v}
        if held and (last or (eval_every and step % eval_every == 0)):
            t0 = time.monotonic()
            total, n = _scored(model, held if last else held[:eval_sentences])
            val_loss = total / n
            model.train()
            eval_s += time.monotonic() - t0
            history.append({"step": step, "val_loss": val_loss, "val_ppl": math.exp(val_loss), "time_s": elapsed})
            info["val_loss"] = val_loss
        if on_step is not None:
            on_step(step, max_steps, info)
        if out_of_time:
            stopped_by = "time"
            break
    model.eval()
    return {"val_ppl": math.exp(val_loss) if val_loss is not None else None, "val_loss": val_loss,
            "train_loss": sum(recent) / max(1, len(recent)), "seconds": time.monotonic() - start - eval_s,
            "steps": step, "epochs": seen / max(1, n_targets), "stopped_by": stopped_by,
            "params": count_params(model)}
