"""Attention, opened up: scaled dot-product attention step by step, masks, heads and positions.

Everything here returns plain numpy (or small dataclasses of numpy arrays) so a page can show
every intermediate of

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V

where M is an additive mask (0 where a query may look, -inf where it may not).

Sections:
- toy inputs and `attention_steps` (Q, K, V, scores, scaled, mask, weights, output);
- masks: `causal_mask`, `padding_mask`, `renormalize` (masking == renormalizing the kept weights);
- `multi_head`: split into h heads, per-head attention, concat, output projection, with shapes;
- positions: `sinusoidal_pe`, `cosine_similarity_matrix`, `similarity_by_distance`,
  `learned_position_embeddings` (MiniLM's learned table);
- `saturation_curve`: how the softmax saturates as d_k grows without the 1/sqrt(d_k) scaling;
- real models: `model_attention` (all layers x heads of a transformers model, token cap with
  truncation notice), `drop_tokens`, `head_entropy`;
- optional models built elsewhere in the repo: `cross_attention` (core.sequence.seq2seq) and
  `tiny_gpt_attention` (core.transformers.tinygpt), each guarded by an `*_status()` check;
- plot builders (plotly) for the page: signed matrices, the -inf mask, the head-grid mosaic.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from core.i18n import N_, _

# Real models: at most this many tokens go through the model (longer inputs are truncated).
MAX_TOKENS = 128
# Toy example: at most this many words, and these bounds on the sizes people can pick.
MAX_TOY_TOKENS = 10
MAX_D_MODEL = 64
MAX_HEADS = 8
MAX_PE_POSITIONS = 512
MAX_PE_DIM = 512
MAX_ABS_VALUE = 1e6  # largest |entry| of a user-typed Q, K or V (larger ones overflow the scores)


# ---------------------------------------------------------------------------------------------
# toy inputs
# ---------------------------------------------------------------------------------------------
def toy_tokens(sentence: str, max_tokens: int = MAX_TOY_TOKENS) -> list[str]:
    """Whitespace tokens of a short sentence (ValueError if empty or too long)."""
    if not isinstance(sentence, str):
        raise ValueError(_("The sentence must be text."))
    tokens = sentence.split()
    if not tokens:
        raise ValueError(_("The sentence is empty. Type a few words, e.g. 'the cat sat on the mat'."))
    if len(tokens) > max_tokens:
        raise ValueError(_("The toy example takes at most {max_words} words (you typed {n}); "
                           "shorten the sentence. Real models below take longer text.").format(
            max_words=max_tokens, n=len(tokens)))
    return [t[:20] for t in tokens]


def _check_dim(value, name: str, lo: int, hi: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(_("{name} must be a whole number between {lo} and {hi}.").format(
            name=name, lo=lo, hi=hi)) from None
    if not lo <= v <= hi:
        raise ValueError(_("{name} must be between {lo} and {hi}; got {v}.").format(name=name, lo=lo, hi=hi, v=v))
    return v


def _randn(shape: tuple[int, ...], seed: int, offset: int = 0) -> np.ndarray:
    """Seeded standard normal draws from a per-call torch generator (never the global RNG)."""
    import torch

    from core.device import check_seed, make_generator

    gen = make_generator((check_seed(seed) + offset) % (2**31 - 1))
    return torch.randn(shape, generator=gen, dtype=torch.float64).numpy()


def toy_qkv(n_tokens: int, d_k: int, seed: int = 0, d_v: int | None = None):
    """Random (seeded) Q, K, V for a toy example: Q, K (T, d_k) and V (T, d_v), entries ~ N(0, 1)."""
    n_tokens = _check_dim(n_tokens, _("The number of tokens"), 1, 64)
    d_k = _check_dim(d_k, "d_k", 1, 1024)
    d_v = d_k if d_v is None else _check_dim(d_v, "d_v", 1, 1024)
    q = _randn((n_tokens, d_k), seed, 0)  # (T, d_k)
    k = _randn((n_tokens, d_k), seed, 1)  # (T, d_k)
    v = _randn((n_tokens, d_v), seed, 2)  # (T, d_v)
    return q, k, v


# ---------------------------------------------------------------------------------------------
# softmax and masks
# ---------------------------------------------------------------------------------------------
def softmax(x, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax; -inf entries get weight exactly 0. Fully -inf rows: ValueError."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    if np.any(np.isneginf(m)):
        raise ValueError(_("A query row is fully masked (every key is -inf), so softmax has nothing to "
                           "normalize. Keep at least one key visible to every query."))
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """Additive causal mask (n_q, n_k): 0 on and below the diagonal, -inf above it.

    With n_keys > n_queries (a cache of earlier keys) the diagonal is shifted so the last query
    sees every key.
    """
    n_keys = n_queries if n_keys is None else n_keys
    offset = n_keys - n_queries
    allowed = np.tril(np.ones((n_queries, n_keys), dtype=bool), k=offset)  # (n_q, n_k)
    return mask_from_allowed(allowed)


def padding_mask(n_queries: int, key_is_real: Sequence[bool]) -> np.ndarray:
    """Additive key-padding mask (n_q, n_k): -inf in the columns of padding keys, 0 elsewhere."""
    real = np.asarray(key_is_real, dtype=bool)  # (n_k,)
    if real.ndim != 1 or not real.any():
        raise ValueError(_("At least one key must be a real token (not padding)."))
    allowed = np.broadcast_to(real[None, :], (n_queries, real.size))  # (n_q, n_k)
    return mask_from_allowed(allowed)


def mask_from_allowed(allowed) -> np.ndarray:
    """Boolean 'may attend' matrix -> additive mask (0 / -inf)."""
    allowed = np.asarray(allowed, dtype=bool)
    return np.where(allowed, 0.0, -np.inf)


def combine_masks(*masks) -> np.ndarray | None:
    """Sum of additive masks (None entries skipped); None if all are None."""
    present = [np.asarray(m, dtype=np.float64) for m in masks if m is not None]
    if not present:
        return None
    out = present[0].copy()
    for m in present[1:]:
        out = out + m
    return out


def renormalize(weights, allowed) -> np.ndarray:
    """Zero the disallowed weights and rescale each row to sum to 1.

    Equals softmax(scores + mask): masking before the softmax is the same as renormalizing the
    unmasked weights over the keys that stay visible.
    """
    w = np.where(np.asarray(allowed, dtype=bool), np.asarray(weights, dtype=np.float64), 0.0)
    s = w.sum(axis=-1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError(_("A query row has no visible key left after masking."))
    return w / s


# ---------------------------------------------------------------------------------------------
# scaled dot-product attention, every step
# ---------------------------------------------------------------------------------------------
@dataclass
class AttentionSteps:
    """Every intermediate of softmax(Q K^T * scale + mask) V (all numpy float64)."""

    q: np.ndarray  # (T_q, d_k) queries
    k: np.ndarray  # (T_k, d_k) keys
    v: np.ndarray  # (T_k, d_v) values
    scores: np.ndarray  # (T_q, T_k) Q K^T
    scale: float  # 1/sqrt(d_k), or 1.0 when scaling is switched off
    scaled: np.ndarray  # (T_q, T_k) scores * scale
    mask: np.ndarray  # (T_q, T_k) additive mask: 0 where allowed, -inf where masked (zeros if none)
    masked: np.ndarray  # (T_q, T_k) scaled + mask (the softmax input)
    weights: np.ndarray  # (T_q, T_k) softmax over keys; every row sums to 1
    output: np.ndarray  # (T_q, d_v) weights @ V

    @property
    def d_k(self) -> int:
        return int(self.q.shape[1])

    def as_dict(self) -> dict:
        return {"Q": self.q, "K": self.k, "V": self.v, "scores": self.scores, "scaled": self.scaled,
                "mask": self.mask, "masked": self.masked, "weights": self.weights, "output": self.output}


def attention_steps(q, k, v, mask=None, scale: bool = True) -> AttentionSteps:
    """Scaled dot-product attention with every intermediate returned.

    q (T_q, d_k), k (T_k, d_k), v (T_k, d_v); `mask` is additive (T_q, T_k) (0 / -inf) or a
    boolean 'allowed' matrix; `scale=False` skips the 1/sqrt(d_k) factor.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2:
        raise ValueError(_("Q, K and V must be matrices (one row per token)."))
    if q.shape[1] != k.shape[1]:
        raise ValueError(_("Q and K need the same width d_k; got {q} and {k}.").format(q=q.shape[1], k=k.shape[1]))
    if k.shape[0] != v.shape[0]:
        raise ValueError(_("K and V need one row per key; got {k} and {v} rows.").format(k=k.shape[0], v=v.shape[0]))
    for name, a in (("Q", q), ("K", k), ("V", v)):
        if a.size == 0:
            raise ValueError(_("{name} is empty.").format(name=name))
        if not np.all(np.isfinite(a)):
            raise ValueError(_("{name} contains a missing or infinite number; fill in every cell with a number.").format(
                name=name))
        if np.abs(a).max() > MAX_ABS_VALUE:
            raise ValueError(_("{name} has a number larger than {limit:,.0f} in size, where the scores would "
                               "overflow; use smaller numbers.").format(name=name, limit=MAX_ABS_VALUE))
    d_k = q.shape[1]
    factor = 1.0 / math.sqrt(d_k) if scale else 1.0
    scores = q @ k.T  # (T_q, T_k)
    scaled = scores * factor  # (T_q, T_k)
    if mask is None:
        add = np.zeros_like(scores)
    else:
        add = np.asarray(mask)
        if add.dtype == bool:
            add = mask_from_allowed(add)
        add = add.astype(np.float64)
        if add.shape != scores.shape:
            raise ValueError(_("The mask has shape {mask} but the scores are {scores}.").format(
                mask=add.shape, scores=scores.shape))
        if np.any(np.isnan(add)) or np.any(add == np.inf):
            raise ValueError(_("The mask may hold finite numbers (0 = visible) and -inf (hidden), not NaN or +inf."))
    masked = scaled + add  # (T_q, T_k)
    weights = softmax(masked, axis=-1)  # (T_q, T_k)
    output = weights @ v  # (T_q, d_v)
    return AttentionSteps(q, k, v, scores, factor, scaled, add, masked, weights, output)


