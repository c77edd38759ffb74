"""core.sequence.sentlm: the lineage's LSTM and tiny GPT — same predictions as the n-grams, exact
probabilities (full and adaptive softmax), causality, windows, training, determinism."""
import math

import numpy as np
import pytest
import torch

from core.classic import ngram
from core.embeddings import nnlm
from core.sequence import sentlm

pytestmark = pytest.mark.usefixtures("one_thread")


def _corpus():
    subjects, verbs, objects = ["cat", "dog", "bird"], ["sees", "likes"], ["fish", "milk", "seeds"]
    return [["the", s, v, "the", o] for s in subjects for v in verbs for o in objects] * 4


def _model(arch, vocab, **kw):
    cfg = sentlm.SentLMConfig(arch=arch, vocab_size=len(vocab), embed_dim=16, hidden=24, n_layers=2, n_head=2,
                              max_len=8, **kw)
    return sentlm.build_sentlm(cfg, 0, vocab)


@pytest.mark.parametrize("arch", ["lstm", "gpt"])
@pytest.mark.parametrize("cutoffs", [(), (4, 8)])
def test_distributions_sum_to_one_and_nll_matches_them(arch, cutoffs):
    vocab = nnlm.Vocab.build(_corpus())
    model = _model(arch, vocab, cutoffs=cutoffs)
    assert (model.out is not None) == bool(cutoffs)
    x = torch.tensor([[0, 3, 4, 5, 6], [0, 5, 4, 3, 1]])  # (B, T)
    logp = model(x)  # (B, T, |V|)
    assert logp.shape == (2, 5, len(vocab))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 5), atol=1e-5)
    h = model.hidden_states(x).reshape(-1, 16)  # (B*T, E)
    y = torch.tensor([3, 4, 5, 6, 1, 5, 4, 3, 1, 2])
    nll = model.nll(h, y)  # (B*T,)
    assert torch.allclose(nll, -logp.reshape(-1, len(vocab))[torch.arange(10), y], atol=1e-5)


@pytest.mark.parametrize("arch", ["lstm", "gpt"])
def test_causal_a_prediction_never_reads_the_future(arch):
    vocab = nnlm.Vocab.build(_corpus())
    model = _model(arch, vocab)
    a = torch.tensor([[0, 3, 4, 5, 6, 7]])
    b = torch.tensor([[0, 3, 4, 8, 9, 1]])  # same first three tokens
    assert torch.allclose(model(a)[0, :3], model(b)[0, :3], atol=1e-6)
    assert not torch.allclose(model(a)[0, 3:], model(b)[0, 3:])


def test_untrained_model_is_the_unigram_model():
    """The output bias starts at the log unigram frequencies: with small weights the first prediction is
    close to them (full softmax) and, adaptive, the head's cluster masses are the clusters' frequencies."""
    vocab = nnlm.Vocab.build(_corpus())
    counts = np.asarray(vocab.counts, dtype=float) + 0.5
    logp = np.log(counts / counts.sum())
    for cutoffs in ((), (4, 8)):
        model = _model("gpt", vocab, cutoffs=cutoffs)
        out = model(torch.tensor([[0]]))[0, 0].detach().numpy()
        if not cutoffs:
            assert np.abs(out - logp).max() < 0.3  # logit noise: LayerNorm output · N(0, 0.02²) rows
        else:  # the head's words, then each cluster's total mass (a cluster's words start near-uniform)
            assert np.abs(out[:4] - logp[:4]).max() < 0.2
            for a, b in ((4, 8), (8, len(vocab))):
                assert abs(np.logaddexp.reduce(out[a:b]) - np.logaddexp.reduce(logp[a:b])) < 0.2


@pytest.mark.parametrize("arch", ["lstm", "gpt"])
def test_perplexity_counts_the_same_predictions_as_the_ngram_models(arch):
    corpus = _corpus()
    vocab = nnlm.Vocab.build(corpus, min_count=2)
    model = _model(arch, vocab)
    held = [["the", "cat", "sees", "a", "zebra"], ["the", "dog"], []]
    framed = sentlm.frame(vocab, held)
    total, n = sentlm._scored(model, framed)
    assert n == sum(len(s) + 1 for s in held if s)  # every token and one </s> per sentence, no <s>
    rows = [r for s in held if s for r in sentlm.token_logprobs(model, vocab, s)]
    assert len(rows) == n and [r["token"] for r in rows[:6]] == ["the", "cat", "sees", "<UNK>", "<UNK>", "</s>"]
    assert math.isclose(-sum(r["logprob"] for r in rows), total, rel_tol=1e-5)
    assert math.isclose(sentlm.perplexity(model, vocab, held), math.exp(total / n), rel_tol=1e-9)
    # the n-gram model on the mapped text scores the same number of predictions
    lm = ngram.NGramModel.train(vocab.map_sentences(corpus), ngram.NGramConfig(2, "kneser_ney", unk_cutoff=1))
    assert len([st for s in vocab.map_sentences(held) if s for st in lm.sentence_steps(s)]) == n


