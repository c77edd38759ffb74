"""AppTest for the Attention page: every section renders, layer/head browsing works, bad input -> st.error."""
import json

import numpy as np
import pytest

from tests.pages.conftest import assert_clean, run_page

PAGE = "pages/attention.py"


def _figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _titles(at) -> list[str]:
    out = []
    for fig in _figures(at):
        title = fig.get("layout", {}).get("title", {})
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


def _z(fig: dict, trace: int = 0) -> np.ndarray:
    """A heatmap's z as an array (plotly 6 writes numpy arrays as base64 'bdata')."""
    z = fig["data"][trace]["z"]
    if isinstance(z, dict):
        import base64

        arr = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        shape = z.get("shape")
        if isinstance(shape, str):
            shape = [int(x) for x in shape.split(",")]
        return arr.reshape(shape) if shape else arr
    return np.array(z, dtype=float)


def _figure(at, title_part: str) -> dict:
    for fig, title in zip(_figures(at), _titles(at)):
        if title_part in title:
            return fig
    raise AssertionError(f"no figure titled like {title_part!r}; have {_titles(at)}")


def test_step_by_step_first_render_and_unscaled_toggle(fresh_caches):
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Attention"
    titles = _titles(at)
    for part in ("Q  (6×4)", "Scores QKᵀ", "Scaled scores", "Mask M", "Attention weights", "Output"):
        assert any(part in t for t in titles), (part, titles)
    weights = _z(_figure(at, "Attention weights"))
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-9)
    assert len(at.get("download_button")) >= 8  # every figure downloadable (HTML + CSV)
    at.toggle(key="att_scale").set_value(False).run()
    assert_clean(at)
    assert any("not scaled" in t for t in _titles(at))
    assert at.query_params["att_scale"] == "False"
    at.slider(key="att_dk").set_value(64).run()  # wide heads, no scaling: near one-hot rows
    assert_clean(at)
    assert _z(_figure(at, "Attention weights")).max() > 0.5
    at.selectbox(key="att_query").set_value(2).run()
    assert_clean(at)
    assert any("Query 2: sat" in t for t in _titles(at))
    at.text_input(key="att_sentence").set_value("a b").run()  # fewer tokens than the chosen query
    assert_clean(at)
    assert at.selectbox(key="att_query").value == 1
    at.text_input(key="att_sentence").set_value("the cat sat on the mat").run()
    at.radio(key="att_qkv_mode").set_value("edit by hand").run()
    assert_clean(at)
    assert any("Q  (6×64)" in t for t in _titles(at))


def test_causal_mask_zeroes_the_upper_triangle(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Masks"})
    assert_clean(at)
    at.selectbox(key="att_mask").set_value("causal").run()
    assert_clean(at)
    w = _z(_figure(at, "softmax(S/√d_k + M)"))
    assert np.all(np.triu(w, 1) == 0) and w[0, 0] == pytest.approx(1.0)
    assert at.success and "same matrix" in at.success[0].value


def test_bad_toy_input_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"att_sentence": "   "})
    assert not at.exception
    assert at.error and "empty" in at.error[0].value
    at = run_page(PAGE, query={"att_section": "Multi-head", "att_sentence": " ".join("abcdefghijklmn")})
    assert not at.exception
    assert at.error and "at most" in at.error[0].value


