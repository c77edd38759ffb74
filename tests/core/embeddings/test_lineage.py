"""core.embeddings.lineage: the language-model page's helpers — text parsing, every smoothing on the same
counts, orders 1…5, and the six models scored on the same predictions."""
import math

import pytest

from core.classic import ngram
from core.embeddings import lineage, nnlm

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat saw the dog",
                            "the cat ate", "dog and cat sat", "the mat sat", "a dog ate the cat"]] * 3
HELD = [["the", "cat", "sat", "on", "the", "log"], ["a", "dog", "saw", "the", "mat"], ["zebra", "cat"]]


def test_parse_text_words_chars_jieba_and_errors():
    assert lineage.parse_text("我 爱 北京\n\n 他 来 了 ", "words_zh") == [["我", "爱", "北京"], ["他", "来", "了"]]
    assert lineage.parse_text("to be", "chars_en") == [list("to be")]
    unspaced = lineage.parse_text("我爱北京天安门", "words_zh")[0]
    assert "".join(unspaced) == "我爱北京天安门" and len(unspaced) > 1  # segmented by jieba
    for bad in ("", "  \n \n"):
        with pytest.raises(ValueError, match="empty"):
            lineage.parse_text(bad, "words_zh")
    with pytest.raises(ValueError, match="limit"):
        lineage.parse_text("x" * (lineage.MAX_TEXT_CHARS + 1), "chars_en")
    with pytest.raises(ValueError, match="Unknown corpus"):
        lineage.parse_text("x", "bytes")


def test_smoothing_table_mle_is_infinite_and_the_others_are_finite():
    base = lineage.count_model(TEXT, 3, unk_cutoff=1)
    rows = {r["smoothing"]: r for r in lineage.smoothing_table(base, HELD)}
    assert set(rows) == set(ngram.SMOOTHINGS)
    assert math.isinf(rows["mle"]["ppl"])  # "saw the mat" was never counted
    # "zebra" is unknown and, with unk_cutoff 1, so is <UNK> itself: the methods built on unigram counts
    # (Kneser–Ney's continuation counts, stupid backoff) give it 0, as nltk does; add-k, GT, absolute don't
    assert {name for name, r in rows.items() if math.isinf(r["ppl"])} == {"mle", "kneser_ney", "stupid_backoff"}
    known = lineage.smoothing_table(base, HELD[:2])
    assert [r["smoothing"] for r in known if math.isinf(r["ppl"])] == ["mle"]
    cut = lineage.count_model(TEXT[:7], 3, unk_cutoff=2)  # words seen once train <UNK>: unknown words get mass
    assert all(math.isfinite(r["ppl"]) for r in lineage.smoothing_table(cut, HELD) if r["smoothing"] != "mle")
    assert not rows["stupid_backoff"]["probabilities"] and rows["kneser_ney"]["probabilities"]
    # the same numbers as a model trained with that smoothing from scratch
    kn = ngram.NGramModel.train(TEXT, ngram.NGramConfig(3, "kneser_ney", unk_cutoff=1))
    assert lineage.smoothing_table(base, HELD[:2])[4]["ppl"] == pytest.approx(kn.perplexity(HELD[:2]), rel=1e-12)
    assert 0 < lineage.unseen_share(base, HELD) < 1


def test_step_table_and_sentence_perplexity():
    base = lineage.count_model(TEXT, 2, unk_cutoff=1)
    steps = lineage.step_table(base, ["the", "cat", "zebra"])
    assert set(steps) == set(ngram.SMOOTHINGS) and all(len(v) == 4 for v in steps.values())
    assert math.isinf(lineage.sentence_ppl(steps["mle"]))
    kn = steps["kneser_ney"]
    assert lineage.sentence_ppl(kn) == pytest.approx(2 ** (sum(s["neg_log2_p"] for s in kn) / 4))
    with pytest.raises(ValueError, match="empty"):
        lineage.step_table(base, [])


def test_ppl_by_order_scores_every_order():
    rows = lineage.ppl_by_order(TEXT, HELD[:2], "kneser_ney")
    assert [r["n"] for r in rows] == list(range(1, ngram.MAX_N + 1))
    assert all(math.isfinite(r["ppl"]) for r in rows)
    assert rows[0]["unseen"] <= rows[-1]["unseen"]  # longer n-grams: more of them unseen
    assert math.isinf(lineage.ppl_by_order(TEXT, HELD[:2], "mle")[2]["ppl"])


def test_race_scores_the_same_predictions_as_the_ngrams():
    vocab = nnlm.Vocab.build(TEXT[:7], min_count=2)  # words seen once are <UNK> in training: it has a count
    ngrams = lineage.ngram_rows(TEXT[:7], HELD, vocab)
    assert [r["model"] for r in ngrams] == ["unigram", "bigram_kn", "trigram_kn"]
    assert ngrams[0]["ppl"] > ngrams[2]["ppl"]
    seen, results, histories = [], [], {}
    out = lineage.race(TEXT[:7], HELD, 0.3, seed=0, on_model=seen.append, results=results, histories=histories)
    assert out is results and [r["model"] for r in results] == ["nnlm", "lstm", "gpt"] == seen
    assert all(math.isfinite(r["ppl"]) and r["params"] > 0 and r["steps"] >= 1 for r in results)
    assert set(histories) == {"nnlm", "lstm", "gpt"} and all(histories.values())
    with pytest.raises(ValueError, match="Unknown model"):
        lineage.race(TEXT, HELD, 0.1, which=("rnn",))


def test_shipped_results_are_read_when_present():
    assert lineage.shipped_results("nope") is None
    res = lineage.shipped_results("words_zh")
    if res is not None:  # written by benchmarks/lm_lineage.py --save
        assert {"ngram", "neural", "nnlm_kn_mix", "vocab"} <= set(res)
        assert set(res["neural"]) == {"nnlm", "lstm", "gpt"}


def test_step_table_takes_its_models_from_a_supplier():
    base = lineage.count_model(TEXT, 2, unk_cutoff=1)
    asked = []

    def model_for(name):
        asked.append(name)
        return lineage.smoothed(base, name)

    assert lineage.step_table(base, ["the", "cat"], model_for=model_for) == lineage.step_table(base, ["the", "cat"])
    assert asked == list(ngram.SMOOTHINGS)
