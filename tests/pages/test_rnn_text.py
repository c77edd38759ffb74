"""AppTest tests for the RNN text generation page (tiny settings; ~30 s of CPU in all)."""
import pytest

from core.sequence import charlm as C
from tests.pages.conftest import assert_clean, open_tab, run_page

PAGE = "pages/rnn_text.py"
SMALL = {"rnn_gen_model": "shipped", "rnn_length": "20", "rnn_vg_len": "20", "rnn_cmp_params": "10000"}


def _page(tab=None, **query):
    return run_page(PAGE, query={**SMALL, **query}, tab=tab)


def test_first_render_is_clean_and_generates_with_the_shipped_model(fresh_caches):
    at = _page()
    assert_clean(at)
    assert at.title[0].value == "RNN text generation"
    gen = at.session_state["_rnn_gen"]["result"]
    assert len(gen.text) == 20
    assert at.get("plotly_chart"), "top-candidates and gradient charts render"


def test_generation_returns_the_requested_length_and_same_seed_same_text(fresh_caches):
    at = _page()
    at.slider(key="rnn_length").set_value(57)
    at.text_area(key="rnn_prime").set_value("KING:\n")
    at.button(key="rnn_generate").click().run()
    assert_clean(at)
    first = at.session_state["_rnn_gen"]["result"]
    assert len(first.text) == 57 and first.prime == "KING:\n"
    code = at.code[0].value
    assert code == "KING:\n" + first.text
    at.button(key="rnn_generate").click().run()
    assert at.session_state["_rnn_gen"]["result"].text == first.text  # same seed, same sample
    assert at.query_params["rnn_length"] == "57"  # permalink


def test_unknown_prime_characters_show_an_error(fresh_caches):
    at = _page()
    at.text_area(key="rnn_prime").set_value("日本語")
    at.run()
    assert not at.exception
    assert any("never saw" in e.value for e in at.error)


def test_short_training_run_shows_a_loss_curve_and_can_generate(fresh_caches):
    at = _page(tab="Train", rnn_cell="gru", rnn_hidden="32", rnn_embed="16", rnn_batch="8", rnn_seq="32",
               rnn_steps="30", rnn_seconds="60", rnn_sample_every="15", rnn_lr="0.01")
    at.button(key="FormSubmitter:rnn_train_form-🏋️ Train a new model").click().run()
    assert_clean(at)
    sess = at.session_state["rnn_session"]
    steps = [h for h in sess["history"] if "loss" in h]
    assert len(steps) == 30
    assert any("val_loss" in h for h in sess["history"])
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert at.get("plotly_chart") and keys
    assert sess["samples"], "samples were printed during training"
    # the session model is now the generation model (the Generate tab samples from it when opened)
    open_tab(at, PAGE, "Generate")
    assert_clean(at)
    assert at.session_state["rnn_gen_model"] == "session"
    assert len(at.session_state["_rnn_gen"]["result"].text) == 20


def test_empty_upload_shows_an_error(fresh_caches):
    at = _page(tab="Train", rnn_corpus="upload")
    assert_clean(at)
    at.file_uploader(key="rnn_upload").set_value(("empty.txt", b"", "text/plain"))
    at.run()
    assert not at.exception
    assert any("empty" in e.value.lower() for e in at.error)


def test_binary_upload_shows_an_error(fresh_caches):
    at = _page(tab="Train", rnn_corpus="upload")
    at.file_uploader(key="rnn_upload").set_value(("x.txt", b"\x00\x01\x02" * 100, "text/plain"))
    at.run()
    assert not at.exception
    assert any("binary" in e.value.lower() for e in at.error)


@pytest.mark.slow
def test_race_trains_three_cells_with_equal_parameters(fresh_caches):
    at = _page(tab="RNN vs GRU", rnn_batch="8", rnn_seq="16", rnn_cmp_steps="8", rnn_cmp_seconds="20")
    at.button(key="rnn_cmp_go").click().run()
    assert_clean(at)
    race = at.session_state["rnn_compare"]
    sizes = [C.count_params(race[c]["model"]) for c in C.CELLS]
    assert max(sizes) / min(sizes) < 1.15
    assert len(at.dataframe) >= 1


def test_training_on_chinese_switches_the_prime_to_known_characters(fresh_caches):
    at = _page(tab="Train", rnn_corpus="chinese", rnn_hidden="16", rnn_embed="8", rnn_batch="4", rnn_seq="16",
               rnn_steps="3", rnn_sample_every="0")
    at.button(key="FormSubmitter:rnn_train_form-🏋️ Train a new model").click().run()
    assert_clean(at)
    open_tab(at, PAGE, "Generate")  # where the prime is switched and the session model samples
    assert_clean(at)
    vocab = at.session_state["rnn_session"]["vocab"]
    assert not vocab.unknown(at.text_area(key="rnn_prime").value)
    assert len(at.session_state["_rnn_gen"]["result"].text) == 20
