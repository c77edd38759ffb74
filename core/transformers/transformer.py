"""The whole Transformer (Vaswani et al. 2017), built from its parts: the encoder–decoder of the notes'
"4. Transformer" section, small enough to train on toy tasks in seconds on a CPU.

    x = Embedding(tokens) · √d_model + PE           (sinusoidal positions, as the Attention page shows)
    encoder block:  x = Norm(x + SelfAttention(x, padding mask)); x = Norm(x + FFN(x))
    decoder block:  y = Norm(y + SelfAttention(y, causal + padding mask))
                    y = Norm(y + CrossAttention(queries y, keys/values = encoder output))
                    y = Norm(y + FFN(y))
    P(next token) = softmax(Linear(y))

(post-norm as in the paper; `norm="pre"` puts each Norm before its sub-layer, with a final Norm.)

Attention is `attend`: softmax(Q Kᵀ / √d_k + M) V with M = 0 where a query may look and −∞ where it
may not — the formula `core.transformers.attention.attention_steps` shows step by step (a test checks
the two agree). No `nn.Transformer` and no `F.scaled_dot_product_attention`: every weight is ours
and each layer can return its attention. Tests check our layers against `nn.TransformerEncoderLayer` /
`nn.TransformerDecoderLayer` with copied weights (to 1e-5), post- and pre-norm.

Toy tasks (`toy_pairs`): copy, reverse, sort and multi-digit addition, token ids over a small
vocabulary with <pad> = 0, <s> = 1, </s> = 2. `train` runs teacher forcing with label smoothing and the
paper's warm-up schedule; `greedy_decode` and `exact_match` score held-out sequences.

Nothing here touches the global RNG: weights, data and batches come from `core.device.make_generator`.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.basics.cnn import Dropout, seed_dropout  # masks from a per-run generator, never the global RNG
from core.device import builds_models, check_seed, count_params, make_generator, torch_threads  # noqa: F401
from core.i18n import N_, _

PAD, BOS, EOS = 0, 1, 2  # special ids of every toy vocabulary
N_SPECIAL = 3
TASKS = {"copy": N_("copy"), "reverse": N_("reverse"), "sort": N_("sort"), "add": N_("addition")}
NORMS = {"post": N_("post-norm (the paper)"), "pre": N_("pre-norm (GPT-2 and later)")}
MAX_LAYERS, MAX_HEADS, MAX_D_MODEL, MAX_LEN = 6, 16, 512, 256


# ---------------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransformerConfig:
    src_vocab: int = 13  # source token ids 0..src_vocab−1 (with <pad>, <s>, </s>)
    tgt_vocab: int = 13  # target token ids (the decoder's softmax)
    d_model: int = 64  # width of every token vector (the residual stream)
    n_heads: int = 4  # attention heads per attention layer (d_model must be divisible by it)
    n_layers: int = 2  # encoder blocks = decoder blocks
    d_ff: int = 256  # hidden units of each position-wise feed-forward network
    dropout: float = 0.0  # dropout on attention weights and sub-layer outputs (training only)
    norm: str = "post"  # "post": Norm(x + f(x)) as in the paper; "pre": x + f(Norm(x)), with a final Norm
    max_len: int = 64  # longest sequence (positions 0..max_len−1 of the sinusoidal table)
    activation: str = "relu"  # the feed-forward non-linearity: "relu" (the paper) or "gelu" (BERT)

    def __post_init__(self):
        for name, lo, hi in (("src_vocab", N_SPECIAL + 1, 100_000), ("tgt_vocab", N_SPECIAL + 1, 100_000),
                             ("d_model", 4, MAX_D_MODEL), ("n_heads", 1, MAX_HEADS), ("n_layers", 1, MAX_LAYERS),
                             ("d_ff", 4, 8 * MAX_D_MODEL), ("max_len", 2, MAX_LEN)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if self.d_model % self.n_heads:
            raise ValueError(_("d_model ({width}) must be divisible by the number of heads ({heads}): each head "
                               "gets d_model / heads dimensions.").format(width=self.d_model, heads=self.n_heads))
        if self.activation not in ("relu", "gelu"):
            raise ValueError(_("activation must be 'relu' or 'gelu'; got {value!r}.").format(value=self.activation))
        if self.norm not in NORMS:
            raise ValueError(_("norm must be one of {choices}; got {value!r}.").format(
                choices=", ".join(NORMS), value=self.norm))
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(_("dropout must be in [0, 1); got {value!r}.").format(value=self.dropout))

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# the parts
# ---------------------------------------------------------------------------------------------
def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
           dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k + M) v. q (..., Tq, d_k), k (..., Tk, d_k), v (..., Tk, d_v); `mask` is boolean,
    True where a query may look, broadcastable to (..., Tq, Tk). Returns (output (..., Tq, d_v), weights
    (..., Tq, Tk)). A query that may look nowhere (a padding row) gets zero weights, not NaN."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    weights = torch.nan_to_num(weights, nan=0.0)  # rows with no allowed key
    out = (dropout(weights) if dropout is not None else weights) @ v  # (..., Tq, d_v)
    return out, weights


class MultiHeadAttention(nn.Module):
    """Project to h heads of d_model/h dimensions, `attend` in each, concatenate, project back."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.h, self.d_k = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.drop = Dropout(dropout) if dropout else None

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, mask: torch.Tensor | None = None):
        """x_q (B, Tq, D) asks, x_kv (B, Tk, D) answers; mask (B or 1, Tq or 1, Tk) True = may look.
        Returns (B, Tq, D) and the weights (B, h, Tq, Tk)."""
        B, Tq, D = x_q.shape
        Tk = x_kv.size(1)
        q = self.q(x_q).view(B, Tq, self.h, self.d_k).transpose(1, 2)  # (B, h, Tq, d_k)
        k = self.k(x_kv).view(B, Tk, self.h, self.d_k).transpose(1, 2)  # (B, h, Tk, d_k)
        v = self.v(x_kv).view(B, Tk, self.h, self.d_k).transpose(1, 2)  # (B, h, Tk, d_k)
        out, weights = attend(q, k, v, None if mask is None else mask[:, None], self.drop)  # (B, h, Tq, d_k)
        return self.out(out.transpose(1, 2).reshape(B, Tq, D)), weights  # (B, Tq, D), (B, h, Tq, Tk)


