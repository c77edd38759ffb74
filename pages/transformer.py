"""Transformer page: the whole encoder–decoder trained here on toy tasks (copy, reverse, sort, addition),
every layer's attention after training, and the masks at work. Thin UI over core.transformers.transformer."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, plain, queued, run_through_entry_point, seed,
                           sync_url, url_state)

run_through_entry_point()

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from core import sources, st_cache  # noqa: E402
from core.corpora import held_out_pairs  # noqa: E402
from core.i18n import N_, _, language  # noqa: E402
from core.plots import attention_heatmap, heatmap  # noqa: E402
from core.sequence import seq2seq as S  # noqa: E402
from core.transformers import transformer as T  # noqa: E402
from core.transformers import translator as TR  # noqa: E402

TOY_SECONDS = 60  # most seconds one training click may take
D_MODELS = [16, 32, 64, 128]
HEADS = [1, 2, 4, 8]
EXAMPLES = {"copy": "3 1 4 1 5 2 6", "reverse": "3 1 4 1 5 2 6", "sort": "3 1 4 1 5 2 6", "add": "457+68"}
TOY_SESSION = "_tf_toy"  # session_state: the toy model trained here, its task, history and exact-match checks
MASK_SESSION = "_tf_mask"  # session_state: the with / without causal mask experiment
TIP_SESSION = "_tf_tip"  # session_state: the last training-tip comparison run here
VARIANT_COLORS = ["#1f77b4", "#d62728"]
MEAN = -1  # the head choice "mean of the heads"

st.title(_("Transformer"))
st.caption(_("The whole encoder–decoder of the notes, built from the attention of the Attention page: "
             "embeddings and positions, encoder blocks (self-attention, add & norm, feed-forward), decoder blocks "
             "(masked self-attention, encoder–decoder attention, feed-forward), the softmax. Small enough to "
             "train here in seconds."))

url_state({"tf_task": "reverse", "tf_layers": 2, "tf_heads": 4, "tf_dmodel": 64, "tf_smoothing": 0.0,
           "tf_warmup": 200, "tf_norm": "post", "tf_seconds": 30, "tf_until": True, "tf_len": 8,
           "tf_src_copy": EXAMPLES["copy"], "tf_src_reverse": EXAMPLES["reverse"], "tf_src_sort": EXAMPLES["sort"],
           "tf_src_add": EXAMPLES["add"], "tf_layer": 0, "tf_head": MEAN},
          choices={"tf_task": list(T.TASKS), "tf_heads": HEADS, "tf_dmodel": D_MODELS, "tf_norm": list(T.NORMS)},
          bounds={"tf_layers": (1, 4), "tf_smoothing": (0.0, 0.3), "tf_warmup": (0, 2000), "tf_seconds": (3, TOY_SECONDS),
                  "tf_len": (3, 12), "tf_layer": (0, 3), "tf_head": (MEAN, 7)})
url_state({"tf_part": "dec_cross", "tf_arch_layer": 0}, choices={"tf_part": list(T.PARTS)},
          bounds={"tf_arch_layer": (0, 3)})
url_state({"tf_tip": "warmup", "tf_tip_task": "reverse", "tf_tip_seconds": 20},
          choices={"tf_tip": list(T.TIPS), "tf_tip_task": list(T.TASKS)}, bounds={"tf_tip_seconds": (3, TOY_SECONDS)})
url_state({"tf_mask_task": "reverse", "tf_mask_seconds": 15},
          choices={"tf_mask_task": list(T.TASKS)}, bounds={"tf_mask_seconds": (3, TOY_SECONDS)})
url_state({"tf_mt_text": "he is reading a book .", "tf_mt_method": "beam", "tf_mt_layer": 0, "tf_mt_head": MEAN,
           "tf_mt_n": 100, "tf_mt_eval": "greedy"},
          choices={"tf_mt_method": ["greedy", "beam"], "tf_mt_eval": ["greedy", "beam"]},
          bounds={"tf_mt_layer": (0, T.MAX_LAYERS - 1), "tf_mt_head": (MEAN, T.MAX_HEADS - 1), "tf_mt_n": (20, 500)})
ss = st.session_state
MT_SESSION = "_tf_mt"  # session_state: the last "score both here" run
MT_METHODS = {"greedy": N_("greedy"), "beam": N_("beam search (k = 5, α = 0.7)")}

tab_arch, tab_toy, tab_masks, tab_mt, tab_tips = lazy_tabs(
    [N_("🧩 Build it"), N_("🧪 Toy tasks"), N_("🎭 Masks"), N_("🌐 Translation"), N_("📏 Training tips")], key="tf_tab")


def _task(name: str, length: int) -> T.ToyTask:
    if name == "add":
        return T.ToyTask("add", n_symbols=10, min_len=1, max_len=max(1, length // 2))
    return T.ToyTask(name, n_symbols=8 if name != "sort" else 10, min_len=3, max_len=length)


def _config(task: T.ToyTask) -> T.TransformerConfig:
    d = int(ss["tf_dmodel"])
    return T.TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=d, n_heads=int(ss["tf_heads"]),
                               n_layers=int(ss["tf_layers"]), d_ff=4 * d, norm=ss["tf_norm"],
                               max_len=2 * task.max_len + 8)


def _curves(history: list, checks: list) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=[h["step"] for h in history], y=[h["loss"] for h in history], mode="lines",
                    name=_("training loss"), line=dict(color="#1f77b4", width=1), secondary_y=False)
    fig.add_scatter(x=[h["step"] for h in history], y=[h["acc"] for h in history], mode="lines",
                    name=_("token accuracy (training batch)"), line=dict(color="#2ca02c", width=1), secondary_y=True)
    if checks:
        fig.add_scatter(x=[c["step"] for c in checks], y=[c["exact"] for c in checks], mode="lines+markers",
                        name=_("held-out exact match (greedy)"), line=dict(color="#d62728"), secondary_y=True)
    fig.update_layout(title=_("Training"), height=360, xaxis_title=_("step"), margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.2))
    fig.update_yaxes(title_text=_("loss"), type="log", secondary_y=False)
    fig.update_yaxes(title_text=_("accuracy"), range=[0, 1.02], secondary_y=True)
    return fig


def _per_model_progress(budget: float, name_of):
    """(bar, on_model, on_step) for runs that train one model after another for `budget` seconds each: the
    bar follows the current model's seconds and names it (`name_of(run name)` -> what to show)."""
    bar = st.progress(0.0, text=_("training…"))
    clock = {"name": "", "start": time.monotonic()}

    def on_model(name):
        clock["name"], clock["start"] = name_of(name), time.monotonic()

    def on_step(done, total, info):
        if done % 25 == 0:
            spent = time.monotonic() - clock["start"]
            bar.progress(min(spent / budget, 1.0), text=_("{model}: step {done}").format(model=clock["name"],
                                                                                       done=done))

    return bar, on_model, on_step


