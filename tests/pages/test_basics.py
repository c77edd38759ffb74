"""Basics page (AppTest): each tab opened first renders and does its job; hostile inputs (code in
f(x, y), a huge exponent, an empty formula, a huge step count, a broken kernel) are clear errors."""
import re

import pytest

from core.basics import optimizers
from tests.pages.conftest import run_page, errors as _errors, problems as _problems

PAGE = "pages/basics.py"
pytestmark = pytest.mark.slow


def _charts(at) -> list:
    return at.get("plotly_chart")


def test_optimizer_tab_draws_seven_paths_checked_against_torch(fresh_caches):
    at = run_page(PAGE, tab="Optimizers")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert len(_charts(at)) >= 3  # contour with paths, loss, step length
    checked = next(s.value for s in at.success if "torch.optim" in s.value)
    assert float(re.search(r"difference ([0-9.e+-]+);", checked).group(1)) <= 1e-6
    table = at.dataframe[0].value
    assert len(table) == len(optimizers.OPTIMIZERS)  # one row of state per optimizer
    # the update rules (in a closed expander, still rendered): one per optimizer
    assert sum("\\theta" in x.value for x in at.get("latex")) >= len(optimizers.OPTIMIZERS)


@pytest.mark.parametrize("surface", ["quadratic", "saddle", "plateau"])
def test_every_built_in_surface_renders(fresh_caches, surface):
    at = run_page(PAGE, tab="Optimizers", query={"ba_surface": surface, "ba_steps": "100"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))


