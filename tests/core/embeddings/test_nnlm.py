"""core.embeddings.nnlm: Bengio's NNLM — windows, shapes, the formula, training, neighbours, determinism."""
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.embeddings import nnlm

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat", "ran"], ["the", "cat", "ran"]]


def _tiny_data(context=2):
    # a small deterministic corpus with strong next-word structure
    subjects, verbs, objects = ["cat", "dog", "bird"], ["sees", "likes"], ["fish", "milk", "seeds"]
    sents = [["the", s, v, "the", o] for s in subjects for v in verbs for o in objects]
    sents = sents * 4
    return nnlm.make_data(sents, sents[:18], context)


def test_vocab_specials_order_min_count_max_size_and_unk():
    v = nnlm.Vocab.build(TINY)
    assert v.words[:3] == ("<s>", "</s>", "<UNK>")
    # by falling count, ties sorted: the 3, cat 3, ran 2, sat 2, a 1, dog 1
    assert v.words[3:] == ("cat", "the", "ran", "sat", "a", "dog")
    assert v.counts[:3] == (0, 4, 0)
    v2 = nnlm.Vocab.build(TINY, min_count=2)
    assert v2.words[3:] == ("cat", "the", "ran", "sat")
    assert v2.counts[2] == 2  # "a" and "dog" became <UNK>
    assert v2.encode(["dog", "cat", "zebra"]) == [2, 3, 2]
    assert v2.map_sentences([["a", "cat"]]) == [["<UNK>", "cat"]]
    v3 = nnlm.Vocab.build(TINY, max_size=1)
    assert v3.words == ("<s>", "</s>", "<UNK>", "cat")
    assert nnlm.Vocab.from_json(v.to_json()) == v
    # the counts are exactly the training targets' counts
    X, y = nnlm.make_windows(TINY, v2, 2)
    assert np.bincount(y, minlength=len(v2)).tolist() == list(v2.counts)


@pytest.mark.parametrize("bad", [[], [[]], "the cat", [["a"], "b c"]])
def test_empty_or_malformed_text_is_a_value_error(bad):
    with pytest.raises(ValueError):
        nnlm.Vocab.build(bad)


def test_vocab_with_nothing_frequent_enough_is_a_value_error():
    with pytest.raises(ValueError, match="min_count"):
        nnlm.Vocab.build([["a", "b"]], min_count=2)
    with pytest.raises(ValueError):
        nnlm.Vocab.build(TINY, min_count=0)


def test_windows_pad_with_bos_and_end_with_eos_brute_force():
    v = nnlm.Vocab.build(TINY)
    for context in (1, 2, 3):
        X, y = nnlm.make_windows(TINY + [[]], v, context)
        assert X.dtype == np.int64 and y.dtype == np.int64 and X.shape == (len(y), context)
        rows = []
        for s in TINY:
            padded = ["<s>"] * context + s + ["</s>"]
            for t in range(context, len(padded)):
                rows.append((padded[t - context:t], padded[t]))
        assert len(rows) == sum(len(s) + 1 for s in TINY)
        assert [v.decode(x) for x in X] == [r[0] for r in rows]
        assert v.decode(y) == [r[1] for r in rows]
    X, y = nnlm.make_windows([["zebra"]], v, 2)
    assert X.tolist() == [[0, 0], [0, 2]] and y.tolist() == [2, 1]  # unknown -> <UNK>


@pytest.mark.parametrize("context", [0, 9, 2.0, True])
def test_bad_context_is_a_value_error(context):
    v = nnlm.Vocab.build(TINY)
    with pytest.raises(ValueError, match="context"):
        nnlm.make_windows(TINY, v, context)
    with pytest.raises(ValueError, match="context"):
        nnlm.NNLMConfig(vocab_size=10, context=context)


@pytest.mark.parametrize("field,value", [("vocab_size", 1), ("embed_dim", 0), ("hidden", 0), ("direct", 1)])
def test_bad_config_is_a_value_error(field, value):
    with pytest.raises(ValueError):
        nnlm.NNLMConfig(**{field: value})


