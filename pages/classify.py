"""Text classification page: one task (Chinese review sentiment), every model from bag-of-words to a fine-tuned
BERT, feature-based vs fine-tuning measured, learning curves, a look inside, and the visitor's own data.
Thin UI over core.transformers.classify."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, plain, progress_callback, queued,
                           run_through_entry_point, seed, sync_url, url_state)

run_through_entry_point()

import html  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.errors import StreamlitPageNotFoundError  # noqa: E402

from core import sources, st_cache  # noqa: E402
from core.i18n import N_, _  # noqa: E402
from core.plots import heatmap  # noqa: E402
from core.settings import LOW_MEMORY  # noqa: E402
from core.transformers import classify as C  # noqa: E402

SIZES = {"100": 100, "1000": 1000, "10000": 10000, "all": 10**9}
SIZE_NAMES = {"100": "100", "1000": "1,000", "10000": "10,000", "all": N_("all")}
FT_LRS = [1e-5, 3e-5, 1e-4, 2e-4, 5e-4, 1e-3]
MAX_SECONDS = 120  # most seconds one neural model may train per click
FAST = ("nb", "tfidf_lr", "words_lr")
DEFAULT_MODELS = ["nb", "tfidf_lr", "textcnn"]
COLORS = {"nb": "#9ecae1", "tfidf_lr": "#3182bd", "words_lr": "#08519c", "w2v_lr": "#a1d99b", "textcnn": "#fd8d3c",
          "bilstm": "#e6550d", "bert_features": "#bcbddc", "bert_finetune": "#756bb1", "snownlp": "#969696"}
RUNS = "_cls_runs"  # session_state: {"reviews" | "upload": {"models": {key: Trained}, "results": {key: dict}, …}}
FT_SESSION = "_cls_ft"  # session_state: the last fine-tuning run of the Features vs fine-tuning tab
PROBE_SESSION = "_cls_probe"  # session_state: the last per-layer probe
CURVE_SESSION = "_cls_curve"  # session_state: the last live learning curve
UPLOAD_SESSION = "_cls_upload"  # session_state: the parsed upload (its three parts) and its file name

ss = st.session_state
st.title(_("Text classification"))
st.caption(_("Where the course ends and your own projects begin: take one task — is a Chinese review positive "
             "or negative? — and solve it with every model of the course, from counting characters to a "
             "pre-trained BERT used as a feature extractor or fine-tuned, on the same split."))

url_state({"cls_models": ",".join(DEFAULT_MODELS), "cls_size": "all", "cls_seconds": 30},
          choices={"cls_size": list(SIZES)}, bounds={"cls_seconds": (5, MAX_SECONDS)})
url_state({"cls_look_model": "tfidf_lr", "cls_text": "这本书写得很好，推荐大家看。", "cls_example": 0},
          choices={"cls_look_model": list(C.MODELS)}, bounds={"cls_example": (0, 10_000)})
url_state({"cls_curve_model": "tfidf_lr", "cls_ft_steps": 100, "cls_ft_seconds": 60, "cls_ft_lr": 2e-4,
           "cls_probe_n": 1000, "cls_layer": -1, "cls_pool": "mean"},
          choices={"cls_curve_model": list(C.MODELS), "cls_pool": ["mean", "cls"], "cls_probe_n": [300, 1000, 3000],
                   "cls_ft_lr": FT_LRS},
          bounds={"cls_ft_steps": (10, 1000), "cls_ft_seconds": (5, MAX_SECONDS), "cls_layer": (-1, 12)})
url_state({"cls_up_models": ",".join(FAST)})

tab_cmp, tab_curve, tab_look, tab_ft, tab_up, tab_math = lazy_tabs(
    [N_("⚖️ Compare"), N_("📈 Learning curves"), N_("🔍 Look inside"), N_("🧊 Features vs fine-tuning"),
     N_("📁 Your data"), N_("📐 The math")], key="cls_tab")


def _stop_button(key: str):
    """A Stop button in a placeholder: a click interrupts the run (what was trained so far stays in the
    session); the caller empties the placeholder when the run ends by itself."""
    box = st.empty()
    box.button(_("⏹ Stop"), key=key)
    return box


def _to_convolutions(label: str) -> None:
    """A link to the Basics page's convolution tab (a page run on its own, as in its tests, has no pages to
    link to: then nothing is drawn)."""
    try:
        st.page_link("pages/basics.py", label=label, query_params={"ba_tab": "🔲 Convolutions"})
    except StreamlitPageNotFoundError:
        pass


def _name(key: str) -> str:
    return _(C.MODELS[key][0])


def _class(name: str) -> str:
    return _(C.CLASS_NAMES[name]) if name in C.CLASS_NAMES else name


def _bert():
    """The shipped Chinese BERT (native module, shared by every session) or None where it is not installed."""
    found = sources.sources_for("zh_encoder")
    return st_cache.load_source(found[0]) if found else None


def _parse_models(raw: str, allowed) -> list[str]:
    return [k for k in str(raw).split(",") if k in allowed]


def _runs(task: str) -> dict:
    return ss.setdefault(RUNS, {}).setdefault(task, {"models": {}, "results": {}})


def _config(seconds: float, **changes) -> C.ClassifyConfig:
    return C.config_with(C.ClassifyConfig(max_seconds=float(seconds)), **changes)


def _available(keys, bert) -> list[str]:
    return [k for k in keys if bert is not None or k not in C.NEEDS_BERT]


def _train_and_score(task: str, keys: list[str], parts: dict, n: int, seconds: float, bert) -> None:
    """Train each model in turn on a sample of n training texts and score it on the test part; the session keeps
    each model as soon as it is done (a Stop keeps the ones finished)."""
    runs = _runs(task)
    train = C.sample(parts["train"], n, seed())
    bar = st.progress(0.0, text=_("training…"))
    for i, key in enumerate(keys):
        if key == "snownlp":
            bar.progress(i / len(keys), text=_("{model}: scoring the test part (about 30 s the first time)").format(
                model=_name(key)))
            runs["results"][key] = {**st_cache.shared(C.snownlp_on_test, None, "snownlp"), "seconds": 0.0, "train_n": 0}
            if not LOW_MEMORY:  # its model takes ~400 MB once loaded: a small host shows its saved test scores only
                runs["models"][key] = C.train("snownlp", parts["train"])
            continue
        label = _("{model} ({i}/{n})").format(model=_name(key), i=i + 1, n=len(keys))
        bar.progress(i / len(keys), text=label)
        history: list = []
        on_step, clear = _live(label, _name(key), history) if key in C.NEURAL else (None, None)
        layer = int(ss["cls_layer"]) if bert is None else min(int(ss["cls_layer"]), bert.model.cfg.n_layers)
        cfg = _config(seconds, finetune_steps=int(ss["cls_ft_steps"]), finetune_lr=float(ss["cls_ft_lr"]),
                      layer=layer, pool=ss["cls_pool"])
        model = C.train(key, train, cfg, seed(), bert=bert, val=parts["val"], on_step=on_step, history=history,
                        threads=1, unlabeled=parts["train"].texts)
        if clear is not None:
            clear()
        runs["models"][key] = model
        runs["results"][key] = {**C.evaluate(model, parts["test"]), "seconds": model.seconds, "train_n": len(train)}
    bar.empty()


def _curve_figure(h: list, title: str) -> go.Figure:
    """Training loss per step, validation accuracy at each check, the learning rate (dotted)."""
    fig = go.Figure()
    fig.add_scatter(x=[r["step"] for r in h], y=[r["loss"] for r in h], name=_("training loss"),
                    line=dict(color="#1f77b4", width=1))
    checks = [r for r in h if "val_acc" in r]
    fig.add_scatter(x=[r["step"] for r in checks], y=[r["val_acc"] for r in checks], yaxis="y2",
                    mode="lines+markers", name=_("validation accuracy"), line=dict(color="#d62728"))
    fig.add_scatter(x=[r["step"] for r in h], y=[r["lr"] for r in h], yaxis="y3", name=_("learning rate"),
                    line=dict(color="#aaa", dash="dot"))
    fig.update_layout(title=title, height=340, xaxis=dict(title=_("step"), domain=[0, 0.88]),
                      yaxis=dict(title=_("loss")), yaxis2=dict(title=_("accuracy"), overlaying="y", side="right",
                                                               range=[0.4, 1], tickformat=".0%"),
                      yaxis3=dict(overlaying="y", side="right", position=0.97, showticklabels=False),
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _live(label: str, title: str, history: list, every_s: float = 1.0):
    """An on_step for a neural run: the progress bar, and the curve redrawn at most once per `every_s`."""
    on_bar, bar = progress_callback(label)
    box = st.empty()
    last = [0.0]

    def on_step(done, total, info=None):
        on_bar(done, total, info)
        now = time.monotonic()
        if now - last[0] >= every_s or done >= total:
            last[0] = now
            box.plotly_chart(_curve_figure(history, title), width="stretch")

    def clear():
        bar.empty()
        box.empty()

    return on_step, clear


def _accuracy_chart(results: dict, shipped: dict | None, title: str) -> go.Figure:
    fig = go.Figure()
    keys = list(results)
    fig.add_bar(x=[_name(k) for k in keys], y=[results[k]["accuracy"] for k in keys], name=_("this run"),
                marker_color=[COLORS.get(k, "#555") for k in keys],
                text=[f"{results[k]['accuracy']:.1%}" for k in keys], textposition="outside")
    if shipped:
        ref = [shipped.get(k, {}).get("accuracy") for k in keys]
        if any(r is not None for r in ref):
            fig.add_scatter(x=[_name(k) for k in keys], y=ref, mode="markers", name=_("shipped run (all training "
                                                                                       "texts)"),
                            marker=dict(symbol="line-ew-open", size=36, color="#222", line=dict(width=3)))
    low = min([r["accuracy"] for r in results.values()] + [0.5])
    fig.update_layout(title=title, yaxis=dict(title=_("test accuracy"), range=[max(0.0, low - 0.1), 1.0],
                                              tickformat=".0%"),
                      height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _results_table(results: dict, classes) -> pd.DataFrame:
    rows = []
    for k, r in results.items():
        rows.append({_("model"): _name(k), _("accuracy"): round(r["accuracy"], 4), _("macro F1"): round(r["macro_f1"], 4),
                     _("training texts"): r.get("train_n", 0) or "–", _("seconds"): round(r.get("seconds", 0.0), 1)})
    return pd.DataFrame(rows)


def _confusion(result: dict, classes) -> go.Figure:
    names = [_class(c) for c in classes]
    m = np.asarray(result["confusion"])
    return heatmap(m, names, names, title=_("Confusion matrix (rows: true class, columns: predicted)"),
                   x_title=_("predicted"), y_title=_("true"), colorscale="Blues", text_fmt=".0f")


def _highlight(pieces: list[tuple[str, float]]) -> str:
    """The text with each piece's background red (pushed towards the predicted class) or blue (against)."""
    top = max([abs(w) for _p, w in pieces] + [1e-9])
    spans = []
    for piece, w in pieces:
        a = min(abs(w) / top, 1.0) * 0.8
        color = f"rgba(214,39,40,{a:.2f})" if w > 0 else f"rgba(31,119,180,{a:.2f})"
        spans.append(f"<span style='background:{color};padding:1px 2px;border-radius:3px' "
                     f"title='{w:+.3f}'>{html.escape(piece)}</span>")
    return "<div style='font-size:1.3em;line-height:2em'>" + "".join(spans) + "</div>"


