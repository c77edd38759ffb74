"""A tiny character-level GPT: decoder-only transformer trained from scratch.

Architecture (Radford et al. 2018, nanoGPT-style): token embedding + *learned* position
embedding, ``n_layer`` pre-norm blocks ``x = x + Attn(LN(x)); x = x + MLP(LN(x))`` with causal
multi-head self-attention, a final LayerNorm and a linear head tied to the token embedding.

Public API
----------
- ``TinyGPTConfig``: frozen dataclass (stored as ``config.json`` in a checkpoint). Its ``vocab``
  field is the character vocabulary, so a checkpoint is self-contained.
- ``TinyGPT(config)``: ``forward(idx, targets=None) -> (logits, loss)``; ``idx`` is (B, T) int64,
  logits are (B, T, V); loss is mean cross-entropy in nats/char (None without targets).
- ``encode(model_or_config, text)`` / ``decode(...)``: characters <-> ids (unknown characters
  raise ValueError naming them).
- ``train(model, train_text, val_text, steps, ..., on_step, history)``: AdamW with warm-up and
  cosine decay; appends ``{"step", "loss", "val_loss", "elapsed_s"}`` dicts to ``history`` *in
  place* (so a Streamlit stop button keeps what was learned so far).
- ``generate(model, prompt, max_new_tokens, ...)`` / ``generate_stream(...)``: sampling with
  ``core.transformers.sampling`` processors and a per-call seeded generator.
- ``evaluate(model, text)``: mean validation loss (nats/char) over the whole text.
- ``save_checkpoint(model, folder, card=None)`` / ``load_checkpoint(ref)``: safetensors +
  config.json (+ README.md model card). ``load_checkpoint`` is the loader registered in
  ``core.sources`` for ``tiny_gpt/local/shakespeare-char``.

For the attention page
----------------------
``attention_maps(model, text) -> (tokens, maps)``

- ``tokens``: ``list[str]``, one entry per character of ``text`` (the last ``block_size``
  characters if the text is longer than the context window).
- ``maps``: ``list[np.ndarray]``, one per layer, each float32 of shape ``(heads, T, T)``;
  ``maps[l][h, i, j]`` is how much query position ``i`` attends to key position ``j`` in layer
  ``l``, head ``h``. Rows sum to 1 and the upper triangle (``j > i``) is 0 (causal mask).

Example::

    from core import st_cache
    from core.transformers import tinygpt
    model = st_cache.load("tiny_gpt", "shakespeare-char")
    tokens, maps = tinygpt.attention_maps(model, "ROMEO: But soft!")
    # plot maps[layer][head] with core.plots.attention_heatmap(maps[0][0], tokens, tokens)
"""
from __future__ import annotations

import json
import math
import numbers
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.device import autocast, builds_models, get_device, make_generator, model_device, on_device
from core.i18n import _


@dataclass(frozen=True)
class TinyGPTConfig:
    vocab: str = ""  # the character vocabulary, in id order (id i <-> vocab[i])
    block_size: int = 128  # context window in characters (learned positions 0..block_size-1)
    n_layer: int = 4  # number of transformer blocks
    n_head: int = 4  # attention heads per block (n_embd must be divisible by n_head)
    n_embd: int = 128  # width of the residual stream (embedding size)
    dropout: float = 0.0  # dropout on attention weights, residual branches and embeddings (training only)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def check(self) -> "TinyGPTConfig":
        not_ints = [n for n in ("block_size", "n_layer", "n_head", "n_embd") if not _whole(getattr(self, n))]
        if not_ints:
            raise ValueError(_("{names} must be whole numbers.").format(names=", ".join(not_ints)))
        if not isinstance(self.vocab, str):
            raise ValueError(_("The vocabulary must be a string of distinct characters."))
        if not isinstance(self.dropout, (int, float)):
            raise ValueError(_("Dropout must be a number in [0, 1), not {value}.").format(value=repr(self.dropout)))
        if len(self.vocab) < 2:
            raise ValueError(_("The training text needs at least 2 distinct characters."))
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError(_("The vocabulary has duplicate characters."))
        if not 8 <= self.block_size <= 1024:
            raise ValueError(_("Context length must be between 8 and 1024, not {value}.").format(value=self.block_size))
        if not 1 <= self.n_layer <= 12:
            raise ValueError(_("Layers must be between 1 and 12, not {value}.").format(value=self.n_layer))
        if self.n_head < 1 or self.n_embd % self.n_head:
            raise ValueError(_("The width ({width}) must be divisible by the number of heads ({heads}).").format(
                width=self.n_embd, heads=self.n_head))
        if not 8 <= self.n_embd <= 1024:
            raise ValueError(_("The width must be between 8 and 1024, not {value}.").format(value=self.n_embd))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(_("Dropout must be in [0, 1), not {value}.").format(value=self.dropout))
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "TinyGPTConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names}).check()