def test_multi_head_positions_and_cross_attention_sections_render(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Multi-head", "att_heads": "2", "att_dmodel": "8"})
    assert_clean(at)
    assert any("Per-head" in t for t in _titles(at))
    assert len(_figure(at, "Per-head")["data"]) == 2


def test_cross_attention_waits_politely_for_the_translator(fresh_caches, monkeypatch):
    from core.transformers import attention

    monkeypatch.setattr(attention, "seq2seq_status", lambda: ([], "core.sequence.seq2seq is not available yet."))
    at = run_page(PAGE, query={"att_section": "Cross-attention"})
    assert_clean(at)
    assert at.info and "once that model is available" in at.info[0].value


@pytest.mark.slow
def test_cross_attention_from_the_translator(fresh_caches):
    from core.transformers import attention

    if not attention.seq2seq_status()[0]:
        pytest.skip("no seq2seq checkpoint with attention in assets/models yet")
    at = run_page(PAGE, query={"att_section": "Cross-attention", "att_s2s_text": "I love you."})
    assert_clean(at)
    att = _z(_figure(at, "Cross-attention"))
    assert att.ndim == 2 and att.shape[1] == 5  # i love you . <eos>
    np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_tiny_gpt_attention_when_its_checkpoint_exists(fresh_caches):
    from core.transformers import attention

    if not attention.tiny_gpt_status()[0]:
        pytest.skip("no tiny GPT checkpoint in assets/models yet")
    at = run_page(PAGE, query={"att_section": "Real models", "att_model": "tiny-gpt", "att_text": "ROMEO: But soft!"})
    assert_clean(at)
    w = _z(_figure(at, "tiny-gpt · layer 0 · head 0"))
    assert w.shape == (16, 16) and np.all(np.triu(w, 1) == 0)


@pytest.mark.slow
def test_positions_show_sinusoids_beside_minilm_learned(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Positions", "att_pe_len": "16", "att_pe_dim": "32"})
    assert_clean(at)
    titles = _titles(at)
    assert any("Sinusoidal PE" in t for t in titles) and any("MiniLM learned" in t for t in titles)
    pe = _z(_figure(at, "Sinusoidal PE"))
    assert pe.shape == (16, 32) and pe[3, 0] == pytest.approx(np.sin(3))


@pytest.mark.slow
def test_minilm_changing_layer_and_head_updates_the_plot(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Real models", "att_pair": "It was raining."})
    assert_clean(at)
    first = _figure(at, "minilm-l6 · layer 0 · head 0")
    assert "[CLS]" in first["data"][0]["x"] and len(at.get("plotly_chart")) == 3  # head view, grid, entropy
    at.slider(key="att_layer").set_value(3).run()
    at.slider(key="att_head").set_value(7).run()
    assert_clean(at)
    second = _figure(at, "layer 3 · head 7")
    assert _z(second).shape == _z(first).shape and not np.allclose(_z(second), _z(first))
    assert at.query_params["att_layer"] == "3" and at.query_params["att_head"] == "7"
    at.toggle(key="att_hide_special").set_value(True).run()
    assert_clean(at)
    hidden = _figure(at, "layer 3 · head 7")
    assert "[CLS]" not in hidden["data"][0]["x"]
    np.testing.assert_allclose(_z(hidden).sum(1), 1.0, atol=1e-4)
    at.toggle(key="att_avg_heads").set_value(True).run()
    assert_clean(at)
    np.testing.assert_allclose(_z(_figure(at, "layer 3 · mean of 12 heads")).sum(1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_smollm_is_causal_and_long_input_shows_truncation_notice(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Real models", "att_model": "smollm2-135m",
                               "att_text": "The cat sat on the mat."})
    assert_clean(at)
    w = _z(_figure(at, "smollm2-135m · layer 0 · head 0"))
    assert np.all(np.triu(w, 1) == 0)
    assert not at.warning
    at.slider(key="att_grid_from").set_value(20).run()
    assert_clean(at)
    assert any("Layers 20–29" in t for t in _titles(at))
    at.text_area(key="att_text").set_value("word " * 400).run()
    assert_clean(at)
    assert at.warning and "truncated" in at.warning[0].value and "128" in at.warning[0].value


def test_hub_model_offline_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"att_section": "Real models", "att_model": "hub", "att_hub_id": "bert-base-uncased"})
    assert not at.exception
    assert at.error and "network" in at.error[0].value
    at.text_input(key="att_hub_id").set_value("../etc/passwd").run()
    assert not at.exception
    assert at.error and "not a valid" in at.error[0].value