# ---------------------------------------------------------------------------------------------
# multi-head attention
# ---------------------------------------------------------------------------------------------
@dataclass
class MultiHead:
    """Multi-head self-attention on X, every piece kept (numpy float64)."""

    x: np.ndarray  # (T, d_model) input token vectors
    w_q: np.ndarray  # (d_model, d_model) query projection (all heads side by side)
    w_k: np.ndarray  # (d_model, d_model) key projection
    w_v: np.ndarray  # (d_model, d_model) value projection
    w_o: np.ndarray  # (d_model, d_model) output projection
    heads: list[AttentionSteps]  # one per head, each on (T, d_head) slices
    concat: np.ndarray  # (T, d_model) head outputs side by side
    output: np.ndarray  # (T, d_model) concat @ W_o
    shapes: dict = field(default_factory=dict)  # name -> shape tuple, for labels

    @property
    def n_heads(self) -> int:
        return len(self.heads)


def multi_head(x, n_heads: int, seed: int = 0, mask=None, weights: dict | None = None) -> MultiHead:
    """Split d_model into h heads of d_head = d_model / h, attend in each, concat, project.

    Random projections (seeded, std 1/sqrt(d_model)) unless `weights` gives w_q, w_k, w_v, w_o.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(_("X must be a matrix: one row per token."))
    t, d_model = x.shape
    n_heads = _check_dim(n_heads, _("The number of heads"), 1, max(1, d_model))
    if d_model % n_heads:
        raise ValueError(_("d_model = {d_model} must be divisible by the number of heads ({h}); "
                           "pick h among {choices}.").format(
            d_model=d_model, h=n_heads, choices=[h for h in range(1, d_model + 1) if d_model % h == 0][:8]))
    d_head = d_model // n_heads
    if weights is None:
        std = 1.0 / math.sqrt(d_model)
        weights = {name: _randn((d_model, d_model), seed, 10 + i) * std
                   for i, name in enumerate(("w_q", "w_k", "w_v", "w_o"))}
    w_q, w_k, w_v, w_o = (np.asarray(weights[n], dtype=np.float64) for n in ("w_q", "w_k", "w_v", "w_o"))
    q_all = x @ w_q  # (T, d_model)
    k_all = x @ w_k  # (T, d_model)
    v_all = x @ w_v  # (T, d_model)
    # (T, d_model) -> (T, h, d_head) -> (h, T, d_head)
    q_h = q_all.reshape(t, n_heads, d_head).transpose(1, 0, 2)
    k_h = k_all.reshape(t, n_heads, d_head).transpose(1, 0, 2)
    v_h = v_all.reshape(t, n_heads, d_head).transpose(1, 0, 2)
    heads = [attention_steps(q_h[h], k_h[h], v_h[h], mask=mask) for h in range(n_heads)]
    # (h, T, d_head) -> (T, h, d_head) -> (T, d_model)
    concat = np.stack([hd.output for hd in heads]).transpose(1, 0, 2).reshape(t, d_model)
    output = concat @ w_o  # (T, d_model)
    shapes = {
        # English keys (marked: show them with `_()`)
        "X": (t, d_model), "W_Q, W_K, W_V": (d_model, d_model), "Q = X W_Q": (t, d_model),
        N_("Q split into heads"): (n_heads, t, d_head), N_("weights per head"): (n_heads, t, t),
        N_("head output"): (n_heads, t, d_head), N_("concat"): (t, d_model), "W_O": (d_model, d_model),
        N_("output = concat W_O"): (t, d_model),
    }
    return MultiHead(x, w_q, w_k, w_v, w_o, heads, concat, output, shapes)


# ---------------------------------------------------------------------------------------------
# positions
# ---------------------------------------------------------------------------------------------
def sinusoidal_pe(n_positions: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / base^(2i/d)), PE[pos, 2i+1] = cos(pos / base^(2i/d)); (n_pos, d)."""
    n_positions = _check_dim(n_positions, _("The number of positions"), 1, MAX_PE_POSITIONS)
    d_model = _check_dim(d_model, "d_model", 2, MAX_PE_DIM)
    if not (isinstance(base, (int, float)) and math.isfinite(base) and base > 1):
        raise ValueError(_("The base of the positional encoding must be a number above 1 (usually 10000)."))
    pos = np.arange(n_positions, dtype=np.float64)[:, None]  # (P, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)[None, :]  # (1, ceil(d/2))
    angle = pos / np.power(base, two_i / d_model)  # (P, ceil(d/2))
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


