"""Unit tests for core.classic.hmm: probabilities that sum to 1, Viterbi and forward-backward against
brute force over every tag sequence, the textbook example, the B/M/E/S and B/I/O constraints, and
(slow) the three models trained on the fixed split of People's Daily."""
import itertools
import math
import time

import numpy as np
import pytest

from core.classic import corpus, hmm, metrics
from core.classic.hmm import HMM, HMMConfig, HMMSegmenter, HMMTagger

from tests.core.classic.tiny import S_, TINY  # noqa: F401 - S_ builds more sentences below


def assert_distributions(model: HMM):
    """pi, every row of A and every row of B (unknown column included) is a distribution."""
    S, V = len(model.states), len(model.config.symbols)
    assert model.pi.shape == (S,) and model.A.shape == (S, S) and model.B.shape == (S, V + 1)
    for table in (model.pi, model.A, model.B):
        assert np.all(table >= 0)
    assert model.pi.sum() == pytest.approx(1.0, abs=1e-12)
    for i, state in enumerate(model.states):
        assert model.A[i].sum() == pytest.approx(1.0, abs=1e-12), state
        assert model.B[i].sum() == pytest.approx(1.0, abs=1e-12), state
    assert np.all(model.B[:, -1] > 0)  # the unknown symbol is never impossible


def random_hmm(rng, S, V, constrained=False) -> HMM:
    """A random HMM; `constrained`: B/M/E/S-like forbidden transitions, starts and finals."""
    states = tuple("ABCD"[:S])
    forbidden, no_start, final = (), (), None
    if constrained:
        forbidden = tuple((a, b) for a in states for b in states if rng.random() < 0.3 and a != b)
        no_start = states[1:2]
        final = states[:1] + states[2:]  # the second state can't end
    cfg = HMMConfig(states, tuple(f"x{i}" for i in range(V)), forbidden=forbidden, no_start=no_start, final=final)
    pi = rng.dirichlet(np.ones(S)) * cfg.allowed_start
    A = rng.dirichlet(np.ones(S), size=S) * cfg.allowed_transitions
    B = rng.dirichlet(np.ones(V + 1), size=S)
    return HMM.from_tables(cfg, pi / pi.sum(), A / A.sum(axis=1, keepdims=True), B)


# ---------------------------------------------------------------------------------------------
# counting and smoothing
# ---------------------------------------------------------------------------------------------
def test_counts_with_add_k_by_hand():
    pairs = [("aab", "XXY"), ("ba", "YX")]  # starts X, Y; transitions X->X, X->Y, Y->X
    m = HMM.train(pairs, k=1.0)
    assert m.states == ("X", "Y") and m.config.symbols == ("a", "b")
    assert np.allclose(m.pi, [(1 + 1) / (2 + 2), (1 + 1) / (2 + 2)])
    assert np.allclose(m.A, [[(1 + 1) / (2 + 2), (1 + 1) / (2 + 2)], [(1 + 1) / (1 + 2), (0 + 1) / (1 + 2)]])
    # emissions over a, b, unknown: X emitted a three times; Y emitted b twice
    assert np.allclose(m.B, [[4 / 6, 1 / 6, 1 / 6], [1 / 5, 3 / 5, 1 / 5]])
    assert_distributions(m)


def test_rare_symbols_also_teach_the_unknown_column():
    pairs = [("aab", "XXY"), ("ac", "XY")]  # b and c are seen once, both as Y
    m = HMM.train(pairs, k=1.0, rare=1)
    # X: a 3 (+1), b 0 (+1), c 0 (+1), unknown 0 (+1) -> /7; Y: b 1, c 1, unknown 1 + 1 + ... k
    assert np.allclose(m.B[0], [4 / 7, 1 / 7, 1 / 7, 1 / 7])
    assert np.allclose(m.B[1], [1 / 8, 2 / 8, 2 / 8, 3 / 8])
    assert_distributions(m)


def test_forbidden_transitions_are_zero_and_rows_still_sum_to_one():
    m = HMM.train([("abc", "XYZ"), ("ca", "ZX")], k=0.5, forbidden=[("X", "X"), ("Z", "Y")], no_start=["Y"],
                  final=["X", "Z"])
    i = {s: n for n, s in enumerate(m.states)}
    assert m.A[i["X"], i["X"]] == 0 and m.A[i["Z"], i["Y"]] == 0 and m.pi[i["Y"]] == 0
    assert_distributions(m)