def _whole(value) -> bool:
    """An int (numpy ints included), not a float such as 2.5 or NaN."""
    return isinstance(value, numbers.Integral)


def _as_int(value):
    """A whole float (5.0, as JSON or a float widget may give) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def vocab_of(text: str) -> str:
    """Sorted distinct characters of a text: the vocabulary a char-level model trains on."""
    return "".join(sorted(set(text)))


# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)
        self.register_buffer("mask", torch.tril(torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool)),
                             persistent=False)  # (block, block)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        B, T, C = x.shape  # (B, T, C)
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, H, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, H, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, H, T, hs)
        weights = None
        if return_weights:
            # explicit softmax(q k^T / sqrt(d)) so the weights can be returned
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, H, T, T)
            att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
            weights = F.softmax(att, dim=-1)  # (B, H, T, T)
            y = weights @ v  # (B, H, T, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y)), weights


class Block(nn.Module):
    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        a, w = self.attn(self.ln1(x), return_weights)  # pre-norm: (B, T, C)
        x = x + a
        x = x + self.mlp(self.ln2(x))  # (B, T, C)
        return x, w


class TinyGPT(nn.Module):
    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.config = config.check()
        V, C = config.vocab_size, config.n_embd
        self.tok_emb = nn.Embedding(V, C)
        self.pos_emb = nn.Embedding(config.block_size, C)  # learned positions
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self._stoi = {ch: i for i, ch in enumerate(config.vocab)}

    def init_weights(self, generator: torch.Generator) -> "TinyGPT":
        """GPT-2 style init from a seeded generator (never the global RNG)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    std = 0.02 / math.sqrt(2 * self.config.n_layer) if name.endswith("proj.weight") or \
                        name.endswith("mlp.2.weight") else 0.02
                    p.copy_(torch.randn(p.shape, generator=generator) * std)
                elif name.endswith("bias"):
                    p.zero_()
        return self

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, return_weights: bool = False):
        B, T = idx.shape  # (B, T)
        if T > self.config.block_size:
            raise ValueError(_("Input of {n} characters is longer than the context window ({block}).").format(
                n=T, block=self.config.block_size))
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C)
        maps = []
        for block in self.blocks:
            x, w = block(x, return_weights)
            if return_weights:
                maps.append(w)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))
        if return_weights:
            return logits, loss, maps
        return logits, loss

    @torch.inference_mode()
    def generate(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> str:
        return generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed)


@builds_models
def new_model(config: TinyGPTConfig, seed: int = 0) -> TinyGPT:
    return TinyGPT(config).init_weights(make_generator(seed))


# ---------------------------------------------------------------------------------------------
# text <-> ids
# ---------------------------------------------------------------------------------------------
def _cfg(model_or_config) -> TinyGPTConfig:
    return model_or_config.config if isinstance(model_or_config, TinyGPT) else model_or_config


def encode(model_or_config, text: str) -> list[int]:
    cfg = _cfg(model_or_config)
    stoi = {ch: i for i, ch in enumerate(cfg.vocab)}
    unknown = sorted({ch for ch in text if ch not in stoi})
    if unknown:
        shown = "".join(unknown[:20])
        raise ValueError(_("The model has never seen these characters: {chars}. Remove them (this tiny GPT only "
                           "knows the characters of its training text).").format(chars=repr(shown)))
    return [stoi[ch] for ch in text]


def decode(model_or_config, ids) -> str:
    vocab = _cfg(model_or_config).vocab
    return "".join(vocab[int(i)] for i in ids)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def _batch(data: torch.Tensor, block: int, batch_size: int, gen: torch.Generator):
    ix = torch.randint(len(data) - block - 1, (batch_size,), generator=gen).to(data.device)  # (B,)
    offs = torch.arange(block, device=data.device)  # (T,)
    x = data[ix[:, None] + offs]  # (B, T)
    y = data[ix[:, None] + offs + 1]  # (B, T)
    return x, y


