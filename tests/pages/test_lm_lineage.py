"""Language-model lineage page (AppTest): each section opened first renders and does its job (the
n-gram steps and smoothing perplexities, NNLM training, the six-model race, ELMo's layers and probe);
bad input (an empty text, a one-word corpus, n = 0 or 50 in a link, an unseen-word-only sentence) is
a clear message, never a crash."""
import math

import pytest

from core.classic import ngram
from tests.pages.conftest import run_page, errors as _errors, problems as _problems

PAGE = "pages/lm_lineage.py"
pytestmark = pytest.mark.slow
SMALL = {"lm_ng_tokens": "20000", "lm_nn_tokens": "20000", "lm_nn_seconds": "3", "lm_race_tokens": "20000",
         "lm_race_seconds": "3"}



def _open(tab, **query):
    return run_page(PAGE, timeout=300, tab=tab, query={**SMALL, **query})


def test_ngram_tab_scores_every_smoothing_and_mle_is_infinite(fresh_caches):
    at = _open("n-gram")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert {c.key for c in at.get("plotly_chart")} == {"lm_ng_counts", "lm_ng_steps", "lm_ng_ppl"}
    steps = at.dataframe[0].value
    assert len(steps) == len(at.session_state["lm_ng_sent_words_zh"].split()) + 1  # tokens + </s>
    assert any("infinite" in c.value for c in at.caption)  # the held-out text has unseen trigrams
    assert at.code and len(at.code[0].value) > 0  # a sample


def test_ngram_tab_on_characters_and_every_order(fresh_caches):
    for n in (1, 5):
        at = _open("n-gram", lm_kind="chars_en", lm_ng_n=str(n))
        assert not _problems(at) and not at.error, (n, _problems(at), _errors(at))
        assert at.session_state["lm_ng_n"] == n


@pytest.mark.parametrize("bad,clamped", [("0", 1), ("50", ngram.MAX_N), ("x", 3)])
def test_hostile_order_in_a_link_is_clamped(fresh_caches, bad, clamped):
    at = _open("n-gram", lm_ng_n=bad)
    assert not _problems(at), _problems(at)
    assert at.session_state["lm_ng_n"] == clamped


def test_own_text_empty_and_one_word_are_clear_errors(fresh_caches):
    at = _open("n-gram", lm_ng_source="own")
    assert not _problems(at), _problems(at)
    assert "empty" in _errors(at)  # the text area starts empty
    at.text_area(key="lm_ng_own").set_value("好").run()
    assert not _problems(at), _problems(at)
    assert "single token" in _errors(at)
    at.text_area(key="lm_ng_own").set_value("我 爱 北京\n我 爱 上海").run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert any("own" in i.value or "held-out" in i.value for i in at.info)  # no held-out part for own text


def test_unseen_words_only_sentence_is_explained(fresh_caches):
    at = _open("n-gram", lm_ng_sent_words_zh="qqq zzz")
    assert not _problems(at), _problems(at)
    assert any("<UNK>" in w.value for w in at.warning)
    steps = at.dataframe[0].value
    assert len(steps) == 3


def test_empty_sentence_is_a_clear_error(fresh_caches):
    at = _open("n-gram")
    at.text_input(key="lm_ng_sent_words_zh").set_value("   ").run()
    assert not _problems(at), _problems(at)
    assert "empty" in _errors(at)


def test_nnlm_trains_and_shows_its_word_vectors(fresh_caches):
    at = _open("NNLM")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert not at.get("plotly_chart")  # nothing trained yet
    at.button(key="lm_nn_train").click().run()
    assert not _problems(at), (_problems(at), _errors(at))
    metrics = {m.label: m.value for m in at.metric}
    nn, tri = metrics["NNLM held-out perplexity"], metrics["trigram Kneser–Ney, same tokens"]
    assert math.isfinite(float(nn.replace(",", ""))) and math.isfinite(float(tri.replace(",", "")))
    assert len(at.get("plotly_chart")) >= 2  # the curve and the next-word bars
    assert len(at.dataframe) >= 1  # neighbours of at least one word


def test_race_trains_three_networks_next_to_three_ngrams(fresh_caches):
    at = _open("Same text")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    at.button(key="lm_race_go").click().run()
    assert not _problems(at), (_problems(at), _errors(at))
    table = at.dataframe[-1].value
    assert len(table) == 6
    assert all(math.isfinite(p) and p > 1 for p in table.iloc[:, 1])


def test_elmo_layers_and_probe(fresh_caches):
    at = _open("ELMo")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert {c.key for c in at.get("plotly_chart")} == {"lm_elmo_cos", "lm_elmo_sep", "lm_elmo_acc"}
    assert any("Measured when the model was made" in c.value for c in at.caption)
    at.button(key="lm_elmo_probe").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert any("Run here" in c.value for c in at.caption)
    at.text_input(key="lm_elmo_word").set_value("不在").run()
    assert "does not contain" in _errors(at) and "only 0 part-of-speech" in _errors(at) and not _problems(at)