def cosine_similarity_matrix(vectors) -> np.ndarray:
    """(P, d) -> (P, P) cosine similarities between rows."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms == 0, 1.0, norms)
    return v @ v.T


def similarity_by_distance(sim) -> np.ndarray:
    """Mean of sim[i, j] over all pairs with |i - j| = k, for k = 0..P-1."""
    sim = np.asarray(sim, dtype=np.float64)
    p = sim.shape[0]
    return np.array([np.mean(np.diagonal(sim, offset=k)) for k in range(p)])


def learned_position_embeddings(bundle, n_positions: int) -> np.ndarray:
    """The first n rows of a BERT-style model's learned absolute position table (n, hidden)."""
    model = getattr(bundle, "model", bundle)
    emb = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    if emb is None:
        raise ValueError(_("This model has no learned absolute position table (e.g. SmolLM2 uses rotary "
                           "position embeddings inside attention instead)."))
    table = emb.weight.detach().float().cpu().numpy()  # (max_len, hidden)
    n_positions = _check_dim(n_positions, _("The number of positions"), 1, table.shape[0])
    return table[:n_positions].astype(np.float64)


# ---------------------------------------------------------------------------------------------
# why 1/sqrt(d_k): softmax saturation
# ---------------------------------------------------------------------------------------------
def saturation_curve(d_ks: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512), n_keys: int = 8,
                     trials: int = 200, seed: int = 0) -> dict:
    """Mean largest softmax weight (and score std) vs d_k for random q, k ~ N(0, 1).

    Without scaling, q.k has variance d_k, so the softmax gets peakier as d_k grows (max weight ->
    1, gradients -> 0); dividing by sqrt(d_k) keeps the variance at 1 and the weights spread out.
    """
    n_keys = _check_dim(n_keys, _("The number of keys"), 2, 256)
    trials = _check_dim(trials, _("trials"), 1, 10_000)
    out = {"d_k": [], "max_weight_scaled": [], "max_weight_unscaled": [], "score_std_unscaled": [],
           "entropy_scaled": [], "entropy_unscaled": [], "n_keys": n_keys}
    for j, d in enumerate(d_ks):
        d = _check_dim(d, "d_k", 1, 4096)
        q = _randn((trials, 1, d), seed, 100 + 2 * j)  # (N, 1, d)
        k = _randn((trials, n_keys, d), seed, 101 + 2 * j)  # (N, n_keys, d)
        scores = np.einsum("nqd,nkd->nqk", q, k)[:, 0, :]  # (N, n_keys)
        w_s = softmax(scores / math.sqrt(d))
        w_u = softmax(scores)
        out["d_k"].append(d)
        out["max_weight_scaled"].append(float(w_s.max(axis=1).mean()))
        out["max_weight_unscaled"].append(float(w_u.max(axis=1).mean()))
        out["score_std_unscaled"].append(float(scores.std()))
        out["entropy_scaled"].append(float(_entropy(w_s).mean()))
        out["entropy_unscaled"].append(float(_entropy(w_u).mean()))
    return out