class FeedForward(nn.Module):
    """Position-wise: Linear(D → d_ff), ReLU (the paper) or GELU (BERT, GPT), Linear(d_ff → D)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.drop = Dropout(dropout) if dropout else nn.Identity()
        self.act = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.drop(self.act(self.linear1(x))))  # (B, T, D)


class EncoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.drop = Dropout(cfg.dropout) if cfg.dropout else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        """x (B, T, D), mask (B, 1, T) True at real source tokens -> (B, T, D), self-attention (B, h, T, T)."""
        if self.pre:
            a, w = self.self_attn(self.norm1(x), self.norm1(x), mask)
            x = x + self.drop(a)
            return x + self.drop(self.ff(self.norm2(x))), w
        a, w = self.self_attn(x, x, mask)
        x = self.norm1(x + self.drop(a))
        return self.norm2(x + self.drop(self.ff(x))), w


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _i in range(3))
        self.drop = Dropout(cfg.dropout) if cfg.dropout else nn.Identity()

    def forward(self, y: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor | None = None,
                cross_mask: torch.Tensor | None = None):
        """y (B, Tt, D) the target so far, memory (B, Ts, D) the encoder output; self_mask (B, Tt, Tt) causal
        and padding, cross_mask (B, 1, Ts) real source tokens. Returns (B, Tt, D), self- and cross-attention."""
        if self.pre:
            h = self.norm1(y)
            a, w_self = self.self_attn(h, h, self_mask)
            y = y + self.drop(a)
            a, w_cross = self.cross_attn(self.norm2(y), memory, cross_mask)
            y = y + self.drop(a)
            return y + self.drop(self.ff(self.norm3(y))), w_self, w_cross
        a, w_self = self.self_attn(y, y, self_mask)
        y = self.norm1(y + self.drop(a))
        a, w_cross = self.cross_attn(y, memory, cross_mask)
        y = self.norm2(y + self.drop(a))
        return self.norm3(y + self.drop(self.ff(y))), w_self, w_cross


def sinusoidal_positions(n: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...): (n, d_model)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))  # (d/2,)
    pe = torch.zeros(n, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: d_model // 2])
    return pe


def causal_mask(n: int, device=None) -> torch.Tensor:
    """(n, n) True on and below the diagonal: position t may look at positions ≤ t."""
    return torch.tril(torch.ones(n, n, dtype=torch.bool, device=device))


class Transformer(nn.Module):
    """Encoder–decoder: source ids (B, Ts) and target ids so far (B, Tt) -> logits (B, Tt, tgt_vocab)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.src_embed = nn.Embedding(c.src_vocab, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab, c.d_model)
        self.register_buffer("pe", sinusoidal_positions(c.max_len, c.d_model), persistent=False)  # (max_len, D)
        self.encoder = nn.ModuleList([EncoderLayer(c) for _i in range(c.n_layers)])
        self.decoder = nn.ModuleList([DecoderLayer(c) for _i in range(c.n_layers)])
        self.enc_norm = nn.LayerNorm(c.d_model) if c.norm == "pre" else nn.Identity()
        self.dec_norm = nn.LayerNorm(c.d_model) if c.norm == "pre" else nn.Identity()
        self.generator = nn.Linear(c.d_model, c.tgt_vocab)
        self.drop = Dropout(c.dropout) if c.dropout else nn.Identity()

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "Transformer":
        """Xavier-uniform matrices (as the Annotated Transformer), zero biases, LayerNorm 1 and 0, embeddings
        N(0, 1/d_model) (so embedding · √d_model has unit scale), all drawn from `gen`."""
        for name, p in self.named_parameters():
            if name.endswith("embed.weight"):
                p.normal_(0.0, 1.0 / math.sqrt(self.config.d_model), generator=gen)
            elif ".norm" in name or name.startswith(("enc_norm", "dec_norm")):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif p.dim() >= 2:
                bound = math.sqrt(6.0 / (p.size(0) + p.size(1)))
                p.uniform_(-bound, bound, generator=gen)
            else:
                p.zero_()
        return self

    def check_len(self, ids: torch.Tensor, what: str) -> None:
        """ValueError when ids (B, T) are longer than the positional table (`what`: an N_ name, translated here)."""
        if ids.size(1) > self.config.max_len:
            raise ValueError(_("The {what} has {n} tokens; this model reads at most {limit}.").format(
                what=_(what), n=ids.size(1), limit=self.config.max_len))

    def encode(self, src: torch.Tensor, return_attention: bool = False):
        """src (B, Ts) -> memory (B, Ts, D) [and the self-attention of every layer, each (B, h, Ts, Ts)]."""
        self.check_len(src, N_("source"))
        mask = (src != PAD)[:, None, :]  # (B, 1, Ts)
        x = self.drop(self.src_embed(src) * math.sqrt(self.config.d_model) + self.pe[: src.size(1)])  # (B, Ts, D)
        maps = []
        for layer in self.encoder:
            x, w = layer(x, mask)
            maps.append(w)
        x = self.enc_norm(x)
        return (x, maps) if return_attention else x

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src: torch.Tensor, causal: bool = True,
               return_attention: bool = False):
        """tgt (B, Tt) (starting with <s>) -> logits (B, Tt, V); `causal=False` drops the causal mask (the
        cheat the masks section shows). With return_attention: (logits, self maps, cross maps)."""
        self.check_len(tgt, N_("target"))
        Tt = tgt.size(1)
        self_mask = (tgt != PAD)[:, None, :]  # (B, 1, Tt)
        if causal:
            self_mask = self_mask & causal_mask(Tt, tgt.device)[None]  # (B, Tt, Tt)
        cross_mask = (src != PAD)[:, None, :]  # (B, 1, Ts)
        y = self.drop(self.tgt_embed(tgt) * math.sqrt(self.config.d_model) + self.pe[:Tt])  # (B, Tt, D)
        selfs, crosses = [], []
        for layer in self.decoder:
            y, ws, wc = layer(y, memory, self_mask, cross_mask)
            selfs.append(ws)
            crosses.append(wc)
        logits = self.generator(self.dec_norm(y))  # (B, Tt, V)
        return (logits, selfs, crosses) if return_attention else logits

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, causal: bool = True) -> torch.Tensor:
        return self.decode(tgt, self.encode(src), src, causal)


