"""Lazy tabs (what people get): every tab of every page runs on its own, only the open tab's code
runs, and a tab opened through session state (as the permalink does) stays open."""
import pytest

from tests.pages.conftest import new_app

# page -> (tab key, a widget key that lives only in the last tab)
PAGES = {
    "pages/word_vectors.py": ("wv_tab", "wv_train"),
    "pages/rnn_text.py": ("rnn_tab", "rnn_vg_len"),
    "pages/seq2seq.py": ("seq2seq_tab", None),
    "pages/bert.py": ("bert_tab", None),
    "pages/gpt.py": ("gpt_tab", "gpt_tiny_sample"),
}


@pytest.fixture
def lazy(fresh_caches):
    """Lazy tabs are what every page test gets now (tests/conftest.py no longer makes them eager)."""


def _keys(at) -> set:
    found = set()
    for kind in ("button", "slider", "text_input", "text_area", "selectbox", "number_input", "radio", "checkbox",
                 "toggle", "select_slider"):
        found |= {w.key for w in getattr(at, kind) if w.key}
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PAGES))
def test_each_tab_runs_alone(lazy, path):
    key, last_only = PAGES[path]
    at = new_app(path, timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [t.label for t in at.tabs]
    assert len(labels) >= 3, labels
    first_keys = _keys(at)
    if last_only:
        assert last_only not in first_keys, f"{last_only} ran although its tab is closed"
    for label in labels[1:]:
        at.session_state[key] = label
        at.run()
        assert not at.exception, (label, [e.value for e in at.exception])
        assert not [e.value for e in at.error if "Something went wrong" in str(e.value)], label
        assert at.session_state[key] == label
    if last_only:
        assert last_only in _keys(at), f"{last_only} missing with its tab open"


@pytest.mark.slow
@pytest.mark.parametrize("path,tab_key,fragment,kind,key,value", [
    ("pages/bert.py", "bert_tab", "embeddings", "radio", "bert_emb_part", "position"),
    ("pages/gpt.py", "gpt_tab", "Tiny GPT", "slider", "gpt_tiny_len", 500),
])
def test_a_setting_survives_while_its_tab_is_closed(lazy, path, tab_key, fragment, kind, key, value):
    """Widgets of a closed tab are not drawn, and Streamlit would reset them to their defaults."""
    at = new_app(path, timeout=240)
    at.run()
    labels = [t.label for t in at.tabs]
    mine = next(label for label in labels if fragment in label)
    at.session_state[tab_key] = mine
    at.run()
    getattr(at, kind)(key=key).set_value(value).run()
    assert at.query_params[key] == str(value)
    at.session_state[tab_key] = labels[0]  # close the tab for two runs
    at.run()
    at.run()
    assert at.query_params[key] == str(value)  # the permalink still has it
    at.session_state[tab_key] = mine  # and open it again
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert getattr(at, kind)(key=key).value == value