@pytest.mark.parametrize("direct", [False, True])
def test_shapes_params_and_log_softmax_sums_to_one(direct):
    cfg = nnlm.NNLMConfig(vocab_size=11, context=3, embed_dim=4, hidden=5, direct=direct)
    model = nnlm.build_nnlm(cfg, seed=1)
    idx = torch.randint(0, 11, (7, 3), generator=torch.Generator().manual_seed(0))
    out = model(idx)
    assert out.shape == (7, 11)
    lp = model.log_probs(idx)
    assert torch.allclose(lp.exp().sum(dim=1), torch.ones(7), atol=1e-5)
    assert (model.W is None) == (not direct)
    names = {n for n, _p in model.named_parameters()}
    assert names == ({"C", "H", "d", "U", "b", "W"} if direct else {"C", "H", "d", "U", "b"})
    assert model.C.shape == (11, 4) and model.H.shape == (5, 12) and model.U.shape == (11, 5)
    assert nnlm.count_params(model) == nnlm.param_count(cfg)
    assert nnlm.param_count(cfg) == 11 * 4 + 5 * 12 + 5 + 11 * 5 + 11 + (11 * 12 if direct else 0)


@pytest.mark.parametrize("direct", [False, True])
def test_forward_is_the_papers_formula(direct):
    cfg = nnlm.NNLMConfig(vocab_size=9, context=2, embed_dim=3, hidden=4, direct=direct)
    model = nnlm.build_nnlm(cfg, seed=3)
    with torch.no_grad():
        model.b.uniform_(-1, 1, generator=torch.Generator().manual_seed(5))
    idx = torch.tensor([[0, 4], [8, 8], [2, 1]])
    with torch.no_grad():
        for row, y_row in zip(idx, model(idx)):
            x = torch.cat([model.C[int(w)] for w in row])  # (n−1)·m
            expect = model.b + model.U @ torch.tanh(model.d + model.H @ x)
            if direct:
                expect = expect + model.W @ x
            assert torch.allclose(y_row, expect, atol=1e-5)


def test_unigram_bias_start_is_the_unigram_model():
    data = _tiny_data()
    cfg = nnlm.NNLMConfig(len(data.vocab), 2, 4, 4)
    model = nnlm.build_nnlm(cfg, 0, data.vocab)
    counts = np.asarray(data.vocab.counts, dtype=float) + 0.5
    assert torch.allclose(model.b.double(), torch.tensor(np.log(counts / counts.sum())), atol=1e-6)
    with pytest.raises(ValueError, match="vocab_size"):
        nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab) + 1, 2, 4, 4), 0, data.vocab)


def test_perplexity_is_exp_of_the_mean_negative_log_likelihood():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 4, 6), 0)
    with torch.no_grad():
        lp = model.log_probs(torch.from_numpy(data.X_val))  # (N, V)
        nll = -lp[torch.arange(len(data.y_val)), torch.from_numpy(data.y_val)].double().mean()
    assert nnlm.perplexity(model, data.X_val, data.y_val, batch_size=7) == pytest.approx(math.exp(float(nll)),
                                                                                         rel=1e-5)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        nnlm.perplexity(model, data.X_val[:0], data.y_val[:0])
    with pytest.raises(ValueError):
        nnlm.perplexity(model, data.X_val[:, :1], data.y_val)  # wrong context width
    with pytest.raises(ValueError):
        nnlm.perplexity(model, data.X_val + 100, data.y_val)  # ids outside the vocabulary


def _unigram_ppl(data):
    counts = Counter(data.y_train.tolist())
    total = sum(counts.values())
    return math.exp(-np.mean([math.log(counts[int(w)] / total) for w in data.y_val]))


