"""core.transformers.attention: the step-by-step maths equals PyTorch's, and the properties attention must have."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.transformers import attention as A


def _sdpa(q, k, v, mask=None):
    t = lambda a: torch.tensor(a, dtype=torch.float64)[None, None]  # (1, 1, T, d)
    m = None if mask is None else torch.tensor(mask, dtype=torch.float64)[None, None]
    return F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=m)[0, 0].numpy()


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 9), d_k=st.integers(1, 16), d_v=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_matches_torch_sdpa_without_mask(t, d_k, d_v, seed):
    q, k, v = A.toy_qkv(t, d_k, seed, d_v=d_v)
    steps = A.attention_steps(q, k, v)
    np.testing.assert_allclose(steps.output, _sdpa(q, k, v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(steps.weights.sum(-1), 1.0, atol=1e-12)
    assert steps.scale == pytest.approx(1 / math.sqrt(d_k))
    np.testing.assert_allclose(steps.scaled, steps.scores / math.sqrt(d_k))


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 9), d_k=st.integers(1, 16), seed=st.integers(0, 10_000), n_pad=st.integers(0, 3))
def test_matches_torch_sdpa_with_causal_and_padding_masks(t, d_k, seed, n_pad):
    n_pad = min(n_pad, t - 1)
    q, k, v = A.toy_qkv(t, d_k, seed)
    real = [True] * (t - n_pad) + [False] * n_pad
    for mask in (A.causal_mask(t), A.padding_mask(t, real), A.combine_masks(A.causal_mask(t), A.padding_mask(t, real))):
        steps = A.attention_steps(q, k, v, mask=mask)
        np.testing.assert_allclose(steps.output, _sdpa(q, k, v, mask), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(steps.weights.sum(-1), 1.0, atol=1e-12)
        assert np.all(steps.weights[np.isneginf(mask)] == 0)
    # a boolean mask works the same as torch's boolean attn_mask
    allowed = np.tril(np.ones((t, t), dtype=bool))
    tb = lambda a: torch.tensor(a, dtype=torch.float64)[None, None]
    ref = F.scaled_dot_product_attention(tb(q), tb(k), tb(v), is_causal=True)[0, 0].numpy()
    np.testing.assert_allclose(A.attention_steps(q, k, v, mask=allowed).output, ref, rtol=1e-10, atol=1e-12)


def test_causal_weights_above_the_diagonal_are_zero_and_mask_is_minus_inf():
    q, k, v = A.toy_qkv(6, 4, seed=3)
    steps = A.attention_steps(q, k, v, mask=A.causal_mask(6))
    assert np.all(np.triu(steps.weights, 1) == 0)
    assert np.all(np.isneginf(steps.mask[np.triu_indices(6, 1)]))
    assert np.all(steps.mask[np.tril_indices(6)] == 0)
    assert steps.weights[0, 0] == 1.0  # the first token can only see itself


def test_masking_equals_renormalizing_the_unmasked_weights():
    q, k, v = A.toy_qkv(5, 8, seed=1)
    plain = A.attention_steps(q, k, v)
    mask = A.causal_mask(5)
    masked = A.attention_steps(q, k, v, mask=mask)
    np.testing.assert_allclose(A.renormalize(plain.weights, ~np.isneginf(mask)), masked.weights, atol=1e-12)


def test_unscaled_option_and_bad_inputs():
    q, k, v = A.toy_qkv(3, 16, seed=0)
    steps = A.attention_steps(q, k, v, scale=False)
    assert steps.scale == 1.0
    np.testing.assert_allclose(steps.scaled, steps.scores)
    with pytest.raises(ValueError, match="same width"):
        A.attention_steps(q, k[:, :3], v)
    bad = q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing"):
        A.attention_steps(bad, k, v)
    with pytest.raises(ValueError, match="fully masked"):
        A.attention_steps(q, k, v, mask=np.full((3, 3), -np.inf))
    with pytest.raises(ValueError):
        A.padding_mask(3, [False, False, False])
    with pytest.raises(ValueError, match="at most"):
        A.toy_tokens("a b c d e f g h i j k l m")
    with pytest.raises(ValueError, match="empty"):
        A.toy_tokens("   ")


def test_causal_mask_with_a_key_cache_lets_the_last_query_see_everything():
    m = A.causal_mask(2, 5)
    assert np.all(m[-1] == 0)
    assert np.isneginf(m[0, -1]) and m[0, 3] == 0


@pytest.mark.parametrize("n_heads", [1, 2, 4, 8])
def test_multi_head_matches_torch_multihead_attention(n_heads):
    x = A.toy_qkv(5, 16, seed=7)[0]  # (T, d_model)
    mh = A.multi_head(x, n_heads, seed=2, mask=A.causal_mask(5))
    assert mh.n_heads == n_heads
    assert mh.heads[0].q.shape == (5, 16 // n_heads)
    assert mh.concat.shape == (5, 16) and mh.output.shape == (5, 16)
    assert mh.shapes["Q split into heads"] == (n_heads, 5, 16 // n_heads)
    layer = torch.nn.MultiheadAttention(16, n_heads, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.tensor(np.concatenate([mh.w_q.T, mh.w_k.T, mh.w_v.T])))
        layer.out_proj.weight.copy_(torch.tensor(mh.w_o.T))
        xt = torch.tensor(x)[None]
        out, w = layer(xt, xt, xt, attn_mask=torch.tensor(A.causal_mask(5)), average_attn_weights=False)
    np.testing.assert_allclose(mh.output, out[0].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.stack([h.weights for h in mh.heads]), w[0].numpy(), rtol=1e-9, atol=1e-12)


def test_multi_head_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        A.multi_head(np.zeros((3, 10)), 3)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 60), half=st.integers(1, 40))
def test_positional_encoding_equals_the_formula(n, half):
    d = 2 * half
    pe = A.sinusoidal_pe(n, d)
    assert pe.shape == (n, d)
    pos, i = np.random.default_rng(n * 100 + d).integers(0, n), np.random.default_rng(d).integers(0, half)
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / d)), abs=1e-12)
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / d)), abs=1e-12)
    # every position's vector has norm sqrt(d/2) (sin^2 + cos^2 = 1 per pair)
    np.testing.assert_allclose(np.linalg.norm(pe, axis=1), math.sqrt(d / 2))


def test_positional_encoding_odd_width_and_similarity_decays_with_distance():
    pe = A.sinusoidal_pe(10, 7)
    assert pe[3, 6] == pytest.approx(math.sin(3 / 10000 ** (6 / 7)))
    sim = A.cosine_similarity_matrix(A.sinusoidal_pe(64, 64))
    np.testing.assert_allclose(np.diag(sim), 1.0)
    by_d = A.similarity_by_distance(sim)
    assert by_d[0] == pytest.approx(1.0) and by_d[1] > by_d[10] > by_d[40]
    with pytest.raises(ValueError):
        A.sinusoidal_pe(0, 8)


def test_saturation_curve_unscaled_softmax_saturates():
    c = A.saturation_curve(d_ks=(1, 16, 256), n_keys=8, trials=100)
    assert c["max_weight_unscaled"][-1] > 0.9 > c["max_weight_scaled"][-1]
    assert c["max_weight_unscaled"][0] < c["max_weight_unscaled"][-1]
    # scaling keeps the spread about the same whatever d_k is
    assert abs(c["max_weight_scaled"][0] - c["max_weight_scaled"][-1]) < 0.15
    assert c["score_std_unscaled"][-1] == pytest.approx(16, rel=0.15)


def test_drop_tokens_renormalizes_rows_and_head_entropy_shape():
    w = A.softmax(np.random.default_rng(0).normal(size=(2, 3, 6, 6)))
    sub = A.drop_tokens(w, [1, 2, 3])
    assert sub.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(sub.sum(-1), 1.0)
    assert A.head_entropy(w).shape == (2, 3)


def test_head_grid_and_mask_figures_build():
    w = A.softmax(np.random.default_rng(0).normal(size=(3, 4, 40, 40)))
    fig = A.head_grid_figure(w, layers=[0, 2], max_tile=16)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 17 - 1, 4 * 17 - 1)
    assert np.nanmax(z) == pytest.approx(1.0)
    m = A.mask_heatmap(A.causal_mask(3), list("abc"), list("abc"))
    assert m.data[0].text[0][1] == "−∞"


# ---- real models (packaged) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm():
    from core import loaders

    return loaders.load_minilm()


@pytest.fixture(scope="module")
def smollm():
    from core import loaders

    return loaders.load_smollm()


@pytest.mark.slow
def test_minilm_attention_all_layers_rows_sum_to_one_and_pairs(minilm):
    res = A.model_attention(minilm, "The bank of the river.", "I sat on the bank.")
    assert res.attentions.shape[:2] == (6, 12)
    assert not res.causal and not res.truncated
    assert res.tokens[0] == "[CLS]" and res.special[0] and res.tokens.count("[SEP]") == 2
    assert set(res.segment) == {0, 1}
    np.testing.assert_allclose(res.attentions.sum(-1), 1.0, atol=1e-4)
    pe = A.learned_position_embeddings(minilm, 32)
    assert pe.shape == (32, 384)


@pytest.mark.slow
def test_smollm_attention_is_causal_and_long_input_is_truncated(smollm):
    res = A.model_attention(smollm, "word " * 300, max_tokens=40)
    assert res.attentions.shape == (30, 9, 40, 40)
    assert res.causal and res.truncated and res.n_tokens_full > 40 and res.cap == 40
    assert np.all(np.triu(res.attentions, 1) == 0)
    np.testing.assert_allclose(res.attentions.sum(-1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="pairs"):
        A.model_attention(smollm, "one", "two")
    with pytest.raises(ValueError):
        A.learned_position_embeddings(smollm, 8)


def test_cross_attention_wraps_translate_and_rejects_models_without_attention(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("core.sequence.seq2seq")
    att = A.softmax(np.random.default_rng(0).normal(size=(3, 4)))
    fake.translate = lambda bundle, text, **kw: (
        {"text": "a b", "tokens": ["a", "b"], "source_tokens": ["x", "y", "z", "<eos>"], "attention": bundle,
         "attention_rows": ["a", "b", "<eos>"], "unknown": []})
    monkeypatch.setitem(sys.modules, "core.sequence.seq2seq", fake)
    res = A.cross_attention(att, "x y z")
    assert res["target_tokens"] == ["a", "b", "<eos>"] and res["source_tokens"][-1] == "<eos>"
    np.testing.assert_allclose(res["attention"].sum(1), 1.0)
    with pytest.raises(ValueError, match="no attention"):
        A.cross_attention(None, "x y z")
    with pytest.raises(ValueError, match="empty"):
        A.cross_attention(att, "  ")