def _map(weights: np.ndarray, head: int) -> np.ndarray:
    """(h, Tq, Tk) -> one head's map, or the mean of the heads."""
    return weights.mean(axis=0) if head == MEAN else weights[min(head, weights.shape[0] - 1)]


@st.cache_resource(max_entries=64, show_spinner=False)
def _diagram(selected: str, lang: str) -> go.Figure:
    """The encoder (left) and decoder (right) as boxes; each box is a point one can click.

    Made once per box and language for every session: building its shapes and arrows was most of this tab's
    CPU on every rerun. Shared, so never changed after it is returned (st.plotly_chart only reads it)."""
    fig = go.Figure()
    xs, ys, labels, ids = [], [], [], []
    for pid, (label, col, row, _what) in T.PARTS.items():
        x, y = col * 2.2, row
        fig.add_shape(type="rect", x0=x - 0.9, x1=x + 0.9, y0=y - 0.38, y1=y + 0.38, layer="below",
                      line=dict(color="#d62728" if pid == selected else "#555", width=3 if pid == selected else 1),
                      fillcolor="#fde0dd" if pid == selected else ("#deebf7" if col == 0 else "#e5f5e0"))
        xs.append(x)
        ys.append(y)
        labels.append(_(label))
        ids.append(pid)
    for x, y0, y1 in ((0, 0, 4), (2.2, 0, 7)):
        for y in range(y0, y1):
            fig.add_annotation(x=x, y=y + 0.62, ax=x, ay=y + 0.38, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1, arrowcolor="#777", text="")
    fig.add_annotation(x=2.2 - 0.9, y=3, ax=0.9, ay=4, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                       arrowhead=2, arrowwidth=1.5, arrowcolor="#d62728", text="")
    fig.add_scatter(x=xs, y=ys, mode="markers+text", text=labels, customdata=ids, textfont=dict(size=12),
                    marker=dict(size=40, opacity=0.01, symbol="square"), hovertemplate=_("click to open") + "<extra></extra>")
    fig.add_annotation(x=0, y=5.0, text=_("encoder block ×N"), showarrow=False, font=dict(size=13, color="#08519c"))
    fig.add_annotation(x=2.2, y=8.0, text=_("decoder block ×N"), showarrow=False, font=dict(size=13, color="#006d2c"))
    fig.update_layout(height=560, showlegend=False, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select",
                      xaxis=dict(visible=False, range=[-1.1, 3.3]), yaxis=dict(visible=False, range=[-0.6, 8.4]),
                      dragmode=False)
    return fig