def test_a_tiny_corpus_is_learnt_history_and_progress():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 8, 16, direct=True), seed=0)
    history, calls = [], []
    r = nnlm.train(model, data, epochs=40, lr=1e-2, batch_size=16, seed=0, max_seconds=0, history=history,
                   on_step=lambda done, total, info: calls.append((done, total, info)), device="cpu", eval_every=50)
    steps = [h for h in history if "loss" in h]
    assert r["steps"] == len(steps) == calls[-1][0] == calls[-1][1] == 40 * math.ceil(len(data.y_train) / 16)
    assert r["stopped_by"] == "epochs" and r["epochs"] == pytest.approx(40)
    assert np.mean([h["loss"] for h in steps[-10:]]) < 0.5 * np.mean([h["loss"] for h in steps[:10]])
    assert r["val_ppl"] < _unigram_ppl(data)
    # the grammar allows 3 subjects / 2 verbs / 3 objects: after "the" a model can't beat ~ those choices
    assert r["val_ppl"] < 2.5
    assert r["val_ppl"] == pytest.approx(nnlm.perplexity(model, data.X_val, data.y_val), rel=1e-6)
    assert [h["step"] for h in history if "val_ppl" in h][-1] == r["steps"]


def test_step_and_time_caps_stop_the_run():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 4, 4), seed=0)
    r = nnlm.train(model, data, epochs=5, max_steps=3, batch_size=8, max_seconds=0, device="cpu")
    assert r["steps"] == 3 and r["stopped_by"] == "steps" and r["examples"] == 24
    history = []
    r = nnlm.train(model, data, epochs=5, batch_size=8, max_seconds=1e-9, history=history, device="cpu",
                   optimizer="sgd", lr=0.1)
    assert r["steps"] == 1 and r["stopped_by"] == "time" and history[0]["step"] == 1


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"lr": 0}, {"batch_size": 0}, {"optimizer": "adam"},
                                    {"max_seconds": -1}, {"seed": -1}, {"max_steps": 0}])
def test_bad_training_settings_are_value_errors(kwargs):
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 4, 4), seed=0)
    with pytest.raises(ValueError):
        nnlm.train(model, data, device="cpu", **kwargs)


def test_model_and_data_must_match():
    data = _tiny_data()
    with pytest.raises(ValueError, match="vocabulary"):
        nnlm.train(nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab) + 1, 2, 4, 4)), data, device="cpu")
    with pytest.raises(ValueError, match="context"):
        nnlm.train(nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 3, 4, 4)), data, device="cpu")


def test_neighbours_are_cosine_sorted_and_exclude_the_word_and_specials():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 5, 4), seed=2)
    near = nnlm.neighbours(model, data.vocab, "cat", k=4)
    assert len(near) == 4
    words = [w for w, _s in near]
    assert "cat" not in words and not set(words) & set(nnlm.SPECIALS)
    sims = [s for _w, s in near]
    assert sims == sorted(sims, reverse=True)
    C = model.C.detach()
    i = data.vocab.stoi["cat"]
    for w, s in near:
        assert s == pytest.approx(float(F.cosine_similarity(C[i], C[data.vocab.stoi[w]], dim=0)), abs=1e-5)
    # brute force: nothing left out is more similar than the last one returned
    others = [w for w in data.vocab.words[3:] if w != "cat" and w not in words]
    best_other = max(float(F.cosine_similarity(C[i], C[data.vocab.stoi[w]], dim=0)) for w in others)
    assert best_other <= sims[-1] + 1e-6
    assert len(nnlm.neighbours(model, data.vocab, "cat", k=100)) == len(data.vocab) - 4
    with pytest.raises(ValueError, match="vocabulary"):
        nnlm.neighbours(model, data.vocab, "zebra")
    with pytest.raises(ValueError):
        nnlm.neighbours(model, data.vocab, "<UNK>")


