"""A lean decoder for Llama-family causal LMs (SmolLM2 is one): the same maths as transformers'
`LlamaForCausalLM`, in about 20 tensor ops per layer instead of ~50 module calls.

Why: at batch 1 on a CPU, one SmolLM2-135M step streams ~0.5 GB of float32 weights, while a Hugging
Face step also pays the Python and dispatch overhead of many small ops (~100 ms a step here). This
module shares the weights of a loaded HF model (never modifies it) and runs each token step with

- one fused q/k/v product and one fused gate/up product per layer (the weights concatenated once);
- each RMSNorm's weight folded into the product after it; the norm's scale 1/rms(x) is one
  vector norm, applied to the product's output or input;
- those fused weights (and the output projection) in bfloat16: half the memory a step streams;
- the residual stream, rotary embeddings, key/value cache and attention in float32
  (`F.scaled_dot_product_attention(..., enable_gqa=True)`; bfloat16 attention is 5x slower here);
- a preallocated key/value cache written in place (no `torch.cat` per step).
A prompt (several tokens, empty cache) runs with the model's own float32 weights instead: a batched
product is compute-bound, and float32 is what this kind of CPU multiplies fastest.
Measured by benchmarks/generation.py: 2.2x HF `generate`, perplexity -0.12% (every token through
the bfloat16 weights), time to first token 153 ms.

It answers the calls `core.transformers.generate` makes on a model: `lean(input_ids=..., past_key_values=...,
use_cache=True, cache_position=..., logits_to_keep=...)` returns an object with `.logits` (B, T, V)
and `.past_key_values` (a `LeanCache`, which supports `batch_repeat_interleave` and `reorder_cache`
for beam search). `supports(model)` says whether a model can be wrapped.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.i18n import _


def supports(model) -> bool:
    """True for a plain Llama-architecture causal LM (no biases, SiLU MLP), the kind we can wrap."""
    cfg = getattr(model, "config", None)
    return (cfg is not None and getattr(cfg, "model_type", None) == "llama"
            and not getattr(cfg, "attention_bias", False) and not getattr(cfg, "mlp_bias", False)
            and getattr(cfg, "hidden_act", "silu") == "silu" and getattr(cfg, "pretraining_tp", 1) == 1
            and hasattr(model, "model") and hasattr(model.model, "layers"))


@dataclass
class LeanOutput:
    logits: torch.Tensor  # (B, T_kept, V) float32
    past_key_values: "LeanCache"  # the cache, updated in place


class LeanCache:
    """Per-layer key/value buffers (B, H_kv, capacity, D), grown by doubling; `length` positions used."""

    def __init__(self, n_layers: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.length = 0

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.length

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H_kv, T, D) at positions start..start+T; return all keys/values so far."""
        end = start + k.shape[2]
        buf_k = self.keys[layer]
        if buf_k is None or buf_k.shape[2] < end or buf_k.shape[0] != k.shape[0]:
            cap = max(64, 1 << (end - 1).bit_length())  # next power of two
            new_k = k.new_empty(k.shape[0], k.shape[1], cap, k.shape[3])  # (B, H_kv, cap, D)
            new_v = v.new_empty(new_k.shape)
            if buf_k is not None and start:
                new_k[:, :, :start] = buf_k[:, :, :start]
                new_v[:, :, :start] = self.values[layer][:, :, :start]
            self.keys[layer], self.values[layer] = new_k, new_v
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]  # (B, H_kv, end, D)

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Beam search: copy every sequence's cache `repeats` times (batch B -> B * repeats)."""
        for i, (k, v) in enumerate(zip(self.keys, self.values)):
            if k is not None:
                self.keys[i] = k.repeat_interleave(repeats, dim=0)
                self.values[i] = v.repeat_interleave(repeats, dim=0)

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        """Beam search: row b of the new cache is row beam_idx[b] of the old one."""
        for i, (k, v) in enumerate(zip(self.keys, self.values)):
            if k is not None:
                self.keys[i] = k.index_select(0, beam_idx)
                self.values[i] = v.index_select(0, beam_idx)


