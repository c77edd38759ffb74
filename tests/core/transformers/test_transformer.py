"""core.transformers.transformer: our encoder–decoder equals PyTorch's layers with copied weights, the
attention is the Attention page's formula, masks do what they say, and the copy task is learned."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from core.transformers import attention
from core.transformers import transformer as T

pytestmark = pytest.mark.usefixtures("one_thread")


def _copy_mha(ours: T.MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)


def _copy_common(ours, theirs) -> None:
    with torch.no_grad():
        for name in ("linear1", "linear2"):
            getattr(theirs, name).weight.copy_(getattr(ours.ff, name).weight)
            getattr(theirs, name).bias.copy_(getattr(ours.ff, name).bias)
        for name in ("norm1", "norm2", "norm3"):
            if hasattr(theirs, name) and hasattr(ours, name):
                getattr(theirs, name).weight.copy_(getattr(ours, name).weight)
                getattr(theirs, name).bias.copy_(getattr(ours, name).bias)


def _model(norm="post", **kw):
    cfg = T.TransformerConfig(src_vocab=20, tgt_vocab=20, d_model=32, n_heads=4, n_layers=2, d_ff=64, norm=norm, **kw)
    model = T.build_transformer(cfg, seed=3)
    with torch.no_grad():  # non-trivial norms, so copying them matters
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
                m.bias.uniform_(-0.2, 0.2, generator=torch.Generator().manual_seed(2))
    return cfg, model.eval()


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_encoder_layer_equals_torch(norm):
    cfg, model = _model(norm)
    ours = model.encoder[0]
    theirs = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=0.0, batch_first=True,
                                        norm_first=norm == "pre").eval()
    _copy_mha(ours.self_attn, theirs.self_attn)
    _copy_common(ours, theirs)
    x = torch.randn(3, 7, cfg.d_model, generator=torch.Generator().manual_seed(0))
    real = torch.tensor([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4], dtype=torch.bool)  # (B, T)
    mine, _w = ours(x, real[:, None, :])
    with torch.no_grad():
        ref = theirs(x, src_key_padding_mask=~real)
    assert torch.allclose(mine[real], ref[real], atol=1e-5)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_decoder_layer_equals_torch(norm):
    cfg, model = _model(norm)
    ours = model.decoder[0]
    theirs = nn.TransformerDecoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=0.0, batch_first=True,
                                        norm_first=norm == "pre").eval()
    _copy_mha(ours.self_attn, theirs.self_attn)
    _copy_mha(ours.cross_attn, theirs.multihead_attn)
    _copy_common(ours, theirs)
    g = torch.Generator().manual_seed(0)
    y, mem = torch.randn(2, 5, cfg.d_model, generator=g), torch.randn(2, 6, cfg.d_model, generator=g)
    tgt_real = torch.tensor([[1] * 5, [1] * 3 + [0] * 2], dtype=torch.bool)
    src_real = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    self_mask = tgt_real[:, None, :] & T.causal_mask(5)[None]
    mine, _ws, _wc = ours(y, mem, self_mask, src_real[:, None, :])
    with torch.no_grad():
        ref = theirs(y, mem, tgt_mask=~T.causal_mask(5), tgt_key_padding_mask=~tgt_real,
                     memory_key_padding_mask=~src_real)
    assert torch.allclose(mine[tgt_real], ref[tgt_real], atol=1e-5)


def test_attend_is_the_attention_pages_formula():
    q, k, v = attention.toy_qkv(5, 8, seed=4)
    mask = attention.causal_mask(5, 5)
    steps = attention.attention_steps(q, k, v, mask=mask)
    allowed = torch.from_numpy(np.isfinite(mask) & (mask == 0))
    out, w = T.attend(torch.from_numpy(q).float(), torch.from_numpy(k).float(), torch.from_numpy(v).float(), allowed)
    assert np.allclose(w.numpy(), steps.weights, atol=1e-6)
    assert np.allclose(out.numpy(), steps.output, atol=1e-5)


def test_causal_mask_stops_the_decoder_reading_ahead_and_padding_is_ignored():
    _cfg, model = _model()
    src = torch.tensor([[5, 6, 7, 0, 0]])
    tgt_a, tgt_b = torch.tensor([[1, 8, 9, 10]]), torch.tensor([[1, 8, 11, 12]])
    with torch.no_grad():
        a, b = model(src, tgt_a), model(src, tgt_b)
        assert torch.allclose(a[:, :2], b[:, :2], atol=1e-6)  # positions 0, 1 read only <s> 8
        assert not torch.allclose(model(src, tgt_a, causal=False)[:, :2], model(src, tgt_b, causal=False)[:, :2])
        longer = torch.tensor([[5, 6, 7]])  # the same source without padding
        assert torch.allclose(model(src, tgt_a), model(longer, tgt_a), atol=1e-5)


def test_attention_maps_have_the_documented_shapes_and_rows_sum_to_one():
    cfg, model = _model()
    src, tin, _tout = T.make_batch([([4, 5, 6], [7, 8]), ([4, 5], [9])])
    with torch.no_grad():
        memory, enc_maps = model.encode(src, return_attention=True)
        logits, selfs, crosses = model.decode(tin, memory, src, return_attention=True)
    assert logits.shape == (2, 3, cfg.tgt_vocab) and len(enc_maps) == len(selfs) == len(crosses) == cfg.n_layers
    assert enc_maps[0].shape == (2, cfg.n_heads, 3, 3) and crosses[0].shape == (2, cfg.n_heads, 3, 3)
    assert torch.allclose(crosses[0].sum(-1), torch.ones(2, cfg.n_heads, 3), atol=1e-6)
    assert float(crosses[0][1, :, :, 2].abs().max()) == 0.0  # the padded source position gets no weight
    assert torch.allclose(torch.triu(selfs[0][0], diagonal=1), torch.zeros(cfg.n_heads, 3, 3))


@pytest.mark.parametrize("name", ["copy", "reverse", "sort", "add"])
def test_toy_pairs_are_what_they_say(name):
    task = T.ToyTask(name, n_symbols=10, min_len=2, max_len=5)
    for src, tgt in T.toy_pairs(task, 50, seed=1):
        assert all(T.N_SPECIAL <= t < task.vocab for t in src + tgt)
        if name == "copy":
            assert tgt == src
        elif name == "reverse":
            assert tgt == src[::-1]
        elif name == "sort":
            assert tgt == sorted(src)
        else:
            cut = src.index(task.plus)
            num = lambda ids: int("".join(str(i - T.N_SPECIAL) for i in ids))  # noqa: E731
            assert num(tgt) == num(src[:cut]) + num(src[cut + 1:])
    assert T.toy_pairs(task, 5, seed=2) == T.toy_pairs(task, 5, seed=2)


def test_copy_task_is_learned_exactly_on_held_out_sequences():
    task = T.ToyTask("copy", n_symbols=8, min_len=3, max_len=8)
    cfg = T.TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=32, n_heads=2, n_layers=1, d_ff=64)
    model = T.build_transformer(cfg, seed=0)
    history = []
    res = T.train(model, T.toy_pairs(task, 2000, seed=0), steps=800, max_seconds=0, batch_size=32, warmup=100,
                  factor=2.0, seed=0, history=history)
    assert res["steps"] == 800 and history[-1]["loss"] < history[0]["loss"] / 5
    assert T.exact_match(model, T.toy_pairs(task, 200, seed=99)) >= 0.95


def test_bad_configs_raise_value_errors_with_a_fix():
    with pytest.raises(ValueError, match="n_layers"):
        T.TransformerConfig(n_layers=0)
    with pytest.raises(ValueError, match="n_heads"):
        T.TransformerConfig(n_heads=0)
    with pytest.raises(ValueError, match="divisible"):
        T.TransformerConfig(d_model=30, n_heads=4)
    _cfg, model = _model()
    with pytest.raises(ValueError, match="at most"):
        model.encode(torch.ones(1, 200, dtype=torch.long))
    with pytest.raises(ValueError, match="Unknown task"):
        T.ToyTask("divide")


def test_noam_schedule_and_no_warmup_start_at_the_peak():
    d = 64
    peak = d ** -0.5 * T.PEAK_WARMUP ** -0.5
    assert T.noam_rate(T.PEAK_WARMUP, d, T.PEAK_WARMUP) == pytest.approx(peak)
    assert T.noam_rate(1, d, T.PEAK_WARMUP) < peak / 100  # warm-up starts small
    assert T.noam_rate(1, d, 0) == pytest.approx(peak)  # no warm-up: the peak from step 1
    assert T.noam_rate(4 * T.PEAK_WARMUP, d, 0) == pytest.approx(T.noam_rate(4 * T.PEAK_WARMUP, d, T.PEAK_WARMUP))


@pytest.mark.parametrize("tip", list(T.TIPS))
def test_tip_variants_differ_in_exactly_their_setting(tip):
    cfg = T.TransformerConfig()
    a, b = T.tip_variants(tip, cfg).values()
    diff = {k for k in a if a[k] != b[k]}
    assert diff == {"smoothing": {"label_smoothing"}, "warmup": {"warmup"}, "norm": {"config"}}[tip]
    with pytest.raises(ValueError, match="Unknown tip"):
        T.tip_variants("dropout", cfg)


def test_run_variants_trains_each_setting_on_the_same_data():
    task = T.ToyTask("copy", n_symbols=4, min_len=2, max_len=4)
    cfg = T.TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=16, n_heads=2, n_layers=1, d_ff=32)
    seen = []
    res = T.run_variants(task, T.tip_variants("smoothing", cfg), 0.3, seed=0, on_model=seen.append, n_held=20)
    assert seen == ["without", "with"] and set(res) == {"without", "with"}
    for r in res.values():
        assert 0 <= r["exact"] <= 1 and 0 <= r["teacher_forced"] <= 1 and r["steps"] >= 1 and r["history"]


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_trace_gives_every_box_its_tensor(norm):
    cfg, model = _model(norm)
    src, tgt = [4, 5, 6, 7], [1, 8, 9]
    traced = T.trace(model, src, tgt, layer=1)
    assert set(traced) == set(T.PARTS)
    for pid, entry in traced.items():
        col = T.PARTS[pid][1]
        T_len = len(src) if col == 0 else len(tgt)
        width = cfg.tgt_vocab if pid == "output" else cfg.d_model
        assert entry["shape"] == (1, T_len, width) and entry["values"].shape == (T_len, width), pid
    assert traced["dec_cross"]["weights"].shape == (cfg.n_heads, len(tgt), len(src))
    assert np.allclose(traced["output"]["values"].sum(-1), 1.0, atol=1e-5)
    with torch.no_grad():  # the encoder's last box of the last block, in post-norm, is the memory
        memory = model.encode(torch.tensor([src]))[0].numpy()
    if norm == "post":
        assert np.allclose(traced["enc_norm2"]["values"], memory, atol=1e-5)
    with pytest.raises(ValueError, match="layer"):
        T.trace(model, src, tgt, layer=5)
