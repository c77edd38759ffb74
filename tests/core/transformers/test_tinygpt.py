"""Tiny GPT: shapes, causality, training makes the loss drop, checkpoints round-trip, attention maps."""
import numpy as np
import pytest
import torch

from core.transformers import tinygpt

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 20


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(seed=0, **kw):
    cfg = tinygpt.TinyGPTConfig(vocab=tinygpt.vocab_of(TEXT), block_size=32, n_layer=2, n_head=2, n_embd=32, **kw)
    return tinygpt.new_model(cfg, seed)


def test_forward_shapes_and_loss():
    m = _model()
    idx = torch.tensor([tinygpt.encode(m, TEXT[:32])])
    logits, loss = m(idx, idx)
    assert logits.shape == (1, 32, m.config.vocab_size)
    assert loss.item() > 0
    assert m(idx)[1] is None


def test_causal_future_tokens_do_not_change_past_logits():
    m = _model().eval()
    a = torch.tensor([tinygpt.encode(m, TEXT[:20])])
    b = a.clone()
    b[0, 15:] = (b[0, 15:] + 1) % m.config.vocab_size
    with torch.no_grad():
        la, lb = m(a)[0], m(b)[0]
    assert torch.allclose(la[0, :15], lb[0, :15], atol=1e-5)


def test_loss_drops_within_100_steps():
    m = _model()
    before = tinygpt.evaluate(m, TEXT[:2000])
    hist = tinygpt.train(m, TEXT, None, steps=100, batch_size=16, lr=3e-3, warmup=10, seed=0)
    after = tinygpt.evaluate(m, TEXT[:2000])
    assert len(hist) == 100 and hist[-1]["step"] == 100
    assert after < before - 0.8, (before, after)


def test_history_is_appended_in_place_and_on_step_called():
    m = _model()
    hist, calls = [], []
    tinygpt.train(m, TEXT, TEXT[:500], steps=6, batch_size=4, eval_every=3, history=hist,
                  on_step=lambda d, t, i: calls.append((d, t, dict(i))))
    assert [h["step"] for h in hist] == list(range(1, 7))
    assert calls[-1][:2] == (6, 6) and "val_loss" in calls[2][2]


def test_checkpoint_round_trip(tmp_path):
    m = _model(seed=3)
    tinygpt.save_checkpoint(m, tmp_path, card="# card", half=False)
    m2 = tinygpt.load_checkpoint(tmp_path)
    assert m2.config == m.config
    assert (tmp_path / "README.md").read_text() == "# card"
    x = torch.tensor([tinygpt.encode(m, TEXT[:30])])
    with torch.no_grad():
        assert torch.allclose(m.eval()(x)[0], m2(x)[0])
    tinygpt.save_checkpoint(m, tmp_path / "half")  # float16 on disk, float32 in memory
    m3 = tinygpt.load_checkpoint(tmp_path / "half")
    with torch.no_grad():
        assert next(m3.parameters()).dtype == torch.float32
        assert torch.allclose(m(x)[0], m3(x)[0], atol=1e-2)
    with pytest.raises(ValueError):
        tinygpt.load_checkpoint(tmp_path / "missing")


def test_generate_is_seeded_and_uses_known_characters():
    m = _model()
    a = tinygpt.generate(m, "First", 40, temperature=1.0, seed=5)
    b = tinygpt.generate(m, "First", 40, temperature=1.0, seed=5)
    assert a == b and len(a) == 40 and set(a) <= set(m.config.vocab)
    assert tinygpt.generate(m, "", 5, temperature=0.0) == tinygpt.generate(m, "", 5, temperature=0.0, seed=9)
    with pytest.raises(ValueError, match="never seen"):
        tinygpt.generate(m, "Ωmega", 5)


def test_attention_maps_are_causal_distributions():
    m = _model()
    tokens, maps = tinygpt.attention_maps(m, "First Citizen")
    assert tokens == list("First Citizen")
    assert len(maps) == 2
    for a in maps:
        assert a.shape == (2, 13, 13) and a.dtype == np.float32
        assert np.allclose(a.sum(-1), 1, atol=1e-5)
        assert np.allclose(np.triu(a, 1), 0)
    # longer than the context: the last block_size characters
    tokens, maps = tinygpt.attention_maps(m, TEXT[:100])
    assert len(tokens) == 32 and maps[0].shape == (2, 32, 32)


def test_bad_configs_raise():
    with pytest.raises(ValueError):
        tinygpt.TinyGPTConfig(vocab="ab", n_embd=30, n_head=4).check()
    with pytest.raises(ValueError):
        tinygpt.TinyGPTConfig(vocab="a").check()