if tab_arch.open is not False:
    with tab_arch:
        st.markdown(_(
            "Click a box to see what it computes and the tensor it hands on, for the example below. The left "
            "column is an encoder block, the right a decoder block; the model stacks N of each. The red arrow "
            "is where the decoder reads the source: the encoder–decoder attention's keys and values are the "
            "encoder's output."))
        event = ss.get("tf_arch")
        points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
        clicked = points[0].get("customdata") if points else None
        if clicked in T.PARTS and clicked != ss.get("_tf_arch_applied"):
            ss["tf_part"] = clicked  # a click on the diagram chooses the box (before the select box is drawn)
        ss["_tf_arch_applied"] = clicked
        with guard(stop=False):
            sess = ss.get(TOY_SESSION)
            if sess is not None and sess.get("history"):
                model, task = sess["model"], sess["task"]
                st.caption(_("The model is the one you trained on the Toy tasks tab ({task})."
                             ).format(task=_(T.TASKS[task.name])))
            else:
                task = T.ToyTask("reverse", n_symbols=8, min_len=3, max_len=8)
                model = T.build_transformer(T.TransformerConfig(src_vocab=task.vocab, tgt_vocab=task.vocab, d_model=16,
                                                                n_heads=2, n_layers=2, d_ff=64), seed())
                st.caption(_("An untrained model (random weights, d_model 16, 2 heads) reversing a sequence: train one "
                             "on the Toy tasks tab and this view shows it instead."))
            src = T.toy_pairs(task, 1, seed())[0][0]
            tgt = [T.BOS] + T.expected_output(task, src)
            c1, c2 = st.columns([3, 2])
            c2.selectbox(_("Box"), list(T.PARTS), format_func=lambda p: _(T.PARTS[p][0]) + (
                _(" (encoder)") if T.PARTS[p][1] == 0 else _(" (decoder)")), key="tf_part")
            ss["tf_arch_layer"] = min(int(ss["tf_arch_layer"]), model.config.n_layers - 1)  # a link may ask for more
            if model.config.n_layers > 1:
                c2.slider(_("Block"), 0, model.config.n_layers - 1, key="tf_arch_layer")
            layer = min(int(ss["tf_arch_layer"]), model.config.n_layers - 1)
            part = ss["tf_part"]
            with c1:
                st.plotly_chart(_diagram(part, language()), width="stretch", key="tf_arch", on_select="rerun",
                                selection_mode="points")
            traced = T.trace(model, src, tgt, layer)[part]
            label, col, _row, what = T.PARTS[part]
            with c2:
                st.markdown(f"**{_(label)}**")
                st.markdown(plain(_(what)))  # formulas: d_model's underscore is not Markdown
                st.markdown(_("Tensor: **{shape}** (batch, positions, {width})").format(
                    shape=" × ".join(str(x) for x in traced["shape"]),
                    width=_("vocabulary") if part == "output" else "d_model"))
            src_labels = [task.symbol(i) for i in src]
            tgt_labels = [task.symbol(i) for i in tgt]
            rows = src_labels if col == 0 else tgt_labels
            values = traced["values"]
            cols_ = [task.symbol(i) for i in range(values.shape[1])] if part == "output" else \
                [str(i) for i in range(values.shape[1])]
            st.plotly_chart(heatmap(values, cols_, rows, title=_("{box}: its output for this example").format(
                box=_(label)), x_title=_("token") if part == "output" else _("dimension"), y_title=_("position"),
                colorscale="Blues" if part == "output" else "RdBu", text_fmt=None), width="stretch", key="tf_arch_values")
            if "weights" in traced:
                keys = src_labels if part in ("enc_self", "dec_cross") else tgt_labels
                st.plotly_chart(attention_heatmap(traced["weights"].mean(axis=0), rows, keys,
                                                  title=_("Its attention weights (mean of the heads)")),
                                width="stretch", key="tf_arch_weights")


