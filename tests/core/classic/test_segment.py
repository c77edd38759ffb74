"""Unit tests for core.classic.segment: maximum matching on the textbook examples, Viterbi equal to
brute force on tiny lattices, the bigram model's probabilities, input checks (fast), and the scores
on the fixed People's Daily split (slow)."""
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.classic import segment as S

# 研究生命起源: the textbook's 交集型 example (研究生 / 生命 overlap on 生)
LIFE = {"研究", "研究生", "生命", "命", "起源"}
# 结婚的和尚未结婚的 (和尚 / 尚未 overlap on 尚)
MONK = {"结婚", "的", "和", "和尚", "尚", "尚未", "未", "婚"}
# 结合成分子: both directions are wrong (结合 / 合成 / 成分 / 分子 chain)
MOLECULE = {"结合", "合成", "成分", "分子", "结", "合", "成", "分", "子"}
# 组合型: 马上 is one word (immediately) or two (on the horse) depending on the context
HORSE_TRAIN = [["她", "从", "马", "上", "跳", "下来"], ["他", "骑", "在", "马", "上"], ["你", "马上", "回来"],
               ["我们", "马上", "出发"], ["他", "从", "北京", "来"]]


# ---------------------------------------------------------------------------------------------
# maximum matching on the textbook examples
# ---------------------------------------------------------------------------------------------
def test_research_the_origin_of_life():
    assert S.forward_max_match("研究生命起源", LIFE) == ["研究生", "命", "起源"]
    assert S.backward_max_match("研究生命起源", LIFE) == ["研究", "生命", "起源"]
    # same number of words; backward has fewer single characters (0 vs 1)
    assert S.bidirectional_max_match("研究生命起源", LIFE) == ["研究", "生命", "起源"]
    cmp = S.compare_max_match("研究生命起源", LIFE)
    assert (cmp["direction"], cmp["rule"]) == ("backward", "fewer_singles")


def test_married_and_not_yet_married():
    text = "结婚的和尚未结婚的"
    assert S.forward_max_match(text, MONK) == ["结婚", "的", "和尚", "未", "结婚", "的"]
    assert S.backward_max_match(text, MONK) == ["结婚", "的", "和", "尚未", "结婚", "的"]
    cmp = S.compare_max_match(text, MONK)  # 6 words and 3 single characters each: backward wins the tie
    assert cmp["chosen"] == ["结婚", "的", "和", "尚未", "结婚", "的"]
    assert (cmp["direction"], cmp["rule"]) == ("backward", "tie")


def test_bidirectional_rule_order():
    # forward 北京大学/生, backward 北京/大学生: 2 words each, so single characters decide: backward
    vocab = {"北京", "北京大学", "大学", "大学生", "学生"}
    cmp = S.compare_max_match("北京大学生", vocab)
    assert cmp["forward"] == ["北京大学", "生"] and cmp["backward"] == ["北京", "大学生"]
    assert cmp["chosen"] == ["北京", "大学生"] and cmp["rule"] == "fewer_singles"
    # forward 中ABC/D (2 words, 1 single) beats backward 中/AB/CD (3 words, 1 single): fewer words first
    cmp = S.compare_max_match("中ABCD", {"中ABC", "ABC", "AB", "CD"})
    assert cmp["forward"] == ["中ABC", "D"] and cmp["backward"] == ["中", "AB", "CD"]
    assert cmp["chosen"] == ["中ABC", "D"] and (cmp["direction"], cmp["rule"]) == ("forward", "fewer_words")


def test_overlap_ambiguity_both_directions_wrong_and_the_lattice_right():
    """交集型歧义 结合成分子: forward 结合/成分/子, backward 结/合成/分子, the right answer 结合/成/分子
    only a model of word pairs finds."""
    assert S.forward_max_match("结合成分子", MOLECULE) == ["结合", "成分", "子"]
    assert S.backward_max_match("结合成分子", MOLECULE) == ["结", "合成", "分子"]
    assert S.bidirectional_max_match("结合成分子", MOLECULE) == ["结", "合成", "分子"]
    lattice = S.BigramLattice.train([["原子", "结合", "成", "分子"], ["化学", "成分"], ["合成", "材料"],
                                     ["分子", "结构"], ["结合", "成", "一体"]])
    assert lattice.segment("结合成分子") == ["结合", "成", "分子"]