class LeanLlama(torch.nn.Module):
    """Wraps a loaded `LlamaForCausalLM`; shares its weights and adds low-precision copies, never edits it.

    Two weight sets:
    - exact: the model's own float32 weights (shared, no copy) for prompts of more than one token
      when the cache is empty (`exact_prefill=True`): a prompt is a batched, compute-bound product,
      which float32 does fastest on a CPU without bfloat16 instructions;
    - fast: per layer one fused q/k/v and one fused gate/up matrix, with each RMSNorm's weight folded
      into the matrix after it, stored in `dtype` (bfloat16: half the memory a token step streams).
    The residual stream, the key/value cache and attention stay in float32 (bfloat16 attention is 5×
    slower here); activations are rounded to `dtype` just before each product.
    """

    def __init__(self, hf_model, dtype: torch.dtype = torch.bfloat16, exact_prefill: bool = True):
        super().__init__()
        if not supports(hf_model):
            raise ValueError(_("The lean decoder only runs Llama-architecture models; use the exact model."))
        cfg = hf_model.config
        self.config = cfg
        self.n_heads = cfg.num_attention_heads  # query heads H
        self.n_kv = cfg.num_key_value_heads  # key/value heads H_kv (H is a multiple of it)
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads  # D
        self.eps = float(cfg.rms_norm_eps)
        self.dtype = dtype  # storage of the fast weights
        self.exact_prefill = exact_prefill  # prompts (T > 1, empty cache) with the float32 weights
        base = hf_model.model
        self.rotary = base.rotary_emb  # shared: cos/sin (with any rope scaling) for given positions
        self.embed = base.embed_tokens.weight  # (V, C) shared
        self.exact_layers, self.fast_layers = [], []
        with torch.no_grad():
            for layer in base.layers:
                att, mlp = layer.self_attn, layer.mlp
                ln1, ln2 = layer.input_layernorm.weight, layer.post_attention_layernorm.weight  # (C,) each
                self.exact_layers.append((ln1, att.q_proj.weight, att.k_proj.weight, att.v_proj.weight,
                                          att.o_proj.weight, ln2, mlp.gate_proj.weight, mlp.up_proj.weight,
                                          mlp.down_proj.weight))
                qkv = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]) * ln1  # ((H + 2 H_kv) D, C)
                gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]) * ln2  # (2 I, C)
                self.fast_layers.append(tuple(w.to(dtype).contiguous() for w in (
                    qkv, att.o_proj.weight, gate_up, mlp.down_proj.weight)))
            self.norm = base.norm.weight  # (C,)
            self.head = hf_model.lm_head.weight  # (V, C) shared
            self.fast_head = (hf_model.lm_head.weight * base.norm.weight).to(dtype).contiguous()  # (V, C)
        self._eps = torch.tensor(self.eps, device=self.embed.device)
        # a parameter so `next(model.parameters())` tells callers the device (and float32 outputs)
        self._anchor = torch.nn.Parameter(torch.zeros(1, device=self.embed.device), requires_grad=False)

    def all_fast(self) -> "LeanLlama":
        """The same model (shared tensors) with prompts also in the fast weights: to measure fast quality."""
        twin = copy.copy(self)
        twin.exact_prefill = False
        return twin

    def _inv_rms(self, x: torch.Tensor) -> torch.Tensor:
        """1 / sqrt(mean(x²) + eps) over the last dim, (..., 1): the RMSNorm's scale, its weight aside."""
        n = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # (..., 1)
        return torch.rsqrt(torch.addcmul(self._eps, n, n, value=1.0 / x.shape[-1]))

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, past_key_values=None, use_cache: bool = True,
                cache_position: torch.Tensor | None = None, logits_to_keep: int = 0, **_ignored) -> LeanOutput:
        B, T = input_ids.shape
        cache = past_key_values if isinstance(past_key_values, LeanCache) else LeanCache(len(self.fast_layers))
        start = cache.length
        if cache_position is None:
            cache_position = torch.arange(start, start + T, device=input_ids.device)
        exact = self.exact_prefill and T > 1 and start == 0
        H, Hk, D = self.n_heads, self.n_kv, self.head_dim
        x = F.embedding(input_ids, self.embed)  # (B, T, C) float32
        C = x.shape[-1]
        cos, sin = self.rotary(x, cache_position[None])  # (1, T, D) each
        half = D // 2
        cos = cos[:, None]  # (1, 1, T, D)
        sin = torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)[:, None]  # (1, 1, T, D): rotate_half's signs
        causal, mask = T > 1, None
        if causal and start:  # new tokens see the whole cache and the causal part of themselves
            mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(start)  # (T, start + T)
            causal = False
        for i in range(len(self.fast_layers)):
            if exact:
                ln1, w_q, w_k, w_v, w_o, ln2, w_g, w_u, w_d = self.exact_layers[i]
                h = F.rms_norm(x, (C,), ln1, self.eps)  # (B, T, C)
                qkv = torch.cat([F.linear(h, w_q), F.linear(h, w_k), F.linear(h, w_v)], dim=-1)  # (B, T, (H + 2 H_kv) D)
            else:
                w_qkv, w_o, w_gu, w_d = self.fast_layers[i]
                # RMSNorm(x) W = (W diag(g)) x / rms(x): the weight g is folded in, the scale applied after;
                # multiplying the low-precision product by the float32 scale promotes it back to float32
                qkv = F.linear(x.to(self.dtype), w_qkv) * self._inv_rms(x)  # (B, T, (H + 2 H_kv) D)
            qkv = qkv.view(B, T, H + 2 * Hk, D).transpose(1, 2)  # (B, H + 2 H_kv, T, D)
            qk, v = qkv[:, :H + Hk], qkv[:, H + Hk:]  # (B, H + H_kv, T, D), (B, H_kv, T, D)
            qk = torch.addcmul(qk * cos, qk.roll(half, dims=-1), sin)  # rotary: x cos + rotate_half(x) sin
            q, k = qk[:, :H], qk[:, H:]  # (B, H, T, D), (B, H_kv, T, D)
            keys, values = cache.write(i, k, v, start)  # (B, H_kv, start + T, D)
            att = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=causal,
                                                 enable_gqa=True)  # (B, H, T, D)
            att = att.transpose(1, 2).reshape(B, T, H * D)  # (B, T, H D)
            if exact:
                x = x + F.linear(att, w_o)  # (B, T, C)
                h = F.rms_norm(x, (C,), ln2, self.eps)
                x = x + F.linear(F.silu(F.linear(h, w_g)) * F.linear(h, w_u), w_d)
            else:
                x = x.add_(F.linear(att.to(self.dtype), w_o))  # (B, T, C) float32 += low precision
                h = (x * self._inv_rms(x)).to(self.dtype)  # (B, T, C)
                gate, up = F.linear(h, w_gu).chunk(2, dim=-1)  # (B, T, I) each, low precision
                x = x.add_(F.linear(F.silu(gate) * up, w_d))
        cache.length = start + T
        if logits_to_keep:
            x = x[:, -logits_to_keep:]  # (B, K, C)
        if exact:
            logits = F.linear(F.rms_norm(x, (C,), self.norm, self.eps), self.head)  # (B, K, V)
        else:
            logits = F.linear(x.to(self.dtype), self.fast_head) * self._inv_rms(x)  # (B, K, V) float32
        return LeanOutput(logits, cache)
