"""Transformer page (AppTest): each tab opened first renders; a toy task trains and is looked inside (every
layer's attention); the masks experiment shows the cheat; bad input (an unknown symbol, an empty source,
a hostile link with 0 layers or 0 heads, d_model not divisible by the heads) is a clear message."""
import pytest

from tests.pages.conftest import run_page, errors as _errors, problems as _problems

PAGE = "pages/transformer.py"
pytestmark = pytest.mark.slow
SMALL = {"tf_seconds": "4", "tf_mask_seconds": "3", "tf_len": "5"}


def _open(tab, **query):
    return run_page(PAGE, timeout=300, tab=tab, query={**SMALL, **query})


def test_toy_task_trains_and_shows_every_attention(fresh_caches):
    at = _open("Toy", tf_task="copy")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert not at.get("plotly_chart")  # nothing trained yet
    at.button(key="tf_train").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert {c.key for c in at.get("plotly_chart")} == {"tf_curves", "tf_cross", "tf_enc", "tf_dec"}
    assert at.metric[0].label == "held-out exact match" and at.metric[0].value.endswith("%")
    assert at.success or at.warning  # the output, right or wrong, against what the task asks
    # a longer source than trained: a note, still decoded
    at.text_input(key="tf_src_copy").set_value("1 2 3 4 5 6 7").run()
    assert not _problems(at) and any("longer than any" in i.value for i in at.info)
    for bad, message in (("1 9 x", "not a symbol"), ("  ", "Type a sequence")):
        at.text_input(key="tf_src_copy").set_value(bad).run()
        assert not _problems(at) and message in _errors(at), (bad, _errors(at))


def test_addition_parses_a_sum(fresh_caches):
    at = _open("Toy", tf_task="add")
    at.button(key="tf_train").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    at.text_input(key="tf_src_add").set_value("12++3").run()
    assert "exactly one +" in _errors(at) and not _problems(at)


@pytest.mark.parametrize("query,clamped", [({"tf_layers": "0"}, ("tf_layers", 1)), ({"tf_heads": "0"}, ("tf_heads", 4)),
                                           ({"tf_dmodel": "30"}, ("tf_dmodel", 64))])
def test_hostile_links_are_clamped_to_a_valid_model(fresh_caches, query, clamped):
    at = _open("Toy", **query)
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    key, value = clamped
    assert at.session_state[key] == value


def test_heads_that_do_not_divide_d_model_are_a_clear_error(fresh_caches):
    at = _open("Toy", tf_dmodel="16", tf_heads="8")  # 16 / 8 = 2: fine
    assert not at.error
    from core.transformers import transformer as T
    with pytest.raises(ValueError, match="divisible"):
        T.TransformerConfig(d_model=16, n_heads=3)


def test_masks_tab_shows_the_masks_and_the_cheat(fresh_caches):
    at = _open("Masks")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert {c.key for c in at.get("plotly_chart")} == {"tf_pad", "tf_causal", "tf_combined"}
    at.button(key="tf_mask_go").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    table = at.dataframe[0].value
    assert len(table) == 2
    cheat_tf, cheat_exact = table.iloc[1, 1], table.iloc[1, 2]
    assert cheat_tf > cheat_exact  # looks good given the answer, fails when it must generate


def test_tips_tab_compares_two_settings(fresh_caches):
    at = _open("Training tips", tf_tip="warmup", tf_tip_seconds="3")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    at.button(key="tf_tip_go").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["without", "with"]
    assert "tf_tip_loss" in {c.key for c in at.get("plotly_chart")}


def test_build_it_tab_opens_every_box(fresh_caches):
    from core.transformers import transformer as T

    at = _open("Build it")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert {c.key for c in at.get("plotly_chart")} == {"tf_arch", "tf_arch_values", "tf_arch_weights"}  # cross-attention
    for part in T.PARTS:
        at.selectbox(key="tf_part").set_value(part).run()
        assert not _problems(at) and not at.error, (part, _problems(at), _errors(at))
        keys = {c.key for c in at.get("plotly_chart")}
        assert ("tf_arch_weights" in keys) == (part in ("enc_self", "dec_self", "dec_cross")), part
    at = _open("Build it", tf_part="nonsense", tf_arch_layer="9")  # a hostile link is clamped
    assert not _problems(at) and at.session_state["tf_part"] == "dec_cross"


def test_a_link_asking_for_a_layer_or_head_the_model_lacks_is_clamped(fresh_caches):
    at = _open("Toy", tf_task="copy", tf_layers="1", tf_heads="2", tf_layer="3", tf_head="7")
    at.button(key="tf_train").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert at.session_state["tf_layer"] == 0 and at.session_state["tf_head"] == 1


def test_translation_tab_compares_with_the_gru_and_looks_inside(fresh_caches):
    from core import sources
    from core.transformers import translator as TR

    if not sources.get_source("seq2seq", TR.SHIPPED).available():
        pytest.skip("the shipped Transformer translator has not been trained")
    at = _open("Translation", tf_mt_text="i am hungry .", tf_mt_method="greedy", tf_mt_layer="5", tf_mt_head="15")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    keys = {c.key for c in at.get("plotly_chart")}
    assert "tf_mt_att" in keys  # the Transformer's cross-attention
    assert ("tf_mt_len" in keys) == (TR.shipped_comparison() is not None)  # the shipped comparison
    n_layers = at.session_state["tf_mt_layer"] + 1  # a link asking for more is clamped to the last layer
    assert n_layers == TR.transformer_config(sources.get_source("seq2seq", TR.SHIPPED).load().config).n_layers
    assert any(m.value.startswith("#### ") for m in at.markdown)  # both translations
    at.slider(key="tf_mt_n").set_value(20)
    at.button(key="tf_mt_go").click().run()
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert "tf_mt_here" in {c.key for c in at.get("plotly_chart")}
    assert set(at.session_state["_tf_mt"]["results"]) == {TR.SHIPPED, TR.BASELINE}
    for bad, message in (("   ", "empty"), ("a " * 1000, "shorter")):  # 2,000 characters (the box keeps 400)
        at.text_input(key="tf_mt_text").set_value(bad).run()
        assert not _problems(at) and message in _errors(at), (bad, _errors(at))