if tab_toy.open is not False:
    with tab_toy:
        st.markdown(_(
            "Pick a task and a model, press **Train** and watch the loss fall; then give it a sequence it has "
            "never seen and look at every layer's attention. Reverse draws the anti-diagonal in the "
            "encoder–decoder attention; sort, a permutation; addition lines up digits of the same place value. "
            "Training feeds the decoder the true previous tokens (teacher forcing); the held-out check "
            "generates greedily, one token at a time, as at inference."))
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox(_("Task"), list(T.TASKS), format_func=lambda t: _(T.TASKS[t]), key="tf_task")
        c2.slider(_("Longest sequence"), 3, 12, key="tf_len", help=_("For addition: the longest sequence of both "
                                                                     "numbers together."))
        c3.number_input(_("Layers (encoder = decoder)"), 1, 4, key="tf_layers")
        c4.select_slider(_("Heads"), HEADS, key="tf_heads")
        d1, d2, d3, d4 = st.columns(4)
        d1.select_slider(_("d_model"), D_MODELS, key="tf_dmodel")
        d2.slider(_("Label smoothing"), 0.0, 0.3, key="tf_smoothing", step=0.05)
        d3.number_input(_("Warm-up steps (0 = off)"), 0, 2000, key="tf_warmup", step=50)
        d4.radio(_("Norm"), list(T.NORMS), format_func=lambda n: _(T.NORMS[n]), key="tf_norm")
        e1, e2, e3 = st.columns([2, 2, 1])
        e1.slider(_("Seconds of training"), 3, TOY_SECONDS, key="tf_seconds")
        e2.checkbox(_("Stop at 100% held-out exact match"), key="tf_until")
        go_train = e3.button(_("🏋️ Train"), key="tf_train", type="primary")
        with guard(stop=False):
            task = _task(ss["tf_task"], int(ss["tf_len"]))
            cfg = _config(task)
            st.caption(_("{params:,} parameters; vocabulary {v} (<pad>, <s>, </s> and the symbols); learning rate "
                         "d_model^−0.5 · min(step^−0.5, step · warmup^−1.5) (the paper's).").format(
                params=T.count_params(T.build_transformer(cfg, 0)), v=task.vocab))
            if go_train:
                held = T.toy_pairs(task, 300, seed() + 7_919)
                sess = {"task": task, "config": cfg, "history": [], "checks": []}
                sess["model"] = T.build_transformer(cfg, seed())
                ss[TOY_SESSION] = sess  # before training: Stop keeps what was trained so far
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="tf_stop")
                    bar, live = st.progress(0.0, text=_("training…")), st.empty()
                    budget, clock = float(ss["tf_seconds"]), {"start": time.monotonic(), "drawn": 0.0}

                    def should_stop(step, sess=sess, held=held, bar=bar, live=live, budget=budget, clock=clock):
                        if step % 50:
                            return False
                        exact = T.exact_match(sess["model"], held)
                        sess["checks"].append({"step": step, "exact": exact})
                        spent = time.monotonic() - clock["start"]
                        bar.progress(min(spent / budget, 1.0), text=_(
                            "step {step}: held-out exact match {exact:.0%} · {spent:.0f} s of {budget:.0f} s").format(
                            step=step, exact=exact, spent=spent, budget=budget))
                        live.plotly_chart(_curves(sess["history"], sess["checks"]), width="stretch")
                        return bool(ss["tf_until"]) and exact == 1.0

                    sess["result"] = T.train(sess["model"], T.toy_pairs(task, 20_000, seed()), steps=100_000,
                                             max_seconds=budget, batch_size=64,
                                             label_smoothing=float(ss["tf_smoothing"]), warmup=int(ss["tf_warmup"]),
                                             seed=seed(), history=sess["history"], threads=1,
                                             should_stop=should_stop)
                    sess["checks"].append({"step": sess["result"]["steps"], "exact": T.exact_match(sess["model"], held)})
                    bar.empty()
                    live.empty()
        sess = ss.get(TOY_SESSION)
        if sess is None or not sess["history"]:
            st.info(_("Press Train: the model trains for at most the seconds you set (a 2-layer model learns to "
                      "reverse 8 symbols in about 20 s on two CPU cores)."))
        else:
            task = sess["task"]
            checks = sess["checks"]
            m1, m2, m3 = st.columns(3)
            m1.metric(_("held-out exact match"), f"{checks[-1]['exact']:.0%}" if checks else "–",
                      help=_("Share of 300 unseen sequences the model gets entirely right, generating greedily."))
            m2.metric(_("steps"), f"{sess['history'][-1]['step']:,}")
            m3.metric(_("seconds"), f"{sess['history'][-1]['time_s']:.0f}")
            fig = _curves(sess["history"], checks)
            st.plotly_chart(fig, width="stretch", key="tf_curves")
            figure_downloads(fig, "transformer_training", "tf_curves_dl", data=pd.DataFrame(sess["history"]))

            st.subheader(_("Look inside"))
            key = f"tf_src_{task.name}"
            st.text_input(_("A source sequence (symbols 0–{top}{plus})").format(
                top=task.n_symbols - 1, plus=_(", one +") if task.name == "add" else ""), key=key)
            with guard(stop=False):
                src = T.parse_toy(task, ss[key], limit=sess["config"].max_len - 2)
                longest = task.max_len if task.name != "add" else 2 * task.max_len + 1
                if len(src) > longest:
                    st.info(_("This sequence is longer than any the model trained on ({n} symbols at most). Its "
                              "positions past {n} were never seen in training: expect mistakes there.").format(n=longest))
                inside = T.look_inside(sess["model"], src)
                want = T.expected_output(task, src)
                shown = " ".join(task.symbol(i) for i in inside["output"])
                if inside["output"] == want:
                    st.success(_("Output: {out} (right)").format(out=shown), icon="✅")
                else:
                    st.warning(_("Output: {out}; the task asks for {want}").format(
                        out=shown or "–", want=" ".join(task.symbol(i) for i in want)), icon="❌")
                n_layers = len(inside["cross"])
                n_heads = inside["cross"][0].shape[0]
                h1, h2 = st.columns(2)
                ss["tf_layer"] = min(int(ss["tf_layer"]), n_layers - 1)  # a link or a smaller model may ask for more
                ss["tf_head"] = min(int(ss["tf_head"]), n_heads - 1)
                if n_layers > 1:  # (a bare `x if c else None` line would be written to the page by Streamlit's magic)
                    h1.slider(_("Layer"), 0, n_layers - 1, key="tf_layer")
                h2.select_slider(_("Head"), [MEAN, *range(n_heads)], key="tf_head",
                                 format_func=lambda h: _("mean of the heads") if h == MEAN else str(h))
                layer, head = min(int(ss["tf_layer"]), n_layers - 1), int(ss["tf_head"])
                src_labels = [task.symbol(i) for i in src]
                tgt_labels = ["<s>"] + [task.symbol(i) for i in inside["output"]]
                st.plotly_chart(attention_heatmap(
                    _map(inside["cross"][layer], head), tgt_labels, src_labels,
                    title=_("Encoder–decoder attention, layer {layer}").format(layer=layer),
                    query_title=_("output so far (decoder)"), key_title=_("source (encoder)")),
                    width="stretch", key="tf_cross")
                a1, a2 = st.columns(2)
                with a1:
                    st.plotly_chart(attention_heatmap(
                        _map(inside["encoder"][layer], head), src_labels, src_labels,
                        title=_("Encoder self-attention, layer {layer}").format(layer=layer)),
                        width="stretch", key="tf_enc")
                with a2:
                    st.plotly_chart(attention_heatmap(
                        _map(inside["decoder_self"][layer], head), tgt_labels, tgt_labels,
                        title=_("Decoder masked self-attention, layer {layer}").format(layer=layer)),
                        width="stretch", key="tf_dec")
                st.caption(_("Each row is one query and sums to 1. The decoder's self-attention is zero above the "
                             "diagonal: the causal mask lets position t look only at positions up to t."))