@torch.inference_mode()
def evaluate(model: TinyGPT, text: str, max_chars: int | None = None, batch_size: int = 32) -> float:
    """Mean cross-entropy (nats/char) over `text`, in non-overlapping windows of block_size.

    Every character after the first is predicted once from the characters before it in its
    window (the first character of each window has no context in that window).
    """
    if max_chars:
        text = text[:max_chars]
    ids = torch.tensor(encode(model, text), dtype=torch.long, device=model_device(model))
    block = model.config.block_size
    if len(ids) < 2:
        raise ValueError(_("The evaluation text needs at least 2 characters."))
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    n_win = (len(ids) - 1) // block
    windows = [(i * block, block) for i in range(n_win)]
    rest = len(ids) - 1 - n_win * block
    if rest > 0:
        windows.append((n_win * block, rest))
    full = [s for s, n in windows if n == block]
    for i in range(0, len(full), batch_size):
        starts = torch.tensor(full[i:i + batch_size], device=ids.device)
        offs = torch.arange(block, device=ids.device)
        x = ids[starts[:, None] + offs]  # (B, T)
        y = ids[starts[:, None] + offs + 1]  # (B, T)
        _logits, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    for s, n in windows:
        if n != block:
            x = ids[s:s + n][None]  # (1, n)
            y = ids[s + 1:s + n + 1][None]  # (1, n)
            _logits, loss = model(x, y)
            total += loss.item() * n
            count += n
    model.train(was_training)
    return total / count


def train(model: TinyGPT, train_text: str, val_text: str | None = None, steps: int = 1000,
          batch_size: int = 32, lr: float = 1e-3, min_lr: float | None = None, warmup: int = 50,
          weight_decay: float = 0.1, grad_clip: float = 1.0, seed: int = 0, eval_every: int = 100,
          eval_chars: int = 20_000, max_seconds: float | None = None,
          on_step: Callable | None = None, history: list | None = None, device: str | None = None) -> list[dict]:
    """Train in place with AdamW (warm-up, cosine decay to min_lr). Returns `history`.

    `device` ("cuda", "mps", "cpu"; None = the one `core.device.get_device()` picked for the process)
    trains there, with bfloat16 autocast on CUDA; the model is moved back to where it was when
    training ends or is interrupted.

    `history` (a list, appended in place) gets one dict per logged step:
    ``{"step", "loss", "val_loss" (None between evaluations), "elapsed_s"}``.
    `on_step(done, total, info)` is called after every step. Stops early after `max_seconds`.
    """
    if not 1 <= steps <= 1_000_000:
        raise ValueError(_("Steps must be between 1 and 1,000,000, not {value}.").format(value=steps))
    if not 1 <= batch_size <= 1024:
        raise ValueError(_("Batch size must be between 1 and 1024, not {value}.").format(value=batch_size))
    if not (0 < lr < 1):
        raise ValueError(_("Learning rate must be between 0 and 1, not {value}.").format(value=lr))
    block = model.config.block_size
    device = torch.device(device or get_device())
    data = torch.tensor(encode(model, train_text), dtype=torch.long, device=device)
    if len(data) < block + 2:
        raise ValueError(_("The training text has {n} characters; it needs more than the context length ({block}). "
                           "Upload a longer text or shorten the context.").format(n=len(data), block=block))
    if val_text is not None and len(val_text) < 2:
        val_text = None
    history = [] if history is None else history
    with on_device(model, device):
        return _train_loop(model, data, val_text, steps, batch_size, lr, min_lr, warmup, weight_decay, grad_clip,
                           seed, eval_every, eval_chars, max_seconds, on_step, history)


