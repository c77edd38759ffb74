"""The Transformer as a translator: our encoder–decoder (`core.transformers.transformer.Transformer`) behind
the interface of the seq2seq page's models, so the same training loop, greedy/beam/sample search, BLEU
and checkpoints serve both (`core.sequence.seq2seq` builds one when `Seq2SeqConfig.cell == "transformer"`).

Config mapping (`Seq2SeqConfig` -> `TransformerConfig`): emb_dim = d_model, hidden_dim = d_ff (the
feed-forward layer's hidden units), num_layers = blocks per stack, n_heads = heads, dropout, norm;
the vocabularies share the seq2seq ids <pad> 0, <sos> 1, <eos> 2 (the Transformer's <pad>, <s>, </s>).

The decoder state for search caches every layer's keys and values (the source's for cross-attention, the
decoded positions' for self-attention), so a step computes one new position; a test checks it against the
whole-prefix `Transformer.decode`.
The attention a step returns is the last decoder layer's cross-attention of the newest position,
averaged over heads, (N, S): the map the seq2seq page draws for every model.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.device import count_params
from core.i18n import N_, _
from core.transformers.transformer import (BOS, EOS, MAX_LEN, PAD, Transformer, TransformerConfig, attend,
                                           sinusoidal_positions)

assert (PAD, BOS, EOS) == (0, 1, 2)  # the seq2seq vocabularies' <pad>, <sos>, <eos>


def transformer_config(cfg) -> TransformerConfig:
    """A `Seq2SeqConfig` with cell "transformer" -> the `TransformerConfig` of its network."""
    return TransformerConfig(src_vocab=cfg.src_vocab_size, tgt_vocab=cfg.tgt_vocab_size, d_model=cfg.emb_dim,
                             n_heads=cfg.n_heads, n_layers=cfg.num_layers, d_ff=cfg.hidden_dim,
                             dropout=float(cfg.dropout), norm=cfg.norm, max_len=MAX_LEN)


def _heads(mha, x: torch.Tensor) -> torch.Tensor:
    """(N, T, D) -> (N, h, T, d_k): split a projection into `mha`'s heads."""
    N, T, _D = x.shape
    return x.view(N, T, mha.h, mha.d_k).transpose(1, 2)