if tab_masks.open is not False:
    with tab_masks:
        st.markdown(_(
            "Two masks make a batch work. The **padding mask** hides the <pad> tokens that make every sequence of "
            "a batch the same length; the **causal mask** stops the decoder's position t from looking at the "
            "tokens after t, which it will have to generate itself at inference."))
        with guard(stop=False):
            demo_task = T.ToyTask("reverse", n_symbols=8, min_len=2, max_len=6)
            pairs = T.toy_pairs(demo_task, 4, seed())
            masks = T.batch_masks(pairs)
            src_rows = [" ".join(demo_task.symbol(int(i)) for i in row) for row in masks["src"]]
            cols = [str(i) for i in range(masks["src"].shape[1])]
            st.plotly_chart(heatmap(masks["padding"].astype(float), cols, src_rows,
                                    title=_("Padding mask of a batch of 4 sources (1 = a real token, 0 = <pad>)"),
                                    x_title=_("position"), y_title=_("source"), colorscale="Greens", zmin=0, zmax=1,
                                    text_fmt=".0f"), width="stretch", key="tf_pad")
            b1, b2 = st.columns(2)
            tin = [demo_task.symbol(int(i)) for i in masks["tgt_in"][-1]]
            with b1:
                st.plotly_chart(heatmap(masks["causal"].astype(float), tin, tin, title=_("Causal mask"),
                                        x_title=_("key"), y_title=_("query"), colorscale="Greens", zmin=0, zmax=1,
                                        text_fmt=".0f"), width="stretch", key="tf_causal")
            with b2:
                st.plotly_chart(heatmap(masks["decoder"][-1].astype(float), tin, tin,
                                        title=_("Causal and padding, the last target of the batch"),
                                        x_title=_("key"), y_title=_("query"), colorscale="Greens", zmin=0, zmax=1,
                                        text_fmt=".0f"), width="stretch", key="tf_combined")

        st.subheader(_("What if the decoder could see the future?"))
        st.markdown(_(
            "Train the same model twice, with and without the causal mask. Without it, the decoder reads the very "
            "token it has to predict (training feeds it the whole target at once): the training loss falls to "
            "almost zero. At inference the next token does not exist yet, and the model has learned nothing "
            "else."))
        k1, k2, k3 = st.columns([2, 2, 1])
        k1.selectbox(_("Task"), list(T.TASKS), format_func=lambda t: _(T.TASKS[t]), key="tf_mask_task")
        k2.slider(_("Seconds for each model"), 3, TOY_SECONDS, key="tf_mask_seconds")
        go_mask = k3.button(_("🎭 Train both"), key="tf_mask_go", type="primary")
        with guard(stop=False):
            if go_mask:
                mtask = _task(ss["tf_mask_task"], 8)
                sess = {"task": mtask, "results": {}}
                ss[MASK_SESSION] = sess
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="tf_mask_stop")
                    names = {"causal": _("with the causal mask"), "no_causal": _("without the causal mask")}
                    bar, on_model, on_step = _per_model_progress(float(ss["tf_mask_seconds"]), names.get)
                    T.mask_experiment(mtask, T.experiment_config(mtask), float(ss["tf_mask_seconds"]), seed(),
                                      on_model=on_model, on_step=on_step, results=sess["results"])
                    bar.empty()
            sess = ss.get(MASK_SESSION)
            if sess is None or "exact" not in sess["results"].get("no_causal", {}):
                st.info(_("Press the button: each model trains for the seconds you set, then both are scored on "
                          "300 unseen sequences."))
            else:
                res, mtask = sess["results"], sess["task"]
                fig = go.Figure()
                for name, color in (("causal", "#2ca02c"), ("no_causal", "#d62728")):
                    h = res[name]["history"]
                    fig.add_scatter(x=[x["step"] for x in h], y=[x["loss"] for x in h], mode="lines",
                                    name=_("with the causal mask") if name == "causal" else _("without the causal mask"),
                                    line=dict(color=color))
                fig.update_layout(title=_("Training loss"), height=320, yaxis=dict(type="log", title=_("loss")),
                                  xaxis_title=_("step"), margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="tf_mask_loss")
                rows = []
                for name in ("causal", "no_causal"):
                    src, out = res[name]["example"]
                    rows.append({_("model"): _("with the causal mask") if name == "causal" else
                                 _("without the causal mask"),
                                 _("token accuracy, true prefix given (as in training)"): res[name]["teacher_forced"],
                                 _("exact match, generating (as at inference)"): res[name]["exact"],
                                 _("example"): " ".join(mtask.symbol(i) for i in src) + " → " +
                                 (" ".join(mtask.symbol(i) for i in out) or "–")})
                table = pd.DataFrame(rows)
                st.dataframe(table, hide_index=True, width="stretch", column_config={
                    _("token accuracy, true prefix given (as in training)"): st.column_config.NumberColumn(format="%.2f"),
                    _("exact match, generating (as at inference)"): st.column_config.NumberColumn(format="%.2f")})
                figure_downloads(fig, "causal_mask_experiment", "tf_mask_dl", data=table)
                st.caption(_("Without the mask the model looks perfect while training ({tf:.0%} of tokens right "
                             "given the true prefix) and fails when it must generate ({ex:.0%} exact). With the "
                             "mask: {tf2:.0%} and {ex2:.0%}.").format(
                    tf=res["no_causal"]["teacher_forced"], ex=res["no_causal"]["exact"],
                    tf2=res["causal"]["teacher_forced"], ex2=res["causal"]["exact"]))