def test_segmenter_and_taggers_on_a_tiny_corpus_are_distributions_with_the_constraints():
    seg = HMMSegmenter.train(TINY)
    assert seg.hmm.states == corpus.BMES
    assert_distributions(seg.hmm)
    A, i = seg.hmm.A, {s: n for n, s in enumerate(corpus.BMES)}
    for a, b in hmm.BMES_FORBIDDEN:
        assert A[i[a], i[b]] == 0, (a, b)
    assert seg.hmm.pi[i["M"]] == 0 and seg.hmm.pi[i["E"]] == 0

    pos = HMMTagger.train(TINY)
    assert set(pos.hmm.states) == {t for s in TINY for t in s.tags}
    assert_distributions(pos.hmm)

    ner = HMMTagger.train_ner(TINY)
    assert set(ner.hmm.states) == {"O", "B-PER", "I-PER", "B-LOC", "B-ORG"}
    assert_distributions(ner.hmm)
    n = {s: j for j, s in enumerate(ner.hmm.states)}
    for s in ner.hmm.states:
        if s not in ("B-PER", "I-PER"):
            assert ner.hmm.A[n[s], n["I-PER"]] == 0, s
    assert ner.hmm.pi[n["I-PER"]] == 0


def test_training_is_deterministic_and_tables_are_read_only():
    a, b = HMMTagger.train(TINY), HMMTagger.train(TINY)
    assert a.hmm.config == b.hmm.config
    for name in ("pi", "A", "B"):
        assert np.array_equal(getattr(a.hmm, name), getattr(b.hmm, name))
        with pytest.raises(ValueError):
            getattr(a.hmm, name)[0] = 0.5  # shared (cached) models can't be changed by accident


# ---------------------------------------------------------------------------------------------
# Viterbi and forward-backward against brute force
# ---------------------------------------------------------------------------------------------
def test_textbook_viterbi_healthy_fever():
    """Wikipedia's Viterbi example: observations normal, cold, dizzy -> Healthy, Healthy, Fever, p = 0.01512."""
    cfg = HMMConfig(("Healthy", "Fever"), ("normal", "cold", "dizzy"))
    m = HMM.from_tables(cfg, [0.6, 0.4], [[0.7, 0.3], [0.4, 0.6]], [[0.5, 0.4, 0.1, 0.0], [0.1, 0.3, 0.6, 0.0]])
    tags, lp = m.viterbi(["normal", "cold", "dizzy"])
    assert tags == ["Healthy", "Healthy", "Fever"]
    assert math.exp(lp) == pytest.approx(0.01512)
    # p(x) by the forward algorithm, summed by hand over the 8 paths
    total = sum(math.exp(m.joint_log_prob(["normal", "cold", "dizzy"], list(y)))
                for y in itertools.product(cfg.states, repeat=3))
    assert math.exp(m.log_likelihood(["normal", "cold", "dizzy"])) == pytest.approx(total)


@pytest.mark.parametrize("constrained", [False, True])
def test_viterbi_and_posteriors_equal_brute_force(constrained):
    rng = np.random.default_rng(17 + constrained)
    checked = unique = 0
    for _trial in range(60):
        S, V, T = int(rng.integers(2, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 7))
        m = random_hmm(rng, S, V, constrained)
        obs = [f"x{int(v)}" for v in rng.integers(0, V + 1, size=T)]  # x{V} is unseen -> unknown column
        try:
            brute = m.brute_force(obs)
        except ValueError:  # the constraints leave no path for this length: viterbi must say so too
            with pytest.raises(ValueError):
                m.viterbi(obs)
            continue
        tags, lp = m.viterbi(obs)
        assert lp == pytest.approx(brute["log_prob"], abs=1e-9)
        assert m.joint_log_prob(obs, tags) == pytest.approx(lp, abs=1e-9)
        if brute["n_best"] == 1:  # (repeated symbols can make exact ties: then any best path is right)
            assert tags == brute["tags"]
            unique += 1
        post = m.posteriors(obs)
        assert post.shape == (T, S)
        assert np.allclose(post.sum(axis=1), 1.0, atol=1e-12)
        assert np.allclose(post, brute["posteriors"], atol=1e-9)
        assert m.log_likelihood(obs) == pytest.approx(brute["log_likelihood"], abs=1e-9)
        checked += 1
    assert checked >= 40 and unique >= 30


