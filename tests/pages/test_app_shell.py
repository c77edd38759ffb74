"""The entry point: navigation lists all pages, the sidebar has device, seed and a permalink."""
from tests.pages.conftest import assert_clean, new_app

PAGES = ["pages/home.py", "pages/glossary.py", "pages/basics.py", "pages/classic_nlp.py", "pages/word_vectors.py", "pages/lm_lineage.py", "pages/rnn_text.py", "pages/seq2seq.py",
         "pages/attention.py", "pages/transformer.py", "pages/bert.py", "pages/gpt.py",
         "pages/classify.py"]


def test_entry_point_renders_home_with_sidebar(fresh_caches):
    at = new_app("streamlit_app.py")
    at.run()
    assert_clean(at)
    assert at.title[0].value == "NLP Playground"
    assert at.number_input(key="app_seed").value == 0
    assert any("Device:" in c.value for c in at.sidebar.caption)
    # the home page links every page (the course map: a link per topic taught so far)
    linked = {link.proto.page for link in at.get("page_link")}
    assert {p[len("pages/"):-len(".py")] for p in PAGES if p not in ("pages/home.py", "pages/glossary.py")} <= \
        {p.split("/")[-1] for p in linked}, linked


def test_seed_round_trips_through_the_url(fresh_caches):
    at = new_app("streamlit_app.py")
    at.query_params["app_seed"] = "1234"
    at.run()
    assert at.number_input(key="app_seed").value == 1234
    assert at.query_params["app_seed"] == "1234"


def _permalink_script():
    import streamlit as st

    from pages._shared import sync_url, url_state

    url_state({"demo_text": "hello", "demo_k": 3, "demo_mode": "greedy"},
              choices={"demo_mode": ["greedy", "beam"]}, bounds={"demo_k": (1, 10)})
    st.text_input("Text", key="demo_text")
    st.slider("k", 1, 10, key="demo_k")
    st.selectbox("Mode", ["greedy", "beam"], key="demo_mode")
    sync_url()


def test_widget_values_are_mirrored_into_the_url(fresh_caches):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_permalink_script)
    at.query_params.update({"demo_text": "from url", "demo_k": "99", "demo_mode": "nonsense"})
    at.run()
    assert_clean(at)
    assert at.text_input(key="demo_text").value == "from url"
    assert at.slider(key="demo_k").value == 10  # clamped into the widget's range
    assert at.selectbox(key="demo_mode").value == "greedy"  # unknown choice -> default
    at.text_input(key="demo_text").set_value("changed").run()
    at.selectbox(key="demo_mode").set_value("beam").run()
    assert at.query_params["demo_text"] == "changed"
    assert at.query_params["demo_mode"] == "beam"


def test_bad_seed_in_url_falls_back_to_default(fresh_caches):
    at = new_app("streamlit_app.py")
    at.query_params["app_seed"] = "not-a-number"
    at.run()
    assert_clean(at)
    assert at.number_input(key="app_seed").value == 0


def test_every_page_file_exists_and_has_a_title(fresh_caches):
    for path in PAGES:
        at = new_app(path)
        at.run()
        assert not at.exception, (path, [e.value for e in at.exception])
        assert at.title, path
