"""AppTest for the Seq2seq translation page (uses the shipped en→zh checkpoint)."""
import re

import pytest

from core import sources
from tests.pages.conftest import assert_clean, open_tab, run_page

PAGE = "pages/seq2seq.py"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TRAIN = "FormSubmitter:seq2seq_train_form-Train"  # the Train tab's form button
shipped = pytest.mark.skipif(not sources.get_source("seq2seq", "en-zh-attention").available()
                             or not (sources.MODELS_DIR / "seq2seq-en-zh" / "model.safetensors").exists(),
                             reason="the shipped en→zh checkpoint has not been trained (scripts/train_seq2seq.py)")


@shipped
@pytest.mark.slow
def test_translates_i_am_hungry_with_heatmap_and_beam_one_equals_greedy(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "en-zh-attention", "seq2seq_text": "i am hungry .",
                               "seq2seq_method": "greedy"})
    assert_clean(at)
    assert at.title[0].value == "Seq2seq translation"
    res = at.session_state["seq2seq_result"]
    assert CHINESE.search(res["text"]), res
    assert res["has_attention"]
    assert any(m.value.startswith("#### ") and CHINESE.search(m.value) for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 1  # the attention heatmap
    greedy_tokens = res["tokens"]

    at.radio(key="seq2seq_method").set_value("beam").run()
    at.slider(key="seq2seq_beam").set_value(1).run()
    assert_clean(at)
    assert at.session_state["seq2seq_result"]["tokens"] == greedy_tokens
    assert any("identical output" in s.value for s in at.success)

    at.slider(key="seq2seq_beam").set_value(5).run()
    assert_clean(at)
    assert len(at.table) >= 1  # the finished hypotheses
    assert len(at.get("plotly_chart")) >= 3  # heatmap, alpha plot, beam tree
    assert at.query_params["seq2seq_beam"] == "5"


@shipped
def test_empty_input_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "en-zh-attention"})
    at.text_input(key="seq2seq_text").set_value("   ").run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_first_render_without_a_model_is_clean(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "scratch", "seq2seq_beam": "99", "seq2seq_method": "nonsense"})
    assert_clean(at)
    assert at.slider(key="seq2seq_beam").value == 10  # clamped from the URL
    assert at.radio(key="seq2seq_method").value == "beam"  # unknown -> default
    assert any("Train" in i.value for i in at.info)


def test_malformed_upload_names_the_bad_line(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "scratch"}, tab="Train")
    at.selectbox(key="seq2seq_data").set_value("upload")
    at.file_uploader(key="seq2seq_upload").set_value(("pairs.tsv", b"hello\tni hao\nno tab on this line\n",
                                                      "text/tab-separated-values"))
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert any("Line 2 has no tab" in e.value for e in at.error), [e.value for e in at.error]


def _train_tiny(query: dict):
    """Open the Train tab by `query`, train a tiny model on 200 pairs for one epoch (≤ 10 s)."""
    at = run_page(PAGE, query=query, tab="Train")
    at.slider(key="seq2seq_n_pairs").set_value(200)
    at.slider(key="seq2seq_epochs").set_value(1)
    at.select_slider(key="seq2seq_hidden").set_value(32)
    at.select_slider(key="seq2seq_emb").set_value(16)
    at.slider(key="seq2seq_budget").set_value(10)
    return at.button(key=TRAIN).click().run()


@pytest.mark.slow
def test_train_a_tiny_model_then_translate_with_it(fresh_caches):
    at = _train_tiny({"seq2seq_model": "scratch"})
    assert_clean(at)
    hist = at.session_state["seq2seq_trained"]["history"]
    assert hist["steps"] and len(hist["epochs"]) == 1
    rec = hist["epochs"][0]
    assert rec["val_loss_tf"] > 0 and rec["val_loss_free"] > 0
    assert any("Your model" in s.value for s in at.success)
    open_tab(at, PAGE, "Translate")  # the session model is now offered and translates
    assert_clean(at)
    assert "tokens" in at.session_state["seq2seq_result"]


@pytest.mark.slow
def test_attention_experiment_runs_three_models(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "scratch"}, tab="Attention vs none")
    at.slider(key="seq2seq_toy_s").set_value(5)
    at.button(key="seq2seq_toy_go").click().run()
    assert_clean(at)
    runs = at.session_state["seq2seq_toy"]
    assert set(runs) == {"none", "additive", "dot"} and all(r["epochs"] for r in runs.values())


@pytest.mark.slow
def test_train_a_tiny_transformer_in_the_train_tab(fresh_caches):
    at = _train_tiny({"seq2seq_model": "scratch", "seq2seq_cell": "transformer",
                      "seq2seq_attention": "additive"})  # the Transformer ignores the attention choice
    assert_clean(at)
    trained = at.session_state["seq2seq_trained"]
    assert trained["bundle"].config.cell == "transformer" and trained["label"].startswith("Transformer")
    assert len(trained["history"]["epochs"]) == 1
    open_tab(at, PAGE, "Translate")
    assert_clean(at)
    assert at.session_state["seq2seq_result"]["has_attention"]  # the last decoder layer's cross-attention
    assert any(c.value.startswith("Transformer · 2 encoder + 2 decoder blocks") for c in at.caption)


@pytest.mark.skipif(not sources.get_source("seq2seq", "en-zh-transformer").available(),
                    reason="the shipped Transformer translator has not been trained")
def test_the_shipped_transformer_is_offered_and_translates(fresh_caches):
    at = run_page(PAGE, query={"seq2seq_model": "en-zh-transformer", "seq2seq_text": "i am hungry .",
                               "seq2seq_method": "beam", "seq2seq_beam": "3"})
    assert_clean(at)
    assert at.selectbox(key="seq2seq_model").value == "en-zh-transformer"
    assert "English→Chinese, Transformer (shipped)" in at.selectbox(key="seq2seq_model").options
    res = at.session_state["seq2seq_result"]
    assert res["has_attention"] and res["tokens"]
    assert any("last decoder layer" in c.value for c in at.caption)
