"""AppTest for the BERT page with the Chinese BERT pre-trained here: Chinese examples follow the model, fill-mask,
next-sentence prediction, contextual vectors of 制服, the live pre-training run; bad input is a clear message."""
import re

import pytest

from core import sources
from tests.pages.conftest import errors as _errors, problems as _problems, run_page

PAGE = "pages/bert.py"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sources.get_source("masked_lm", "bert-zh").available(),
                                 reason="the Chinese BERT has not been pre-trained (scripts/train_bert_zh.py)")]


def _open(tab=None, **query):
    return run_page(PAGE, timeout=240, tab=tab, query={"bert_model": "bert-zh", **query})


def test_chinese_examples_follow_the_model_and_fill_mask_works(fresh_caches):
    at = _open()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.text_input(key="bert_text").value == "中国的首都是[MASK]京。"  # the English default was swapped
    preds = next(df.value for df in at.dataframe if "probability" in df.value.columns)
    assert len(preds) == 5 and all(CHINESE.search(t) or len(t) == 1 for t in preds["token"])
    # the quality note is the loaded model's own figures (a weak model says so; a good one says nothing)
    from core import st_cache
    from core.transformers import fillmask

    notes = fillmask.quality_notes(st_cache.load_source(sources.get_source("masked_lm", "bert-zh")).info)
    captions = [c.value for c in at.caption]
    assert all(any(n["text"].format(**n["values"]) == c for c in captions) for n in notes), captions
    at.selectbox(key="bert_model").set_value("minilm-mlm").run()  # back to English: English examples
    assert at.text_input(key="bert_text").value == "i drink a cup of [MASK] every morning."
    assert any("held-out blanks right" in c.value for c in at.caption)


@pytest.mark.parametrize("text,message", [("没有遮盖的句子。", "no [MASK]"), ("[MASK]" * 6, "limit is 5"),
                                          ("中" * 2000 + "[MASK]", "limit")])
def test_bad_sentences_are_clear_errors(fresh_caches, text, message):
    at = _open(bert_text=text)
    assert not _problems(at) and message in _errors(at), _errors(at)


def test_a_chinese_sentence_to_the_english_model_and_the_reverse(fresh_caches):
    at = run_page(PAGE, timeout=240, query={"bert_model": "minilm-mlm", "bert_text": "中国的首都是[MASK]京。"})
    assert not _problems(at)  # English word pieces: it answers (badly) or says why, never a traceback
    at = _open(bert_text="paris is the [MASK] of france.")
    assert not _problems(at) and not at.error  # Latin letters are [UNK] characters to it, still a fill


def test_next_sentence_tab(fresh_caches):
    at = _open("Next sentence")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.metric[0].label == "P(B follows A)" and at.metric[0].value.endswith("%")
    assert "bert_nsp_fig" in {c.key for c in at.get("plotly_chart")}
    at.text_input(key="bert_pair_b").set_value("  ").run()
    assert not _problems(at) and "Type two sentences" in _errors(at)
    at = run_page(PAGE, timeout=240, tab="Next sentence", query={"bert_model": "minilm-mlm"})
    assert not _problems(at) and any("NSP head" in i.value for i in at.info)


def test_contextual_vectors_of_a_chinese_word(fresh_caches):
    at = _open("Contextual")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.text_input(key="bert_ctx_word").value == "制服"
    assert {"bert_ctx_matrix", "bert_ctx_lines_fig"} <= {c.key for c in at.get("plotly_chart")}


def test_live_pre_training(fresh_caches):
    at = _open("Pre-training", bert_pt_seconds="5")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    at.button(key="bert_pt_go").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert "bert_pt_fig" in {c.key for c in at.get("plotly_chart")}
    labels = [m.label for m in at.metric]
    assert "held-out masked-character top-1" in labels and "held-out next-sentence accuracy" in labels