def _evidence_chart(pieces: list[tuple[str, float]], title: str) -> go.Figure:
    top = sorted(pieces, key=lambda p: -abs(p[1]))[:15][::-1]
    fig = go.Figure(go.Bar(x=[w for _p, w in top], y=[p for p, _w in top], orientation="h",
                           marker_color=["#d62728" if w > 0 else "#1f77b4" for _p, w in top]))
    fig.update_layout(title=title, height=80 + 24 * len(top), margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title=_("evidence for the predicted class"))
    return fig


def _explain_block(model: C.Trained, text: str, key: str) -> None:
    proba = np.asarray(model.predict_proba([text]))[0]
    c = int(proba.argmax())
    st.markdown(_("**{model}** says **{label}** ({p:.0%}).").format(model=_name(model.key),
                                                                   label=_class(model.classes[c]), p=proba[c]))
    pieces = model.explain(text)
    if not pieces:
        st.caption(_("This model gives no per-piece explanation."))
        return
    ordered = model.key in C.NEURAL or model.key == "bert_features"
    if ordered:  # every character in order: colour the text itself
        st.markdown(_highlight(pieces), unsafe_allow_html=True)
        st.caption(_("Gradient × input: how much each character's embedding raised (red) or lowered (blue) the "
                     "predicted class's score."))
    else:
        st.caption(_("Each feature's share of the score: its value in this text times the model's weight for the "
                     "predicted class against the other(s). Red pushed towards the prediction, blue against."))
    st.plotly_chart(_evidence_chart(pieces, _("What pushed the prediction")), width="stretch", key=f"{key}_ev")