def test_trained_segmenter_viterbi_and_marginals_equal_brute_force():
    seg = HMMSegmenter.train(TINY)
    for text in ["北京天安门", "参观了", "江泽民说", "商品和服务", "新"]:
        obs = [hmm.full_width(c) for c in text]
        brute = seg.hmm.brute_force(obs)
        tags, lp = seg.hmm.viterbi(obs)
        assert brute["n_best"] == 1 and tags == brute["tags"] and lp == pytest.approx(brute["log_prob"], abs=1e-9)
        probs = seg.tag_probabilities(text)["probabilities"]
        assert np.allclose(probs.sum(axis=1), 1.0) and np.allclose(probs, brute["posteriors"], atol=1e-9)


def test_long_sequences_do_not_underflow():
    rng = np.random.default_rng(3)
    m = random_hmm(rng, 4, 6)
    obs = [f"x{int(v)}" for v in rng.integers(0, 7, size=5000)]
    post = m.posteriors(obs)
    assert np.all(np.isfinite(post)) and np.allclose(post.sum(axis=1), 1.0)
    tags, lp = m.viterbi(obs)
    assert len(tags) == 5000 and np.isfinite(lp) and lp < -1000  # raw probabilities would be 0.0
    assert lp <= m.log_likelihood(obs)


# ---------------------------------------------------------------------------------------------
# segmenting and tagging
# ---------------------------------------------------------------------------------------------
def test_segmenter_recovers_its_training_sentences_and_keeps_every_character():
    seg = HMMSegmenter.train(TINY * 3)
    for s in TINY[:4]:
        assert seg.segment(s.text) == list(s.words)
    text = "我们在１９９８年参观了北京，He said 好。"
    words = seg.segment(text)
    assert "".join(words) == "".join(text.split())
    pairs = seg.tags(text)
    allowed = {("B", "M"), ("B", "E"), ("M", "M"), ("M", "E"), ("E", "B"), ("E", "S"), ("S", "B"), ("S", "S")}
    for run in text.split():  # each whitespace-separated run is a valid B/M/E/S sequence
        tags = [t for _c, t in pairs[:len(run)]]
        pairs = pairs[len(run):]
        assert tags[0] in "BS" and tags[-1] in "ES"
        assert all(p in allowed for p in zip(tags, tags[1:]))


def test_ascii_is_read_as_full_width():
    assert hmm.full_width("1") == "１" and hmm.full_width("A") == "Ａ" and hmm.full_width("中") == "中"
    seg = HMMSegmenter.train([S_(("１９９８年", "好"), ("t", "a"))] * 3)
    assert seg.segment("1998年好") == ["1998年", "好"]


def test_tag_probabilities_for_display():
    seg = HMMSegmenter.train(TINY)
    out = seg.tag_probabilities("参观 北京")
    assert out["chars"] == list("参观北京") and out["states"] == corpus.BMES
    assert out["probabilities"].shape == (4, 4) and np.allclose(out["probabilities"].sum(axis=1), 1.0)
    assert out["words"] == seg.segment("参观 北京")
    assert len(out["viterbi"]) == 4


def test_taggers_tag_training_sentences_and_unknown_words():
    pos = HMMTagger.train(TINY * 2)
    assert pos.tag(list(TINY[0].words)) == list(TINY[0].tags)
    assert len(pos.tag(["从未", "见过", "的", "词"])) == 4  # unseen words use the unknown column
    ner = HMMTagger.train_ner(TINY * 2)
    assert ner.entities(list(TINY[1].words)) == {(0, 2, "PER"), (5, 6, "LOC")}
    assert ner.tag(list(TINY[3].words))[0] == "B-ORG"
    top = pos.hmm.top_symbols("nr", 3)
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]


