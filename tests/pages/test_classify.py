"""AppTest for the text classification page: a training run on the review task, the look inside (confusion
matrix, misclassified texts, the visitor's sentence scored by every model), uploads good and bad, and the
Chinese BERT's feature-based and fine-tuned paths where the shipped model is installed."""
import pytest

from core import sources
from tests.pages.conftest import assert_clean, errors, open_tab, run_page

PAGE = "pages/classify.py"
SMALL = {"cls_size": "100", "cls_seconds": "5", "cls_ft_steps": "10", "cls_ft_seconds": "5", "cls_probe_n": "300"}
with_bert = pytest.mark.skipif(not sources.sources_for("zh_encoder"),
                               reason="the Chinese BERT is not installed (scripts/train_bert_zh.py)")


def _rows(n: int, classes=("pos", "neg")) -> bytes:
    lines = ["text,label"]
    for i in range(n):
        good = i % len(classes) == 0
        lines.append(f"{'great food friendly staff' if good else 'cold food rude waiter'} visit {i},{classes[i % len(classes)]}")
    return "\n".join(lines).encode("utf-8")


@pytest.mark.slow
def test_compare_trains_and_scores_on_the_test_part(fresh_caches):
    at = run_page(PAGE, query={**SMALL, "cls_models": "nb,tfidf_lr"})
    assert_clean(at)
    assert at.title[0].value == "Text classification"
    assert at.multiselect(key="cls_models_pick").value == ["nb", "tfidf_lr"]
    at.button(key="cls_train").click().run(timeout=240)
    assert_clean(at)
    results = at.session_state["_cls_runs"]["reviews"]["results"]
    assert set(results) == {"nb", "tfidf_lr"}
    assert all(0.6 < r["accuracy"] <= 1 and r["train_n"] == 100 for r in results.values())
    assert len(at.get("plotly_chart")) >= 1 and len(at.dataframe) >= 1
    assert at.query_params["cls_models"] == "nb,tfidf_lr"


def test_a_link_with_unknown_models_and_sizes_is_clamped(fresh_caches):
    at = run_page(PAGE, query={"cls_models": "nb,svm,../x", "cls_size": "7", "cls_seconds": "9999"})
    assert_clean(at)
    assert at.multiselect(key="cls_models_pick").value == ["nb"]
    assert at.session_state["cls_size"] == "all" and at.session_state["cls_seconds"] == 120


def test_no_model_chosen_is_a_clear_error(fresh_caches):
    at = run_page(PAGE, query={**SMALL})
    at.multiselect(key="cls_models_pick").set_value([]).run()
    at.button(key="cls_train").click().run()
    assert "at least one model" in errors(at)


@pytest.mark.slow
def test_look_inside_trains_what_it_needs_and_explains(fresh_caches):
    at = run_page(PAGE, tab="Look inside", query={**SMALL, "cls_look_model": "tfidf_lr"})
    assert_clean(at)
    at.button(key="cls_look_train").click().run(timeout=240)
    assert_clean(at)
    assert "tfidf_lr" in at.session_state["_cls_runs"]["reviews"]["models"]
    assert len(at.dataframe) >= 1  # the misclassified texts
    result = at.session_state["_cls_runs"]["reviews"]["results"]["tfidf_lr"]
    wrong = result["n"] - sum(result["confusion"][i][i] for i in range(2))
    assert result["n"] == 1742 and 0 < wrong < result["n"] / 2
    assert at.metric[2].value == f"{wrong:,}"  # misclassified test texts
    charts = len(at.get("plotly_chart"))
    assert charts >= 4  # confusion matrix, an explanation, every model on the sentence, its explanation
    at.text_area(key="cls_text").set_value("质量太差了，非常失望，不会再买。").run()
    assert_clean(at)
    assert any("negative" in m.value for m in at.markdown), [m.value for m in at.markdown][-5:]
    at.text_area(key="cls_text").set_value("   ").run()
    assert "Type a sentence" in errors(at)