@builds_models
def build_transformer(cfg: TransformerConfig, seed: int = 0) -> Transformer:
    """A fresh model whose weights depend only on `seed` (built on the meta device, then drawn)."""
    with torch.device("meta"):
        model = Transformer(cfg)
    model = model.to_empty(device="cpu").init_weights(make_generator(seed))
    model.pe = sinusoidal_positions(cfg.max_len, cfg.d_model)  # buffers are not drawn: recompute
    return model


# ---------------------------------------------------------------------------------------------
# toy tasks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyTask:
    name: str  # a key of TASKS
    n_symbols: int = 10  # symbols 0..n−1 (digits for "add"), ids N_SPECIAL.. in the vocabulary
    min_len: int = 3  # shortest source (for "add": digits per operand)
    max_len: int = 10  # longest source (for "add": digits per operand)

    def __post_init__(self):
        if self.name not in TASKS:
            raise ValueError(_("Unknown task {name!r}; choose one of {choices}.").format(
                name=self.name, choices=", ".join(TASKS)))
        for name, lo, hi in (("n_symbols", 2, 100), ("min_len", 1, 60), ("max_len", 1, 60)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if self.min_len > self.max_len:
            raise ValueError(_("min_len ({lo}) must not exceed max_len ({hi}).").format(lo=self.min_len,
                                                                                   hi=self.max_len))

    @property
    def vocab(self) -> int:
        """Vocabulary size: the specials, the symbols, and "+" for addition."""
        return N_SPECIAL + self.n_symbols + (1 if self.name == "add" else 0)

    @property
    def plus(self) -> int:
        return N_SPECIAL + self.n_symbols

    def symbol(self, i: int) -> str:
        if i < N_SPECIAL:
            return ("<pad>", "<s>", "</s>")[i]
        if self.name == "add" and i == self.plus:
            return "+"
        return str(i - N_SPECIAL) if self.n_symbols <= 10 else f"s{i - N_SPECIAL}"


def toy_pairs(task: ToyTask, n: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """`n` (source ids, target ids) pairs, without <s>/</s>. copy: the sequence; reverse: reversed;
    sort: sorted; add: "a + b" (digits of base n_symbols, most significant first) -> the digits of a + b."""
    gen = make_generator(seed)
    out = []
    for _i in range(n):
        if task.name == "add":
            a, b = (int(torch.randint(task.min_len, task.max_len + 1, (1,), generator=gen)) for _j in range(2))
            x = torch.randint(0, task.n_symbols, (a,), generator=gen).tolist()
            y = torch.randint(0, task.n_symbols, (b,), generator=gen).tolist()
            total = _to_int(x, task.n_symbols) + _to_int(y, task.n_symbols)
            src = [N_SPECIAL + d for d in x] + [task.plus] + [N_SPECIAL + d for d in y]
            out.append((src, [N_SPECIAL + d for d in _digits(total, task.n_symbols)]))
            continue
        length = int(torch.randint(task.min_len, task.max_len + 1, (1,), generator=gen))
        src = (torch.randint(0, task.n_symbols, (length,), generator=gen) + N_SPECIAL).tolist()
        tgt = src if task.name == "copy" else src[::-1] if task.name == "reverse" else sorted(src)
        out.append((src, list(tgt)))
    return out


def _to_int(digits: list[int], base: int) -> int:
    value = 0
    for d in digits:
        value = value * base + d
    return value


def _digits(value: int, base: int) -> list[int]:
    if value == 0:
        return [0]
    out = []
    while value:
        out.append(value % base)
        value //= base
    return out[::-1]


def make_batch(pairs, device="cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(src (B, Ts), decoder input <s> y (B, Tt), decoder target y </s> (B, Tt)), padded with <pad>."""
    Ts = max(len(s) for s, _t in pairs)
    Tt = max(len(t) for _s, t in pairs) + 1
    src = torch.full((len(pairs), Ts), PAD, dtype=torch.long)
    tin = torch.full((len(pairs), Tt), PAD, dtype=torch.long)
    tout = torch.full((len(pairs), Tt), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        src[i, :len(s)] = torch.tensor(s)
        tin[i, :len(t) + 1] = torch.tensor([BOS] + list(t))
        tout[i, :len(t) + 1] = torch.tensor(list(t) + [EOS])
    return src.to(device), tin.to(device), tout.to(device)


# ---------------------------------------------------------------------------------------------
# training and decoding
# ---------------------------------------------------------------------------------------------
PEAK_WARMUP = 200  # warm-up = 0 trains at the peak rate this many warm-up steps would reach


def noam_rate(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """The paper's schedule: factor · d_model^−0.5 · min(step^−0.5, step · warmup^−1.5) (step ≥ 1).
    warmup = 0 turns the warm-up off: from the first step, the peak rate of a PEAK_WARMUP-step warm-up,
    factor · d_model^−0.5 · PEAK_WARMUP^−0.5, then the same 1/√step decay."""
    step = max(1, step)
    if warmup <= 0:
        return factor * d_model ** -0.5 * min(PEAK_WARMUP ** -0.5, (PEAK_WARMUP / step) ** 0.5 * PEAK_WARMUP ** -0.5)
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)


def train(model: Transformer, pairs, *, steps: int = 1000, max_seconds: float = 30.0, batch_size: int = 64,
          label_smoothing: float = 0.0, warmup: int = 200, factor: float = 1.0, causal: bool = True,
          seed: int = 0, on_step: Callable | None = None, history: list | None = None,
          threads: int | None = None, should_stop: Callable | None = None) -> dict:
    """Teacher forcing: the decoder reads <s> y_1 … y_{n} and predicts y_1 … y_n </s>; cross-entropy with
    `label_smoothing`; Adam (β 0.9/0.98, ε 1e-9) at `noam_rate` (warmup = 0: no warm-up, see there).
    Stops after `steps` steps or `max_seconds` (0 = no time cap). `causal=False` trains without the causal
    mask. `history` gets {"step", "loss", "acc" (token accuracy on the batch), "lr", "time_s"} per step.
    `should_stop(step)` (optional) is asked after every step; True ends the run ("stopped_by": "done").
    Returns {"steps", "seconds", "loss" (mean of the last 20 steps), "stopped_by"}."""
    for name, value, lo, hi in (("steps", steps, 1, 10**6), ("batch_size", batch_size, 1, 4096),
                                ("warmup", warmup, 0, 10**6)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                name=name, lo=lo, hi=hi, value=value))
    if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
        raise ValueError(_("Label smoothing must be in [0, 1); got {value!r}.").format(value=label_smoothing))
    if not isinstance(max_seconds, (int, float)) or max_seconds < 0:
        raise ValueError(_("max_seconds must be zero (no limit) or positive; got {value!r}.").format(
            value=max_seconds))
    pairs = list(pairs)
    if not pairs:
        raise ValueError(_("There are no training pairs."))
    seed = check_seed(seed)
    history = history if history is not None else []
    with torch_threads(threads):
        gen = make_generator(seed)
        seed_dropout(model, seed)  # one stream for every dropout mask
        opt = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)
        model.train()
        start, recent, stopped_by, step = time.monotonic(), [], "steps", 0
        for step in range(1, steps + 1):
            rate = noam_rate(step, model.config.d_model, warmup, factor)
            for group in opt.param_groups:
                group["lr"] = rate
            idx = torch.randint(0, len(pairs), (batch_size,), generator=gen).tolist()
            src, tin, tout = make_batch([pairs[i] for i in idx])
            logits = model(src, tin, causal=causal)  # (B, Tt, V)
            keep = tout != PAD  # (B, Tt)
            loss = F.cross_entropy(logits[keep], tout[keep], label_smoothing=float(label_smoothing))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_v = float(loss.detach())
            if not math.isfinite(loss_v):
                raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
            acc = float((logits.detach().argmax(-1)[keep] == tout[keep]).float().mean())
            recent = (recent + [loss_v])[-20:]
            elapsed = time.monotonic() - start
            history.append({"step": step, "loss": loss_v, "acc": acc, "lr": rate, "time_s": elapsed})
            if on_step is not None:
                on_step(step, steps, {"loss": loss_v})
            if max_seconds and elapsed >= max_seconds:
                stopped_by = "time"
                break
            if should_stop is not None:
                was_training = model.training
                done = should_stop(step)
                model.train(was_training)
                if done:
                    stopped_by = "done"
                    break
        model.eval()
    return {"steps": step, "seconds": time.monotonic() - start, "loss": sum(recent) / max(1, len(recent)),
            "stopped_by": stopped_by}


@torch.inference_mode()
def greedy_decode(model: Transformer, src: torch.Tensor, max_len: int | None = None) -> list[list[int]]:
    """The most likely token at each step, for every source row of `src` (B, Ts); stops at </s>."""
    model.eval()
    max_len = min(max_len or model.config.max_len - 1, model.config.max_len - 1)
    memory = model.encode(src)  # (B, Ts, D)
    ys = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _t in range(max_len):
        nxt = model.decode(ys, memory, src)[:, -1].argmax(-1)  # (B,)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        ys = torch.cat([ys, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    out = []
    for row in ys[:, 1:].tolist():
        seq = []
        for t in row:
            if t in (EOS, PAD):
                break
            seq.append(t)
        out.append(seq)
    return out


def exact_match(model: Transformer, pairs, batch_size: int = 256) -> float:
    """Share of `pairs` whose greedy output equals the target exactly."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError(_("There are no pairs to score."))
    right = 0
    with torch_threads(1):
        for s in range(0, len(pairs), batch_size):
            chunk = pairs[s:s + batch_size]
            src, _tin, _tout = make_batch(chunk)
            hyps = greedy_decode(model, src, max(len(t) for _s, t in chunk) + 2)
            right += sum(h == list(t) for h, (_s, t) in zip(hyps, chunk))
    return right / len(pairs)


# ---------------------------------------------------------------------------------------------
# for the page: one example, looked inside
# ---------------------------------------------------------------------------------------------
def parse_toy(task: ToyTask, text: str, limit: int | None = None) -> list[int]:
    """A visitor's source for `task` as ids: symbols separated by spaces or written together ("3 1 4" or
    "314"); for addition "123+456". Symbols are 0..n_symbols−1 (single digits when n_symbols ≤ 10). `limit`:
    the most symbols the model can read (default 2 · max_len + 1)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("Type a sequence, e.g. {example}.").format(example="1+23" if task.name == "add" else "3 1 4 1 5"))
    raw = text.strip()
    parts = re.findall(r"\d|\+|[^\s,]", raw) if task.n_symbols <= 10 else re.findall(r"\d+|\+|[^\s,\d+]+", raw)
    ids = []
    for q in parts:
        if q == "+" and task.name == "add":
            ids.append(task.plus)
        elif q.isdigit() and int(q) < task.n_symbols:
            ids.append(N_SPECIAL + int(q))
        else:
            raise ValueError(_("{piece!r} is not a symbol of this task: use 0 to {top}{plus}.").format(
                piece=q, top=task.n_symbols - 1, plus=_(" and one +") if task.name == "add" else ""))
    if task.name == "add" and ids.count(task.plus) != 1:
        raise ValueError(_("Addition needs exactly one + between two numbers, e.g. 123+456."))
    if task.name == "add" and (ids[0] == task.plus or ids[-1] == task.plus):
        raise ValueError(_("Addition needs a number on both sides of the +."))
    limit = 2 * task.max_len + 1 if limit is None else limit
    if len(ids) > limit:
        raise ValueError(_("The sequence has {n} symbols; this model reads at most {limit}.").format(
            n=len(ids), limit=limit))
    return ids


