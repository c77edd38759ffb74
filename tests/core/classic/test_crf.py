"""Unit tests for core.classic.crf: the feature templates on hand-made cases, the CRF's probabilities
against brute force over every tag sequence (score = sum of the weights of the features that fire),
Viterbi = the best sequence, determinism, checkpoints, the input checks, and (slow) the shipped
models' scores on the fixed test split and the `seconds` budget."""
import itertools
import math
import time

import numpy as np
import pycrfsuite
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.classic import corpus, crf, metrics
from core.classic.crf import CRFConfig, CRFSegmenter, CRFTagger

from tests.core.classic.tiny import S_
from tests.core.classic.tiny import TINY as _TINY

TINY = [*_TINY,  # and one more sentence for the CRF
    S_(("我们", "在", "北京", "参观", "了", "商品", "展览", "。"), ("r", "p", "ns", "v", "u", "n", "vn", "w")),
]


@pytest.fixture(scope="module")
def small():
    """The first 300 training sentences of People's Daily (reading the corpus takes ~0.4 s)."""
    return corpus.train_test()[0][:300]


@pytest.fixture(scope="module")
def seg_lbfgs(small):
    """A small CRF proper (L-BFGS): its marginals are real probabilities."""
    return CRFSegmenter.train(small, algorithm="lbfgs", max_iterations=30, isolate=False)


@pytest.fixture(scope="module")
def seg_ap(small):
    return CRFSegmenter.train(small, max_iterations=3, isolate=False)


# ---------------------------------------------------------------------------------------------
# templates
# ---------------------------------------------------------------------------------------------
def test_normalize_and_character_types():
    assert crf.normalize("1998年ABC,") == "１９９８年ＡＢＣ，"
    assert [crf.char_type(c) for c in "1１a Ｚ九〇中，。"] == ["D", "D", "L", "P", "L", "N", "N", "C", "P", "P"]


def test_dictionary_matches_by_hand():
    d = {"中国", "国人", "中国人"}
    # 中: starts 中国人 (3); 国: starts 国人, ends 中国, inside 中国人; 人: ends 中国人
    assert crf.dictionary_matches("中国人", d) == [(3, 0, 0), (2, 2, 3), (0, 3, 0)]
    assert crf.dictionary_matches("我", d) == [(0, 0, 0)]
    assert crf.dictionary_matches("中国人", d, max_len=2) == [(2, 0, 0), (2, 2, 0), (0, 2, 0)]


def test_char_attributes_as_documented():
    attrs = crf.char_attributes("中国", {"中国"})
    assert attrs[0] == ["c-1=<s>", "c0=中", "c1=国", "c-1c0=<s>中", "c0c1=中国", "c-1c1=<s>国", "type=^CC",
                        "dict=s2e0i0"]
    assert attrs[1][:3] == ["c-1=中", "c0=国", "c1=</s>"] and attrs[1][-1] == "dict=s0e2i0"
    wide = crf.char_attributes("中国", None, window=2)[0]
    assert "c-2=<s>" in wide and "c1c2=国</s>" in wide and not any(a.startswith("dict=") for a in wide)


def test_word_attributes_hide_the_name_tags():
    attrs = crf.word_attributes(["在", "北京", "工作"], ["p", "ns", "v"])
    assert attrs[1] == ["w=北京", "w-1=在", "w1=工作", "first=北", "last=京", "prefix2=北京", "suffix2=北京",
                        "len=2", "type=C", "last-1=在", "first1=工", "pos=n", "pos-1=p", "pos1=v", "pos3=p|n|v"]
    assert not any(a.startswith("pos") for a in crf.word_attributes(["北京"])[0])
    assert [crf.ner_pos(t) for t in ("nr", "ns", "nt", "nz", "v")] == ["n", "n", "n", "nz", "v"]


def test_dictionary_keeps_words_seen_twice():
    d = crf.build_dictionary(TINY, min_count=2)
    assert d == frozenset({"我们", "参观", "北京", "商品"})


# ---------------------------------------------------------------------------------------------
# the model: probabilities and Viterbi against brute force
# ---------------------------------------------------------------------------------------------
def _dump(model):
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model.model)
    return tagger.info()


def brute_force(model, xseq):
    """p(y | x) of every label sequence from the dumped weights: score(y) = sum over positions of
    the state weights (attribute, y_t) + the transition weights (y_{t-1}, y_t)."""
    info = _dump(model)  # pycrfsuite's own reading of the weights
    state, trans = info.state_features, info.transitions
    labels = model.labels
    scores = {}
    for ys in itertools.product(labels, repeat=len(xseq)):
        s = sum(state.get((a, y), 0.0) for attrs, y in zip(xseq, ys) for a in attrs)
        s += sum(trans.get((a, b), 0.0) for a, b in zip(ys, ys[1:]))
        scores[ys] = s
    top = max(scores.values())
    log_z = top + math.log(sum(math.exp(v - top) for v in scores.values()))
    return {ys: math.exp(v - log_z) for ys, v in scores.items()}


