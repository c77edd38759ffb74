"""Every tab of every page, opened FIRST in a fresh session (as a visitor arriving by a shared link
does), renders cleanly, and every button it shows works when pressed in a fresh session.

Pages run as they are served: lazy tabs, only the open tab's code runs. A tab that needs a value
another tab computes fails here (it failed for the RNN race: "Something went wrong (NameError)").
Training buttons get small budgets, set the way a permalink sets them (the page's URL keys).
"""
import ast

import pytest

from tests.pages.conftest import ROOT, new_app_at_tab, page_tabs, problems as _problems

# Small budgets so a pressed training button finishes in seconds (all within the pages' bounds).
SMALL = {
    "pages/word_vectors.py": {"wv_corpus": "lee", "wv_epochs": 1, "wv_dim": 10, "wv_min_count": 5},
    "pages/rnn_text.py": {"rnn_steps": 3, "rnn_seconds": 2, "rnn_sample_every": 0, "rnn_hidden": 32,
                          "rnn_cmp_steps": 2, "rnn_cmp_seconds": 1, "rnn_cmp_params": 10_000, "rnn_length": 40},
    "pages/seq2seq.py": {"seq2seq_n_pairs": 200, "seq2seq_epochs": 1, "seq2seq_budget": 10, "seq2seq_hidden": 16,
                         "seq2seq_emb": 16, "seq2seq_toy_s": 5},
    "pages/bert.py": {"bert_pt_seconds": 5},
    "pages/gpt.py": {"gpt_max_new": 3, "gpt_n_samples": 1, "gpt_beams": 2, "gpt_tiny_steps": 10, "gpt_tiny_len": 20},
    "pages/attention.py": {},
    "pages/classic_nlp.py": {"cl_crf_seconds": 5},
    "pages/basics.py": {"ba_steps": 30, "ba_pg_steps": 20, "ba_cnn_seconds": 2, "ba_gd_epochs": 1.0},
    "pages/transformer.py": {"tf_seconds": 3, "tf_mask_seconds": 3, "tf_tip_seconds": 3, "tf_len": 5, "tf_mt_n": 20},
    "pages/classify.py": {"cls_size": "100", "cls_seconds": 5, "cls_models": "nb,tfidf_lr", "cls_curve_model": "nb",
                          "cls_ft_steps": 10, "cls_ft_seconds": 5, "cls_probe_n": 300},
    "pages/lm_lineage.py": {"lm_ng_tokens": 20_000, "lm_nn_tokens": 20_000, "lm_nn_seconds": 3,
                            "lm_race_tokens": 20_000, "lm_race_seconds": 3},
}


def views(path: str) -> tuple[str, tuple[str, ...]]:
    """(URL key, English labels) of a page's tabs; the attention page's sections are a radio
    (`att_section`) over its SECTIONS list, opened by a link the same way."""
    if path == "pages/attention.py":
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SECTIONS")
        return "att_section", tuple(ast.literal_eval(e.args[0] if isinstance(e, ast.Call) else e) for e in node.value.elts)
    return page_tabs(path)


CASES = [(path, label) for path in SMALL for label in views(path)[1]]
# the tiny GPT's training form shows only for "train your own"
TINY = next(lbl for lbl in page_tabs("pages/gpt.py")[1] if "Tiny" in lbl)
# Buttons that only appear while something runs (Stop) or whose effect is a rerun with a new value.
PASSIVE = {"rnn_stop", "rnn_cmp_stop", "seq2seq_stop", "gpt_tiny_stop", "ba_pg_stop", "ba_cnn_stop", "lm_nn_stop", "lm_race_stop",
           "lm_elmo_stop", "tf_stop",
           "tf_mask_stop", "tf_tip_stop", "tf_mt_stop", "bert_pt_stop", "cls_stop", "cls_curve_stop", "cls_look_stop",
           "cls_ft_stop", "cls_up_stop"}


def _open(path: str, label: str, extra: dict | None = None):
    at = new_app_at_tab(path, timeout=240)
    for key, value in {**SMALL[path], **(extra or {})}.items():
        at.session_state[key] = value
    key, _ = views(path)
    at.query_params[key] = label
    return at.run()