def _entropy(w, axis: int = -1) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    return -(w * np.log(np.clip(w, 1e-12, None))).sum(axis=axis)


# ---------------------------------------------------------------------------------------------
# real models
# ---------------------------------------------------------------------------------------------
@dataclass
class ModelAttention:
    """All layers' and heads' attention weights of one input."""

    model_name: str  # source name or hub id
    tokens: list[str]  # display text of each token (after truncation)
    attentions: np.ndarray  # (L, H, T, T) float32, rows = queries, columns = keys
    special: list[bool]  # True for [CLS], [SEP], <|im_start|>, padding...
    segment: list[int]  # 0 for the first sentence, 1 for the second (pairs), per token
    causal: bool  # decoder-only (each token sees only earlier tokens)
    truncated: bool  # True if the input was longer than the cap
    n_tokens_full: int  # tokens before truncation
    cap: int  # the token cap that was applied

    @property
    def n_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.attentions.shape[1])


def display_token(tokenizer, token: str) -> str:
    """Readable token text: byte-level BPE 'Ġthe' -> '▁the', newlines -> '↵'."""
    text = token
    if any(ch in token for ch in "ĠĊĉ") or token.startswith("Ġ"):
        try:
            text = tokenizer.convert_tokens_to_string([token])
        except Exception:  # noqa: BLE001 - some tokenizers can't do single tokens
            text = token
    text = text.replace("\n", "↵").replace("\t", "⇥")
    if text.startswith(" "):
        text = "▁" + text[1:]
    return text if text.strip() else repr(text)