def _shipped() -> dict | None:
    return C.shipped_results()


def _data_caption(parts: dict) -> None:
    counts = {p: parts[p].counts() for p in C.PARTS}
    st.caption(_("{total:,} distinct texts in three fixed parts (by a hash of each text, so a text is in one part "
                 "only): training {tr:,}, validation {va:,}, test {te:,}. Classes: {classes}.").format(
        total=sum(len(parts[p]) for p in C.PARTS), tr=len(parts["train"]), va=len(parts["val"]), te=len(parts["test"]),
        classes=", ".join(f"{_class(c)} {counts['train'][i] + counts['val'][i] + counts['test'][i]:,}"
                          for i, c in enumerate(parts["train"].classes))))


# ---------------------------------------------------------------------------------------------
if tab_cmp.open is not False:
    with tab_cmp:
        summary = C.review_summary()
        st.markdown(_(
            "The data: the review files that ship with the `snownlp` package (books, hotels, shops, "
            "electronics): {lines:,} lines, but many reviews are listed more than once, so the app keeps each "
            "of the {distinct:,} distinct texts once and drops the {both} that appear as both positive and "
            "negative. Pick models and a training size, then train: every model is scored on the same test "
            "part.").format(**summary))
        parts = C.review_split()
        _data_caption(parts)
        bert = _bert()
        if bert is None:
            st.info(_("The Chinese BERT is not installed (assets/models/bert-zh-peoples-daily), so its two models are "
                      "not offered."), icon="ℹ️")
        offered = _available(C.MODELS, bert)
        # the chosen models travel in the link as "cls_models=nb,textcnn" (the URL holds plain values, not lists)
        if "cls_models_pick" not in ss:
            ss["cls_models_pick"] = _parse_models(ss["cls_models"], offered)
        st.multiselect(_("Models"), offered, format_func=_name, key="cls_models_pick")
        chosen = [k for k in ss["cls_models_pick"] if k in offered]
        ss["cls_models"] = ",".join(chosen)
        if chosen:
            st.caption("  \n".join(f"**{_name(k)}**: {_(C.MODELS[k][1])}" for k in chosen))
        if "textcnn" in chosen:
            _to_convolutions(_("TextCNN's convolutions and max-pooling, step by step on the Basics page →"))
        if "bert_features" in chosen:
            b1, b2 = st.columns(2)
            b1.slider(_("BERT layer for the feature-based model (0 = embeddings, −1 = last)"), -1,
                      bert.model.cfg.n_layers, key="cls_layer")
            b2.radio(_("Text vector"), ["mean", "cls"], key="cls_pool", horizontal=True,
                     format_func=lambda p: _("mean of the characters") if p == "mean" else _("[CLS] vector"))
        c1, c2, c3 = st.columns([2, 2, 1])
        c1.select_slider(_("Training texts"), list(SIZES), format_func=lambda s: _(SIZE_NAMES[s]), key="cls_size")
        c2.slider(_("Seconds per neural model (at most)"), 5, MAX_SECONDS, key="cls_seconds",
                  help=_("TextCNN, BiLSTM and fine-tuning stop at this time; the others take a few seconds."))
        go_train = c3.button(_("🏋️ Train and compare"), key="cls_train", type="primary")
        if go_train:
            with guard(stop=False):
                if not chosen:
                    raise ValueError(_("Choose at least one model."))
                with queued("train", 20):
                    stop = _stop_button("cls_stop")
                    _train_and_score("reviews", chosen, parts, SIZES[ss["cls_size"]], float(ss["cls_seconds"]), bert)
                    stop.empty()
        runs = _runs("reviews")
        shipped = _shipped()
        if runs["results"]:
            fig = _accuracy_chart(runs["results"], (shipped or {}).get("full"), _("Test accuracy"))
            st.plotly_chart(fig, width="stretch", key="cls_acc")
            table = _results_table(runs["results"], parts["train"].classes)
            st.dataframe(table, hide_index=True, width="stretch")
            figure_downloads(fig, "classification_accuracy", "cls_acc_dl", data=table)
            trained = [k for k in runs["results"] if k in runs["models"] and runs["models"][k].history]
            if trained:
                with st.expander(_("Training curves of the neural models"), expanded=False):
                    for k in trained:
                        m = runs["models"][k]
                        st.plotly_chart(_curve_figure(m.history, _name(k)), width="stretch", key=f"cls_curve_{k}")
                        st.caption(_("{steps} steps in {s:.0f} s; kept the weights of step {kept} (best validation "
                                     "check).").format(steps=m.info.get("steps", 0), s=m.seconds,
                                                       kept=m.info.get("kept_step", 0)))
        else:
            st.info(_("Press Train and compare: naive Bayes and TF-IDF + LR train in seconds, TextCNN in about "
                      "half a minute on the whole training part."))
        if shipped:
            st.caption(_("The bars' dark marks are the shipped run of `benchmarks/classify.py` (every training text, "
                         "{date}): {line}").format(date=shipped.get("date", "?"), line=shipped.get("line", "")))
        if "snownlp" in chosen or "snownlp" in runs["results"]:
            st.caption(_("snownlp's own model was trained on these review files, test texts included: its score is "
                         "an outside anchor, not a fair competitor."))
            if LOW_MEMORY:
                st.caption(_("Low-memory mode: snownlp's test scores are the saved ones and it does not score your "
                             "own sentences (its model takes about 400 MB)."))


