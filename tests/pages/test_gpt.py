"""GPT page: first render, streaming greedy generation + step view, seeded sampling, errors, tiny GPT."""
import pytest

from tests.pages.conftest import assert_clean, run_page

PAGE = "pages/gpt.py"
SMALL = {"gpt_max_new": "20", "gpt_precision": "exact", "gpt_prompt": "The capital of France is"}


def test_first_render_is_clean(fresh_caches):
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value == "GPT sampling"
    assert at.button(key="gpt_generate")
    assert at.radio(key="gpt_mode").value == "greedy"
    assert "Fast:" in at.radio(key="gpt_precision").help and "Exact:" in at.radio(key="gpt_precision").help


def test_low_memory_mode_offers_only_llamacpp_for_smollm2(fresh_caches, monkeypatch):
    """A 1 GB host must not load a PyTorch copy of SmolLM2 (+270 MB): with llama.cpp it is the only choice;
    without it, PyTorch in bfloat16 is."""
    from core import settings
    from core.transformers import llamacpp

    monkeypatch.setattr(settings, "LOW_MEMORY", True)
    if llamacpp.available():
        at = run_page(PAGE)
        assert_clean(at)
        radio = at.radio(key="gpt_precision")
        assert radio.value == "llamacpp" and radio.options == ["llama.cpp (Q4_1 GGUF)"]  # options: the labels
        assert radio.help.startswith("llama.cpp:") and "Fast:" not in radio.help and "fp32 weights" not in radio.help
        assert any("Low-memory mode" in c.value for c in at.caption)
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    at = run_page(PAGE)
    assert_clean(at)
    radio = at.radio(key="gpt_precision")
    assert radio.value == "exact" and radio.options == ["bfloat16 (low-memory host)"]
    assert radio.help.startswith("bfloat16:")  # the help explains only what is offered


@pytest.mark.slow
def test_greedy_generation_and_step_view(fresh_caches):
    at = run_page(PAGE, timeout=600, query=SMALL)
    at.button(key="gpt_generate").click().run(timeout=600)
    assert_clean(at)
    res = at.session_state["gpt_result"]["res"]
    assert 1 <= len(res.ids) <= 20 and res.text.strip()
    assert len(res.steps) == len(res.ids)
    # step view: position slider, metrics and the plotly chart
    assert at.slider(key="gpt_step")
    assert any(m.label == "Entropy before → after" for m in at.metric)
    assert len(at.get("plotly_chart")) >= 1
    at.slider(key="gpt_step").set_value(min(3, len(res.ids) - 1)).run(timeout=600)
    assert_clean(at)
    assert at.query_params["gpt_max_new"] == "20"


@pytest.mark.slow
def test_fast_mode_generates(fresh_caches):
    from core.transformers import generate, lean_llama

    at = run_page(PAGE, timeout=600, query={"gpt_max_new": "8", "gpt_prompt": "The capital of France is",
                                            "gpt_precision": "fast"})
    assert at.radio(key="gpt_precision").value == "fast"
    at.button(key="gpt_generate").click().run(timeout=600)
    assert_clean(at)
    res = at.session_state["gpt_result"]["res"]
    assert len(res.ids) == 8 and res.text.strip() and len(res.steps) == 8
    assert any(isinstance(m, lean_llama.LeanLlama) for m in generate._fast_models.values())


@pytest.mark.slow
def test_llamacpp_is_the_default_and_gives_what_the_engine_gives_alone(fresh_caches):
    from core import loaders
    from core.transformers import generate

    at = run_page(PAGE, timeout=600, query={"gpt_max_new": "12", "gpt_prompt": "The capital of France is"})
    assert at.radio(key="gpt_precision").value == "llamacpp"  # where llama.cpp is installed (make install)
    at.button(key="gpt_generate").click().run(timeout=600)
    assert_clean(at)
    res = at.session_state["gpt_result"]["res"]
    assert len(res.steps) == len(res.ids) == 12 and "llama.cpp" in at.caption[-1].value + "".join(
        c.value for c in at.caption)
    lm = loaders.load_smollm_llamacpp()
    ids, _ = generate.encode_prompt(lm.tokenizer, "The capital of France is", lm.model, 12)
    alone = generate.run(lm.model, lm.tokenizer, ids, generate.GenConfig(mode="greedy", max_new_tokens=12))
    assert alone.ids == res.ids
    assert max(abs(a.logprob - b.logprob) for a, b in zip(alone.steps, res.steps)) < 1e-5
    assert at.slider(key="gpt_step") and len(at.get("plotly_chart")) >= 1  # the step view, from llama.cpp's logits