def is_causal_model(model) -> bool:
    cfg = getattr(model, "config", None)
    if getattr(cfg, "is_encoder_decoder", False):
        return False
    return type(model).__name__.endswith(("ForCausalLM", "LMHeadModel")) or bool(getattr(cfg, "is_decoder", False))


def model_attention(bundle, text: str, text_pair: str | None = None, max_tokens: int = MAX_TOKENS) -> ModelAttention:
    """Attention weights of every layer and head for one input (or a BERT-style sentence pair).

    `bundle` is a LoadedModel (model loaded with attn_implementation="eager"). Inputs longer than
    `max_tokens` (or the model's own limit) are truncated; `truncated` and `n_tokens_full` say so.
    """
    import torch

    from core.textio import check_text

    model, tok = bundle.model, bundle.tokenizer
    if getattr(model.config, "is_encoder_decoder", False):
        raise ValueError(_("{name} is an encoder-decoder model; pick an encoder (BERT-style) or a "
                           "decoder-only (GPT-style) model here. Cross-attention has its own section.").format(
            name=bundle.name))
    causal = is_causal_model(model)
    text = check_text(text, _("sentence"), max_chars=20_000)
    if text_pair is not None and not str(text_pair).strip():
        text_pair = None
    if text_pair is not None:
        if causal:
            raise ValueError(_("Sentence pairs are for BERT-style encoders; a decoder reads one text. "
                               "Clear the second sentence or pick MiniLM."))
        text_pair = check_text(text_pair, _("second sentence"), max_chars=20_000)
    model_max = int((bundle.info or {}).get("max_len") or 512)
    # a pair needs room for [CLS] A [SEP] B [SEP] with at least one piece of each sentence
    smallest = 2 if text_pair is None else 5
    cap = max(smallest, min(_check_dim(max_tokens, _("The token limit"), 1, 1_000_000), model_max))
    full = tok(text, text_pair, add_special_tokens=True)["input_ids"]
    n_full = len(full)
    enc = tok(text, text_pair, return_tensors="pt", truncation=True if text_pair is None else "longest_first",
              max_length=cap, return_token_type_ids=text_pair is not None)
    ids = enc["input_ids"]  # (1, T)
    if ids.shape[1] == 0:
        raise ValueError(_("The tokenizer produced no tokens for this text; type some words."))
    device = next(model.parameters()).device
    inputs = {"input_ids": ids.to(device), "attention_mask": enc["attention_mask"].to(device)}
    base = getattr(model, "base_model", model)  # skip the LM head: we only need attention
    if text_pair is not None and "token_type_ids" in enc and _accepts(base, "token_type_ids"):
        inputs["token_type_ids"] = enc["token_type_ids"].to(device)
    with torch.inference_mode():
        out = base(**inputs, output_attentions=True)
    atts = getattr(out, "attentions", None)
    if not atts or atts[0] is None:
        raise ValueError(_("{name} did not return attention weights (it needs eager attention).").format(
            name=bundle.name))
    att = torch.stack([a[0] for a in atts]).float().cpu().numpy()  # (L, H, T, T)
    id_list = ids[0].tolist()
    raw = tok.convert_ids_to_tokens(id_list)
    tokens = [display_token(tok, t) for t in raw]
    special_ids = set(getattr(tok, "all_special_ids", []) or [])
    special = [i in special_ids for i in id_list]
    if "token_type_ids" in enc and text_pair is not None:
        segment = [int(s) for s in enc["token_type_ids"][0].tolist()]
    else:
        segment = [0] * len(id_list)
    return ModelAttention(bundle.name, tokens, att.astype(np.float32), special, segment, causal,
                          n_full > ids.shape[1], n_full, cap)