def _train_loop(model, data, val_text, steps, batch_size, lr, min_lr, warmup, weight_decay, grad_clip,
                seed, eval_every, eval_chars, max_seconds, on_step, history) -> list[dict]:
    block = model.config.block_size
    min_lr = lr / 10 if min_lr is None else min_lr
    gen = make_generator(seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))
    start = time.monotonic()
    step0 = history[-1]["step"] if history else 0
    model.train()
    for it in range(steps):
        if it < warmup:
            cur = lr * (it + 1) / warmup
        else:
            # cosine decay over the steps, or over the time budget if that runs out first
            frac = (it - warmup) / max(1, steps - warmup)
            if max_seconds:
                frac = max(frac, (time.monotonic() - start) / max_seconds)
            frac = min(frac, 1.0)
            cur = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = cur
        x, y = _batch(data, block, batch_size, gen)  # (B, T), (B, T)
        with autocast(data.device):
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        val = None
        last = it == steps - 1
        elapsed = time.monotonic() - start
        out_of_time = max_seconds is not None and elapsed >= max_seconds
        if val_text is not None and ((it + 1) % eval_every == 0 or last or out_of_time):
            val = evaluate(model, val_text, max_chars=eval_chars)
            model.train()
        rec = {"step": step0 + it + 1, "loss": float(loss.item()), "val_loss": val, "elapsed_s": elapsed}
        history.append(rec)
        if on_step is not None:
            info = {"loss": rec["loss"]}
            if val is not None:
                info["val_loss"] = val
            on_step(it + 1, steps, info)
        if out_of_time:
            break
    model.eval()
    return history


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def generate_stream(model: TinyGPT, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
                    top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> Iterator[dict]:
    """Yield one dict per new character: ``{"token", "id", "prob", "entropy"}``.

    The prompt may be empty (generation then starts from a newline). Only the last
    ``block_size`` characters are fed to the model at each step.
    """
    from core.transformers import sampling

    max_new_tokens = _as_int(max_new_tokens)
    if not _whole(max_new_tokens) or not 1 <= max_new_tokens <= 5000:
        raise ValueError(_("Characters to generate must be a whole number between 1 and 5000, not {value}.").format(
            value=repr(max_new_tokens)))
    ids = encode(model, prompt)
    if not ids:  # no prompt: start from a newline (or the first character of the vocabulary)
        ids = [model.config.vocab.index("\n") if "\n" in model.config.vocab else 0]
    gen = make_generator(seed)
    model.eval()
    block = model.config.block_size
    for _step in range(max_new_tokens):
        x = torch.tensor([ids[-block:]], dtype=torch.long, device=model_device(model))  # (1, T)
        logits, _loss = model(x)
        step = sampling.process(logits[0, -1].float().cpu(), temperature=temperature, top_k=top_k, top_p=top_p)
        nxt = sampling.sample(step, gen)
        ids.append(nxt)
        yield {"token": model.config.vocab[nxt], "id": nxt, "prob": float(step.probs[nxt]),
               "entropy": step.entropy}


def generate(model: TinyGPT, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
    """The continuation (without the prompt) as one string."""
    return "".join(s["token"] for s in generate_stream(model, prompt, max_new_tokens, temperature,
                                                       top_k, top_p, seed))


# ---------------------------------------------------------------------------------------------
# attention (for the attention page)
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def attention_maps(model: TinyGPT, text: str) -> tuple[list[str], list[np.ndarray]]:
    """Causal attention weights of every layer for `text` (see the module docstring).

    Returns ``(tokens, maps)``: ``tokens`` the characters (last block_size of them), ``maps``
    a list with one float32 array of shape (heads, T, T) per layer.
    """
    if not text:
        raise ValueError(_("The text is empty. Type a few characters first."))
    ids = encode(model, text)[-model.config.block_size:]
    model.eval()
    x = torch.tensor([ids], dtype=torch.long, device=model_device(model))  # (1, T)
    _logits, _loss, maps = model(x, return_weights=True)
    tokens = [model.config.vocab[i] for i in ids]
    return tokens, [m[0].float().cpu().numpy() for m in maps]  # each (H, T, T)


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
def save_checkpoint(model: TinyGPT, folder: str | Path, card: str | None = None, half: bool = True) -> Path:
    """Write model.safetensors + config.json (+ README.md when `card` is given).

    `half=True` stores the weights as float16 (half the size; loaded back as float32).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items() if k != "head.weight"}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(asdict(model.config), indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


@builds_models
def load_checkpoint(ref: str | Path) -> TinyGPT:
    """Load a checkpoint folder written by `save_checkpoint` (eval mode, no gradients)."""
    from safetensors.torch import load_file

    folder = Path(ref)
    if not (folder / "config.json").exists() or not (folder / "model.safetensors").exists():
        raise ValueError(_("No tiny GPT checkpoint in {folder}: it needs config.json and model.safetensors. Train one "
                           "with `python scripts/train_tinygpt.py`.").format(folder=folder))
    cfg = TinyGPTConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    model = TinyGPT(cfg)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()}
    state["head.weight"] = state["tok_emb.weight"]
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