def _buttons(at) -> list:
    """The buttons (st.button and form submit buttons) the open tab shows."""
    return [b for b in at.button if (b.key or b.label) and b.key not in PASSIVE]


@pytest.mark.slow
@pytest.mark.parametrize("path,label,extra", [(p, lbl, None) for p, lbl in CASES]
                         + [("pages/gpt.py", TINY, {"gpt_tiny_source": "scratch"})],
                         ids=[f"{p.split('/')[-1][:-3]}:{lbl}" for p, lbl in CASES] + ["gpt:tiny-scratch"])
def test_tab_opened_first_renders_and_its_buttons_work(fresh_caches, path, label, extra):
    at = _open(path, label, extra)
    key, _ = views(path)
    assert at.session_state[key] == label
    assert not _problems(at), (label, _problems(at))
    for button in _buttons(at):
        name = button.key or button.label
        fresh = _open(path, label, extra)  # each button in its own fresh session, its tab opened first
        pressed = next(b for b in _buttons(fresh) if (b.key or b.label) == name)
        pressed.click().run()
        assert not _problems(fresh), (label, name, _problems(fresh))
        assert fresh.session_state[key] == label, f"{name} left the tab"


@pytest.mark.slow
def test_race_opened_first_then_its_models_in_the_gradient_tab(fresh_caches):
    """The RNN race works from a fresh session that never opened the Train tab, and its trained
    models then join the vanishing-gradient chart (that tab, too, used the Train tab's corpus)."""
    path = "pages/rnn_text.py"
    at = _open(path, next(lbl for lbl in page_tabs(path)[1] if "GRU" in lbl))
    at.button(key="rnn_cmp_go").click().run()
    assert not _problems(at), _problems(at)
    race = at.session_state["rnn_compare"]
    assert all(cell in race and race[cell]["history"] for cell in ("rnn", "gru", "lstm"))
    at.session_state[page_tabs(path)[0]] = next(lbl for lbl in page_tabs(path)[1] if "Vanishing" in lbl)
    at.run()
    assert not _problems(at), _problems(at)
    chart = at.get("plotly_chart")[0].proto.spec
    assert "(race, trained)" in chart


@pytest.mark.slow
def test_session_model_joins_the_gradient_tab(fresh_caches):
    """After training in the Train tab, the gradient tab draws the session model's curve."""
    path = "pages/rnn_text.py"
    at = _open(path, next(lbl for lbl in page_tabs(path)[1] if "Train" in lbl))
    next(b for b in at.button if "Train a new model" in b.label).click().run()
    assert not _problems(at), _problems(at)
    at.session_state[page_tabs(path)[0]] = next(lbl for lbl in page_tabs(path)[1] if "Vanishing" in lbl)
    at.run()
    assert not _problems(at), _problems(at)
    assert "(session, trained)" in at.get("plotly_chart")[0].proto.spec


def _has_chinese(at) -> bool:
    texts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info") for e in getattr(at, kind)]
    texts += [w.label for kind in ("button", "slider", "text_input", "text_area", "selectbox", "radio", "checkbox",
                                   "number_input", "select_slider") for w in getattr(at, kind)]
    return any("\u4e00" <= ch <= "\u9fff" for text in texts for ch in str(text))


ZH_CASES = CASES + [(p, None) for p in ("pages/home.py", "pages/glossary.py")]


@pytest.mark.slow
@pytest.mark.parametrize("path,label", ZH_CASES, ids=[f"{p.split('/')[-1][:-3]}:{lbl}" for p, lbl in ZH_CASES])
def test_every_tab_renders_in_chinese(fresh_caches, path, label):
    """?lang=zh: the page and tab render with no exception, and in Chinese."""
    at = new_app_at_tab(path, timeout=240)
    at.query_params["lang"] = "zh"
    if label is not None:
        at.query_params[views(path)[0]] = label
    at.run()
    assert not _problems(at), _problems(at)
    assert not at.exception
    assert _has_chinese(at), f"{path} {label}: no Chinese text in lang=zh"