def _translators() -> dict:
    """The shipped Transformer and GRU + attention translators that exist: {source name: bundle}."""
    found = {}
    for name in (TR.SHIPPED, TR.BASELINE):
        src = sources.get_source("seq2seq", name)
        if (Path(src.ref) / "model.safetensors").exists():
            with guard(stop=False):
                found[name] = st_cache.load_source(src)
    return found


MT_NAMES = {TR.SHIPPED: N_("Transformer"), TR.BASELINE: N_("GRU + attention")}


if tab_mt.open is not False:
    with tab_mt:
        bundles = _translators()
        st.markdown(_(
            "A real task: our Transformer (the blocks of this page) trained on the same English→Chinese Tatoeba pairs "
            "as the Seq2seq page's GRU + attention model: the same split, the same tokens (English words, Chinese "
            "characters), scored on the same held-out pairs (every 10th pair, never trained on). BLEU here is "
            "character-level BLEU-4."))
        if TR.SHIPPED in bundles:
            mcfg = bundles[TR.SHIPPED].config
            st.caption(_("The shipped Transformer: {layers} encoder + {layers} decoder blocks, d_model {d_model}, "
                         "{heads} heads, feed-forward {d_ff}, {params:,} parameters; its model card has the training "
                         "command and the per-epoch record.").format(
                layers=mcfg.num_layers, d_model=mcfg.emb_dim, heads=mcfg.n_heads, d_ff=mcfg.hidden_dim,
                params=T.count_params(bundles[TR.SHIPPED].model)))
        comp = TR.shipped_comparison()
        if comp:
            r = comp["results"]
            m1, m2, m3, m4 = st.columns(4)
            m1.metric(_("Transformer, beam BLEU"), f"{r['tf_beam']['bleu']:.2f}",
                      delta=f"{r['tf_beam']['bleu'] - r['rnn_beam']['bleu']:+.2f} " + _("vs GRU"))
            m2.metric(_("GRU + attention, beam BLEU"), f"{r['rnn_beam']['bleu']:.2f}")
            m3.metric(_("Transformer, greedy BLEU"), f"{r['tf_greedy']['bleu']:.2f}",
                      delta=f"{r['tf_greedy']['bleu'] - r['rnn_greedy']['bleu']:+.2f} " + _("vs GRU"))
            m4.metric(_("Greedy sentences/s: Transformer / GRU"),
                      f"{r['tf_greedy']['sents_per_s']:,.0f} / {r['rnn_greedy']['sents_per_s']:,.0f}")
            gap = r["tf_beam"]["bleu"] - r["rnn_beam"]["bleu"]
            minutes = (bundles[TR.SHIPPED].meta.get("train_seconds", 0) / 60) if TR.SHIPPED in bundles else 0
            if gap < 0:
                st.warning(_("Here the Transformer is **{gap:.1f} BLEU behind** the GRU. After {minutes:.0f} minutes of "
                             "training on a CPU and with only the Tatoeba pairs to learn from, it has not caught up: "
                             "a Transformer usually needs more data or more training than an RNN with attention "
                             "before its parallel attention pays off. Its model card records how it was "
                             "trained.").format(gap=-gap, minutes=minutes), icon="📉")
            else:
                st.success(_("Here the Transformer is **{gap:.1f} BLEU ahead** of the GRU on the same pairs.").format(
                    gap=gap), icon="📈")
            by_len = {_("Transformer (beam)"): r["tf_beam"]["by_length"],
                      _("GRU + attention (beam)"): r["rnn_beam"]["by_length"]}
            fig_len = S.buckets_figure(by_len)
            fig_len.update_layout(title=_("BLEU by source sentence length, {n} held-out pairs").format(
                n=r["tf_beam"]["pairs"]))
            st.plotly_chart(fig_len, width="stretch", key="tf_mt_len")
            table = pd.DataFrame([{
                _("model"): _(MT_NAMES[name]), _("parameters"): r[f"{key}_greedy"]["parameters"],
                _("BLEU greedy"): r[f"{key}_greedy"]["bleu"], _("BLEU beam"): r[f"{key}_beam"]["bleu"],
                _("greedy, sentences/s"): r[f"{key}_greedy"]["sents_per_s"],
                _("beam, sentences/s"): r[f"{key}_beam"]["sents_per_s"]}
                for key, name in (("tf", TR.SHIPPED), ("rnn", TR.BASELINE))])
            st.dataframe(table, hide_index=True, width="stretch", column_config={
                c: st.column_config.NumberColumn(format="%.2f") for c in table.columns[2:]})
            rows = [{"model": name, **row} for name, rs in by_len.items() for row in rs]
            figure_downloads(fig_len, "transformer_vs_gru_bleu_by_length", "tf_mt_dl", data=pd.DataFrame(rows))
            st.caption(_("Measured by `benchmarks/transformer.py --save` on {date}: {n} held-out pairs, {threads} CPU "
                         "thread(s), load average {load}. Greedy decodes 128 sentences at a time; beam search one "
                         "sentence at a time. Both write one token per step: the GRU carries one state vector, the "
                         "Transformer caches every layer's keys and values and attends over all of them.").format(
                date=comp["date"], n=r["tf_beam"]["pairs"], threads=comp["threads"], load=comp["load"]))
            with st.expander(_("Examples from the held-out pairs")):
                st.dataframe(pd.DataFrame([{_("English"): e["en"], _("Transformer"): e["transformer"],
                                            _("GRU + attention"): e["gru"]} for e in comp["examples"]]),
                             hide_index=True, width="stretch")
        else:
            st.info(_("The shipped comparison has not been measured yet: run `benchmarks/transformer.py --save`."))

        if TR.SHIPPED not in bundles:
            st.info(_("The shipped Transformer translator is missing: train it with the command in "
                      "assets/models/transformer-en-zh/README.md."))
        else:
            st.subheader(_("Try a sentence"))
            c1, c2 = st.columns([3, 2])
            c1.text_input(_("English sentence"), key="tf_mt_text", max_chars=S.max_source_chars(
                bundles[TR.SHIPPED].config),
                          help=_("Lower-case words and punctuation work best, e.g. i am hungry . · where is the "
                                 "station ?"))
            c2.radio(_("Decoding"), ["greedy", "beam"], key="tf_mt_method", horizontal=True,
                     format_func=lambda m: _(MT_METHODS[m]))
            text, method = ss["tf_mt_text"], ss["tf_mt_method"]
            outs, ms = {}, {}  # results are shared by every session (never mutate them); times are this run's
            with guard():
                with queued("generate", 30):
                    for name, bundle in bundles.items():
                        t0 = time.perf_counter()
                        outs[name] = st_cache.shared(S.translate, bundle, f"seq2seq/{name}", text, method,
                                                     beam_width=5, alpha=0.7, seed=0, max_len=50, temperature=1.0)
                        ms[name] = (time.perf_counter() - t0) * 1000
            cols = st.columns(len(outs))
            for col, (name, res) in zip(cols, outs.items()):
                col.markdown(f"**{_(MT_NAMES[name])}**")
                col.markdown("#### " + (plain(res["text"]) or _("(empty output)")))
                col.caption(_("log P = {logp:.2f} · {ms:.0f} ms").format(logp=res["hypotheses"][0]["logp"], ms=ms[name]))
            tf_out = outs[TR.SHIPPED]
            if tf_out["unknown"]:
                st.warning(_("Not in the models' vocabulary (read as `<unk>`): {words}").format(
                    words=", ".join(f"`{w}`" for w in tf_out["unknown"][:20])))
            bundle = bundles[TR.SHIPPED]
            with guard(stop=False):
                inside = TR.cross_attention(bundle, text, tf_out["tokens"])
                n_layers, n_heads = inside["maps"].shape[:2]
                ss["tf_mt_layer"] = min(int(ss["tf_mt_layer"]), n_layers - 1)  # a link may ask for more
                ss["tf_mt_head"] = min(int(ss["tf_mt_head"]), n_heads - 1)
                h1, h2 = st.columns(2)
                if n_layers > 1:  # (a bare `x if c else None` line would be written to the page by Streamlit's magic)
                    h1.slider(_("Decoder layer"), 0, n_layers - 1, key="tf_mt_layer")
                h2.select_slider(_("Head"), [MEAN, *range(n_heads)], key="tf_mt_head",
                                 format_func=lambda h: _("mean of the heads") if h == MEAN else str(h))
                layer, head = int(ss["tf_mt_layer"]), int(ss["tf_mt_head"])
                fig_att = attention_heatmap(_map(inside["maps"][layer], head), inside["rows"], inside["cols"],
                                            title=_("Transformer cross-attention, decoder layer {layer}").format(
                                                layer=layer),
                                            query_title=_("generated token"), key_title=_("source token"))
                st.plotly_chart(fig_att, width="stretch", key="tf_mt_att")
                figure_downloads(fig_att, "transformer_cross_attention", "tf_mt_att_dl",
                                 data=pd.DataFrame(_map(inside["maps"][layer], head), index=inside["rows"],
                                                   columns=inside["cols"]))
                st.caption(_("Row t: where the decoder looked in the English sentence while choosing output token t "
                             "(each row sums to 1). Unlike the GRU's one additive attention, every decoder layer has "
                             "{heads} heads of its own: move the sliders to compare them. "
                             "The Seq2seq page offers the same model in its model box.").format(heads=n_heads))

            st.subheader(_("Score both here"))
            e1, e2, e3 = st.columns([2, 2, 1])
            e1.slider(_("Held-out pairs"), 20, 500, step=20, key="tf_mt_n",
                      help=_("The first pairs of the held-out split (Tatoeba is sorted by length, so few pairs = "
                             "short sentences)."))
            e2.radio(_("Decoding"), ["greedy", "beam"], key="tf_mt_eval", horizontal=True,
                     format_func=lambda m: _(MT_METHODS[m]))
            if e3.button(_("📊 Score"), key="tf_mt_go", type="primary"):
                with guard():
                    held = held_out_pairs(limit=int(ss["tf_mt_n"]))[0]
                    with queued("eval", 20):
                        st.button(_("⏹ Stop"), key="tf_mt_stop")
                        run = {"method": ss["tf_mt_eval"], "results": {}}
                        ss[MT_SESSION] = run
                        bar = st.progress(0.0)

                        def on_model(name):
                            def on_step(done, total, info=None):
                                bar.progress(min(done / max(total, 1), 1.0), text=_("{model}: {done}/{total}").format(
                                    model=_(MT_NAMES[name]), done=done, total=total))
                            return on_step

                        for name, bundle in bundles.items():  # one at a time: Stop keeps the finished ones
                            run["results"].update(TR.compare({name: bundle}, held, run["method"], on_model=on_model))
                        bar.empty()
            run = ss.get(MT_SESSION)
            if run and run["results"]:
                res = run["results"]
                st.plotly_chart(S.buckets_figure({_(MT_NAMES[n]): r["by_length"] for n, r in res.items()}),
                                width="stretch", key="tf_mt_here")
                st.caption(" · ".join(_("{model}: BLEU {bleu:.2f} on {n} pairs, {speed:.0f} sentences/s").format(
                    model=_(MT_NAMES[n]), bleu=r["bleu"], n=r["pairs"], speed=r["sents_per_s"]) for n, r in res.items())
                    + " · " + _(MT_METHODS[run["method"]]))