def expected_output(task: ToyTask, src: list[int]) -> list[int]:
    """What the task asks for on `src` (ids without <s>/</s>)."""
    if task.name == "copy":
        return list(src)
    if task.name == "reverse":
        return src[::-1]
    if task.name == "sort":
        return sorted(src)
    cut = src.index(task.plus)
    total = _to_int([i - N_SPECIAL for i in src[:cut]], task.n_symbols) + \
        _to_int([i - N_SPECIAL for i in src[cut + 1:]], task.n_symbols)
    return [N_SPECIAL + d for d in _digits(total, task.n_symbols)]


@torch.inference_mode()
def look_inside(model: Transformer, src: list[int]) -> dict:
    """Decode `src` greedily, then run the decoder once over the output to read every attention map:
    {"output": ids, "encoder": [(h, Ts, Ts) per layer], "decoder_self": [(h, Tt, Tt)], "cross": [(h, Tt, Ts)]}
    (numpy; Tt counts <s> and the generated tokens)."""
    model.eval()
    src_t = torch.tensor([src])  # (1, Ts)
    out = greedy_decode(model, src_t, len(src) + 4)[0]
    tgt = torch.tensor([[BOS] + out])  # (1, Tt)
    memory, enc = model.encode(src_t, return_attention=True)
    _logits, selfs, crosses = model.decode(tgt, memory, src_t, return_attention=True)
    return {"output": out, "encoder": [m[0].numpy() for m in enc], "decoder_self": [m[0].numpy() for m in selfs],
            "cross": [m[0].numpy() for m in crosses]}