def test_without_llamacpp_the_page_says_how_to_get_it(fresh_caches, monkeypatch):
    from core.transformers import llamacpp

    monkeypatch.setattr(llamacpp, "available", lambda: False)
    at = run_page(PAGE)
    assert_clean(at)
    assert "llama.cpp (Q4_1 GGUF)" not in at.radio(key="gpt_precision").options  # options: the labels
    assert at.radio(key="gpt_precision").value == "fast"
    assert any("llama.cpp is not installed" in c.value for c in at.caption)


@pytest.mark.slow
def test_same_seed_gives_the_same_sample_twice(fresh_caches):
    q = {**SMALL, "gpt_mode": "sample", "gpt_max_new": "8", "gpt_seed": "123", "gpt_temperature": "1.0"}
    at = run_page(PAGE, timeout=600, query=q)
    at.button(key="gpt_generate").click().run(timeout=600)
    assert_clean(at)
    first = at.session_state["gpt_result"]["res"].ids
    assert not at.session_state["gpt_result"]["reused"]
    at.button(key="gpt_generate").click().run(timeout=600)  # identical request: the remembered result
    assert_clean(at)
    assert at.session_state["gpt_result"]["reused"] and at.session_state["gpt_result"]["res"].ids == first
    assert any("same inputs as an earlier run" in c.value for c in at.caption)
    from core.transformers import generate

    generate._results.clear()  # computed afresh, the seeded sample is the same
    at.button(key="gpt_generate").click().run(timeout=600)
    assert_clean(at)
    assert not at.session_state["gpt_result"]["reused"] and at.session_state["gpt_result"]["res"].ids == first


def test_empty_prompt_shows_an_error(fresh_caches):
    at = run_page(PAGE, query={"gpt_precision": "exact"})
    at.text_area(key="gpt_prompt").set_value("   ").run()
    at.button(key="gpt_generate").click().run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)


def test_tiny_gpt_trains_and_samples_in_the_page(fresh_caches):
    at = run_page(PAGE, tab="Tiny GPT")
    at.radio(key="gpt_tiny_source").set_value("scratch").run()
    assert_clean(at)
    at.selectbox(key="gpt_tiny_layers").set_value(1)
    at.selectbox(key="gpt_tiny_width").set_value(32)
    at.selectbox(key="gpt_tiny_context").set_value(32)
    at.number_input(key="gpt_tiny_steps").set_value(20)
    at.button(key="FormSubmitter:gpt_tiny_form-Train").click().run(timeout=300)
    assert_clean(at)
    hist = at.session_state["gpt_tiny_history"]
    assert hist[-1]["step"] == 20 and hist[-1]["val_loss"] is not None
    at.slider(key="gpt_tiny_len").set_value(40)
    at.button(key="gpt_tiny_sample").click().run(timeout=300)
    assert_clean(at)
    assert len(at.session_state["gpt_tiny_text"]) == len("ROMEO:") + 40


@pytest.mark.slow
def test_compare_decoders_table(fresh_caches):
    q = {**SMALL, "gpt_max_new": "4", "gpt_n_samples": "1", "gpt_beams": "2"}
    at = run_page(PAGE, timeout=600, query=q, tab="Compare decoders")
    at.button(key="gpt_compare").click().run(timeout=600)
    assert_clean(at)
    rows = at.session_state["gpt_compare_rows"]
    assert [r["decoder"] for r in rows] == ["greedy", "beam (width 2)", "sample, seed 0"]
    assert all(r["tokens"] >= 1 and r["log-prob"] <= 0 and 0 <= r["distinct-1"] <= 1 for r in rows)
    # beam search finds a sequence at least as likely as greedy's here (both 4 tokens)
    assert rows[1]["log-prob"] >= rows[0]["log-prob"] - 1e-6