@pytest.mark.parametrize("call", [
    lambda seg, tag: seg.segment(""),
    lambda seg, tag: seg.segment("   "),
    lambda seg, tag: seg.segment("Latin only, no Chinese here."),
    lambda seg, tag: seg.segment("中" * (hmm.MAX_SEGMENT_CHARS + 1)),
    lambda seg, tag: seg.tag_probabilities("中" * (hmm.MAX_PROBABILITY_CHARS + 1)),
    lambda seg, tag: tag.tag("一个字符串"),
    lambda seg, tag: tag.tag([]),
    lambda seg, tag: tag.tag(["词", ""]),
    lambda seg, tag: tag.tag(["词"] * (hmm.MAX_TAG_WORDS + 1)),
    lambda seg, tag: tag.hmm.viterbi([]),
    lambda seg, tag: tag.hmm.top_symbols("no-such-tag"),
    lambda seg, tag: tag.hmm.brute_force(["词"] * 12),
])
def test_bad_input_raises_value_error(call):
    seg, tag = HMMSegmenter.train(TINY), HMMTagger.train(TINY)
    with pytest.raises(ValueError):
        call(seg, tag)


@pytest.mark.parametrize("kwargs", [
    dict(pairs=[]),
    dict(pairs=[("", "")]),
    dict(pairs=[("ab", "X")]),
    dict(pairs=[("ab", "XY")], k=0),
    dict(pairs=[("ab", "XY")], k=-1.0),
    dict(pairs=[("ab", "XY")], rare=-1),
    dict(pairs=[("ab", "XY")], states=["X"]),
    dict(pairs=[("ab", "XY")], forbidden=[("X", "Q")]),
    dict(pairs=[("ab", "XY")], forbidden=[("X", "X"), ("X", "Y")]),
    dict(pairs=[3]),
])
def test_bad_training_input_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        HMM.train(**kwargs)


def test_bad_tables_raise_value_error():
    cfg = HMMConfig(("X", "Y"), ("a",), forbidden=(("X", "X"),))
    good = dict(pi=[0.5, 0.5], A=[[0.0, 1.0], [0.5, 0.5]], B=[[0.9, 0.1], [0.5, 0.5]])
    HMM.from_tables(cfg, **good)
    for name, bad in [("pi", [0.6, 0.6]), ("A", [[0.5, 0.5], [0.5, 0.5]]), ("B", [[1.0], [1.0]]),
                      ("B", [[1.1, -0.1], [0.5, 0.5]])]:
        with pytest.raises(ValueError):
            HMM.from_tables(cfg, **{**good, name: bad})
    with pytest.raises(ValueError):
        HMMSegmenter.train(["一个字符串"])  # a sentence must be a list of words


# ---------------------------------------------------------------------------------------------
# the fixed split (slow: reads the whole corpus and trains three models)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    train, test = corpus.train_test()
    t = time.perf_counter()
    models = HMMSegmenter.train(train), HMMTagger.train(train), HMMTagger.train_ner(train)
    return models, time.perf_counter() - t, train, test[:300]


@pytest.mark.slow
def test_trained_on_the_split_distributions_and_scores(trained):
    (seg, pos, ner), seconds, train, test = trained
    assert seconds < 60  # three models; each trains in about 1-3 s
    for model in (seg.hmm, pos.hmm, ner.hmm):
        assert_distributions(model)
    gold = [list(s.words) for s in test]
    pred = [seg.segment_clean(s.text) for s in test]
    f1 = metrics.segmentation_prf(gold, pred).f1
    assert 0.75 < f1 < 0.9, f1  # a character HMM: well below a CRF (about 0.81 on the whole test split)
    assert metrics.oov_recall(gold, pred, set(corpus.word_counts(train))) > 0.3
    assert metrics.accuracy([list(s.tags) for s in test], [pos.tag(s.words) for s in test]) > 0.9  # 0.94 in all
    e = metrics.entity_prf([corpus.entities(corpus.ner_bio(s)[1]) for s in test],
                           [ner.entities(s.words) for s in test])
    assert e.f1 > 0.85, e  # 0.93 on the whole test split (gold words make NER mostly a word lookup)


@pytest.mark.slow
def test_trained_segmenter_viterbi_equals_brute_force_on_short_real_text(trained):
    (seg, _pos, _ner), *_ = trained
    for text in ["结婚的和尚未结婚的", "研究生命起源", "他说的确实在理"]:
        obs = list(text[:7])  # 4 ** 7 = 16,384 tag sequences
        brute = seg.hmm.brute_force(obs)
        assert brute["n_best"] == 1
        assert seg.hmm.viterbi(obs) == (brute["tags"], pytest.approx(brute["log_prob"], abs=1e-9))
        assert np.allclose(seg.hmm.posteriors(obs), brute["posteriors"], atol=1e-9)