# ---------------------------------------------------------------------------------------------
if tab_curve.open is not False:
    with tab_curve:
        st.markdown(_(
            "Accuracy as the number of labelled training texts grows (100, 1,000, 10,000, all). Pre-training "
            "pays off most where labels are few: a model that already knows the language needs fewer examples."))
        shipped = _shipped()
        fig = go.Figure()
        if shipped and shipped.get("curves"):
            for key, points in shipped["curves"].items():
                if key in C.MODELS:
                    fig.add_scatter(x=[p["n"] for p in points], y=[p["accuracy"] for p in points], mode="lines+markers",
                                    name=_name(key), line=dict(color=COLORS.get(key), dash="dot"))
        live = ss.get(CURVE_SESSION)
        if live:
            fig.add_scatter(x=[p["n"] for p in live["points"]], y=[p["accuracy"] for p in live["points"]],
                            mode="lines+markers", name=_("{model} (your run)").format(model=_name(live["model"])),
                            line=dict(color=COLORS.get(live["model"]), width=4))
        fig.update_layout(title=_("Learning curves (test accuracy)"), height=420, margin=dict(l=10, r=10, t=40, b=10),
                          xaxis=dict(title=_("training texts"), type="log"),
                          yaxis=dict(title=_("test accuracy"), tickformat=".0%"), legend=dict(orientation="h", y=-0.25))
        if fig.data:
            st.plotly_chart(fig, width="stretch", key="cls_curves")
            figure_downloads(fig, "learning_curves", "cls_curves_dl",
                             data=pd.DataFrame([{"model": k, **p} for k, pts in (shipped or {}).get("curves", {}).items()
                                                for p in pts]))
            if shipped:
                st.caption(_("Dotted: the shipped run of `benchmarks/classify.py` ({date})").format(
                    date=shipped.get("date", "?")))
        bert = _bert()
        c1, c2 = st.columns([3, 1])
        c1.selectbox(_("Run the curve for"), _available([k for k in C.MODELS if k != "snownlp"], bert), format_func=_name,
                     key="cls_curve_model")
        if c2.button(_("📈 Run"), key="cls_curve_go"):
            with guard(stop=False):
                key = ss["cls_curve_model"]
                if key not in _available(C.MODELS, bert):
                    raise ValueError(_("That model needs the Chinese BERT, which is not installed."))
                with queued("train", 20):
                    _stop_button("cls_curve_stop")
                    on_step, bar = progress_callback(_("Training at each size…"))
                    parts = C.review_split()
                    points = C.learning_curve(key, parts, config=_config(float(ss["cls_seconds"]) / 2),
                                              seed=seed(), bert=bert, on_step=on_step)
                    ss[CURVE_SESSION] = {"model": key, "points": points}
                    bar.empty()
                    st.rerun()
        st.caption(_("Neural models get at most half the Compare tab's seconds per size."))