@pytest.mark.parametrize("text", ["研究生命", "他说的确", "１９９８年"])
def test_marginals_and_viterbi_equal_brute_force(seg_lbfgs, text):
    probs = brute_force(seg_lbfgs, seg_lbfgs.attributes(text))
    assert sum(probs.values()) == pytest.approx(1.0)
    out = seg_lbfgs.tag_marginals(text)
    labels = out["states"]
    expected = np.zeros((len(text), len(labels)))  # (T, L)
    for ys, p in probs.items():
        for t, y in enumerate(ys):
            expected[t, labels.index(y)] += p
    assert out["probabilities"].shape == (len(text), len(labels))
    assert np.allclose(out["probabilities"], expected, atol=1e-6)
    assert np.allclose(out["probabilities"].sum(axis=1), 1.0)
    assert tuple(out["viterbi"]) == max(probs, key=probs.get)
    assert "".join(out["words"]) == text


@pytest.mark.parametrize("fixture", ["seg_ap", "seg_lbfgs"])
def test_weights_read_from_the_file_equal_pycrfsuites(fixture, request):
    model = request.getfixturevalue(fixture)
    info = _dump(model)
    assert model.transitions() == pytest.approx(info.transitions)
    everything = model.top_features(10_000)
    assert len(everything) == min(10_000, len(info.state_features))
    # the dump prints weights with 6 decimals
    assert all(info.state_features[(a, lab)] == pytest.approx(w, abs=1e-6) for a, lab, w in everything)
    best = max(info.state_features.values())
    assert everything[0][2] == pytest.approx(best)
    assert model.top_features(1, negative=True)[0][2] == pytest.approx(min(info.state_features.values()))
    assert model.info.features == len(info.state_features) + len(info.transitions)


def test_transition_matrix_and_top_features(seg_ap):
    labels, m = seg_ap.transition_matrix()
    assert set(labels) == set(corpus.BMES) and m.shape == (4, 4)
    trans = seg_ap.transitions()
    assert all(m[labels.index(a), labels.index(b)] == w for (a, b), w in trans.items())
    top = seg_ap.top_features(10)
    assert len(top) == 10 and all(a[2] >= b[2] for a, b in zip(top, top[1:]))
    s_only = seg_ap.top_features(5, label="S", template="c0")
    assert all(lab == "S" and attr.startswith("c0=") for attr, lab, _w in s_only)
    low = seg_ap.top_features(5, negative=True)
    assert all(a[2] <= b[2] for a, b in zip(low, low[1:])) and low[0][2] <= top[-1][2]
    with pytest.raises(ValueError, match="Unknown tag"):
        seg_ap.top_features(5, label="X")


def test_segmentation_keeps_every_character(seg_ap):
    text = "他说的确实在理。 我们  参观了 1998年的展览"
    words = seg_ap.segment(text)
    assert "".join(words) == "".join(text.split())
    assert [ch for ch, _tag in seg_ap.tags(text)] == list("".join(text.split()))
    feats = seg_ap.features("中国")
    assert feats[0][0] == "中" and "c0=中" in feats[0][1]


def test_training_is_deterministic(small):
    a = CRFSegmenter.train(small[:100], max_iterations=3, seed=5, isolate=False)
    b = CRFSegmenter.train(small[:100], max_iterations=3, seed=5, isolate=False)
    assert a.model == b.model and a.info.iterations == 3 and a.info.features > 0
    isolated = CRFSegmenter.train(small[:100], max_iterations=3, seed=5)  # in a child process
    assert isolated.model == a.model
    assert [h["loss"] for h in isolated.info.history] == [h["loss"] for h in a.info.history]
    assert [h["iteration"] for h in a.info.history] == [1, 2, 3]


@pytest.mark.parametrize("isolate", [False, True])
def test_an_exception_in_on_step_stops_training_cleanly(small, isolate):
    """What the page's Stop button does: the exception reaches the caller and training still works."""
    class Stop(Exception):
        pass

    seen = []

    def on_step(done, total, info=None):
        seen.append((done, total, info["phase"]))
        if info["phase"] == "train" and done == 2:
            raise Stop

    with pytest.raises(Stop):
        CRFSegmenter.train(small[:100], max_iterations=5, on_step=on_step, isolate=isolate)
    assert seen[-1] == (2, 5, "train")
    assert CRFSegmenter.train(small[:100], max_iterations=2, isolate=isolate).info.iterations == 2