def test_windows_score_every_target_once_with_half_a_window_of_context():
    for n_tokens, max_len in ((5, 8), (9, 8), (30, 8), (31, 7), (100, 64)):
        ids = np.arange(n_tokens + 2)
        wins = sentlm._windows(ids, max_len)
        scored = []
        for k, (start, first) in enumerate(wins):
            stop = min(start + max_len, len(ids) - 1)
            assert 0 <= start <= first < stop and stop - start <= max_len
            if k:
                assert first - start >= max_len // 2
            scored.extend(range(first, stop))
        assert scored == list(range(len(ids) - 1))


def test_gpt_long_sentence_is_scored_in_windows_with_finite_perplexity():
    vocab = nnlm.Vocab.build(_corpus())
    model = _model("gpt", vocab)  # max_len 8
    long = [["the", "cat", "sees", "the", "fish"] * 5]
    rows = sentlm.token_logprobs(model, vocab, long[0])
    assert len(rows) == 26
    assert math.isfinite(sentlm.perplexity(model, vocab, long))


@pytest.mark.parametrize("arch", ["lstm", "gpt"])
def test_training_lowers_held_out_perplexity_and_is_deterministic(arch):
    corpus = _corpus()
    vocab = nnlm.Vocab.build(corpus)
    runs = []
    for _i in range(2):
        model = _model(arch, vocab)
        before = sentlm.perplexity(model, vocab, corpus[:12])
        history = []
        res = sentlm.train(model, vocab, corpus, corpus[:12], max_steps=60, max_seconds=0, lr=1e-2, batch_size=8,
                           seed=3, history=history)
        runs.append((res["val_ppl"], [h["loss"] for h in history if "loss" in h]))
        assert res["steps"] == 60 and res["stopped_by"] == "steps" and res["params"] == sentlm.count_params(model)
        assert res["val_ppl"] < before / 2
        assert any("val_ppl" in h for h in history)
    assert runs[0] == runs[1]
    # the corpus's first word after "the" is one of 3 subjects or 3 objects: perplexity far below |V|
    assert runs[0][0] < 4


def test_bad_inputs_raise_value_errors_with_a_fix():
    vocab = nnlm.Vocab.build(_corpus())
    with pytest.raises(ValueError, match="architecture"):
        sentlm.SentLMConfig(arch="rnn")
    with pytest.raises(ValueError, match="divisible"):
        sentlm.SentLMConfig(arch="gpt", embed_dim=30, n_head=4)
    with pytest.raises(ValueError, match="cutoffs"):
        sentlm.SentLMConfig(cutoffs=(10, 5))
    with pytest.raises(ValueError, match="vocab_size"):
        sentlm.build_sentlm(sentlm.SentLMConfig(vocab_size=50), 0, vocab)
    model = _model("lstm", vocab)
    with pytest.raises(ValueError, match="no training sentences"):
        sentlm.train(model, vocab, [[]], max_steps=1)
    with pytest.raises(ValueError, match="not a string"):
        sentlm.train(model, vocab, ["the cat"], max_steps=1)
    with pytest.raises(ValueError, match="empty"):
        sentlm.perplexity(model, vocab, [[]])
    with pytest.raises(ValueError, match="empty"):
        sentlm.token_logprobs(model, vocab, [])
    with pytest.raises(ValueError, match="learning|lr"):
        sentlm.train(model, vocab, _corpus(), lr=float("nan"))
    other = nnlm.Vocab.build([["x", "y"]])
    with pytest.raises(ValueError, match="vocabulary"):
        sentlm.perplexity(model, other, [["x"]])


def test_config_round_trips_through_json():
    cfg = sentlm.SentLMConfig(arch="gpt", vocab_size=100, cutoffs=[20, 50])
    import json
    assert sentlm.SentLMConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert cfg.active_cutoffs == (20, 50)
    assert sentlm.SentLMConfig(vocab_size=30, cutoffs=(20, 50)).active_cutoffs == (20,)