def test_combination_ambiguity_maximum_matching_always_combines():
    """组合型歧义: 马上 is 'immediately' in 他马上下来 but 'on the horse' in 他从马上下来. Maximum
    matching takes 马上 in both; the bigram lattice, trained on sentences with both readings,
    splits it only after 从."""
    lattice = S.BigramLattice.train(HORSE_TRAIN)
    vocab = lattice.dictionary
    for mm in (S.forward_max_match, S.backward_max_match, S.bidirectional_max_match):
        assert mm("他从马上下来", vocab) == ["他", "从", "马上", "下来"]  # wrong
        assert mm("他马上下来", vocab) == ["他", "马上", "下来"]
    assert lattice.segment("他从马上下来") == ["他", "从", "马", "上", "下来"]
    assert lattice.segment("他马上下来") == ["他", "马上", "下来"]


def test_max_len_bounds_the_first_window():
    assert S.forward_max_match("研究生命起源", LIFE, max_len=2) == ["研究", "生命", "起源"]
    assert S.forward_max_match("研究生命起源", LIFE, max_len=1) == list("研究生命起源")
    d = S.Dictionary.from_words(LIFE)
    assert d.max_len == 3 and "研究生" in d and len(d) == 5
    assert S.forward_max_match("研究生命起源", d) == ["研究生", "命", "起源"]  # max_len from the dictionary


def test_steps_list_every_window_tried():
    steps = S.max_match_steps("研究生命起源", LIFE, 3, "forward")
    assert [(s["window"], s["matched"], s["taken"]) for s in steps] == [
        ("研究生", True, "研究生"),
        ("命起源", False, None), ("命起", False, None), ("命", True, "命"),
        ("起源", True, "起源"),
    ]
    steps = S.max_match_steps("研究生命起源", LIFE, 3, "backward")
    assert [(s["window"], s["matched"], s["taken"]) for s in steps] == [
        ("命起源", False, None), ("起源", True, "起源"),
        ("究生命", False, None), ("生命", True, "生命"),
        ("研究", True, "研究"),
    ]
    assert all(s["window"] == "研究生命起源"[s["start"]:s["end"]] for s in steps)
    # an unknown single character is taken without matching
    steps = S.max_match_steps("研究猫", LIFE, 2, "forward")
    assert steps[-1] == {"start": 2, "end": 3, "window": "猫", "matched": False, "taken": "猫"}


CHARS = "研究生命起源结婚的和尚未"


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=CHARS, min_size=1, max_size=14),
       vocab=st.sets(st.text(alphabet=CHARS, min_size=1, max_size=4), min_size=1, max_size=25),
       max_len=st.integers(1, 5))
def test_maximum_matching_properties(text, vocab, max_len):
    fwd = S.forward_max_match(text, vocab, max_len)
    bwd = S.backward_max_match(text, vocab, max_len)
    for words in (fwd, bwd):
        assert "".join(words) == text
        assert all(len(w) == 1 or (w in vocab and len(w) <= max_len) for w in words)
    # forward: no longer dictionary word (within max_len) starts where a word starts
    pos = 0
    for w in fwd:
        assert not any(text[pos:j] in vocab for j in range(pos + len(w) + 1, min(len(text), pos + max_len) + 1))
        pos += len(w)
    # backward: no longer dictionary word ends where a word ends
    end = len(text)
    for w in reversed(bwd):
        assert not any(text[i:end] in vocab for i in range(max(0, end - max_len), end - len(w)))
        end -= len(w)
    for direction, words in (("forward", fwd), ("backward", bwd)):
        steps = S.max_match_steps(text, vocab, max_len, direction)
        taken = [s["taken"] for s in steps if s["taken"] is not None]
        assert (taken if direction == "forward" else taken[::-1]) == words
    bi = S.bidirectional_max_match(text, vocab, max_len)
    assert bi in (fwd, bwd)
    key = (len(bi), sum(len(w) == 1 for w in bi))
    assert key <= (len(fwd), sum(len(w) == 1 for w in fwd))
    assert key <= (len(bwd), sum(len(w) == 1 for w in bwd))