def test_deterministic_per_seed_and_global_rng_untouched():
    data = _tiny_data()
    cfg = nnlm.NNLMConfig(len(data.vocab), 2, 4, 6, direct=True)
    state = torch.random.get_rng_state()
    runs = []
    for _run in range(2):
        model = nnlm.build_nnlm(cfg, seed=7, vocab=data.vocab)
        history = []
        nnlm.train(model, data, epochs=2, batch_size=8, seed=3, max_seconds=0, history=history, device="cpu")
        runs.append((model.state_dict(), [h["loss"] for h in history if "loss" in h]))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert runs[0][1] == runs[1][1]
    assert all(torch.equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    other = nnlm.build_nnlm(cfg, seed=8)
    assert not torch.equal(other.C, nnlm.build_nnlm(cfg, seed=7).C)
    torch.rand(5)  # moving the global RNG changes nothing
    assert torch.equal(nnlm.build_nnlm(cfg, seed=7).H, nnlm.build_nnlm(cfg, seed=7).H)


def test_make_data_without_held_out_trains_without_validation():
    data = nnlm.make_data(TINY, [], 2)
    assert data.y_val.size == 0 and data.X_val.shape == (0, 2)
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), 2, 3, 3), seed=0)
    r = nnlm.train(model, data, epochs=1, batch_size=4, max_seconds=0, device="cpu")
    assert r["val_ppl"] is None and r["steps"] == 4


def test_log_probs_of_is_the_mean_nll_row_by_row():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), data.context, 8, 16), 0, data.vocab)
    lp = nnlm.log_probs_of(model, data.X_val, data.y_val, batch_size=7)
    assert lp.shape == (data.y_val.size,)
    assert math.isclose(-float(lp.double().mean()), nnlm.mean_nll(model, data.X_val, data.y_val), rel_tol=1e-5)


def test_next_words_and_embedding_map():
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), data.context, 8, 16), 0, data.vocab)
    nnlm.train(model, data, epochs=30, lr=3e-2, batch_size=16, max_seconds=0, eval_every=0)
    read, top = nnlm.next_words(model, data.vocab, ["the", "cat", "sees", "the"], 3)
    assert read == ["sees", "the"] and len(top) == 3
    assert {w for w, _p in top} == {"fish", "milk", "seeds"}  # after "sees the": one of the three objects
    assert sum(p for _w, p in top) > 0.9
    read, _top = nnlm.next_words(model, data.vocab, [], 3)
    assert read == ["<s>", "<s>"]
    words, xy = nnlm.embedding_map(model, data.vocab, 5)
    assert len(words) == 5 and xy.shape == (5, 2) and not set(words) & set(nnlm.SPECIALS)
    with pytest.raises(ValueError):
        nnlm.next_words(model, data.vocab, ["the"], 0)


@pytest.mark.parametrize("direct", [False, True])
def test_scores_of_is_forward_restricted_to_the_rows(direct):
    data = _tiny_data()
    model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), data.context, 8, 16, direct), 0, data.vocab)
    X = torch.as_tensor(data.X_train[:5])
    rows = torch.tensor([4, 0, 7, 7, 2])
    assert torch.allclose(model.scores_of(X, rows), model(X)[:, rows], atol=1e-6)


def test_log_uniform_proposal_sums_to_one_and_favours_frequent_ids():
    s = nnlm.LogUniformSampler(1000, 64, torch.Generator().manual_seed(0), "cpu")
    assert math.isclose(float(s.q.double().sum()), 1.0, rel_tol=1e-6)
    assert bool((s.q[:-1] > s.q[1:]).all())
    assert torch.allclose(s.log_expected.exp(), 64 * s.q, rtol=1e-5)


def test_sampled_softmax_training_lowers_the_full_softmax_perplexity_deterministically():
    data = _tiny_data()
    results = []
    for _i in range(2):
        model = nnlm.build_nnlm(nnlm.NNLMConfig(len(data.vocab), data.context, 8, 16), 0, data.vocab)
        before = nnlm.perplexity(model, data.X_val, data.y_val)
        res = nnlm.train(model, data, epochs=40, lr=3e-2, batch_size=16, max_seconds=0, eval_every=0,
                         softmax_sample=4, seed=1)
        results.append(res["val_ppl"])
        assert res["val_ppl"] < before / 2  # evaluated with the full softmax
    assert results[0] == results[1]
    with pytest.raises(ValueError, match="softmax_sample"):
        nnlm.train(model, data, softmax_sample=-1)