def test_taggers_on_a_tiny_corpus():
    pos = CRFTagger.train(TINY, kind="pos", algorithm="lbfgs", max_iterations=50)
    assert pos.tag(["我们", "参观", "了", "北京", "。"]) == ["r", "v", "u", "ns", "w"]
    ner = CRFTagger.train(TINY, kind="ner", algorithm="lbfgs", max_iterations=50)
    assert set(ner.labels) <= {"O", "B-PER", "I-PER", "B-LOC", "B-ORG"}
    words, pos_tags = ["江", "泽民", "参观", "了", "北京"], ["nr", "nr", "v", "u", "ns"]
    assert ner.entities(words, pos_tags) == [("江泽民", "PER"), ("北京", "LOC")]
    out = ner.tag_marginals(words, pos_tags)
    assert out["probabilities"].shape == (5, len(ner.labels))
    assert np.allclose(out["probabilities"].sum(axis=1), 1.0)
    # the name tags are hidden from NER: nr / ns / nt and n give the same answer
    assert ner.tag(words, pos_tags) == ner.tag(words, ["n", "n", "v", "u", "n"])


def test_save_and_load_round_trip(tmp_path, seg_ap):
    folder = seg_ap.save(tmp_path / "seg", scores={"F1": 0.5}, command="python x.py")
    assert {p.name for p in folder.iterdir()} == {"model.crfsuite", "config.json", "training.json", "README.md",
                                                 "dictionary.txt"}
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "| F1 | 0.5000 |" in card and "python x.py" in card
    back = CRFSegmenter.load(folder)
    assert back.config == seg_ap.config and back.info == seg_ap.info and back.dictionary == seg_ap.dictionary
    text = "他说的确实在理，研究生命起源。"
    assert back.segment(text) == seg_ap.segment(text)
    with pytest.raises(ValueError, match="not a CRF checkpoint"):
        CRFSegmenter.load(tmp_path / "nothing")
    with pytest.raises(ValueError, match="holds a seg model"):
        CRFTagger.load(folder)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def test_bad_text_raises(seg_ap):
    for bad in ("", "   ", "Hello world, no Chinese", None, 42):
        with pytest.raises(ValueError):
            seg_ap.segment(bad)
    with pytest.raises(ValueError, match="limit"):
        seg_ap.segment("中" * (crf.MAX_SEGMENT_CHARS + 1))
    with pytest.raises(ValueError, match="limit"):
        seg_ap.tag_marginals("中" * (crf.MAX_MARGINAL_CHARS + 1))


def test_bad_training_input_raises():
    with pytest.raises(ValueError, match="no training sentences"):
        CRFSegmenter.train([])
    with pytest.raises(ValueError, match="more than one word"):
        CRFSegmenter.train([["没有空格的一句话"], ["另一句"]])
    with pytest.raises(ValueError, match="not as one string"):
        CRFSegmenter.train(["我 爱 北京"])
    with pytest.raises(ValueError, match="same tag"):
        CRFTagger.train([S_(("我", "爱"), ("x", "x"))], kind="pos")
    with pytest.raises(ValueError, match="L-BFGS"):
        CRFSegmenter.train(TINY, c1=0.1)
    with pytest.raises(ValueError, match="max_iterations"):
        CRFSegmenter.train(TINY, max_iterations=0)
    with pytest.raises(ValueError, match="algorithm"):
        CRFSegmenter.train(TINY, algorithm="sgd")
    with pytest.raises(ValueError, match="seconds"):
        CRFSegmenter.train(TINY, seconds=-1)
    with pytest.raises(ValueError, match="kind"):
        CRFTagger.train(TINY, kind="chunk")
    with pytest.raises(ValueError):
        CRFConfig(kind="seg", window=3)


def test_bad_tagger_input_raises():
    ner = CRFTagger.train(TINY, kind="ner", max_iterations=2)
    with pytest.raises(ValueError, match="pos="):
        ner.tag(["北京"])
    with pytest.raises(ValueError, match="one tag a word"):
        ner.tag(["北京", "上海"], ["ns"])
    with pytest.raises(ValueError, match="list"):
        ner.tag("北京", ["ns"])
    with pytest.raises(ValueError, match="no words"):
        ner.tag([], [])
    with pytest.raises(ValueError, match="too many"):
        ner.tag(["北京"] * (crf.MAX_TAG_WORDS + 1), ["ns"] * (crf.MAX_TAG_WORDS + 1))
    pos = CRFTagger.train(TINY, kind="pos", max_iterations=2)
    with pytest.raises(ValueError, match="NER model"):
        pos.entities(["北京"])


_HOSTILE = ["", " \n\t ", "\x00\x01", "😀🙃", "中\ud800文", "مرحبا Привет 中文", "\u200b\u202e中\u200d国",
            "中" * 50_000, "ａ１，。中", "中\u3000国"]
_MODELS = {}