def test_a_typed_function_is_used(fresh_caches):
    at = run_page(PAGE, tab="Optimizers", query={"ba_surface": "custom", "ba_expr": "x**2 + 10*y**2 - x*y"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.text_input(key="ba_expr").value == "x**2 + 10*y**2 - x*y"


@pytest.mark.parametrize("expr", ["__import__('os')", "x**1e9", "", "   ", "open('f').read()", "x.__class__",
                                  "lambda: 1", "(" * 60 + "x" + ")" * 60, "x + y +", "exp(exp(exp(x)))**5 + q"])
def test_a_malicious_or_nonsensical_function_is_a_clear_error(fresh_caches, expr):
    at = run_page(PAGE, tab="Optimizers", query={"ba_surface": "custom"})
    at.session_state["ba_expr"] = expr
    at.run()
    assert not _problems(at), _problems(at)
    assert at.error, f"no error for {expr!r}"


def test_a_function_that_overflows_is_cut_not_crashed(fresh_caches):
    at = run_page(PAGE, tab="Optimizers", query={"ba_surface": "custom", "ba_expr": "exp(x**2 + y**2)"})
    at.session_state["ba_lr_scale"] = 10.0
    at.run()
    assert not _problems(at), _problems(at)


def test_a_huge_step_count_in_a_link_is_capped(fresh_caches):
    at = run_page(PAGE, tab="Optimizers", query={"ba_steps": str(10**9)})
    assert not _problems(at), _problems(at)
    assert at.session_state["ba_steps"] == optimizers.MAX_STEPS


def test_no_optimizer_chosen_is_a_clear_error(fresh_caches):
    at = run_page(PAGE, tab="Optimizers")
    at.multiselect(key="ba_opts").set_value([]).run()
    assert not _problems(at) and "optimizer" in _errors(at).lower()


def test_batch_tab_compares_batch_minibatch_and_stochastic(fresh_caches):
    at = run_page(PAGE, tab="Batch", query={"ba_gd_epochs": "1"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    labels = [m.label for m in at.metric]
    assert len(labels) == 3 and any("stochastic" in lbl for lbl in labels) and any("mini-batch" in lbl for lbl in labels)
    at.selectbox(key="ba_gd_data").set_value("diabetes").run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))


def test_activation_tab_shows_saturation_of_a_bad_init(fresh_caches):
    at = run_page(PAGE, tab="Activations", query={"ba_act_fn": "sigmoid", "ba_act_init": "normal",
                                                  "ba_act_depth": "8", "ba_act_width": "64"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    worst = next(m for m in at.metric if "saturated" in m.label)
    assert int(worst.value.rstrip("%")) >= 30, worst.value
    assert at.table, "the BatchNorm / LayerNorm table is missing"
    at.selectbox(key="ba_act_norm").set_value("batchnorm").run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))


def test_playground_trains_and_redraws_the_boundary(fresh_caches):
    at = run_page(PAGE, tab="Playground", query={"ba_pg_steps": "60"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    at.button(key="ba_pg_train").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    sess = at.session_state["_ba_pg"]
    assert sess["history"] and sess["history"][-1]["step"] == 60
    at.button(key="ba_pg_train").click().run()  # Train again continues the same network
    assert at.session_state["_ba_pg"]["history"][-1]["step"] == 120
    at.slider(key="ba_pg_width").set_value(4).run()  # new settings: a new network
    assert at.session_state["_ba_pg"]["history"] == []
    assert at.session_state["_ba_pg"]["cfg"].width == 4
    at.button(key="ba_pg_train").click().run()
    assert at.session_state["_ba_pg"]["history"][-1]["step"] == 60


def test_polynomial_degree_15_over_fits(fresh_caches):
    at = run_page(PAGE, tab="Playground", query={"ba_poly_degree": "15"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))


def test_convolution_tab_checks_the_output_size_formula(fresh_caches):
    at = run_page(PAGE, tab="Convolutions", query={"ba_cv_pad": "0", "ba_cv_stride": "2"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    # 8×8 digit, 3×3 kernel, p = 0, s = 2: ⌊(8 − 3)/2⌋ + 1 = 3
    assert any("gives 3×3; torch's conv2d produced 3×3" in s.value for s in at.success)


@pytest.mark.parametrize("kernel", ["1 2; 3", "a b; c d", "", "1 " * 9 + ";" + "1 " * 9])
def test_a_broken_custom_kernel_is_a_clear_error(fresh_caches, kernel):
    at = run_page(PAGE, tab="Convolutions", query={"ba_cv_kernel": "custom"})
    at.session_state["ba_cv_custom"] = kernel
    at.run()
    assert not _problems(at), _problems(at)
    assert at.error, f"no error for {kernel!r}"


def test_a_kernel_larger_than_the_image_is_a_clear_error(fresh_caches):
    at = run_page(PAGE, tab="Convolutions", query={"ba_cv_kernel": "custom", "ba_cv_pad": "0", "ba_cv_dil": "4",
                                                   "ba_cv_custom": "; ".join(["1 1 1 1 1"] * 5)})
    assert not _problems(at), _problems(at)
    assert "does not fit" in _errors(at) and "= -8 < 1" in _errors(at), _errors(at)


def test_cnn_trains_next_to_an_mlp_and_shows_feature_maps(fresh_caches):
    at = run_page(PAGE, tab="Convolutions", query={"ba_cnn_seconds": "2"})
    at.button(key="ba_cnn_train").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    accs = [m for m in at.metric if "held-out accuracy" in m.label]
    assert len(accs) == 2
    assert len(_charts(at)) >= 6  # conv views, pooled, accuracy, a row of feature maps per layer


@pytest.mark.parametrize("tab,query,key,expected", [
    ("Batch", {"ba_gd_lr": "1e9", "ba_gd_data": "__import__('os')"}, "ba_gd_lr", 0.1),
    ("Batch", {"ba_gd_lr": "0.5", "ba_gd_batch": "33"}, "ba_gd_batch", 32),
    ("Batch", {"ba_gd_epochs": "-5"}, "ba_gd_epochs", 0.5),
    ("Activations", {"ba_act_depth": "100000", "ba_act_width": "7"}, "ba_act_depth", 30),
    ("Activations", {"ba_act_bias": "nan"}, "ba_act_bias", 0.0),
    ("Playground", {"ba_pg_n": "10000000", "ba_pg_lr": "55"}, "ba_pg_n", 2000),
    ("Playground", {"ba_poly_degree": "99"}, "ba_poly_degree", 15),
    ("Convolutions", {"ba_cv_digit": "-3", "ba_cv_stride": "1e6"}, "ba_cv_stride", 5),
    ("Convolutions", {"ba_cnn_seconds": "3600"}, "ba_cnn_seconds", 30),
])
def test_a_hostile_link_is_clamped_to_what_the_widgets_allow(fresh_caches, tab, query, key, expected):
    """A hand-edited permalink can't push a tab past its limits (or crash it)."""
    at = run_page(PAGE, tab=tab, query=query)
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.session_state[key] == expected


def test_the_chosen_optimizers_travel_in_the_link(fresh_caches):
    at = run_page(PAGE, tab="Optimizers", query={"ba_opt_list": "adam,sgd,__import__"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.multiselect(key="ba_opts").value == ["adam", "sgd"]  # unknown names dropped
    assert len(at.dataframe[0].value) == 2
    at.multiselect(key="ba_opts").set_value(["momentum"]).run()
    assert at.query_params["ba_opt_list"] == ["momentum"] or at.query_params["ba_opt_list"] == "momentum"


def test_an_error_shows_the_formula_as_typed_not_as_markdown(fresh_caches):
    """st.error renders Markdown: core's plain-text messages are escaped (x**2 was shown as a bold 2,
    __import__ as a bold "import")."""
    at = run_page(PAGE, tab="Optimizers", query={"ba_surface": "custom"})
    at.session_state["ba_expr"] = "__import__('os')"
    at.run()
    shown = _errors(at)
    assert "\\_\\_import\\_\\_('os')" in shown and "\\*\\*" in shown, shown