def _accepts(module, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return False


def drop_tokens(weights, keep: Sequence[int], renorm: bool = True) -> np.ndarray:
    """Keep the given token rows and columns of a (..., T, T) attention array; renormalize rows."""
    w = np.asarray(weights, dtype=np.float64)
    keep = list(keep)
    if not keep:
        raise ValueError(_("Nothing left to show: every token is a special token."))
    sub = w[..., keep, :][..., :, keep]  # (..., T', T')
    if renorm:
        s = sub.sum(axis=-1, keepdims=True)
        sub = sub / np.where(s <= 0, 1.0, s)
    return sub


def head_entropy(attentions) -> np.ndarray:
    """Mean entropy (nats) of each head's attention rows: (L, H, T, T) -> (L, H).

    Low entropy = the head looks at few tokens; high = it spreads out.
    """
    return _entropy(attentions).mean(axis=-1)


# ---------------------------------------------------------------------------------------------
# models built by other pages (optional: present only once their module and checkpoint exist)
# ---------------------------------------------------------------------------------------------
def _optional(module: str, family: str, func: str):
    """(module, [available sources], reason) for an optional model family."""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - not written yet, or broken: just not offered
        return None, [], _("{module} is not available yet ({error}).").format(module=module, error=type(exc).__name__)
    if not callable(getattr(mod, func, None)):
        return None, [], _("{module} has no {func}() yet.").format(module=module, func=func)
    from core import sources

    found = [s for s in sources.sources_for(family) if s.kind in ("local", "packaged", "hub")]
    if not found:
        return None, [], _("No trained {family} checkpoint is available yet.").format(
            family=_(sources.FAMILIES.get(family, family)))
    return mod, found, ""


def seq2seq_status():
    """(available translators with attention, reason) for cross-attention from core.sequence.seq2seq."""
    mod, found, reason = _optional("core.sequence.seq2seq", "seq2seq", "translate")
    with_att = [s for s in found if "none" not in s.name]  # the no-attention model has no cross-attention
    if found and not with_att:
        reason = _("Only a translator without attention is available.")
    return with_att, reason


def cross_attention(bundle, text: str, **kwargs) -> dict:
    """Encoder-decoder attention of the seq2seq translator: Q from the decoder, K and V from the encoder.

    Uses core.sequence.seq2seq.translate (greedy unless `method` is given). Returns {"text",
    "source_tokens", "target_tokens", "attention" (T_target, T_source), "unknown"}.
    """
    from core.textio import check_text

    mod = importlib.import_module("core.sequence.seq2seq")
    text = check_text(text, _("sentence"), max_chars=300)
    res = mod.translate(bundle, text, **kwargs)
    if res.get("attention") is None:
        raise ValueError(_("This translator has no attention (one fixed context vector); pick one with attention."))
    att = np.asarray(res["attention"], dtype=np.float64)
    src = [str(t) for t in res.get("source_tokens", [])]
    tgt = [str(t) for t in (res.get("attention_rows") or res.get("tokens", []))]
    if att.ndim != 2 or att.size == 0:
        raise ValueError(_("The translator returned no attention weights for this sentence; try another sentence."))
    # label any row/column the translator left unnamed rather than failing
    tgt = (tgt + [f"#{i}" for i in range(len(tgt), att.shape[0])])[: att.shape[0]]
    src = (src + [f"#{i}" for i in range(len(src), att.shape[1])])[: att.shape[1]]
    return {"text": str(res.get("text", " ".join(tgt))), "source_tokens": src, "target_tokens": tgt,
            "attention": att, "unknown": list(res.get("unknown", []) or [])}


def tiny_gpt_status():
    """(available sources, reason) for the tiny character GPT trained in this repo."""
    mod, found, reason = _optional("core.transformers.tinygpt", "tiny_gpt", "attention_maps")
    return found, reason


def tiny_gpt_attention(model, text: str) -> ModelAttention:
    """All layers' attention of the tiny character GPT (core.transformers.tinygpt.attention_maps), as ModelAttention."""
    from core.textio import check_text

    mod = importlib.import_module("core.transformers.tinygpt")
    text = check_text(text, _("text"), max_chars=5000)
    cfg = getattr(model, "config", None)
    block = int(getattr(cfg, "block_size", 0) or 0)
    tokens, maps = mod.attention_maps(model, text)
    att = np.stack([np.asarray(m, dtype=np.float32) for m in maps])  # (L, H, T, T)
    shown = [("▁" if t == " " else t.replace("\n", "↵")) for t in tokens]
    n_full = len(text)
    return ModelAttention("tiny-gpt", shown, att, [False] * len(shown), [0] * len(shown), True,
                          n_full > len(shown), n_full, block or len(shown))


# ---------------------------------------------------------------------------------------------
# plot builders (plotly figures; the page only renders them)
# ---------------------------------------------------------------------------------------------
def signed_heatmap(values, x_labels, y_labels, title: str = "", x_title: str = "", y_title: str = ""):
    """Heatmap of a signed matrix, white at 0 (red positive, blue negative)."""
    from core.plots import heatmap

    z = np.asarray(values, dtype=np.float64)
    m = float(np.max(np.abs(z))) if z.size else 1.0
    return heatmap(z, list(x_labels), list(y_labels), title=title, x_title=x_title, y_title=y_title,
                   colorscale="RdBu_r", zmin=-m or -1.0, zmax=m or 1.0, height=None)


def mask_heatmap(mask, x_labels, y_labels, title: str | None = None):
    """The additive mask with '−∞' written in the masked cells (plotly can't plot infinities).

    `title` left out (None): "Mask M (added to the scores)" in the visitor's language.
    """
    import plotly.graph_objects as go

    from core.plots import dedupe_labels

    title = _("Mask M (added to the scores)") if title is None else title
    query, key = _("query"), _("key")

    m = np.asarray(mask, dtype=np.float64)
    blocked = np.isneginf(m)
    z = blocked.astype(float)
    text = np.where(blocked, "−∞", "0")
    fig = go.Figure(go.Heatmap(z=z, x=dedupe_labels([str(x) for x in x_labels]),
                               y=dedupe_labels([str(y) for y in y_labels]),
                               colorscale=[[0, "#ffffff"], [1, "#9e9e9e"]], zmin=0, zmax=1, showscale=False,
                               text=text, texttemplate="%{text}", xgap=1, ygap=1,
                               hovertemplate=query + ": %{y}<br>" + key + ": %{x}<br>" + _("mask")
                               + ": %{text}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=key, yaxis_title=query, yaxis_autorange="reversed",
                      margin=dict(l=10, r=10, t=40, b=10), height=max(260, 28 * len(y_labels) + 120))
    return fig


def _pool(a: np.ndarray, size: int) -> np.ndarray:
    """Average-pool a (T, T) matrix down to at most (size, size) (for thumbnails)."""
    t = a.shape[0]
    if t <= size:
        return a
    edges = np.linspace(0, t, size + 1).astype(int)
    rows = np.add.reduceat(a, edges[:-1], axis=0) / np.diff(edges)[:, None]
    return np.add.reduceat(rows, edges[:-1], axis=1) / np.diff(edges)[None, :]


def head_grid_figure(attentions, layers: Sequence[int] | None = None, max_tile: int = 24,
                     normalize_each: bool = True, title: str = ""):
    """All heads of the chosen layers as one mosaic of thumbnails (rows = layers, columns = heads).

    One heatmap trace (fast even for 30 x 9 heads); tiles larger than `max_tile` tokens are
    average-pooled; `normalize_each` scales every thumbnail to its own maximum.
    """
    import plotly.graph_objects as go

    att = np.asarray(attentions, dtype=np.float64)  # (L, H, T, T)
    n_l, n_h, t = att.shape[:3]
    layers = list(range(n_l)) if layers is None else [int(x) for x in layers]
    tile = min(t, max_tile)
    gap = 1
    step = tile + gap
    z = np.full((len(layers) * step - gap, n_h * step - gap), np.nan)
    info = np.full(z.shape + (2,), -1, dtype=int)
    for r, layer in enumerate(layers):
        for h in range(n_h):
            a = _pool(att[layer, h], tile)
            if normalize_each and a.max() > 0:
                a = a / a.max()
            z[r * step: r * step + tile, h * step: h * step + tile] = a
            info[r * step: r * step + tile, h * step: h * step + tile] = (layer, h)
    fig = go.Figure(go.Heatmap(
        z=z, customdata=info, colorscale="Blues", zmin=0, zmax=1 if normalize_each else float(np.nanmax(z)),
        hovertemplate=_("layer") + " %{customdata[0]}, " + _("head") + " %{customdata[1]}<br>"
                      + (_("weight ÷ thumbnail max") if normalize_each else _("weight")) + ": %{z:.3f}<extra></extra>",
        hoverongaps=False, showscale=False))
    centers = [i * step + (tile - 1) / 2 for i in range(max(len(layers), n_h))]
    fig.update_xaxes(tickvals=centers[:n_h], ticktext=[f"H{h}" for h in range(n_h)], side="bottom",
                     showgrid=False, zeroline=False)
    fig.update_yaxes(tickvals=centers[: len(layers)], ticktext=[f"L{layer}" for layer in layers],
                     autorange="reversed", showgrid=False, zeroline=False)
    cell = max(45, min(90, 800 // max(n_h, 1)))
    fig.update_layout(title=dict(text=title, y=0.99, yanchor="top"), margin=dict(l=10, r=10, t=40 if title else 10, b=30),
                      height=min(1800, 90 + cell * len(layers)), plot_bgcolor="white")
    return fig
