"""Unit tests for core.sequence.charlm on tiny models (a few seconds in all)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sequence import charlm as C

TEXT = ("the cat sat on the mat. the dog sat on the log. " * 40)


def tiny(cell="lstm", vocab=None, hidden=32, layers=1, seed=0):
    vocab = vocab or C.Vocab.from_text(TEXT)
    return C.build_model(C.CharLMConfig(cell, len(vocab), layers, hidden, 16), seed), vocab


@pytest.mark.parametrize("cell", C.CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_shapes_and_loss_is_cross_entropy(cell, layers):
    model, vocab = tiny(cell, layers=layers)
    idx = vocab.encode(TEXT[:41]).view(1, -1)  # (1, 41)
    logits, loss = model(idx[:, :-1], idx[:, 1:])
    assert logits.shape == (1, 40, len(vocab))
    expected = F.cross_entropy(logits.reshape(-1, len(vocab)), idx[:, 1:].reshape(-1))
    assert torch.allclose(loss, expected)
    assert model(idx[:, :-1])[1] is None
    # param_count predicts the real size (used for "equal parameter" comparisons)
    assert C.param_count(model.config) == C.count_params(model)


def test_loss_drops_within_100_steps_on_a_tiny_corpus():
    corpus = C.make_corpus(TEXT, "tiny")
    model = C.build_model(C.CharLMConfig("lstm", len(corpus.vocab), 1, 48, 16), seed=1)
    before = C.evaluate(model, corpus.val_ids)
    history = []
    res = C.train(model, corpus, C.TrainConfig(batch_size=8, seq_len=32, lr=1e-2, max_steps=100, max_seconds=0,
                                               eval_every=0), seed=1, history=history)
    after = C.evaluate(model, corpus.val_ids)
    assert res.steps == 100 and res.stopped_by == "steps"
    assert after < before - 1.0, (before, after)
    assert after < 1.5
    steps = [h for h in history if "loss" in h]
    assert len(steps) == 100 and all(math.isfinite(h["loss"]) for h in steps)
    assert sum(h["loss"] for h in steps[-10:]) < sum(h["loss"] for h in steps[:10])
    assert any("val_loss" in h for h in history)


def test_same_seed_same_sample_and_other_seed_differs():
    model, vocab = tiny("gru")
    a = C.generate(model, vocab, "the ", 80, temperature=1.0, seed=7)
    b = C.generate(model, vocab, "the ", 80, temperature=1.0, seed=7)
    c = C.generate(model, vocab, "the ", 80, temperature=1.0, seed=8)
    assert a.text == b.text and a.chosen_probs == b.chosen_probs
    assert a.text != c.text
    assert len(a.text) == 80
    assert set(a.text) <= set(vocab.chars)
    probs = [p for _, p in a.last_top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5


def test_generation_does_not_touch_the_global_rng():
    model, vocab = tiny()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    C.generate(model, vocab, "the", 20, seed=1)
    C.build_model(model.config, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_temperature_zero_is_greedy_and_low_temperature_sharpens():
    model, vocab = tiny()
    g = C.generate(model, vocab, "the ", 30, temperature=0.0, seed=1)
    h = C.generate(model, vocab, "the ", 30, temperature=0.0, seed=99)
    assert g.text == h.text  # greedy ignores the seed
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert C._probs(logits, 0.5, None)[0] > C._probs(logits, 1.0, None)[0] > C._probs(logits, 2.0, None)[0]
    assert torch.allclose(C._probs(logits, 1.0, 2)[2], torch.tensor(0.0))


def test_generate_rejects_bad_input_with_clear_errors():
    model, vocab = tiny()
    with pytest.raises(ValueError, match="never saw"):
        C.generate(model, vocab, "Zebra€", 10)
    with pytest.raises(ValueError, match="empty"):
        C.generate(model, vocab, "", 10)
    with pytest.raises(ValueError, match="length"):
        C.generate(model, vocab, "the", 0)


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="the catsonmd.gl", min_size=0, max_size=50))
def test_vocab_round_trip(text):
    vocab = C.Vocab.from_text(TEXT)
    assert vocab.decode(vocab.encode(text)) == text


def test_corpus_errors():
    with pytest.raises(ValueError, match="empty"):
        C.make_corpus("   ", "x")
    with pytest.raises(ValueError, match="at least"):
        C.make_corpus("short text", "x")
    with pytest.raises(ValueError, match="upload"):
        C.corpus_text("upload", b"")


def test_stream_batches_continue_each_other():
    ids = torch.arange(1000)
    b = C.StreamBatcher(ids, batch_size=4, seq_len=10, gen=torch.Generator().manual_seed(0))
    x1, y1, _ = b.next()
    x2, _, fresh = b.next()
    assert x1.shape == (4, 10) and torch.equal(y1, x1 + 1)
    assert not fresh and torch.equal(x2[:, 0], x1[:, -1] + 1)  # row b continues row b


def test_evaluate_with_carried_state_equals_one_long_forward():
    model, vocab = tiny("lstm", layers=2)
    ids = vocab.encode(TEXT[:300])
    _, full = model(ids[:-1].view(1, -1), ids[1:].view(1, -1))
    chunked = C.evaluate(model, ids, batch_size=1, seq_len=17)
    assert chunked == pytest.approx(float(full.detach()), rel=1e-5)


@pytest.mark.parametrize("cell", C.CELLS)
def test_hidden_grad_norms_cover_every_step(cell):
    model, vocab = tiny(cell)
    ids = vocab.encode(TEXT[:41]).view(1, -1)
    norms = C.hidden_grad_norms(model, ids)
    assert len(norms) == 40 and all(math.isfinite(n) and n >= 0 for n in norms)
    assert norms[-1] > 0
    prof = C.grad_norm_profile(model, vocab.encode(TEXT), seq_len=30, batch=3)
    assert len(prof) == 30 and prof[0] > 0


def test_plain_rnn_gradients_vanish_faster_than_lstm_at_initialisation():
    corpus = C.make_corpus(TEXT, "tiny")
    profiles = {}
    for cell in ("rnn", "lstm"):
        model = C.build_model(C.CharLMConfig(cell, len(corpus.vocab), 1, 32, 16), seed=0)
        profiles[cell] = C.grad_norm_profile(model, corpus.train_ids, seq_len=40, batch=4)
    ratio = {c: p[30] / p[0] for c, p in profiles.items()}
    assert ratio["rnn"] < 1e-3  # 30 steps back, a tanh RNN's gradient is (nearly) gone
    assert ratio["lstm"] > ratio["rnn"]


def test_clipping_bounds_the_gradient_norm_used():
    corpus = C.make_corpus(TEXT, "tiny")
    model = C.build_model(C.CharLMConfig("rnn", len(corpus.vocab), 1, 32, 16), seed=0)
    history = []
    C.train(model, corpus, C.TrainConfig(batch_size=4, seq_len=20, max_steps=5, max_seconds=0, clip=0.1,
                                         eval_every=0), history=history)
    steps = [h for h in history if "grad_norm" in h]
    assert all(h["clipped_norm"] <= 0.1 + 1e-9 for h in steps)
    assert any(h["grad_norm"] > 0.1 for h in steps)


def test_checkpoint_round_trip(tmp_path):
    model, vocab = tiny("gru", layers=2)
    C.save_checkpoint(model, vocab, tmp_path / "ck", info={"steps": 3}, card="# card\n", fp16=False)
    bundle = C.load_checkpoint(str(tmp_path / "ck"))
    assert bundle.config == model.config and bundle.vocab == vocab and bundle.info["steps"] == "3"
    idx = vocab.encode("the cat").view(1, -1)
    assert torch.allclose(model(idx)[0], bundle.model(idx)[0])
    C.save_checkpoint(model, vocab, tmp_path / "half")  # fp16 storage stays close
    half = C.load_checkpoint(tmp_path / "half")
    assert torch.allclose(model(idx)[0], half.model(idx)[0], atol=1e-2)
    with pytest.raises(ValueError, match="missing"):
        C.load_checkpoint(tmp_path / "nothing")


def test_hidden_for_params_gives_about_equal_sizes():
    sizes = {c: C.param_count(C.CharLMConfig(c, 65, 1, C.hidden_for_params(c, 100_000, 65), 32)) for c in C.CELLS}
    hs = {c: C.hidden_for_params(c, 100_000, 65, 32) for c in C.CELLS}
    sizes = {c: C.param_count(C.CharLMConfig(c, 65, 1, hs[c], 32)) for c in C.CELLS}
    assert all(abs(n - 100_000) / 100_000 < 0.05 for n in sizes.values()), sizes
    assert hs["rnn"] > hs["gru"] > hs["lstm"]


def test_lr_schedule_warms_up_then_decays():
    tc = C.TrainConfig(lr=1e-2, warmup_frac=0.1, min_lr_frac=0.1)
    lrs = [C.lr_at(p / 100, tc) for p in range(101)]
    peak = lrs.index(max(lrs))
    assert 5 <= peak <= 12 and max(lrs) == pytest.approx(1e-2, rel=0.02)
    assert all(a >= b - 1e-12 for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] == pytest.approx(1e-3)


def test_configs_validate():
    with pytest.raises(ValueError):
        C.CharLMConfig("transformer", 65)
    with pytest.raises(ValueError):
        C.TrainConfig(lr=0)
    with pytest.raises(ValueError):
        C.TrainConfig(batch_size=0)


def test_sampling_runs_single_threaded_and_restores_the_thread_count():
    model, vocab = tiny()
    before = torch.get_num_threads()
    with C.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    C.generate(model, vocab, "the", 5)
    assert torch.get_num_threads() == before
