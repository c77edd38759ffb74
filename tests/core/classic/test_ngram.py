"""n-gram language models: every smoothing is a distribution, Kneser–Ney equals nltk, bad input."""
import itertools
import math

import pytest

from core.classic.ngram import (BOS, EOS, SCORES_ONLY, SMOOTHINGS, UNK, NGramConfig, NGramModel,
                                nltk_kneser_ney)

TEXT = [s.split() for s in [
    "the cat sat on the mat", "the dog sat on the log", "a cat saw the dog", "the cat ate",
    "dog and cat sat", "the mat sat", "a dog ate the cat",
]]


def model(n, smoothing, **kw):
    return NGramModel.train(TEXT, NGramConfig(n, smoothing, **kw))


def contexts(m, extra=("zzz",)):
    """Every context of n-1 tokens over the vocabulary plus an unseen word (seen and unseen contexts)."""
    words = [w for w in m.vocab if w != EOS] + list(extra)
    return list(itertools.product(words, repeat=m.cfg.n - 1))


def kn_start_quirk(m, h):
    """nltk's Kneser–Ney overcounts after n-2 <s> (see the module docstring)."""
    n = m.cfg.n
    return n >= 3 and tuple(h[-(n - 2):]) == (BOS,) * (n - 2)


@pytest.mark.parametrize("smoothing", [s for s in SMOOTHINGS if s not in SCORES_ONLY])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("unk_cutoff", [1, 2])
def test_distribution_sums_to_one(smoothing, n, unk_cutoff):
    m = model(n, smoothing, unk_cutoff=unk_cutoff, k=0.5)
    checked = 0
    for h in contexts(m):
        dist = m.distribution(h)
        assert set(dist) == set(m.vocab) and UNK in dist and EOS in dist
        total = sum(dist.values())
        if smoothing == "mle" and m.ctx_total[n].get(m._context_ids(h)) is None:
            assert total == 0  # MLE has no distribution after an unseen context
        elif smoothing == "kneser_ney" and kn_start_quirk(m, h):
            assert 1 < total < 1 + m.cfg.discount
        else:
            assert total == pytest.approx(1, abs=1e-12)
            checked += 1
        assert all(p >= 0 for p in dist.values())
    assert checked > 0


def test_kneser_ney_start_quirk_is_nltks():
    """After the start context the excess is exactly d / (distinct first words) at the middle order."""
    m = model(3, "kneser_ney", unk_cutoff=1)
    first_words = {s[0] for s in TEXT}
    total = sum(m.distribution(("cat", BOS)).values())  # (cat, <s>) never seen: the middle order alone
    assert total == pytest.approx(1 + m.cfg.discount / len(first_words), abs=1e-12)