# ---------------------------------------------------------------------------------------------
# Viterbi = brute force
# ---------------------------------------------------------------------------------------------
def brute_force(n, edges, cost):
    """Every path from 0 to n (depth-first), with its cost; the cheapest first."""
    paths = []

    def walk(pos, path, prev, total):
        if pos == n:
            paths.append((total + cost(prev, S.EOS), path))
            return
        for e, edge in enumerate(edges):
            if edge[0] == pos:
                walk(edge[1], path + [e], edge[2], total + cost(prev, edge[2]))

    walk(0, [], S.BOS, 0.0)
    return sorted(paths)


def table_cost(table, default):
    return lambda prev, word: table.get((prev, word), default)


def test_viterbi_on_a_hand_made_lattice():
    # 研究生命: edges 研究 / 研究生 / 生命 / 命 and single characters
    edges = [(0, 1, "研"), (0, 2, "研究"), (0, 3, "研究生"), (1, 2, "究"), (2, 3, "生"), (2, 4, "生命"),
             (3, 4, "命")]
    table = {(S.BOS, "研究"): 1.0, (S.BOS, "研究生"): 0.5, ("研究", "生命"): 1.0, ("研究生", "命"): 2.0,
             ("生命", S.EOS): 0.5, ("命", S.EOS): 0.5}
    cost = table_cost(table, 10.0)
    path, total = S.viterbi_lattice(4, edges, cost)
    assert [edges[e][2] for e in path] == ["研究", "生命"] and total == pytest.approx(2.5)
    best = brute_force(4, edges, cost)
    assert total == pytest.approx(best[0][0]) and path == best[0][1]
    assert len(best) == 5  # every way of cutting 研究生命 with these words
    # make the bigram (研究生, 命) cheap: the other reading wins
    table[("研究生", "命")] = 0.1
    path, total = S.viterbi_lattice(4, edges, table_cost(table, 10.0))
    assert [edges[e][2] for e in path] == ["研究生", "命"] and total == pytest.approx(1.1)


def test_viterbi_uses_the_previous_word_not_only_the_position():
    """Two edges end at 2 with different words: the cheaper prefix loses when its bigram to the
    next word is expensive (a position-only shortest path would get this wrong)."""
    edges = [(0, 2, "AB"), (0, 1, "A"), (1, 2, "B"), (2, 3, "C")]
    table = {(S.BOS, "AB"): 1.0, (S.BOS, "A"): 1.0, ("A", "B"): 1.0, ("AB", "C"): 10.0, ("B", "C"): 1.0,
             ("C", S.EOS): 0.0}
    path, total = S.viterbi_lattice(3, edges, table_cost(table, 100.0))
    assert [edges[e][2] for e in path] == ["A", "B", "C"] and total == pytest.approx(3.0)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 7), seed=st.integers(0, 10_000), single=st.booleans())
def test_viterbi_equals_brute_force_on_random_lattices(n, seed, single):
    rng = random.Random(seed)
    spans = {(i, i + 1) for i in range(n)} if single else set()
    spans |= {(i, j) for i in range(n) for j in range(i + 1, min(n, i + 4) + 1) if rng.random() < 0.4}
    edges = [(i, j, f"w{i}_{j}") for i, j in sorted(spans)]
    rng.shuffle(edges)  # any order of edges
    words = [S.BOS, S.EOS] + [e[2] for e in edges]
    table = {(a, b): rng.choice([rng.uniform(-1, 5), rng.randint(0, 3)]) for a in words for b in words}
    cost = table_cost(table, 0.0)
    paths = brute_force(n, edges, cost)
    if not paths:
        with pytest.raises(ValueError, match="No path"):
            S.viterbi_lattice(n, edges, cost)
        return
    path, total = S.viterbi_lattice(n, edges, cost)
    assert total == pytest.approx(paths[0][0])
    assert sum(cost(a, b) for a, b in zip([S.BOS] + [edges[e][2] for e in path],
                                          [edges[e][2] for e in path] + [S.EOS])) == pytest.approx(total)
    assert [edges[e][:2] for e in path][0][0] == 0 and edges[path[-1]][1] == n
    assert all(edges[a][1] == edges[b][0] for a, b in zip(path, path[1:]))