def batch_masks(pairs) -> dict:
    """The masks of one real batch, as the model builds them: {"src": (B, Ts) ids, "tgt_in": (B, Tt) ids,
    "padding": (B, Ts) True at real source tokens, "causal": (Tt, Tt), "decoder": (B, Tt, Tt) causal and
    target padding combined} (numpy booleans / ints)."""
    src, tin, _tout = make_batch(pairs)
    Tt = tin.size(1)
    dec = (tin != PAD)[:, None, :] & causal_mask(Tt)[None]
    return {"src": src.numpy(), "tgt_in": tin.numpy(), "padding": (src != PAD).numpy(),
            "causal": causal_mask(Tt).numpy(), "decoder": dec.numpy()}


@torch.inference_mode()
def teacher_forced_accuracy(model: Transformer, pairs, causal: bool = True) -> float:
    """Share of target tokens predicted right when the decoder is given the true previous tokens (as in
    training); `causal=False` also shows it the tokens it should predict (the cheat)."""
    model.eval()
    src, tin, tout = make_batch(list(pairs))
    keep = tout != PAD
    pred = model(src, tin, causal=causal).argmax(-1)  # (B, Tt)
    return float((pred[keep] == tout[keep]).float().mean())


TIPS = {"smoothing": N_("label smoothing (0.1 vs none)"), "warmup": N_("learning-rate warm-up (200 steps vs none)"),
        "norm": N_("where the norm goes (pre-norm vs post-norm)")}


