"""AppTest for the BERT fill-mask page (loads the packaged MiniLM + shipped MLM head)."""
import pytest

from core import sources
from tests.pages.conftest import assert_clean, open_tab, run_page

PAGE = "pages/bert.py"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sources.get_source("masked_lm", "minilm-mlm").available()
                       or not sources.get_source("encoder", "minilm-l6").available(),
                       reason="shipped MLM head or packaged MiniLM missing"),
]


def test_first_render_fills_the_mask(fresh_caches):
    at = run_page(PAGE, query={"bert_text": "paris is the [MASK] of france."})
    assert_clean(at)
    assert at.title[0].value == "BERT fill-mask"
    assert at.text_input(key="bert_text").value == "paris is the [MASK] of france."
    # predictions with probabilities: a table with a probability column for the one mask
    tables = [df.value for df in at.dataframe]
    preds = next(t for t in tables if "probability" in t.columns)
    assert len(preds) == 5 and preds["probability"].between(0, 1).all()
    assert preds["probability"].is_monotonic_decreasing and preds["probability"].sum() <= 1 + 1e-6
    assert any(m.value.startswith("**Completed:**") for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 1  # the mask's bar chart
    # the contextual-vector tab renders its matrix and the within/across line plot
    open_tab(at, PAGE, "Contextual")
    assert_clean(at)
    assert len(at.get("plotly_chart")) >= 2


def test_two_masks_both_modes(fresh_caches):
    at = run_page(PAGE, query={"bert_text": "the [MASK] sat on the [MASK].", "bert_mode": "left_to_right"})
    assert_clean(at)
    assert at.radio(key="bert_mode").value == "left_to_right"
    preds = next(df.value for df in at.dataframe if "probability" in df.value.columns)
    assert sorted(preds["mask"].unique()) == [1, 2]
    assert any("independent" in i.value for i in at.info)


def test_no_mask_shows_an_error(fresh_caches):
    at = run_page(PAGE)
    assert_clean(at)  # the default sentence renders cleanly
    at.text_input(key="bert_text").set_value("paris is the capital of france.").run()
    assert not at.exception
    assert any("[MASK]" in e.value for e in at.error)


def test_too_many_masks_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"bert_text": "[MASK] " * 7})
    assert not at.exception
    assert any("limit is 5" in e.value for e in at.error)


def test_offline_hub_model_shows_a_clear_error(fresh_caches):
    at = run_page(PAGE, query={"bert_model": "bert-base-uncased"})
    assert not at.exception
    assert any("no network" in e.value for e in at.error)


def test_bad_hub_id_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"bert_model": "__custom__", "bert_hub_id": "../../etc/passwd"})
    assert not at.exception
    assert any("not a valid Hugging Face model id" in e.value for e in at.error)


def test_contextual_word_missing_is_an_error_and_preset_restores(fresh_caches):
    at = run_page(PAGE, query={"bert_ctx_word": "zebra"}, tab="Contextual")
    assert not at.exception
    assert any("does not appear" in e.value for e in at.error)
    at.selectbox(key="bert_ctx_preset").set_value("apple (fruit vs company)").run()
    assert_clean(at)
    assert at.text_input(key="bert_ctx_word").value == "apple"


def test_compare_with_an_offline_hub_model_keeps_the_first_model(fresh_caches):
    at = run_page(PAGE, query={"bert_compare": "true", "bert_model_b": "roberta-base"})
    assert not at.exception
    assert any("no network" in e.value for e in at.error)
    assert any(m.value.startswith("**Completed:**") for m in at.markdown)  # model A still fills the mask


def test_left_to_right_comparison_uses_the_right_context(fresh_caches):
    """The notes' point, visible: SmolLM2 at the blank of 'The [MASK] barked at the mailman.' knows only 'The';
    scoring the whole sentence lets 'barked' pick 'dog'."""
    if not sources.get_source("causal_lm", "smollm2-135m").available():
        pytest.skip("SmolLM2 is not installed")
    at = run_page(PAGE, timeout=300, query={"bert_text": "The [MASK] barked at the mailman.", "bert_gpt": "true"})
    assert_clean(at)
    keys = {c.key for c in at.get("plotly_chart")}
    assert {"bert_gpt_a", "bert_gpt_p_left", "bert_gpt_p_both"} <= keys
    at = run_page(PAGE, timeout=300, query={"bert_text": "the [MASK] sat on the [MASK].", "bert_gpt": "true"})
    assert not at.exception and any("exactly one [MASK]" in e.value for e in at.error)