@pytest.mark.parametrize("smoothing", list(SMOOTHINGS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_distribution_matches_prob(smoothing, n):
    m = model(n, smoothing, unk_cutoff=1)
    for h in contexts(m)[::7]:
        dist = m.distribution(h)
        for w in m.vocab:
            assert dist[w] == pytest.approx(m.prob(w, h), abs=1e-12)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("unk_cutoff", [1, 2])
def test_kneser_ney_equals_nltk(n, unk_cutoff):
    m = model(n, "kneser_ney", unk_cutoff=unk_cutoff)
    ref = nltk_kneser_ney(TEXT, n, discount=0.75, unk_cutoff=unk_cutoff)
    compared = 0
    for h in contexts(m):
        for w in m.vocab + ["zzz"]:
            expected = ref.score(w, list(h))
            ours = m.prob(w, h)
            if expected > 0:
                assert ours == pytest.approx(expected, abs=1e-9, rel=0)
                compared += 1
            else:
                assert ours == 0  # where nltk is not finite we are not either
    assert compared > 100


def test_stupid_backoff_equals_nltk():
    from nltk.lm import StupidBackoff, Vocabulary
    from nltk.lm.preprocessing import padded_everygram_pipeline
    train, vocab_text = padded_everygram_pipeline(3, TEXT)
    ref = StupidBackoff(alpha=0.4, order=3, vocabulary=Vocabulary(unk_cutoff=1))
    ref.fit(train, vocab_text)
    m = model(3, "stupid_backoff", unk_cutoff=1)
    for h in contexts(m)[::3]:
        for w in m.vocab:
            assert m.prob(w, h) == pytest.approx(ref.score(w, list(h)), abs=1e-12)


def test_add_k_by_hand():
    m = model(2, "add_k", k=0.5, unk_cutoff=1)
    V = len(set(w for s in TEXT for w in s)) + 3  # words + <s>, </s>, <UNK>
    assert len(m.vocab) == V
    c_the_cat = sum(" ".join(s).count("the cat") for s in TEXT)  # 3
    c_the = sum(s.count("the") for s in TEXT)  # every "the" is followed by a word
    assert m.prob("cat", ("the",)) == pytest.approx((c_the_cat + 0.5) / (c_the + 0.5 * V))
    assert m.prob("ate", ("the",)) == pytest.approx(0.5 / (c_the + 0.5 * V))
    assert m.prob("cat", ("zzz",)) == pytest.approx(0.5 / (0 + 0.5 * V))  # <UNK> context never seen


def test_mle_unseen_ngram_gives_infinite_perplexity():
    m = model(2, "mle", unk_cutoff=1)
    assert math.isfinite(m.perplexity([["the", "cat", "sat"]]))
    assert m.perplexity([["the", "cat", "log"]]) == math.inf  # "cat log" never seen
    assert m.perplexity([["zebra"]]) == math.inf  # an unseen-word-only sentence
    for smoothing in ("add_k", "good_turing", "absolute", "kneser_ney"):
        assert math.isfinite(model(2, smoothing).perplexity([["the", "cat", "log"], ["zebra"]]))


@pytest.mark.parametrize("smoothing", list(SMOOTHINGS))
def test_perplexity_is_mean_of_steps(smoothing):
    m = model(3, smoothing)
    held = [["the", "cat", "sat", "on", "a", "log"], ["dog", "ate"]]
    steps = [st for s in held for st in m.sentence_steps(s)]
    assert len(steps) == sum(len(s) + 1 for s in held) and steps[-1]["word"] == EOS
    expected = 2 ** (sum(st["neg_log2_p"] for st in steps) / len(steps))
    assert m.perplexity(held) == pytest.approx(expected)
    first = steps[0]
    assert first["context"] == (BOS, BOS) and first["word"] == "the" and first["count"] == 4
    assert first["order"] == 3 and first["context_count"] == len(TEXT)


@pytest.mark.parametrize("smoothing", list(SMOOTHINGS))
def test_unigram_perplexity(smoothing):
    m = model(1, smoothing, unk_cutoff=1)
    held = [["the", "cat"], ["dog"]]
    steps = [st for s in held for st in m.sentence_steps(s)]
    assert all(st["context"] == () for st in steps)
    assert m.perplexity(held) == pytest.approx(2 ** (sum(st["neg_log2_p"] for st in steps) / len(steps)))


def test_good_turing_discounts():
    m = model(2, "good_turing")
    assert all(0 < d <= c for c, d in m.gt_discount.items())


def test_counts_table():
    m = model(2, "mle")
    rows = m.counts_table(2, top=3)
    assert rows[0]["ngram"] == (BOS, "the") and rows[0]["count"] == 4
    assert rows[0]["mle"] == pytest.approx(4 / len(TEXT))
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    with pytest.raises(ValueError):
        m.counts_table(3)


@pytest.mark.parametrize("smoothing", list(SMOOTHINGS))
def test_sampling_is_deterministic(smoothing):
    m = model(3, smoothing, unk_cutoff=1)
    a = m.sample(("the",), length=15, seed=3)
    assert a == m.sample(("the",), length=15, seed=3)
    assert len(a) == 15 and BOS not in a and set(a) <= set(m.vocab)
    assert any(m.sample((), length=15, seed=s) != a for s in range(5))


@pytest.mark.parametrize("bad", [
    dict(sentences=TEXT, n=0), dict(sentences=TEXT, n=50), dict(sentences=[], n=2),
    dict(sentences=[[], []], n=2), dict(sentences=[["word"]], n=2), dict(sentences=TEXT, n=2, smoothing="magic"),
    dict(sentences=TEXT, n=2, k=0), dict(sentences=TEXT, n=2, discount=1.5), dict(sentences=TEXT, n=2, unk_cutoff=0),
])
def test_bad_input(bad):
    bad = dict(bad)
    sentences = bad.pop("sentences")
    bad.setdefault("smoothing", "kneser_ney")
    with pytest.raises(ValueError):
        NGramModel.train(sentences, NGramConfig(**bad))


def test_bad_sample_length():
    with pytest.raises(ValueError):
        model(2, "add_k").sample((), length=0)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_with_smoothing_equals_a_model_trained_with_that_smoothing(n):
    base = model(n, "mle", unk_cutoff=1)
    held = [s.split() for s in ["the cat sat on the log", "a dog saw the mat", "zebra cat"]]
    for smoothing in SMOOTHINGS:
        cfg = NGramConfig(n, smoothing, k=0.5, discount=0.6, alpha=0.3, unk_cutoff=1)
        fresh, shared = NGramModel.train(TEXT, cfg), base.with_smoothing(cfg)
        assert shared.counts is base.counts  # nothing counted again
        for s in held:
            a, b = fresh.sentence_steps(s), shared.sentence_steps(s)
            assert [x["p"] for x in a] == pytest.approx([x["p"] for x in b], abs=1e-15)
        assert fresh.perplexity(held) == pytest.approx(shared.perplexity(held), rel=1e-12) or math.isinf(
            fresh.perplexity(held)) and math.isinf(shared.perplexity(held))
    with pytest.raises(ValueError, match="n and unk_cutoff"):
        base.with_smoothing(NGramConfig(n + 1, "kneser_ney", unk_cutoff=1))