def test_viterbi_rejects_a_bad_lattice():
    with pytest.raises(ValueError, match="start < end"):
        S.viterbi_lattice(2, [(0, 3, "x")], lambda a, b: 0.0)
    with pytest.raises(ValueError, match="n >= 1"):
        S.viterbi_lattice(0, [], lambda a, b: 0.0)


# ---------------------------------------------------------------------------------------------
# the bigram model
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 0.3, 0.9])
def test_bigram_probabilities_sum_to_one_over_the_vocabulary(lam):
    lattice = S.BigramLattice.train(HORSE_TRAIN, lam=lam, k=0.5)
    targets = [w for w in lattice.unigram if w != S.BOS]  # every word and </s>
    for prev in [S.BOS, *lattice.dictionary.words]:
        assert sum(math.exp(-lattice.cost(prev, w)) for w in targets) == pytest.approx(1.0)
    assert lattice.tokens == sum(map(len, HORSE_TRAIN)) + len(HORSE_TRAIN)
    # interpolation: a seen pair is likelier than an unseen one with the same next word
    assert lattice.cost("从", "马") < lattice.cost("骑", "马") or lam == 0.0
    assert math.isfinite(lattice.cost("马", "猫"))  # a character never seen: small but possible


def test_lattice_for_drawing_is_consistent():
    lattice = S.BigramLattice.train(HORSE_TRAIN)
    text = "他从马上下来"
    d = lattice.lattice(text)
    assert d["nodes"] == list(range(len(text) + 1)) and d["n"] == len(text)
    spans = {(s, t) for s, t, _w, _c in d["edges"]}
    assert {(i, i + 1) for i in range(len(text))} <= spans  # every single character
    assert (2, 4, "马上", ) in {e[:3] for e in d["edges"]} and (4, 6, "下来") in {e[:3] for e in d["edges"]}
    assert all(w == text[s:t] for s, t, w, _c in d["edges"])
    assert all(k == (w in lattice.dictionary) for k, (_s, _t, w, _c) in zip(d["known"], d["edges"]))
    assert d["best_words"] == lattice.segment(text) == [d["edges"][e][2] for e in d["best"]]
    # the path's weights are its bigram costs and add up to the Viterbi cost
    words = d["best_words"]
    assert [d["edges"][e][3] for e in d["best"]] == pytest.approx(
        [lattice.cost(a, b) for a, b in zip([S.BOS, *words], words)])
    assert sum(d["edges"][e][3] for e in d["best"]) + d["end_weight"] == pytest.approx(d["cost"])
    best = brute_force(len(text), [e[:3] for e in d["edges"]], lattice.cost)
    assert d["cost"] == pytest.approx(best[0][0])


def test_segmentation_returns_the_text_in_pieces():
    lattice = S.BigramLattice.train(HORSE_TRAIN)
    for text in ("他从马上下来，ABC 12 马", "猫", "她从北京马上回来。"):
        assert "".join(lattice.segment(text)) == text
        assert all(len(w) == 1 or w in lattice.dictionary for w in lattice.segment(text))