def _variant_table(results: dict, task: T.ToyTask) -> pd.DataFrame:
    return pd.DataFrame([{
        _("setting"): _(name), _("held-out exact match"): r["exact"], _("final training loss"): r["loss"],
        _("steps"): r["steps"], _("example"): " ".join(task.symbol(i) for i in r["example"][0]) + " → " +
        (" ".join(task.symbol(i) for i in r["example"][1]) or "–")} for name, r in results.items()])


if tab_tips.open is not False:
    with tab_tips:
        st.markdown(_(
            "The notes' training tips, each as an experiment: the same model, data and seed, trained twice for "
            "the same seconds, once with the tip and once without. **Label smoothing** trains toward 0.9 for the "
            "right token instead of 1; **warm-up** starts the learning rate small (without it, Adam starts at "
            "the peak rate); **pre-norm** puts each layer norm before its sub-layer instead of after the "
            "residual sum."))
        t1, t2, t3, t4 = st.columns([3, 2, 2, 1])
        t1.selectbox(_("Tip"), list(T.TIPS), format_func=lambda t: _(T.TIPS[t]), key="tf_tip")
        t2.selectbox(_("Task"), list(T.TASKS), format_func=lambda t: _(T.TASKS[t]), key="tf_tip_task")
        t3.slider(_("Seconds for each model"), 3, TOY_SECONDS, key="tf_tip_seconds")
        go_tip = t4.button(_("📏 Compare"), key="tf_tip_go", type="primary")
        shipped = T.shipped_tips()
        with guard(stop=False):
            if go_tip:
                ttask = _task(ss["tf_tip_task"], 8)
                sess = {"task": ttask, "tip": ss["tf_tip"], "results": {}}
                ss[TIP_SESSION] = sess
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="tf_tip_stop")
                    bar, on_model, on_step = _per_model_progress(float(ss["tf_tip_seconds"]), _)
                    T.run_variants(ttask, T.tip_variants(sess["tip"], T.experiment_config(ttask)),
                                   float(ss["tf_tip_seconds"]), seed(), on_model=on_model, on_step=on_step,
                                   results=sess["results"])
                    bar.empty()
            sess = ss.get(TIP_SESSION)
            done = sess is not None and len(sess["results"]) == 2 and all("exact" in r for r in sess["results"].values())
            if done:
                res, ttask = sess["results"], sess["task"]
                fig = go.Figure()
                for (name, r), color in zip(res.items(), VARIANT_COLORS):
                    fig.add_scatter(x=[h["step"] for h in r["history"]], y=[h["loss"] for h in r["history"]],
                                    mode="lines", name=_(name), line=dict(color=color, width=1))
                fig.update_layout(title=_("{tip}: training loss").format(tip=_(T.TIPS[sess["tip"]])), height=320,
                                  yaxis=dict(type="log", title=_("loss")), xaxis_title=_("step"),
                                  margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="tf_tip_loss")
                table = _variant_table(res, ttask)
                st.dataframe(table, hide_index=True, width="stretch", column_config={
                    _("held-out exact match"): st.column_config.NumberColumn(format="%.2f"),
                    _("final training loss"): st.column_config.NumberColumn(format="%.3f")})
                figure_downloads(fig, f"tip_{sess['tip']}", "tf_tip_dl", data=table)
                if sess["tip"] == "smoothing":
                    st.caption(_("With label smoothing the training loss cannot fall below the smoothed target's "
                                 "entropy, so compare the held-out exact match, not the loss."))
            else:
                st.info(_("Press Compare: two models train one after the other for the seconds you set."))
            if shipped:
                st.subheader(_("Measured with more time"))
                rows = []
                for tip, variants in shipped["tips"].items():
                    for name, r in variants.items():
                        rows.append({_("tip"): _(T.TIPS[tip]), _("setting"): _(name),
                                     _("held-out exact match"): r["exact"], _("final training loss"): r["loss"],
                                     _("steps"): r["steps"]})
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
                    _("held-out exact match"): st.column_config.NumberColumn(format="%.2f"),
                    _("final training loss"): st.column_config.NumberColumn(format="%.3f")})
                st.caption(_("`benchmarks/transformer.py --tips` on {date}: the {task} task, {s:.0f} s per model on "
                             "one CPU thread, 2 layers, d_model 64, seed {seed}.").format(
                    date=shipped["date"], task=_(T.TASKS[shipped["task"]]), s=shipped["seconds"], seed=shipped["seed"]))

sync_url()