def test_upload_runs_the_comparison_on_your_labels(fresh_caches):
    at = run_page(PAGE, tab="Your data", query={"cls_up_models": "nb,tfidf_lr"})
    assert_clean(at)
    at.file_uploader(key="cls_file").set_value(("mine.csv", _rows(200), "text/csv"))
    at.run()
    assert_clean(at)
    at.button(key="cls_up_train").click().run(timeout=120)
    assert_clean(at)
    results = at.session_state["_cls_runs"]["upload"]["results"]
    assert set(results) == {"nb", "tfidf_lr"} and all(r["accuracy"] > 0.9 for r in results.values())


@pytest.mark.parametrize("name,data,match", [
    ("one-class.csv", _rows(100, classes=("same",)), "at least two classes"),
    ("no-header.csv", b"\n".join(f"text {i},{i % 2}".encode() for i in range(100)), "header"),
    ("ten.csv", _rows(10), "at least 40"),
    ("binary.csv", b"\x00\x01\x02\x03" * 500, "binary"),
    ("one-line.csv", b"text,label" + b"x" * (2 * 1024 * 1024 - 20), "line"),
])
def test_bad_uploads_say_what_to_fix(fresh_caches, name, data, match):
    at = run_page(PAGE, tab="Your data")
    at.file_uploader(key="cls_file").set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception
    assert match in errors(at), errors(at)


@with_bert
@pytest.mark.slow
def test_feature_probe_and_fine_tuning_run(fresh_caches):
    at = run_page(PAGE, tab="Features vs fine-tuning", query=SMALL)
    assert_clean(at)
    at.button(key="cls_probe_go").click().run(timeout=300)
    assert_clean(at)
    rows = at.session_state["_cls_probe"]["rows"]
    assert {r["pool"] for r in rows} == {"cls", "mean"} and len(rows) % 2 == 0
    at.button(key="cls_ft_go").click().run(timeout=300)
    assert_clean(at)
    run = at.session_state["_cls_ft"]
    assert run["history"] and 0 <= run["result"]["accuracy"] <= 1
    # the fine-tuned model joins the session's models: the Look inside tab can explain it
    open_tab(at, PAGE, "Look inside")
    at.selectbox(key="cls_look_model").set_value("bert_finetune").run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) >= 2


@with_bert
@pytest.mark.slow
def test_feature_based_model_in_compare_uses_the_chosen_layer(fresh_caches):
    at = run_page(PAGE, query={**SMALL, "cls_models": "bert_features", "cls_layer": "1", "cls_pool": "cls"})
    assert_clean(at)
    at.button(key="cls_train").click().run(timeout=300)
    assert_clean(at)
    model = at.session_state["_cls_runs"]["reviews"]["models"]["bert_features"]
    assert model.info["layer"] == 1 and model.info["pool"] == "cls"


@pytest.mark.slow
def test_a_neural_model_trains_with_its_curves(fresh_caches):
    at = run_page(PAGE, query={**SMALL, "cls_models": "textcnn"})
    at.button(key="cls_train").click().run(timeout=240)
    assert_clean(at)
    model = at.session_state["_cls_runs"]["reviews"]["models"]["textcnn"]
    assert model.history and any("val_acc" in h for h in model.history)
    assert len(at.get("plotly_chart")) >= 2  # the accuracy bars and the training curves


@pytest.mark.slow
def test_learning_curve_runs_for_a_chosen_model(fresh_caches):
    at = run_page(PAGE, tab="Learning curves", query={"cls_curve_model": "nb"})
    assert_clean(at)
    at.button(key="cls_curve_go").click().run(timeout=240)
    assert_clean(at)
    live = at.session_state["_cls_curve"]
    assert live["model"] == "nb" and [p["n"] for p in live["points"]][:3] == [100, 1000, 10000]
    assert live["points"][-1]["accuracy"] > live["points"][0]["accuracy"]
