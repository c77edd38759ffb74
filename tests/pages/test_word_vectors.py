"""Word vectors page (AppTest): GloVe analogies, OOV errors, maps, one-hot demo, scoreboard wiring,
and word2vec trained on a bundled corpus answering a neighbour query."""
import pytest

from tests.pages.conftest import assert_clean, new_app_at_tab, open_tab, run_page

PAGE = "pages/word_vectors.py"


@pytest.mark.slow
def test_first_render_answers_king_man_woman_with_queen(fresh_caches):
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Word vectors"
    assert any("**queen**" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) >= 1  # the analogy bars
    assert at.query_params["wv_b"] == "king"
    # the other tools, each in its tab: neighbours of "frog" and a map...
    open_tab(at, PAGE, "maps")
    assert_clean(at)
    assert at.text_input(key="wv_word").value == "frog" and len(at.dataframe) >= 1  # the neighbours table
    assert len(at.get("plotly_chart")) >= 1  # the word map
    # ...and the one-hot lookup check with its one-hot and dense heatmaps (+ the rows E[w])
    open_tab(at, PAGE, "One-hot")
    assert_clean(at)
    assert len(at.get("plotly_chart")) >= 3
    assert any("equal" in m.value and "row" in m.value for m in at.markdown)


@pytest.mark.slow
def test_oov_word_shows_an_error_with_no_exception(fresh_caches):
    at = run_page(PAGE)
    at.text_input(key="wv_c").set_value("womann").run()
    assert not at.exception
    assert any("not in the vocabulary" in e.value and "woman" in e.value for e in at.error)
    # the rest of the page still renders (the other tabs)
    open_tab(at, PAGE, "maps")
    assert not at.exception
    assert at.text_input(key="wv_word").value == "frog"


@pytest.mark.slow
def test_url_sets_inputs_and_3cosmul_with_restricted_vocab(fresh_caches):
    at = run_page(PAGE, query={"wv_a": "paris", "wv_b": "france", "wv_c": "rome", "wv_method": "3CosMul",
                               "wv_restrict": "30000", "wv_preset": "countries–capitals", "wv_proj": "t-SNE"})
    assert_clean(at)
    assert at.radio(key="wv_method").value == "3CosMul"
    assert any("**italy**" in s.value for s in at.success)


@pytest.mark.slow
def test_bad_inputs_in_other_tools_are_errors_not_tracebacks(fresh_caches):
    at = run_page(PAGE, tab="maps")
    at.text_input(key="wv_word").set_value("two words").run()
    at.text_area(key="wv_map_words").set_value(" , ,").run()
    assert not at.exception
    assert len(at.error) >= 2  # neighbours and map
    at = run_page(PAGE, tab="One-hot")
    at.text_input(key="wv_onehot_words").set_value("king").run()
    assert not at.exception
    assert len(at.error) >= 1  # one-hot needs at least two words


@pytest.mark.slow
def test_offline_hub_vectors_say_they_need_network_and_fall_back(fresh_caches):
    at = run_page(PAGE)
    at.selectbox(key="wv_source").set_value("hub").run()
    assert not at.exception
    assert any("network" in e.value for e in at.error)
    assert any("**queen**" in s.value for s in at.success)  # GloVe still answers


@pytest.mark.slow
def test_training_word2vec_on_the_bundled_corpus_then_neighbours(fresh_caches):
    at = run_page(PAGE, tab="Train word2vec")
    at.radio(key="wv_corpus").set_value("lee")
    at.slider(key="wv_epochs").set_value(2)
    at.slider(key="wv_dim").set_value(20)
    at.button(key="wv_train").click().run()
    assert_clean(at)
    bars = at.get("progress")
    assert bars and "Trained 2 epochs" in bars[-1].proto.text
    assert any("Trained vectors in this session" in s.value for s in at.success)
    assert at.session_state["wv_trained_kv"] is not None and len(at.session_state["wv_train_history"]) == 2
    at.text_input(key="wv_probe").set_value("government").run()
    assert_clean(at)
    probe = at.dataframe[-1].value  # the last table on the page: neighbours in the trained vectors
    assert len(probe) == 10 and "government" not in set(probe["word"])
    # every tool now works on the trained vectors
    n_words = len(at.session_state["wv_trained_kv"].index_to_key)
    at.button(key="wv_use_trained").click().run()
    assert at.selectbox(key="wv_source").value == "trained"
    assert not at.exception
    assert at.metric[0].value == f"{n_words:,}"  # the vocabulary shown is the trained one
    # the scoreboard scores the trained vectors (few analogy questions are in a 3k-word vocabulary)
    open_tab(at, PAGE, "Scoreboard")
    assert not at.exception
    at.button(key="wv_score_run").click().run()
    assert not at.exception
    board = at.dataframe[0].value
    assert list(board.index) == ["word2vec (this session)"]
    assert 0 <= board["analogy accuracy"].iloc[0] <= 1 and board["answered"].iloc[0] >= 0


@pytest.mark.slow
def test_training_an_empty_upload_is_an_error(fresh_caches):
    at = run_page(PAGE, tab="Train word2vec")
    at.radio(key="wv_corpus").set_value("upload").run()
    at.button(key="wv_train").click().run()
    assert not at.exception
    assert any("Upload a .txt file" in e.value for e in at.error)


@pytest.mark.slow
def test_a_stopped_training_run_keeps_the_epochs_it_finished(fresh_caches):
    """Streamlit interrupts a run on any click; the page then keeps the vectors saved after each epoch."""
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    kv.add_vectors([f"w{i}" for i in range(20)], np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    at = new_app_at_tab(PAGE, "Train word2vec")
    at.session_state["wv_train_running"] = True
    at.session_state["wv_train_keep"] = {"kv": kv}
    at.session_state["wv_train_history"] = [{"epoch": 1, "loss": 10.0, "seconds": 0.1}]
    at.run()
    assert not at.exception
    assert at.session_state["wv_trained_kv"] is kv and not at.session_state["wv_train_running"]
    assert any("stopped after 1 epoch" in i.value for i in at.info)