# ---------------------------------------------------------------------------------------------
if tab_look.open is not False:
    with tab_look:
        st.markdown(_(
            "Which texts does a model get wrong, and why did it decide as it did? Linear models show the "
            "features they weighed; neural models show gradient × input for each character."))
        parts = C.review_split()
        runs = _runs("reviews")
        bert = _bert()
        offered = _available([k for k in C.MODELS if k != "snownlp"], bert)
        if ss["cls_look_model"] not in offered:
            ss["cls_look_model"] = "tfidf_lr"
        c1, c2 = st.columns([3, 1])
        c1.selectbox(_("Model"), offered, format_func=lambda k: _name(k) + ("" if k in runs["models"] else
                                                                            _(" (not trained yet)")),
                     key="cls_look_model")
        key = ss["cls_look_model"]
        if key not in runs["models"]:
            if c2.button(_("🏋️ Train it"), key="cls_look_train", type="primary"):
                with guard(stop=False):
                    with queued("train", 20):
                        _stop_button("cls_look_stop")
                        _train_and_score("reviews", [key], parts, SIZES[ss["cls_size"]], float(ss["cls_seconds"]), bert)
                        st.rerun()
            st.info(_("This model is not trained in this session yet: press Train it (or train it on the Compare "
                      "tab)."))
        else:
            model, result = runs["models"][key], runs["results"][key]
            m1, m2, m3 = st.columns(3)
            m1.metric(_("test accuracy"), f"{result['accuracy']:.1%}")
            m2.metric(_("macro F1"), f"{result['macro_f1']:.3f}")
            m3.metric(_("misclassified"), f"{result['n'] - int(np.trace(np.asarray(result['confusion']))):,}"
                      if "n" in result else "–")
            st.plotly_chart(_confusion(result, model.classes), width="stretch", key="cls_conf")
            wrong = [i for i, (y, p) in enumerate(zip(parts["test"].labels, result["predictions"])) if y != p]
            wrong.sort(key=lambda i: -result["confidence"][i])
            st.subheader(_("Misclassified test texts (most confident first)"))
            table = pd.DataFrame([{_("text"): parts["test"].texts[i][:200],
                                   _("true"): _class(model.classes[parts["test"].labels[i]]),
                                   _("predicted"): _class(model.classes[result["predictions"][i]]),
                                   _("confidence"): round(result["confidence"][i], 3)} for i in wrong[:200]])
            st.dataframe(table, hide_index=True, width="stretch", height=260)
            if wrong:
                ss["cls_example"] = min(int(ss["cls_example"]), len(wrong) - 1)
                st.slider(_("Explain misclassified text number"), 0, max(1, len(wrong) - 1), key="cls_example")
                i = wrong[min(int(ss["cls_example"]), len(wrong) - 1)]
                st.markdown("> " + plain(parts["test"].texts[i][:500]))
                st.caption(_("True class: {label}").format(label=_class(model.classes[parts["test"].labels[i]])))
                with guard(stop=False):
                    _explain_block(model, parts["test"].texts[i][:500], "cls_wrong")

        st.subheader(_("Your sentence, every trained model at once"))
        st.text_area(_("A review"), key="cls_text", height=80, max_chars=C.MAX_TEXT_CHARS)
        with guard(stop=False):
            if not runs["models"]:
                st.info(_("Train some models first (here or on the Compare tab); then each scores your sentence."))
            else:
                scored = C.score_all(runs["models"], ss["cls_text"])
                classes = next(iter(runs["models"].values())).classes
                fig = go.Figure(go.Bar(x=[r["proba"][-1] for r in scored], y=[_name(r["model"]) for r in scored],
                                       orientation="h", marker_color=[COLORS.get(r["model"]) for r in scored],
                                       text=[f"{r['proba'][-1]:.0%}" for r in scored], textposition="auto"))
                fig.add_vline(x=0.5, line_dash="dash", line_color="#888")
                fig.update_layout(title=_("P({label}) from each model").format(label=_class(classes[-1])),
                                  xaxis=dict(range=[0, 1], tickformat=".0%"), height=80 + 40 * len(scored),
                                  margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="cls_all")
                if key in runs["models"]:
                    _explain_block(runs["models"][key], ss["cls_text"], "cls_own")