# ---------------------------------------------------------------------------------------------
# input checks: a learner can act on each message
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [S.forward_max_match, S.backward_max_match, S.bidirectional_max_match])
def test_bad_inputs_raise_value_errors(fn):
    with pytest.raises(ValueError, match="empty"):
        fn("", LIFE)
    with pytest.raises(ValueError, match="empty"):
        fn("   ", LIFE)
    with pytest.raises(ValueError, match="no Chinese"):
        fn("Hello world", LIFE)
    with pytest.raises(ValueError, match="limit"):
        fn("研" * (S.MAX_CHARS + 1), LIFE)
    with pytest.raises(ValueError, match="must be text"):
        fn(123, LIFE)
    with pytest.raises(ValueError, match="dictionary is empty"):
        fn("研究", set())
    with pytest.raises(ValueError, match="set of words"):
        fn("研究", "研究")
    for bad in (0, -1, S.MAX_WORD_LEN + 1, 2.5, True):
        with pytest.raises(ValueError, match="max_len"):
            fn("研究", LIFE, bad)


def test_more_bad_inputs():
    with pytest.raises(ValueError, match="direction"):
        S.max_match_steps("研究", LIFE, 2, "sideways")
    with pytest.raises(ValueError, match="limit"):
        S.max_match_steps("研" * (S.STEPS_MAX_CHARS + 1), LIFE, 2)
    with pytest.raises(ValueError, match="dictionary is empty"):
        S.Dictionary.from_words(["", "  "])
    lattice = S.BigramLattice.train(HORSE_TRAIN)
    with pytest.raises(ValueError, match="limit"):
        lattice.lattice("马" * (S.LATTICE_MAX_CHARS + 1))
    with pytest.raises(ValueError, match="no Chinese"):
        lattice.segment("2024 ABC")
    with pytest.raises(ValueError, match="lam"):
        S.BigramLattice.train(HORSE_TRAIN, lam=1.0)
    with pytest.raises(ValueError, match="k must"):
        S.BigramLattice.train(HORSE_TRAIN, k=0)
    with pytest.raises(ValueError, match="No segmented sentences"):
        S.BigramLattice.train([[], []])
    with pytest.raises(ValueError, match="list of words"):
        S.BigramLattice.train(["他从马上下来"])
    with pytest.raises(ValueError, match="Unknown segmenter"):
        S.evaluate(HORSE_TRAIN, HORSE_TRAIN, methods=["crf"])


def test_evaluate_on_a_tiny_split():
    rows = S.evaluate(HORSE_TRAIN, HORSE_TRAIN, methods=["forward", "backward", "bidirectional", "bigram"])
    assert [r["method"] for r in rows] == ["forward", "backward", "bidirectional", "bigram"]
    by = {r["method"]: r for r in rows}
    assert by["bigram"]["f1"] == 1.0  # its own training sentences, every pair seen
    assert by["forward"]["f1"] < 1.0  # 她从马上跳下来 -> 马上
    assert all(0.0 <= r["precision"] <= 1.0 and r["chars_per_s"] > 0 for r in rows)
    assert all(r["oov_recall"] == 0.0 for r in rows)  # no word is out of vocabulary


@pytest.mark.slow
def test_jieba_segments_the_textbook_sentence():
    words = S.jieba_segment("研究生命起源")
    assert "".join(words) == "研究生命起源" and words == ["研究", "生命", "起源"]
    with pytest.raises(ValueError, match="no Chinese"):
        S.jieba_segment("abc")


@pytest.mark.slow
def test_on_the_fixed_split_the_lattice_beats_maximum_matching():
    """People's Daily, the fixed split, the training words as the dictionary (about 10 s)."""
    rows = {r["method"]: r for r in S.evaluate()}
    mm = max(rows[m]["f1"] for m in ("forward", "backward", "bidirectional"))
    assert rows["bigram"]["f1"] > mm + 0.01
    assert rows["bidirectional"]["f1"] >= rows["forward"]["f1"]
    assert 0.90 < mm < 0.95 and rows["bigram"]["f1"] > 0.945
    # dictionary methods recall only out-of-vocabulary single characters; jieba's HMM finds more
    assert rows["forward"]["oov_recall"] < 0.1 and rows["jieba"]["oov_recall"] > 0.5
