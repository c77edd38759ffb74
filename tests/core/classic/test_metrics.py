"""Scores on hand-made cases, and the corpus helpers they rely on."""
import pytest

from core.classic import corpus, metrics


def test_segmentation_prf_on_a_hand_made_case():
    gold = [["研究", "生命", "起源"]]
    pred = [["研究生", "命", "起源"]]  # one of three predicted words is a gold span
    prf = metrics.segmentation_prf(gold, pred)
    assert (prf.correct, prf.predicted, prf.gold) == (1, 3, 3)
    assert prf.precision == pytest.approx(1 / 3) and prf.recall == pytest.approx(1 / 3)
    assert prf.f1 == pytest.approx(1 / 3)
    perfect = metrics.segmentation_prf(gold, gold)
    assert perfect.f1 == 1.0


def test_precision_and_recall_differ_when_the_counts_do():
    gold = [["结婚", "的", "和", "尚未", "结婚", "的"]]
    pred = [["结婚", "的", "和尚", "未", "结婚", "的"]]
    prf = metrics.segmentation_prf(gold, pred)
    assert prf.correct == 4 and prf.precision == pytest.approx(4 / 6) and prf.recall == pytest.approx(4 / 6)
    coarse = metrics.segmentation_prf(gold, [["结婚的", "和", "尚未", "结婚的"]])
    assert coarse.correct == 2 and coarse.precision == pytest.approx(2 / 4) and coarse.recall == pytest.approx(2 / 6)
    assert coarse.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_oov_recall_counts_only_unseen_gold_words():
    gold = [["王小鸭", "在", "长沙"]]
    assert metrics.oov_recall(gold, [["王小鸭", "在", "长沙"]], {"在", "长沙"}) == 1.0
    assert metrics.oov_recall(gold, [["王", "小鸭", "在", "长沙"]], {"在", "长沙"}) == 0.0
    assert metrics.oov_recall(gold, gold, {"王小鸭", "在", "长沙"}) == 0.0  # no unseen word at all


def test_accuracy_and_entity_prf():
    assert metrics.accuracy([["n", "v"], ["p"]], [["n", "n"], ["p"]]) == pytest.approx(2 / 3)
    gold = [{(0, 1, "ORG"), (5, 7, "PER")}]
    pred = [{(0, 1, "ORG"), (5, 7, "LOC"), (3, 4, "LOC")}]
    prf = metrics.entity_prf(gold, pred)
    assert (prf.correct, prf.predicted, prf.gold) == (1, 3, 2)  # a wrong type is a miss
    with pytest.raises(ValueError):
        metrics.segmentation_prf([["a"]], [])  # the lists must pair up


def test_bmes_and_bio_round_trips():
    words = ["迈向", "充满", "希望", "的", "新", "世纪"]
    tags = corpus.to_bmes(words)
    assert tags == ["B", "E", "B", "E", "B", "E", "S", "S", "B", "E"]
    assert corpus.from_bmes("".join(words), tags) == words
    s = corpus.parse_line("中共中央/nt  总书记/n  江/nr  泽民/nr")
    _w, bio = corpus.ner_bio(s)
    assert bio == ["B-ORG", "O", "B-PER", "I-PER"]
    assert corpus.entities(bio) == {(0, 1, "ORG"), (2, 4, "PER")}


def test_a_corpus_without_word_boundaries_is_refused():
    with pytest.raises(ValueError, match="word boundaries"):
        corpus.parse_segmented("研究生命起源\n我爱北京天安门\n")
    with pytest.raises(ValueError, match="empty"):
        corpus.parse_segmented("\n \n")
    assert corpus.parse_segmented("研究 生命 起源\n")[0].words == ("研究", "生命", "起源")


@pytest.mark.slow
def test_the_fixed_split():
    train, test = corpus.train_test()
    assert len(train) + len(test) == 19_484 and len(test) == 1_948
    assert test[0] == corpus.peoples_daily()[9]  # every 10th sentence, starting with index 9