def tip_variants(tip: str, cfg: TransformerConfig) -> dict[str, dict]:
    """The two settings one training tip compares: name -> {"config", "label_smoothing", "warmup"}."""
    if tip not in TIPS:
        raise ValueError(_("Unknown tip {name!r}; choose one of {choices}.").format(name=tip, choices=", ".join(TIPS)))
    base = {"config": cfg, "label_smoothing": 0.0, "warmup": PEAK_WARMUP}
    if tip == "smoothing":
        return {"without": base, "with": {**base, "label_smoothing": 0.1}}
    if tip == "warmup":
        return {"without": {**base, "warmup": 0}, "with": base}
    return {"post-norm": {**base, "config": replace(cfg, norm="post")},
            "pre-norm": {**base, "config": replace(cfg, norm="pre")}}


def experiment_config(task: ToyTask) -> TransformerConfig:
    """The model the side-by-side experiments train (masks, training tips; the page and the benchmark):
    2 layers, d_model 64, 4 heads, d_ff 256, long enough for the task's sequences."""
    return TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=64, n_heads=4, n_layers=2,
                             d_ff=256, max_len=2 * task.max_len + 8)


def run_variants(task: ToyTask, variants: dict[str, dict], seconds: float, seed: int = 0,
                 on_model: Callable | None = None, on_step: Callable | None = None, results: dict | None = None,
                 n_held: int = 300) -> dict:
    """Train one model per variant ({"config", "label_smoothing", "warmup", "causal"}) for `seconds` each on the
    same data and seed; score each on the same held-out pairs. Fills `results` in place: name -> {"history",
    "teacher_forced", "exact", "loss" (mean of its last 20 steps), "steps", "example": (source, output)}."""
    results = results if results is not None else {}
    train_pairs, held = toy_pairs(task, 20_000, seed), toy_pairs(task, n_held, seed + 7_919)
    for name, v in variants.items():
        if on_model is not None:
            on_model(name)
        model = build_transformer(v["config"], seed)
        entry = results.setdefault(name, {"history": []})
        causal = v.get("causal", True)
        res = train(model, train_pairs, steps=100_000, max_seconds=seconds, batch_size=64,
                    label_smoothing=v.get("label_smoothing", 0.0), warmup=v.get("warmup", PEAK_WARMUP), causal=causal,
                    seed=seed, on_step=on_step, history=entry["history"], threads=1)
        entry.update(loss=res["loss"], steps=res["steps"], teacher_forced=teacher_forced_accuracy(model, held, causal),
                     exact=exact_match(model, held))
        src = held[0][0]
        entry["example"] = (src, greedy_decode(model, torch.tensor([src]), len(src) + 4)[0])
    return results