def _tiny(kind):
    """Tiny models shared by the hypothesis tests (built once)."""
    if kind not in _MODELS:
        if kind == "seg":
            _MODELS[kind] = CRFSegmenter.train(TINY, max_iterations=2, isolate=False)
        else:
            _MODELS[kind] = CRFTagger.train(TINY, kind=kind, max_iterations=2, isolate=False)
    return _MODELS[kind]


def _segment_or_value_error(model, text):
    for fn in (model.segment, model.tags, model.tag_marginals, model.features):
        try:
            out = fn(text)
        except ValueError as e:
            assert str(e)
            continue
        if fn == model.segment:
            assert "".join(out) == "".join(text.split()) or len("".join(out)) <= len(text)
        if fn == model.tag_marginals:
            assert np.allclose(out["probabilities"].sum(axis=1), 1.0)


@pytest.mark.parametrize("text", _HOSTILE)
def test_hostile_text_gives_words_or_a_value_error(text):
    _segment_or_value_error(_tiny("seg"), text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_random_text_gives_words_or_a_value_error(text):
    _segment_or_value_error(_tiny("seg"), text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=6), max_size=8), st.lists(st.text(max_size=3), max_size=8))
def test_random_words_give_tags_or_a_value_error(words, pos):
    for kind in ("pos", "ner"):
        model = _tiny(kind)
        for fn in (model.tag, model.tag_marginals, model.features):
            try:
                out = fn(words, pos if kind == "ner" else None)
            except ValueError as e:
                assert str(e)
                continue
            assert len(out if fn != model.tag_marginals else out["viterbi"]) == len(words)


BAD_COUNTS = [-1, 0, 1.5, float("nan"), float("inf"), 10 ** 9, True, "3", None]
BAD_AMOUNTS = [-1, 0, float("nan"), float("inf"), -float("inf"), True, "3"]


@pytest.mark.parametrize("bad", BAD_COUNTS)
def test_hostile_counts_raise_value_error(bad):
    with pytest.raises(ValueError):
        CRFSegmenter.train(TINY, max_iterations=bad, isolate=False)
    with pytest.raises(ValueError):
        _tiny("seg").top_features(bad)


@pytest.mark.parametrize("bad", BAD_AMOUNTS)
def test_hostile_amounts_raise_value_error(bad):
    with pytest.raises(ValueError):
        CRFSegmenter.train(TINY, seconds=bad, isolate=False)
    if bad != 0:  # c2 = 0 is allowed (no L2)
        with pytest.raises(ValueError):
            CRFSegmenter.train(TINY, algorithm="lbfgs", c2=bad, isolate=False)


# ---------------------------------------------------------------------------------------------
# slow: the time budget, and the shipped models on the fixed test split
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_seconds_budget_cuts_the_passes():
    train = corpus.train_test()[0][:1500]
    t0 = time.perf_counter()
    model = CRFSegmenter.train(train, algorithm="lbfgs", max_iterations=500, seconds=3)
    elapsed = time.perf_counter() - t0
    assert 1 <= model.info.iterations < 500
    assert elapsed < 10  # 3 s asked; generous for a busy shared CPU
    # a budget too small for all the sentences: features stop at half of it, on fewer sentences
    t0 = time.perf_counter()
    model = CRFSegmenter.train(corpus.train_test()[0][:8000], seconds=2)
    assert model.info.sentences < 8000 and model.info.iterations >= 1
    assert time.perf_counter() - t0 < 8


def _shipped(kind):
    if not (crf.SHIPPED[kind] / crf.MODEL_FILE).exists():
        pytest.skip(f"no shipped {kind} CRF (run scripts/train_classic_crf.py)")
    return crf.load_shipped(kind)


@pytest.mark.slow
def test_shipped_segmenter_beats_the_target():
    t0 = time.perf_counter()
    model = _shipped("seg")
    assert time.perf_counter() - t0 < 3  # "loads instantly"
    test = corpus.train_test()[1]
    gold = [s.words for s in test]
    f1 = metrics.segmentation_prf(gold, [model.segment_clean(s.text) for s in test]).f1
    assert f1 >= 0.96
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(60)
    assert f1 >= metrics.segmentation_prf(gold, [jieba.lcut(s.text) for s in test]).f1 + 0.05


@pytest.mark.slow
def test_shipped_pos_tagger_beats_the_target():
    model, test = _shipped("pos"), corpus.train_test()[1]
    pred = [model.tag(list(s.words)) for s in test]
    assert metrics.accuracy([list(s.tags) for s in test], pred) >= 0.95


@pytest.mark.slow
def test_shipped_ner_beats_the_target():
    model, test = _shipped("ner"), corpus.train_test()[1]
    gold = [corpus.entities(corpus.ner_bio(s)[1]) for s in test]
    pred = [corpus.entities(model.tag(list(s.words), list(s.tags))) for s in test]
    assert metrics.entity_prf(gold, pred).f1 >= 0.85