class TransformerSeq2Seq(nn.Module):
    """`Seq2Seq`'s interface (init_state, step, forward -> summed loss and token count) on a Transformer."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.net = Transformer(transformer_config(cfg))

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "TransformerSeq2Seq":
        self.net.init_weights(gen)
        self.net.pe = sinusoidal_positions(self.net.config.max_len, self.net.config.d_model)  # not a parameter
        return self

    def init_state(self, src: torch.Tensor, lengths: torch.Tensor | None = None) -> dict:
        """Encode src (B, S) (padding = <pad>; `lengths` is not needed, the mask comes from the ids). The state
        caches what every later step reuses: each decoder layer's cross-attention keys and values of the source
        ("ck{i}", "cv{i}": (B, h, S, d_k)) and the self-attention keys and values of the positions decoded so
        far ("k{i}", "v{i}": (B, h, t, d_k)), so a step costs one position, not the whole prefix."""
        memory = self.net.encode(src)  # (B, S, D)
        B = src.size(0)
        state = {"src_mask": (src != PAD)[:, None, None, :],  # (B, 1, 1, S)
                 "keep": src.new_zeros((B, 0), dtype=torch.bool)}  # (B, t): decoded positions that are not <pad>
        for i, layer in enumerate(self.net.decoder):
            ca, sa = layer.cross_attn, layer.self_attn
            state[f"ck{i}"], state[f"cv{i}"] = _heads(ca, ca.k(memory)), _heads(ca, ca.v(memory))
            state[f"k{i}"] = state[f"v{i}"] = memory.new_zeros((B, sa.h, 0, sa.d_k))
        return state

    def step(self, y_prev: torch.Tensor, state: dict):
        """y_prev (N,) -> logits (N, V), new state, cross-attention of the newest position (N, S): the decoder of
        `Transformer.decode` for one new position, reading the cached keys and values (a test checks the two
        agree)."""
        net, new = self.net, dict(state)
        N, t = y_prev.size(0), state["keep"].size(1)
        new["keep"] = torch.cat([state["keep"], (y_prev != PAD)[:, None]], dim=1)  # (N, t+1)
        net.check_len(new["keep"], N_("target"))  # the same limit and message as the whole-prefix decode
        self_mask = new["keep"][:, None, None, :]  # (N, 1, 1, t+1): every earlier position, never <pad>
        x = net.drop(net.tgt_embed(y_prev)[:, None] * math.sqrt(net.config.d_model) + net.pe[t])  # (N, 1, D)
        for i, layer in enumerate(net.decoder):
            sa, ca = layer.self_attn, layer.cross_attn
            h = layer.norm1(x) if layer.pre else x
            new[f"k{i}"] = torch.cat([state[f"k{i}"], _heads(sa, sa.k(h))], dim=2)  # (N, h, t+1, d_k)
            new[f"v{i}"] = torch.cat([state[f"v{i}"], _heads(sa, sa.v(h))], dim=2)
            a, _w = attend(_heads(sa, sa.q(h)), new[f"k{i}"], new[f"v{i}"], self_mask, sa.drop)  # (N, h, 1, d_k)
            a = sa.out(a.transpose(1, 2).reshape(N, 1, -1))  # (N, 1, D)
            x = x + layer.drop(a) if layer.pre else layer.norm1(x + layer.drop(a))
            h = layer.norm2(x) if layer.pre else x
            c, cross = attend(_heads(ca, ca.q(h)), state[f"ck{i}"], state[f"cv{i}"], state["src_mask"], ca.drop)
            c = ca.out(c.transpose(1, 2).reshape(N, 1, -1))  # (N, 1, D)
            if layer.pre:
                x = x + layer.drop(c)
                x = x + layer.drop(layer.ff(layer.norm3(x)))
            else:
                x = layer.norm2(x + layer.drop(c))
                x = layer.norm3(x + layer.drop(layer.ff(x)))
        logits = net.generator(net.dec_norm(x))[:, 0]  # (N, V)
        return logits, new, cross[:, :, 0, :].mean(dim=1)  # last layer's cross-attention, mean of heads: (N, S)

    def forward(self, src, lengths, tgt_in, tgt_out, teacher_forcing: float = 1.0, generator=None,
                label_smoothing: float = 0.0):
        """Summed cross-entropy over non-pad target tokens, and their count (as `Seq2Seq.forward`).

        Teacher forcing 1 decodes every position at once under the causal mask; below 1 the decoder runs
        step by step and, per sentence and step, is fed its own argmax with probability 1 − teacher_forcing
        (0: free running, what the page's free-running validation loss measures)."""
        keep = tgt_out != PAD  # (B, T)
        count = int(keep.sum())
        if teacher_forcing >= 1.0:
            logits = self.net(src, tgt_in)  # (B, T, V)
            loss = F.cross_entropy(logits[keep], tgt_out[keep], reduction="sum", label_smoothing=label_smoothing)
            return loss, count
        state = self.init_state(src)
        y = tgt_in[:, 0]  # (B,)
        total = src.new_zeros((), dtype=torch.float32)
        for t in range(tgt_out.size(1)):
            logits, state, _w = self.step(y, state)  # (B, V)
            total = total + F.cross_entropy(logits, tgt_out[:, t], ignore_index=PAD, reduction="sum",
                                            label_smoothing=label_smoothing)
            gold, pred = tgt_out[:, t], logits.detach().argmax(-1)
            if teacher_forcing <= 0.0:
                y = pred
            else:
                use_gold = torch.rand(gold.shape, generator=generator) < teacher_forcing
                y = torch.where(use_gold.to(gold.device), gold, pred)
        return total, count


# ---------------------------------------------------------------------------------------------
# the shipped translator against the GRU + attention model (the page's tab and the benchmark)
# ---------------------------------------------------------------------------------------------
SHIPPED = "en-zh-transformer"  # core.sources names (family "seq2seq")
BASELINE = "en-zh-attention"
COMPARISON_FILE = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "transformer-en-zh" / \
    "comparison.json"  # written by benchmarks/transformer.py --save


def cross_attention(bundle, source: str, target_tokens: list[str]) -> dict:
    """Every decoder layer's cross-attention for a translation the model produced: (layers, heads, T, S)
    with rows the output tokens + <eos> and columns the source tokens + <eos>, and the matching labels."""
    from core.sequence import seq2seq as S

    if bundle.config.cell != "transformer":
        raise ValueError(_("Only a Transformer has per-layer, per-head cross-attention; pick the Transformer."))
    src_tokens, ids, _unknown = S.encode_source(bundle, source)
    tgt = [BOS] + bundle.tgt_vocab.encode(list(target_tokens))  # decoder input: <s> y1 … yn
    with torch.inference_mode():
        src = torch.tensor([ids])  # (1, S)
        _logits, _selfs, crosses = bundle.model.net.decode(torch.tensor([tgt]), bundle.model.net.encode(src), src,
                                                           return_attention=True)
    maps = torch.stack([c[0] for c in crosses]).numpy()  # (layers, heads, T, S)
    return {"maps": maps, "rows": list(target_tokens) + ["<eos>"], "cols": src_tokens + ["<eos>"]}


def compare(bundles: dict, pairs, method: str = "greedy", beam_width: int = 5, alpha: float = 0.7,
            on_model: Callable | None = None) -> dict:
    """Score each model (name -> seq2seq bundle) on the same (source, reference) pairs: BLEU, sentences per
    second of decoding on this machine, BLEU by source length, and the outputs.

    `on_model(name)` may return an `on_step(done, total, info)` progress callback for that model."""
    from core.sequence import seq2seq as S

    if not pairs:
        raise ValueError(_("There are no pairs to score; pick at least one held-out pair."))
    out = {}
    for name, bundle in bundles.items():
        on_step = on_model(name) if on_model is not None else None
        t0 = time.perf_counter()
        res = S.evaluate_bleu(bundle, pairs, method, beam_width=beam_width, alpha=alpha, on_step=on_step)
        seconds = time.perf_counter() - t0
        out[name] = {"bleu": res["bleu"], "sents_per_s": len(res["references"]) / max(seconds, 1e-9),
                     "seconds": seconds, "pairs": len(res["references"]),
                     "by_length": S.bleu_by_length(res["sources"], res["hypotheses"], res["references"]),
                     "hypotheses": [S.detokenize(h, bundle.config.tgt_tokenizer) for h in res["hypotheses"]],
                     "sources": res["sources"], "parameters": count_params(bundle.model)}
    return out


def shipped_comparison() -> dict | None:
    """The comparison `benchmarks/transformer.py --save` measured (None when it has not been run)."""
    if not COMPARISON_FILE.exists():
        return None
    return json.loads(COMPARISON_FILE.read_text(encoding="utf-8"))
