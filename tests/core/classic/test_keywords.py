"""core.classic.keywords: TF / TF-IDF by hand, TextRank on toy graphs (PageRank vs power iteration),
new-word discovery on synthetic corpora (PMI and neighbour entropy by hand), bad input."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from core.classic import keywords as K

DOC = ["猫咪", "喜欢", "，", "猫咪", "的", "鱼干", "。", "我们", "喜欢", "猫咪", "abc", "2024", "猫咪"]


# ---------------------------------------------------------------------------------------------
# content words, TF, TF-IDF
# ---------------------------------------------------------------------------------------------
def test_content_word_rule():
    assert K.content_words(DOC) == ["猫咪", "喜欢", "猫咪", "鱼干", "喜欢", "猫咪", "猫咪"]
    # single characters, punctuation, Latin, digits and stop words are dropped
    for w in ["的", "，", "abc", "2024", "我们", "中a"]:
        assert not K.is_content_word(w)


def test_term_frequency_counts_content_words():
    rows = K.term_frequency(DOC, top=5)
    assert [(r["word"], r["count"]) for r in rows] == [("猫咪", 4), ("喜欢", 2), ("鱼干", 1)]
    assert rows[0]["tf"] == pytest.approx(4 / 7)
    assert sum(r["tf"] for r in rows) == pytest.approx(1.0)
    assert [r["word"] for r in K.term_frequency(DOC, top=1)] == ["猫咪"]


def test_tfidf_equals_hand_computation():
    idf = {"猫咪": 1.0, "鱼干": 6.0}  # 喜欢 is unknown -> default 2.5
    rows = K.tfidf(DOC, top=10, idf=idf, default_idf=2.5)
    # 7 content words: tf(猫咪)=4/7, tf(喜欢)=2/7, tf(鱼干)=1/7
    expected = {"猫咪": 4 / 7 * 1.0, "喜欢": 2 / 7 * 2.5, "鱼干": 1 / 7 * 6.0}
    assert {r["word"]: r["score"] for r in rows} == pytest.approx(expected)
    assert [r["word"] for r in rows] == ["鱼干", "喜欢", "猫咪"]  # 0.857 > 0.714 > 0.571
    assert {r["word"]: r["known"] for r in rows} == {"猫咪": True, "喜欢": False, "鱼干": True}


def test_tfidf_uses_jiebas_table_and_its_median():
    from core.classic import corpus

    table, median = corpus.jieba_idf()
    words = ["经济", "经济", "发展", "柯洛岚"]  # the last is not in jieba's table
    rows = {r["word"]: r for r in K.tfidf(words)}
    assert rows["经济"]["score"] == pytest.approx(2 / 4 * table["经济"])
    assert rows["发展"]["score"] == pytest.approx(1 / 4 * table["发展"])
    assert not rows["柯洛岚"]["known"] and rows["柯洛岚"]["idf"] == median


# ---------------------------------------------------------------------------------------------
# TextRank
# ---------------------------------------------------------------------------------------------
STAR = ["中心", "甲乙", "中心", "丙丁", "中心", "戊己", "中心", "庚辛"]


def test_cooccurrence_graph_by_hand():
    g = K.cooccurrence_graph(["甲乙", "丙丁", "甲乙", "的", "戊己"], window=3)
    # content sequence 甲乙 丙丁 甲乙 戊己: pairs within distance < 3, same word skipped
    assert dict(((a, b) if a < b else (b, a), d["weight"]) for a, b, d in g.edges(data=True)) == {
        tuple(sorted(("甲乙", "丙丁"))): 2, tuple(sorted(("丙丁", "戊己"))): 1, tuple(sorted(("甲乙", "戊己"))): 1}
    assert g.nodes["甲乙"]["count"] == 2


def test_textrank_scores_sum_to_one_and_hub_ranks_first():
    ranked, graph = K.textrank(STAR, window=2, top=10)
    assert ranked[0]["word"] == "中心" and ranked[0]["degree"] == 4
    assert sum(n["score"] for n in graph["nodes"]) == pytest.approx(1.0)
    assert all(r["score"] < ranked[0]["score"] for r in ranked[1:])
    assert set(graph["layout"]) == {n["word"] for n in graph["nodes"]}
    assert {(min(a, b), max(a, b)) for a, b, _w in graph["edges"]} == {
        (min("中心", w), max("中心", w)) for w in ["甲乙", "丙丁", "戊己", "庚辛"]}


def test_textrank_equals_power_iteration():
    words = ["经济", "发展", "改革", "经济", "开放", "改革", "发展", "人民", "经济"] * 2
    ranked, graph = K.textrank(words, window=3, top=10, damping=0.85)
    nodes = [n["word"] for n in graph["nodes"]]
    index = {w: i for i, w in enumerate(nodes)}
    W = np.zeros((len(nodes), len(nodes)))  # (n, n) symmetric edge weights
    for a, b, w in graph["edges"]:
        W[index[a], index[b]] = W[index[b], index[a]] = w
    M = W / W.sum(axis=0, keepdims=True)  # column-stochastic: j passes its score to its neighbours
    s = np.full(len(nodes), 1 / len(nodes))
    for _ in range(500):
        s = (1 - 0.85) / len(nodes) + 0.85 * M @ s
    assert [n["score"] for n in graph["nodes"]] == pytest.approx(list(s), abs=1e-8)
    assert K.textrank(words, window=3, top=10) == (ranked, graph)  # deterministic


def test_textrank_single_word():
    ranked, graph = K.textrank(["经济", "经济"], top=5)
    assert [(r["word"], r["score"]) for r in ranked] == [("经济", 1.0)] and graph["edges"] == []


# ---------------------------------------------------------------------------------------------
# new words
# ---------------------------------------------------------------------------------------------
def test_new_words_pmi_and_entropy_by_hand():
    # the notes' example: 两只 蝴蝶 飞 / 这些 蝴蝶 飞走了 (runs of Chinese characters split at punctuation)
    text = "两只蝴蝶飞。这些蝴蝶走！蝴蝶"
    rows = K.new_words(text, min_count=2, min_pmi=0.0, min_entropy=0.0)
    assert [r["word"] for r in rows] == ["蝴蝶"]
    r = rows[0]
    # N = 12 characters, c(蝴蝶) = c(蝴) = c(蝶) = 3: PMI = ln(3 * 12 / (3 * 3)) = ln 4
    assert r["count"] == 3 and r["pmi"] == pytest.approx(math.log(4))
    # left {只, 些, boundary}, right {飞, 走, boundary}: three distinct neighbours each -> ln 3
    assert r["left_entropy"] == pytest.approx(math.log(3)) and r["right_entropy"] == pytest.approx(math.log(3))
    # always after 只: left entropy 0, not free -> rejected (只蝴蝶, free on both sides, is kept instead)
    text = "只蝴蝶飞，只蝴蝶走"
    assert {r["word"]: r["left_entropy"] for r in K.new_words(text, min_count=2, min_pmi=0.0, min_entropy=0.0)
            }["蝴蝶"] == 0.0
    assert [r["word"] for r in K.new_words(text, min_count=2, min_pmi=0.0, min_entropy=0.1)] == ["只蝴蝶"]


def synthetic_corpus(seed: int = 0) -> tuple[str, str]:
    """Sentences of random 2-character words (Zipf frequencies), every other gap a 的, with a made-up name in many
    contexts."""
    rng = random.Random(seed)
    pool = list("山水风花雪月春秋江河湖海天地日星云雨松竹梅兰书画琴棋诗酒茶田园林石桥路门窗灯")
    rng.shuffle(pool)
    vocab = ["".join(pool[i:i + 2]) for i in range(0, len(pool) - 1, 2)]  # 20 words, no shared characters
    zipf = [1 / rank for rank in range(1, len(vocab) + 1)]  # word frequencies as in real text
    name = "柯洛岚"
    sentences = []
    for _ in range(300):
        words = rng.choices(vocab, weights=zipf, k=rng.randint(3, 6))
        if rng.random() < 0.3:
            words.insert(rng.randint(0, len(words)), name)
        glue = [rng.choice(["的", ""]) for _ in words[1:]] + [rng.choice("，。！")]
        sentences.append("".join(w + g for w, g in zip(words, glue)))
    return "".join(sentences), name


def test_new_words_finds_a_made_up_name_and_rejects_a_frequent_non_word():
    text, name = synthetic_corpus()
    found = {r["word"]: r for r in K.new_words(text, top=1000)}
    assert name in found and not found[name]["in_dictionary"]
    assert found[name]["count"] >= 50
    assert "柯洛" not in found and "洛岚" not in found  # parts of the name: not free on one side
    # the most frequent bigram that crosses a word boundary: 的 + the first character of a word
    everything = {r["word"]: r for r in K.new_words(text, max_len=2, min_pmi=-100.0, min_entropy=0.0, top=1000)}
    crossing = max((w for w in everything if w[0] == "的"), key=lambda w: everything[w]["count"])
    assert everything[crossing]["count"] > found[name]["count"]  # more frequent than the name...
    assert everything[crossing]["pmi"] < 3.0 and crossing not in found  # ...but its characters don't stick
    assert K.new_words(text, top=1000, only_new=True)[0]["word"] in {w for w in found if not found[w]["in_dictionary"]}


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
TWO_MB = "中文" * (1 << 20)  # 2,097,152 characters


@pytest.mark.parametrize("fn", [K.words_of, K.new_words])
@pytest.mark.parametrize("text", ["", "   \n", "only Latin letters here", TWO_MB, None, 42])
def test_bad_text_is_a_value_error(fn, text):
    with pytest.raises(ValueError):
        fn(text)


def test_length_cap_message_names_the_limit():
    with pytest.raises(ValueError, match=f"{K.MAX_CORPUS_CHARS}"):
        K.new_words(TWO_MB)
    with pytest.raises(ValueError, match=f"{K.MAX_DOCUMENT_CHARS}"):
        K.words_of(TWO_MB[:K.MAX_DOCUMENT_CHARS + 1])


@pytest.mark.parametrize("fn", [K.term_frequency, K.tfidf, lambda w: K.textrank(w)])
@pytest.mark.parametrize("words", [[], "经济发展", ["hello", "world"], ["的", "，"], [1, 2],
                                   ["经济"] * (K.MAX_WORDS + 1)])
def test_bad_word_lists_are_value_errors(fn, words):
    with pytest.raises(ValueError):
        fn(words)


@pytest.mark.parametrize("kwargs", [{"top": 0}, {"top": "5"}, {"window": 1}, {"window": 2.5}, {"damping": 1.0},
                                    {"damping": "x"}])
def test_bad_textrank_settings(kwargs):
    with pytest.raises(ValueError):
        K.textrank(STAR, **kwargs)


@pytest.mark.parametrize("kwargs", [{"max_len": 1}, {"max_len": 99}, {"min_count": 1}, {"min_pmi": "x"},
                                    {"min_entropy": -1.0}, {"min_pmi": float("nan")}, {"top": 10**6}])
def test_bad_new_word_settings(kwargs):
    with pytest.raises(ValueError):
        K.new_words("两只蝴蝶飞。这些蝴蝶走", **kwargs)


def test_words_of_segments_with_jieba():
    assert K.words_of("我爱北京天安门") == ["我", "爱", "北京", "天安门"]


# ---------------------------------------------------------------------------------------------
# on People's Daily (reads the corpus: slow)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_on_peoples_daily():
    from core.classic import corpus

    train, _test = corpus.train_test()
    doc = "\n".join(s.text for s in corpus.peoples_daily()[:200])[:5000]  # the New Year's address and news
    words = K.words_of(doc)
    for rows in (K.term_frequency(words, 10), K.tfidf(words, 10), K.textrank(words, top=10)[0]):
        assert len(rows) == 10 and all(K.is_content_word(r["word"]) for r in rows)
        assert {"建设", "江泽民"} & {r["word"] for r in rows}
    # new words from 300k characters of the training split: most are words of the gold standard or jieba
    gold, dictionary = corpus.word_counts(train), corpus.jieba_dictionary()
    rows = K.new_words("\n".join(s.text for s in train)[:300_000], top=1000)
    assert len(rows) == 1000
    assert sum(r["word"] in gold or r["word"] in dictionary for r in rows) / len(rows) >= 0.8