# ---------------------------------------------------------------------------------------------
if tab_ft.open is not False:
    with tab_ft:
        st.markdown(_(
            "Two ways to use a pre-trained model (the notes: ELMo is used feature-based, BERT is fine-tuned). "
            "**Feature-based**: the encoder stays frozen; each text becomes one layer's vector ([CLS] or the mean "
            "of the characters) and a logistic regression learns on top. **Fine-tuning**: a small head is added "
            "and every weight of the encoder is trained on the task, with a learning-rate warm-up."))
        bert = _bert()
        shipped = _shipped()
        if bert is None:
            st.warning(_("The Chinese BERT is not installed (assets/models/bert-zh-peoples-daily): train it with "
                         "`python scripts/train_bert_zh.py --out assets/models/bert-zh-peoples-daily`."), icon="⚠️")
        else:
            meta = bert.meta.get("held_out", {})
            st.caption(_("The encoder: the Chinese BERT pre-trained here ({layers} layers, d_model {d}; held-out "
                         "masked-character top-1 {top1:.2f}). See the BERT page.").format(
                layers=bert.model.cfg.n_layers, d=bert.model.cfg.d_model, top1=meta.get("mlm_top1", float("nan"))))
        st.subheader(_("Feature-based: which layer?"))
        probe_go = False
        if bert is not None:  # (no disabled buttons: the sentence above says what is missing)
            c1, c2 = st.columns([3, 1])
            c1.select_slider(_("Training texts for the probe"), [300, 1000, 3000], key="cls_probe_n")
            probe_go = c2.button(_("🔬 Probe every layer"), key="cls_probe_go")
        if probe_go:
            with guard(stop=False):
                with queued("train", 20):
                    on_step, bar = progress_callback(_("Encoding and fitting a logistic regression per layer…"))
                    parts = C.review_split()
                    ss[PROBE_SESSION] = {"n": int(ss["cls_probe_n"]), "rows": C.layer_probe(
                        bert, C.sample(parts["train"], int(ss["cls_probe_n"]), seed()), parts["test"], on_step=on_step)}
                    bar.empty()
        probe = ss.get(PROBE_SESSION) or ((shipped or {}).get("probe") and {"n": "all", "rows": shipped["probe"]})
        if probe:
            fig = go.Figure()
            for pool, color in (("cls", "#9467bd"), ("mean", "#2ca02c")):
                rows = [r for r in probe["rows"] if r["pool"] == pool]
                fig.add_scatter(x=[r["layer"] for r in rows], y=[r["accuracy"] for r in rows], mode="lines+markers",
                                name=_("[CLS] vector") if pool == "cls" else _("mean of the characters"),
                                line=dict(color=color))
            fig.update_layout(title=_("Feature-based test accuracy by layer ({n} training texts)").format(
                n=_("all") if probe["n"] == "all" else f"{probe['n']:,}"), height=360,
                xaxis=dict(title=_("layer (0 = embeddings)"), dtick=1), yaxis=dict(title=_("test accuracy"),
                                                                                  tickformat=".0%"),
                margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
            st.plotly_chart(fig, width="stretch", key="cls_probe")
            figure_downloads(fig, "layer_probe", "cls_probe_dl", data=pd.DataFrame(probe["rows"]))
            st.caption(_("Before fine-tuning, the [CLS] vector was only trained for next-sentence prediction, so "
                         "the mean of the characters is often the better feature."))

        st.subheader(_("Fine-tuning, live"))
        ft_go = False
        if bert is not None:
            d1, d2, d3, d4 = st.columns(4)
            d1.number_input(_("Steps"), 10, 1000, key="cls_ft_steps", step=10)
            d2.slider(_("Seconds (at most)"), 5, MAX_SECONDS, key="cls_ft_seconds")
            d3.select_slider(_("Peak learning rate"), FT_LRS, key="cls_ft_lr", format_func=lambda v: f"{v:g}")
            ft_go = d4.button(_("🔥 Fine-tune"), key="cls_ft_go", type="primary")
        if ft_go:
            with guard(stop=False):
                with queued("train", 20):
                    stop = _stop_button("cls_ft_stop")
                    parts = C.review_split()
                    run = {"history": [], "steps": int(ss["cls_ft_steps"])}
                    ss[FT_SESSION] = run  # before training: Stop keeps the curve so far
                    on_step, clear = _live(_("Fine-tuning…"), _("Fine-tuning"), run["history"])
                    cfg = _config(float(ss["cls_ft_seconds"]), finetune_steps=int(ss["cls_ft_steps"]),
                                  finetune_lr=float(ss["cls_ft_lr"]), batch_size=32)
                    model = C.train("bert_finetune", parts["train"], cfg, seed(), bert=bert, val=parts["val"],
                                    on_step=on_step, history=run["history"], threads=1)
                    stop.empty()
                    run["result"] = C.evaluate(model, parts["test"])
                    runs = _runs("reviews")
                    runs["models"]["bert_finetune"] = model
                    runs["results"]["bert_finetune"] = {**run["result"], "seconds": model.seconds,
                                                        "train_n": len(parts["train"])}
                    clear()
        run = ss.get(FT_SESSION)
        if run and run["history"]:
            h = run["history"]
            fig = _curve_figure(h, _("Fine-tuning"))
            st.plotly_chart(fig, width="stretch", key="cls_ft_curve")
            figure_downloads(fig, "fine_tuning", "cls_ft_dl", data=pd.DataFrame(h))
            if "result" in run:
                st.success(_("Fine-tuned for {steps} steps: test accuracy {acc:.1%}.").format(
                    steps=h[-1]["step"], acc=run["result"]["accuracy"]), icon="✅")
            else:
                st.info(_("Stopped after {steps} steps.").format(steps=h[-1]["step"]))
        if shipped and shipped.get("full"):
            full = shipped["full"]
            cols = st.columns(3)
            for col, key in zip(cols, ("bert_features", "bert_finetune", "tfidf_lr")):
                if key in full:
                    col.metric(_name(key), f"{full[key]['accuracy']:.1%}", help=_("The shipped run, every training "
                                                                                  "text."))


# ---------------------------------------------------------------------------------------------
if tab_up.open is not False:
    with tab_up:
        st.markdown(_(
            "Your own task: upload a CSV or TSV file whose first line names a `text` and a `label` column "
            "(any language, any labels, at most 2 MB). The same split (by a hash of each text) and the same "
            "models run on it."))
        file = st.file_uploader(_("CSV or TSV with text,label"), type=["csv", "tsv", "txt"], key="cls_file")
        if file is not None:
            with guard(stop=False):
                parts = C.load_upload(file.getvalue())
                if (ss.get(UPLOAD_SESSION) or {}).get("name") != file.name:
                    ss.setdefault(RUNS, {}).pop("upload", None)  # a new file: the old results do not apply
                ss[UPLOAD_SESSION] = {"name": file.name, "parts": parts}
        up = ss.get(UPLOAD_SESSION)
        if file is None or up is None:
            st.info(_("No file yet. Example first lines:\n\n`text,label`\n\n`great food and friendly staff,pos`"))
        else:
            parts = up["parts"]
            _data_caption(parts)
            bert = _bert()
            offered = _available([k for k in C.MODELS if k != "snownlp"], bert)
            if "cls_up_pick" not in ss:
                ss["cls_up_pick"] = _parse_models(ss["cls_up_models"], offered)
            st.multiselect(_("Models"), offered, format_func=_name, key="cls_up_pick")
            picked = [k for k in ss["cls_up_pick"] if k in offered]
            ss["cls_up_models"] = ",".join(picked)
            if any(k in C.NEEDS_BERT for k in picked):
                st.caption(_("The Chinese BERT reads Chinese characters; other scripts are mostly unknown to it."))
            if st.button(_("🏋️ Train and compare"), key="cls_up_train", type="primary"):
                with guard(stop=False):
                    if not picked:
                        raise ValueError(_("Choose at least one model."))
                    with queued("train", 20):
                        stop = _stop_button("cls_up_stop")
                        _train_and_score("upload", picked, parts, SIZES["all"], float(ss["cls_seconds"]), bert)
                        stop.empty()
            runs = _runs("upload")
            if runs["results"]:
                fig = _accuracy_chart(runs["results"], None, _("Test accuracy on your data"))
                st.plotly_chart(fig, width="stretch", key="cls_up_acc")
                st.dataframe(_results_table(runs["results"], parts["train"].classes), hide_index=True, width="stretch")
                best = max(runs["results"], key=lambda k: runs["results"][k]["accuracy"])
                st.plotly_chart(_confusion(runs["results"][best], parts["train"].classes), width="stretch",
                                key="cls_up_conf")
                st.caption(_("Confusion matrix of the best model, {model}.").format(model=_name(best)))


# ---------------------------------------------------------------------------------------------
if tab_math.open is not False:
    with tab_math:
        st.markdown(_("**Bag of words and TF-IDF.** A text becomes a sparse vector with one entry per character "
                      "n-gram or word: its count, or TF-IDF"))
        st.latex(r"\mathrm{tfidf}(t, d) = (1 + \log \mathrm{tf}_{t,d}) \cdot \left(\log\frac{1 + N}{1 + \mathrm{df}_t} + 1\right)")
        st.markdown(_("**Naive Bayes** assumes the features independent given the class. Here a feature is whether "
                      "a character n-gram occurs in the text (x = 0 or 1: on these reviews that beats counting, "
                      "which lets a long review's repeated n-grams outvote the rest):"))
        st.latex(r"\hat y = \arg\max_c \; \log P(c) + \sum_{t} x_{t,d} \log P(t \mid c), \quad "
                 r"P(t \mid c) = \frac{\sum_{d \in c} x_{t,d} + \alpha}{\sum_{t'} \sum_{d \in c} x_{t',d} + \alpha |V|}")
        st.markdown(_("**Logistic regression** learns one weight per feature (softmax regression for more classes, "
                      "the Basics page's first lesson), with an L2 penalty 1/C:"))
        st.latex(r"P(y = 1 \mid x) = \sigma(w^\top x + b), \quad \min_{w,b} \; \tfrac{1}{2}\|w\|^2 + C \sum_i "
                 r"-\log P(y_i \mid x_i)")
        st.markdown(_("Its explanation is exact: the score is a sum, so each feature's share is xₜ·wₜ. Averaged "
                      "word vectors are linear too: a word w of n adds (v_w / n)·w."))
        st.markdown(_("**TextCNN** slides filters of widths 2, 3 and 4 over the character embeddings (the Basics "
                      "page's convolutions, in one dimension) and keeps each filter's maximum over the text:"))
        st.latex(r"c_{k,i} = \mathrm{ReLU}(W_k \cdot e_{i:i+w-1} + b_k), \quad \hat c_k = \max_i c_{k,i}, \quad "
                 r"P(y \mid x) = \mathrm{softmax}(U [\hat c_1; \dots; \hat c_K])")
        _to_convolutions(_("Convolutions, padding and pooling step by step (Basics page) →"))
        st.markdown(_("**BiLSTM** reads the characters in both directions and keeps each unit's maximum over "
                      "positions:"))
        st.latex(r"h_t = [\overrightarrow{h}_t; \overleftarrow{h}_t], \quad v = \max_t h_t, \quad "
                 r"P(y \mid x) = \mathrm{softmax}(U v)")
        st.markdown(_("**Feature-based** (as ELMo): the pre-trained encoder is frozen, a text's vector is "
                      "one layer's [CLS] or the mean over its characters, and only a logistic regression is trained. "
                      "**Fine-tuning** (as BERT): a linear head on the pooled [CLS] vector, and every weight "
                      "trained by gradient descent with a linear warm-up then a linear decay of the learning rate:"))
        st.latex(r"P(y \mid x) = \mathrm{softmax}(W \tanh(W_p h_{[\mathrm{CLS}]} + b_p) + b), \quad "
                 r"\eta_s = \eta \cdot \min\left(\frac{s}{s_w}, \frac{S - s}{S - s_w}\right)")
        st.markdown(_("**Gradient × input** for the neural models: the score of the predicted class c, "
                      "linearised at each character's embedding e_t:"))
        st.latex(r"a_t = \frac{\partial\, s_c}{\partial e_t} \cdot e_t")
        st.markdown(_("**Accuracy and macro F1**: accuracy is the share of right answers; F1 per class is the "
                      "harmonic mean of precision and recall, and macro F1 their plain mean over the classes, so a "
                      "small class counts as much as a large one."))

sync_url()