def mask_experiment(task: ToyTask, cfg: TransformerConfig, seconds: float, seed: int = 0,
                    on_model: Callable | None = None, on_step: Callable | None = None,
                    results: dict | None = None, n_held: int = 300) -> dict:
    """Train the same model twice for `seconds` each, with and without the decoder's causal mask, and score
    both ways: {"causal" | "no_causal": {"history", "teacher_forced" (token accuracy, given the true
    prefix, as trained), "exact" (greedy generation, exact match), "example": (source, output)}}.
    Without the mask the decoder copies the next token from its input: a near-perfect training loss, and
    at inference, where that token does not exist yet, garbage. `results` is filled in place."""
    variants = {"causal": {"config": cfg, "causal": True}, "no_causal": {"config": cfg, "causal": False}}
    return run_variants(task, variants, seconds, seed, on_model, on_step, results, n_held)


TIPS_FILE = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "transformer-tips.json"
VARIANT_NAMES = (N_("with"), N_("without"), N_("pre-norm"), N_("post-norm"))  # run_variants' names, translated


def shipped_tips() -> dict | None:
    """The training-tip comparison `benchmarks/transformer.py --tips` measured (None when not shipped)."""
    if not TIPS_FILE.is_file():
        return None
    return json.loads(TIPS_FILE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# the architecture, box by box (the page's diagram)
# ---------------------------------------------------------------------------------------------
PARTS = {  # id -> (label, column, row, what it computes); column 0 = encoder, 1 = decoder
    "src_embed": (N_("source embedding + positions"), 0, 0, N_("x = E_src[tokens] · √d_model + PE")),
    "enc_self": (N_("self-attention"), 0, 1, N_("softmax(Q Kᵀ / √d_k + M_pad) V over the source, per head")),
    "enc_norm1": (N_("add & norm"), 0, 2, N_("LayerNorm(x + SelfAttention(x))")),
    "enc_ff": (N_("feed-forward"), 0, 3, N_("W₂ ReLU(W₁ x + b₁) + b₂, each position alone")),
    "enc_norm2": (N_("add & norm"), 0, 4, N_("LayerNorm(x + FFN(x)): the encoder output (memory) after N blocks")),
    "tgt_embed": (N_("target embedding + positions"), 1, 0, N_("y = E_tgt[<s> y₁ … y_{t−1}] · √d_model + PE")),
    "dec_self": (N_("masked self-attention"), 1, 1, N_("softmax(Q Kᵀ / √d_k + M_causal) V over the output so far")),
    "dec_norm1": (N_("add & norm"), 1, 2, N_("LayerNorm(y + MaskedSelfAttention(y))")),
    "dec_cross": (N_("encoder–decoder attention"), 1, 3, N_("queries from the decoder, keys and values from the memory")),
    "dec_norm2": (N_("add & norm"), 1, 4, N_("LayerNorm(y + CrossAttention(y, memory))")),
    "dec_ff": (N_("feed-forward"), 1, 5, N_("W₂ ReLU(W₁ y + b₁) + b₂")),
    "dec_norm3": (N_("add & norm"), 1, 6, N_("LayerNorm(y + FFN(y))")),
    "output": (N_("linear + softmax"), 1, 7, N_("P(next token) = softmax(W_out y + b)")),
}
_HOOKED = {"enc_self": ("encoder", "self_attn"), "enc_norm1": ("encoder", "norm1"), "enc_ff": ("encoder", "ff"),
           "enc_norm2": ("encoder", "norm2"), "dec_self": ("decoder", "self_attn"), "dec_norm1": ("decoder", "norm1"),
           "dec_cross": ("decoder", "cross_attn"), "dec_norm2": ("decoder", "norm2"), "dec_ff": ("decoder", "ff"),
           "dec_norm3": ("decoder", "norm3")}


@torch.inference_mode()
def trace(model: Transformer, src: list[int], tgt: list[int], layer: int = 0) -> dict:
    """Every box of the diagram for one example: id -> {"shape" (the tensor's shape for this batch of 1),
    "values" (T, D) numpy, "weights" (h, Tq, Tk) for attention boxes}. `tgt` is the decoder input (starting
    with <s>); `layer` picks which encoder / decoder block the inner boxes show. Post-norm boxes are the
    sub-layer outputs as the paper draws them; with pre-norm, "add & norm" shows the normalised input the
    next sub-layer reads."""
    model.eval()
    n = model.config.n_layers
    if not 0 <= layer < n:
        raise ValueError(_("The layer must be between 0 and {top}; got {value!r}.").format(top=n - 1, value=layer))
    src_t, tgt_t = torch.tensor([src]), torch.tensor([tgt])  # (1, Ts), (1, Tt)
    out, handles = {}, []

    def keep(name):
        def hook(_module, _inputs, output):
            if isinstance(output, tuple):  # attention: (values, weights)
                out[name] = {"values": output[0], "weights": output[1][0].numpy()}
            else:
                out[name] = {"values": output}
        return hook

    for name, (stack, attr) in _HOOKED.items():
        handles.append(getattr(getattr(model, stack)[layer], attr).register_forward_hook(keep(name)))
    try:
        logits = model(src_t, tgt_t)  # (1, Tt, V)
    finally:
        for h in handles:
            h.remove()
    d = math.sqrt(model.config.d_model)
    out["src_embed"] = {"values": model.src_embed(src_t) * d + model.pe[: src_t.size(1)]}
    out["tgt_embed"] = {"values": model.tgt_embed(tgt_t) * d + model.pe[: tgt_t.size(1)]}
    out["output"] = {"values": torch.softmax(logits, dim=-1)}
    for entry in out.values():
        v = entry["values"]
        entry["shape"] = tuple(v.shape)
        entry["values"] = v[0].numpy()
    return out
