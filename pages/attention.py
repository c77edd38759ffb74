"""Attention page: softmax(QK^T/sqrt(d_k) + M) V step by step, masks, heads, positions, real models.

Thin UI: every number comes from core.transformers.attention; this file reads widgets and renders figures.
"""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import figure_downloads, guard, queued, run_through_entry_point, seed, sync_url, url_state

run_through_entry_point()

import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.transformers import attention as A
from core import sources, st_cache
from core.i18n import N_, _
from core.plots import attention_heatmap, dedupe_labels, heatmap

# Sections, masks and model keys are URL / widget values: English, shown through `_()`.
SECTIONS = [N_("Step by step"), N_("Masks"), N_("Multi-head"), N_("Positions"), N_("Real models"),
            N_("Cross-attention")]
MASKS = [N_("none"), N_("causal"), N_("padding"), N_("causal + padding")]
MODELS = {
    "minilm-l6": N_("MiniLM-L6 encoder (packaged, bidirectional)"),
    "smollm2-135m": N_("SmolLM2-135M decoder (packaged, causal)"),
    "tiny-gpt": N_("Tiny character GPT (trained in this repo)"),
    "hub": N_("Any Hugging Face model (needs network)"),
}
MODEL_FAMILY = {"minilm-l6": "encoder", "smollm2-135m": "causal_lm"}
HUB_FAMILIES = {"encoder": N_("encoder (BERT-style)"), "causal_lm": N_("decoder (GPT-style)")}
QKV_MODES = [N_("random (seeded)"), N_("edit by hand")]
D_MODELS = [8, 16, 32, 64]
HEADS = [1, 2, 4, 8]
GRID_LAYERS = 10  # the head grid shows at most this many layers at once

st.title(_("Attention"))
st.caption(_("Open the box of $\\mathrm{softmax}(QK^\\top/\\sqrt{d_k} + M)\\,V$: first on a toy example you can "
             "poke at, then inside real pretrained transformers."))

url_state(
    {
        "att_section": SECTIONS[0], "att_sentence": "the cat sat on the mat", "att_dk": 4,
        "att_scale": True, "att_mask": "none", "att_pad": 2, "att_dmodel": 16, "att_heads": 4,
        "att_mh_causal": False, "att_pe_len": 64, "att_pe_dim": 128,
        "att_model": "minilm-l6", "att_hub_family": "encoder", "att_hub_id": "bert-base-uncased",
        "att_text": "The animal didn't cross the street because it was too tired.", "att_pair": "",
        "att_hide_special": False, "att_avg_heads": False, "att_layer": 0, "att_head": 0, "att_grid_from": 0, "att_grid_norm": True,
        "att_s2s_text": "I love you.", "att_query": 0,
    },
    choices={"att_section": SECTIONS, "att_mask": MASKS, "att_dmodel": D_MODELS, "att_heads": HEADS,
             "att_model": list(MODELS), "att_hub_family": list(HUB_FAMILIES)},
    bounds={"att_dk": (1, 64), "att_pad": (1, 4), "att_pe_len": (8, 256), "att_pe_dim": (8, 512),
            "att_layer": (0, 63), "att_head": (0, 63), "att_query": (0, 13), "att_grid_from": (0, 63)},
)

section = st.radio(_("Section"), SECTIONS, key="att_section", horizontal=True, label_visibility="collapsed",
                   format_func=_)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def show(fig, name: str, data=None, container=None) -> None:
    """Render a figure with its downloads (HTML figure; CSV data when given; PNG via the toolbar)."""
    box = container or st.container()
    if container is not None and fig.data and getattr(fig.data[0], "type", "") == "heatmap":
        fig.update_xaxes(tickangle=-60)  # narrow column: keep token labels readable
    with box:
        st.plotly_chart(fig, width="stretch", key=f"att_fig_{name}")
        figure_downloads(fig, f"attention-{name}", key=f"att_dl_{name}", data=data)


def frame(values, rows, cols) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(values), index=dedupe_labels([str(r) for r in rows]),
                        columns=dedupe_labels([str(c) for c in cols]))


def dims(n: int, prefix: str = "d") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


@st.cache_data(max_entries=8, show_spinner=False)
def saturation(n_keys: int) -> dict:
    return A.saturation_curve(d_ks=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), n_keys=n_keys, trials=300)


def toy_inputs():
    """Tokens, padding flags and Q, K, V of the toy example (random or edited by hand)."""
    with guard():
        tokens = A.toy_tokens(st.session_state["att_sentence"])
        d_k = int(st.session_state["att_dk"])
        mask_kind = st.session_state.get("att_mask", "none")
        n_pad = int(st.session_state["att_pad"]) if "padding" in mask_kind else 0
        all_tokens = tokens + ["[PAD]"] * n_pad
        q, k, v = A.toy_qkv(len(all_tokens), d_k, seed())
    return tokens, all_tokens, n_pad, q, k, v


def toy_mask(mask_kind: str, n: int, n_pad: int):
    real = [True] * (n - n_pad) + [False] * n_pad
    parts = []
    if "causal" in mask_kind:
        parts.append(A.causal_mask(n))
    if "padding" in mask_kind:
        parts.append(A.padding_mask(n, real))
    return A.combine_masks(*parts)


def toy_controls(with_mask: bool = True) -> None:
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.text_input(_("Toy sentence (up to 10 words; one random vector per word)"), key="att_sentence",
                  max_chars=200)
    c2.slider(_("d_k (width of Q and K)"), 1, 64, key="att_dk",
              help=_("Q and K rows are d_k numbers each. Grow it to watch the unscaled softmax saturate."))
    if with_mask:
        c3.selectbox(_("Mask"), MASKS, key="att_mask", format_func=_)
        if "padding" in st.session_state["att_mask"]:
            c3.number_input(_("[PAD] tokens appended"), 1, 4, key="att_pad")


# ---------------------------------------------------------------------------------------------
# 1. step by step
# ---------------------------------------------------------------------------------------------
def section_steps() -> None:
    st.markdown(_(
        "Each token's vector is turned into a **query** (what am I looking for?), a **key** (what do I "
        "contain?) and a **value** (what do I hand over?). Attention compares every query with every key, "
        "turns the scores into weights with a softmax, and mixes the values with those weights."))
    st.latex(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}+M\right)V")
    toy_controls()
    c1, c2 = st.columns(2)
    c1.toggle(_("Divide the scores by √d_k"), key="att_scale",
              help=_("Switch off to see why the scaling is there: the softmax saturates as d_k grows."))
    mode = c2.radio("Q, K, V", QKV_MODES, horizontal=True, key="att_qkv_mode", format_func=_,
                    help=_("Random values use the global seed in the sidebar."))
    tokens, all_tokens, n_pad, q, k, v = toy_inputs()
    if mode == "edit by hand":
        sig = f"{'_'.join(all_tokens)}_{q.shape[1]}_{seed()}"
        st.caption(_("Type into the cells; the whole computation below follows your numbers."))
        cols = st.columns(3)
        edited = []
        for col, name, mat in zip(cols, ("Q", "K", "V"), (q, k, v)):
            col.markdown(f"**{name}**")
            df = col.data_editor(frame(np.round(mat, 2), all_tokens, dims(mat.shape[1])),
                                 key=f"att_edit_{name}_{zlib.crc32(sig.encode())}")
            edited.append(df.to_numpy(dtype=float, na_value=np.nan))
        q, k, v = edited
    mask = toy_mask(st.session_state["att_mask"], len(all_tokens), n_pad)
    with guard():
        steps = A.attention_steps(q, k, v, mask=mask, scale=st.session_state["att_scale"])
    d_k = steps.d_k
    toks = all_tokens

    st.subheader(_("1 · Queries, keys, values"))
    st.markdown(_("Rows are tokens; columns are the $d_k = {d_k}$ dimensions. In a real model "
                  "$Q = XW_Q$, $K = XW_K$, $V = XW_V$ are learned projections of the token vectors $X$; "
                  "here they are drawn at random (or typed by you).").format(d_k=d_k))
    cols = st.columns(3)
    for col, name, mat in zip(cols, ("Q", "K", "V"), (steps.q, steps.k, steps.v)):
        fig = A.signed_heatmap(mat, dims(mat.shape[1]), toks, title=f"{name}  ({mat.shape[0]}×{mat.shape[1]})",
                               x_title=_("dimension"), y_title=_("token"))
        show(fig, f"{name.lower()}", frame(mat, toks, dims(mat.shape[1])), container=col)

    st.subheader(_("2 · Scores and scaling"))
    st.latex(r"S_{ij} = q_i \cdot k_j \qquad \tilde S = S / \sqrt{d_k}")
    st.markdown(_("A dot product of two random $d_k$-vectors has variance $d_k$ (std ≈ {std:.1f} here); "
                  "dividing by $\\sqrt{{d_k}} = {std:.2f}$ brings it back to about 1.").format(std=np.sqrt(d_k))
                + ("" if st.session_state["att_scale"] else "  " + _("**Scaling is off**: the scores go into the "
                                                                      "softmax as they are.")))
    c1, c2 = st.columns(2)
    show(A.signed_heatmap(steps.scores, toks, toks, _("Scores QKᵀ"), _("key"), _("query")), "scores",
         frame(steps.scores, toks, toks), container=c1)
    label = _("Scaled scores QKᵀ/√{d_k}").format(d_k=d_k) if st.session_state["att_scale"] else _("Scores, not scaled")
    show(A.signed_heatmap(steps.scaled, toks, toks, label, _("key"), _("query")), "scaled",
         frame(steps.scaled, toks, toks), container=c2)

    st.subheader(_("3 · Mask"))
    st.markdown(_("The mask $M$ is **added** to the scores: $0$ where a query may look, $-\\infty$ where it may "
                  "not. $e^{-\\infty} = 0$, so masked keys get exactly zero weight. Pick a mask above; the "
                  "*Masks* section compares them."))
    c1, c2 = st.columns(2)
    show(A.mask_heatmap(steps.mask, toks, toks), "mask",
         frame(np.where(np.isneginf(steps.mask), "-inf", "0"), toks, toks), container=c1)
    shown = np.where(np.isneginf(steps.masked), np.nan, steps.masked)
    mfig = A.signed_heatmap(shown, toks, toks, _("Scaled scores + M (grey = −∞)"), _("key"), _("query"))
    if len(toks) ** 2 <= 400:
        mfig.data[0].text = np.where(np.isneginf(steps.masked), "−∞", np.round(steps.masked, 2).astype(str))
    # direct property sets: much cheaper than plotly's update_* keyword paths on every rerun
    mfig.layout.plot_bgcolor = "#9e9e9e"
    mfig.layout.xaxis.showgrid = False
    mfig.layout.yaxis.showgrid = False
    show(mfig, "masked", frame(steps.masked, toks, toks), container=c2)

    st.subheader(_("4 · Softmax → weights, then mix the values"))
    st.latex(r"a_{ij} = \frac{e^{\tilde S_{ij}+M_{ij}}}{\sum_{j'} e^{\tilde S_{ij'}+M_{ij'}}}"
             r"\qquad \mathrm{out}_i = \sum_j a_{ij}\, v_j")
    c1, c2 = st.columns(2)
    show(attention_heatmap(steps.weights, toks, toks, title=_("Attention weights (each row sums to 1)")),
         "weights", frame(steps.weights, toks, toks), container=c1)
    show(A.signed_heatmap(steps.output, dims(steps.output.shape[1]), toks,
                          _("Output = weights · V  ({rows}×{cols})").format(rows=steps.output.shape[0],
                                                                             cols=steps.output.shape[1]),
                          _("dimension"), _("token")), "output", frame(steps.output, toks, dims(steps.output.shape[1])),
         container=c2)
    row_sums = steps.weights.sum(axis=1)
    st.caption(_("Row sums: min {lo:.6f}, max {hi:.6f}. Largest weight: {top:.3f}.").format(
        lo=row_sums.min(), hi=row_sums.max(), top=steps.weights.max()))

    st.markdown(_("**Follow one query.** Pick a token to see its row: score → softmax weight for every key."))
    labels = [f"{i}: {t}" for i, t in enumerate(toks)]
    st.session_state["att_query"] = min(max(int(st.session_state.get("att_query") or 0), 0), len(toks) - 1)
    qi = st.selectbox(_("Query token"), range(len(toks)), format_func=labels.__getitem__, key="att_query")
    qi = min(int(qi or 0), len(toks) - 1)
    visible = ~np.isneginf(steps.masked[qi])
    bar = make_subplots(rows=1, cols=2, subplot_titles=(_("softmax input (scaled score + mask)"), _("weight a_ij")))
    bar.add_bar(x=labels, y=np.where(visible, steps.masked[qi], 0.0), name=_("score"),
                marker_color=np.where(visible, "#4c78a8", "#cccccc"),
                text=np.where(visible, np.round(steps.masked[qi], 2).astype(str), "−∞"), textposition="outside",
                row=1, col=1)
    bar.add_bar(x=labels, y=steps.weights[qi], name=_("weight"), marker_color="#f58518",
                text=np.round(steps.weights[qi], 3).astype(str), row=1, col=2)
    bar.update_layout(showlegend=False, height=340, margin=dict(l=10, r=10, t=75, b=10),
                      title=_("Query {label}: output = Σ_j a_ij v_j").format(label=labels[qi]))
    show(bar, "one_query", pd.DataFrame({"key": toks, "softmax_input": steps.masked[qi], "weight": steps.weights[qi]}))

    st.subheader(_("Why divide by √d_k? The softmax saturates"))
    st.markdown(_("For random $q, k \\sim \\mathcal N(0, I)$ the score $q\\cdot k$ has standard deviation "
                  "$\\sqrt{{d_k}}$. Without scaling, wide heads give huge score gaps, the softmax puts almost all "
                  "weight on one key (a near one-hot), and its gradients vanish. Curve: mean largest weight "
                  "among {n} keys, 300 random draws per $d_k$.").format(n=len(toks)))
    curve = saturation(max(2, len(toks)))
    fig = go.Figure(data=[
        go.Scatter(x=curve["d_k"], y=curve["max_weight_unscaled"], mode="lines+markers",
                   name=_("softmax(QKᵀ) — no scaling")),
        go.Scatter(x=curve["d_k"], y=curve["max_weight_scaled"], mode="lines+markers", name="softmax(QKᵀ/√d_k)"),
    ], layout=dict(  # one layout dict (the 1/T and d_k lines as shapes): cheap to build on every rerun
        xaxis=dict(type="log", title=dict(text="d_k")),
        yaxis=dict(title=dict(text=_("mean max attention weight")), range=[0, 1.05]),
        height=360, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
        shapes=[dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=1 / len(toks), y1=1 / len(toks),
                     line=dict(dash="dot")),
                dict(type="line", xref="x", yref="paper", x0=d_k, x1=d_k, y0=0, y1=1,
                     line=dict(dash="dash", color="grey"))],
        annotations=[dict(xref="paper", yref="y", x=1, y=1 / len(toks), text=_("uniform 1/T"), showarrow=False,
                          xanchor="right", yanchor="bottom"),
                     dict(xref="x", yref="paper", x=float(np.log10(d_k)), y=1, text=_("your d_k = {d_k}").format(d_k=d_k),
                          showarrow=False, xanchor="left", yanchor="bottom")]))  # annotations on a log axis: log10 x
    show(fig, "saturation", pd.DataFrame({k: curve[k] for k in ("d_k", "max_weight_scaled", "max_weight_unscaled",
                                                                 "score_std_unscaled")}))


# ---------------------------------------------------------------------------------------------
# 2. masks
# ---------------------------------------------------------------------------------------------
def section_masks() -> None:
    st.markdown(_(
        "- **Causal mask** (GPT-style decoders): token $i$ may only look at tokens $j \\le i$, so the model "
        "can't peek at the word it is trying to predict.\n"
        "- **Padding mask** (batches): short sentences are padded with `[PAD]` to the batch length; no "
        "token may attend to a pad. (The pads' own rows are computed too, but their outputs are ignored.)\n\n"
        "Adding $-\\infty$ before the softmax is the same as dropping those keys and **renormalizing** the "
        "remaining weights of each row: $a^{M}_{ij} = a_{ij} / \\sum_{j' \\text{ visible}} a_{ij'}$."))
    toy_controls()
    mask_kind = st.session_state["att_mask"]
    if mask_kind == "none":
        st.info(_("Pick a mask above (causal, padding, or both) to compare with no mask."))
    tokens, toks, n_pad, q, k, v = toy_inputs()
    mask = toy_mask(mask_kind, len(toks), n_pad)
    with guard():
        plain = A.attention_steps(q, k, v)
        masked = A.attention_steps(q, k, v, mask=mask)
        allowed = ~np.isneginf(masked.mask)
        renorm = A.renormalize(plain.weights, allowed)
    c1, c2, c3 = st.columns(3)
    show(attention_heatmap(plain.weights, toks, toks, title=_("Weights, no mask")), "mask_plain",
         frame(plain.weights, toks, toks), container=c1)
    show(A.mask_heatmap(masked.mask, toks, toks, title=_("Mask M: {mask}").format(mask=_(mask_kind))), "mask_matrix",
         frame(np.where(allowed, "0", "-inf"), toks, toks), container=c2)
    show(attention_heatmap(masked.weights, toks, toks, title="softmax(S/√d_k + M)"), "mask_weights",
         frame(masked.weights, toks, toks), container=c3)
    err = float(np.max(np.abs(renorm - masked.weights)))
    st.success(_("Renormalizing the unmasked weights over the visible keys gives the same matrix "
                 "(largest difference {err:.1e}). Every row still sums to 1; masked cells are exactly 0.").format(
        err=err))
    if "causal" in mask_kind:
        st.markdown(_("Causal: the upper triangle is 0 and the first token can only attend to itself "
                      "(its weight is {w:.0f}).").format(w=masked.weights[0, 0]))


# ---------------------------------------------------------------------------------------------
# 3. multi-head
# ---------------------------------------------------------------------------------------------
def section_multi_head() -> None:
    st.markdown(_(
        "Instead of one attention over all $d_{model}$ dimensions, the projections are **split into $h$ heads** "
        "of width $d_{head} = d_{model}/h$. Each head attends on its own (it can learn its own pattern: "
        "previous word, same word, punctuation...), the head outputs are **concatenated** back to "
        "$d_{model}$, and a final projection $W_O$ mixes them."))
    st.latex(r"\mathrm{head}_i = \mathrm{Attention}(XW_Q^{(i)}, XW_K^{(i)}, XW_V^{(i)}),\quad "
             r"\mathrm{MultiHead}(X) = [\mathrm{head}_1;\dots;\mathrm{head}_h]\,W_O")
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    c1.text_input(_("Toy sentence (up to 10 words)"), key="att_sentence", max_chars=200)
    c2.select_slider("d_model", D_MODELS, key="att_dmodel")
    c3.select_slider(_("heads h"), HEADS, key="att_heads")
    c4.toggle(_("causal"), key="att_mh_causal")
    d_model, h = int(st.session_state["att_dmodel"]), int(st.session_state["att_heads"])
    with guard():
        toks = A.toy_tokens(st.session_state["att_sentence"])
        x = A.toy_qkv(len(toks), d_model, seed())[0]  # (T, d_model) random token vectors
        mask = A.causal_mask(len(toks)) if st.session_state["att_mh_causal"] else None
        mh = A.multi_head(x, h, seed=seed(), mask=mask)
    d_head = d_model // h
    st.dataframe(pd.DataFrame({_("tensor"): [_(name) for name in mh.shapes],
                               _("shape"): [" × ".join(map(str, s)) for s in mh.shapes.values()]}),
                 hide_index=True, width="content")
    fig = make_subplots(rows=1, cols=h, subplot_titles=[_("head {i}  (d_head={d_head})").format(i=i, d_head=d_head)
                                                        for i in range(h)],
                        horizontal_spacing=0.02)
    for i, hd in enumerate(mh.heads):
        fig.add_trace(go.Heatmap(z=hd.weights, x=list(range(len(toks))), y=list(range(len(toks))),
                                 coloraxis="coloraxis", customdata=np.array([[f"{a} → {b}" for b in toks] for a in toks]),
                                 hovertemplate="%{customdata}<br>" + _("weight") + " %{z:.3f}<extra></extra>"),
                      1, i + 1)
    fig.update_yaxes(autorange="reversed", tickvals=list(range(len(toks))), ticktext=toks, showticklabels=False)
    fig.update_yaxes(showticklabels=True, row=1, col=1)
    fig.update_xaxes(tickvals=list(range(len(toks))), ticktext=toks, tickangle=-60)
    fig.update_layout(coloraxis=dict(colorscale="Blues", cmin=0, cmax=1), height=330 if h <= 4 else 260,
                      margin=dict(l=10, r=10, t=75, b=10), title=_("Per-head attention weights (query rows × key columns)"))
    long = pd.DataFrame([{"head": i, "query": a, "key": b, "weight": hd.weights[r, c]}
                         for i, hd in enumerate(mh.heads) for r, a in enumerate(toks) for c, b in enumerate(toks)])
    show(fig, "heads", long)
    c1, c2 = st.columns(2)
    cfig = A.signed_heatmap(mh.concat, [f"h{j // d_head}·{j % d_head}" for j in range(d_model)], toks,
                            _("Concat of head outputs ({t}×{d}); columns grouped by head").format(t=len(toks), d=d_model),
                            _("head·dim"), _("token"))
    for j in range(1, h):
        cfig.add_vline(x=j * d_head - 0.5, line_color="black", line_width=2)
    show(cfig, "concat", frame(mh.concat, toks, dims(d_model)), container=c1)
    show(A.signed_heatmap(mh.output, dims(d_model), toks,
                          _("Output = concat · W_O ({t}×{d})").format(t=len(toks), d=d_model),
                          _("dimension"), _("token")), "mh_output", frame(mh.output, toks, dims(d_model)), container=c2)
    st.caption(_("Same cost as one big head: h × d_head = {h} × {d_head} = {d_model} = d_model. Weights drawn "
                 "at random (std 1/√d_model) from the global seed; the unit tests check this equals "
                 "torch.nn.MultiheadAttention with the same weights.").format(h=h, d_head=d_head, d_model=d_model))


# ---------------------------------------------------------------------------------------------
# 4. positions
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner=False)
def minilm_positions(n: int):
    bundle = st_cache.load("encoder", "minilm-l6")
    return A.learned_position_embeddings(bundle, n)


def section_positions() -> None:
    st.markdown(_(
        "Attention itself ignores order: shuffle the tokens and each one gets the same output (just "
        "shuffled). So the model **adds a position vector** to every token embedding. The original "
        "Transformer uses fixed sinusoids of geometrically spaced wavelengths:"))
    st.latex(r"PE_{(pos,\,2i)} = \sin\!\left(\frac{pos}{10000^{2i/d}}\right),\qquad "
             r"PE_{(pos,\,2i+1)} = \cos\!\left(\frac{pos}{10000^{2i/d}}\right)")
    st.markdown(_("Low dimensions oscillate fast, high ones slowly, like the hands of a clock; "
                  "$PE_{pos+k}$ is a rotation of $PE_{pos}$, so relative offsets are easy to read off."))
    c1, c2 = st.columns(2)
    c1.slider(_("Positions"), 8, 256, key="att_pe_len")
    c2.slider("d_model", 8, 512, step=2, key="att_pe_dim")
    n, d = int(st.session_state["att_pe_len"]), int(st.session_state["att_pe_dim"])
    with guard():
        pe = A.sinusoidal_pe(n, d)
    c1, c2 = st.columns(2)
    fig = heatmap(pe, list(range(d)), list(range(n)), title=_("Sinusoidal PE(pos, i)  ({n}×{d})").format(n=n, d=d),
                  x_title=_("dimension i"), y_title=_("position"), colorscale="RdBu_r", zmin=-1, zmax=1, text_fmt=None, height=420)
    show(fig, "pe", frame(pe, range(n), dims(d)), container=c1)
    sim = A.cosine_similarity_matrix(pe)
    show(heatmap(sim, list(range(n)), list(range(n)), title=_("Cosine similarity of positions"), x_title=_("position"),
                 y_title=_("position"), colorscale="Viridis", text_fmt=None, height=420), "pe_similarity",
         frame(sim, range(n), range(n)), container=c2)

    st.subheader(_("Learned positions: MiniLM"))
    st.markdown(_("BERT-style models (the packaged MiniLM too) instead **learn** a table of 512 position vectors "
                  "(384-d for MiniLM) during pre-training. SmolLM2 has no position table at all: it rotates Q and "
                  "K inside attention (RoPE)."))
    by_d = A.similarity_by_distance(sim)
    line = go.Figure()
    line.add_scatter(x=list(range(n)), y=by_d, mode="lines", name=_("sinusoidal"))
    learned = None
    with guard(stop=False):
        learned = minilm_positions(n)
    if learned is not None:
        lsim = A.cosine_similarity_matrix(learned)
        line.add_scatter(x=list(range(n)), y=A.similarity_by_distance(lsim), mode="lines",
                         name=_("MiniLM learned"))
        st.caption(_("Colour scale clipped at the 99th percentile of |value| (a few dimensions are much larger)."))
        c1, c2 = st.columns(2)
        show(heatmap(learned, list(range(learned.shape[1])), list(range(n)), title=_("MiniLM learned positions ({n}×384)").format(n=n),
                     x_title=_("dimension"), y_title=_("position"), colorscale="RdBu_r", text_fmt=None, height=420,
                     zmin=-float(np.percentile(np.abs(learned), 99)), zmax=float(np.percentile(np.abs(learned), 99))),
             "minilm_pe", frame(learned, range(n), dims(learned.shape[1])), container=c1)
        show(heatmap(lsim, list(range(n)), list(range(n)), title=_("Cosine similarity, MiniLM positions"),
                     x_title=_("position"), y_title=_("position"), colorscale="Viridis", text_fmt=None, height=420),
             "minilm_pe_similarity", frame(lsim, range(n), range(n)), container=c2)
    line.update_layout(xaxis_title=_("distance |i − j|"), yaxis_title=_("mean cosine similarity"), height=340,
                       title=_("Similarity vs distance"), margin=dict(l=10, r=10, t=40, b=10))
    show(line, "pe_distance", pd.DataFrame({"distance": range(n), "sinusoidal": by_d}))
    st.caption(_("Both kinds make nearby positions similar and far ones less so; the learned table was never "
                 "told to, it picked that up from data."))


# ---------------------------------------------------------------------------------------------
# 5. real models
# ---------------------------------------------------------------------------------------------
# One SmolLM2 result at the 128-token cap is ~18 MB (30 x 9 x 128 x 128 float32): keep a few.
@st.cache_data(max_entries=6, show_spinner=_("Running the model…"))
def real_attention(choice: str, hub_family: str, hub_id: str, text: str, pair: str) -> A.ModelAttention:
    if choice == "tiny-gpt":
        found, reason = A.tiny_gpt_status()
        if not found:
            raise ValueError(reason)
        model = st_cache.load_source(found[0])
        with queued("generate", 30):
            return A.tiny_gpt_attention(model, text)
    if choice == "hub":
        source = sources.hub_source(hub_family, hub_id)
    else:
        source = sources.get_source(MODEL_FAMILY[choice], choice)
    bundle = st_cache.load_source(source)
    with queued("generate", 30):
        return A.model_attention(bundle, text, pair or None, max_tokens=A.MAX_TOKENS)


def section_real() -> None:
    st.markdown(_(
        "Real transformers run many heads in every layer. Pick a model and a sentence, then browse any "
        "layer × head. Rows are the tokens doing the looking (queries), columns the tokens looked at (keys). "
        "Inputs are capped at **{n} tokens** (longer text is truncated, with a notice).").format(n=A.MAX_TOKENS))
    tiny_found, tiny_reason = A.tiny_gpt_status()
    options = [m for m in MODELS if m != "tiny-gpt" or tiny_found]
    if st.session_state.get("att_model") not in options:
        st.session_state["att_model"] = options[0]
    c1, c2 = st.columns([1, 2])
    choice = c1.selectbox(_("Model"), options, format_func=lambda m: _(MODELS[m]), key="att_model")
    if choice == "hub":
        h1, h2 = c1.columns(2)
        h1.selectbox(_("Kind"), list(HUB_FAMILIES), format_func=lambda f: _(HUB_FAMILIES[f]), key="att_hub_family")
        h2.text_input(_("Hugging Face id"), key="att_hub_id", max_chars=200)
    c2.text_area(_("Sentence"), key="att_text", height=80, max_chars=20_000)
    encoder = choice == "minilm-l6" or (choice == "hub" and st.session_state["att_hub_family"] == "encoder")
    if encoder:
        c2.text_input(_("Second sentence (optional, BERT-style pair: [CLS] A [SEP] B [SEP])"), key="att_pair",
                      max_chars=5000)
    if not tiny_found:
        st.caption(_("The tiny character GPT appears in this list once its checkpoint is available. {reason}").format(
            reason=tiny_reason))
    pair = st.session_state["att_pair"] if encoder else ""
    with guard():
        res = real_attention(choice, st.session_state["att_hub_family"], st.session_state["att_hub_id"],
                             st.session_state["att_text"], pair)
    if res.truncated:
        if res.model_name == "tiny-gpt":
            st.warning(_("Your text has {n} characters: truncated to the last {cap} "
                         "(the tiny GPT's context window). Shorten the text to see all of it.").format(
                n=res.n_tokens_full, cap=res.cap), icon="✂️")
        else:
            st.warning(_("Your input has {n} tokens: truncated to the first {cap} "
                         "(token cap {cap}). Shorten the text to see all of it.").format(
                n=res.n_tokens_full, cap=res.cap), icon="✂️")
    n_l, n_h = res.n_layers, res.n_heads
    for key, hi in (("att_layer", n_l - 1), ("att_head", n_h - 1), ("att_grid_from", max(0, n_l - GRID_LAYERS))):
        st.session_state[key] = min(int(st.session_state.get(key, 0)), hi)
    kind = _("causal decoder: each token sees only itself and earlier tokens, so the upper triangle is 0") if res.causal \
        else _("bidirectional encoder: every token sees every token")
    st.caption(_("**{model}**: {layers} layers × {heads} heads, {tokens} tokens; {kind}.").format(
        model=res.model_name, layers=n_l, heads=n_h, tokens=len(res.tokens), kind=kind))

    c1, c2, c3 = st.columns([2, 2, 1.4])
    layer = c1.slider(_("Layer"), 0, max(n_l - 1, 1), key="att_layer", disabled=n_l == 1)
    head = c2.slider(_("Head"), 0, max(n_h - 1, 1), key="att_head", disabled=n_h == 1)
    hide = c3.toggle(_("Hide special"), key="att_hide_special", disabled=not any(res.special),
                     help=_("Drop [CLS]/[SEP]/<|im_start|> rows and columns and renormalize each row."))
    c3.toggle(_("Mean of heads"), key="att_avg_heads", help=_("Average the layer's heads (rows still sum to 1)."))
    layer, head = min(layer, n_l - 1), min(head, n_h - 1)
    att, toks = res.attentions, list(res.tokens)
    if hide and any(res.special):
        keep = [i for i, s in enumerate(res.special) if not s]
        with guard():
            att = A.drop_tokens(att, keep)
        toks = [toks[i] for i in keep]
        st.caption(_("Hidden {n} special token(s); rows renormalized over the rest. "
                     "Heads that park their attention on [CLS]/[SEP] or the first token (an 'attention sink') "
                     "now show what they give to the real words.").format(n=len(res.special) - len(keep)))
    if st.session_state.get("att_avg_heads"):
        w = att[layer].mean(axis=0)  # (T, T): rows still sum to 1
        title = _("{model} · layer {layer} · mean of {heads} heads").format(model=res.model_name, layer=layer, heads=n_h)
    else:
        w = att[layer, head]
        title = _("{model} · layer {layer} · head {head}").format(model=res.model_name, layer=layer, head=head)
    fig = attention_heatmap(w, toks, toks, title=title)
    if len(toks) > 24:
        fig.update_traces(text=None, texttemplate=None)
        fig.update_layout(height=min(900, 14 * len(toks) + 160))
    show(fig, f"layer{layer}_{'mean' if st.session_state.get('att_avg_heads') else f'head{head}'}", frame(w, toks, toks))
    if res.causal:
        st.caption(_("Above the diagonal: max weight {w:.1e} (causal mask).").format(
            w=float(np.triu(w, 1).max(initial=0.0))))

    st.subheader(_("Head grid: every head at a glance"))
    st.markdown(_("Each thumbnail is one head's full attention matrix (rows = queries, columns = keys). Look for "
                  "diagonals (attend to self), off-diagonals (previous / next token), vertical stripes (everyone "
                  "looks at one token, often [CLS], [SEP], punctuation or the first token)."))
    g1, g2 = st.columns([3, 1])
    if n_l > GRID_LAYERS:
        g1.slider(_("First layer shown (the grid shows {shown} of {n} layers at a time)").format(shown=GRID_LAYERS, n=n_l), 0,
                  n_l - GRID_LAYERS, key="att_grid_from")
        start = int(st.session_state["att_grid_from"])
    else:
        start = 0
    norm = g2.toggle(_("Per-thumbnail scale"), key="att_grid_norm")
    layers = list(range(start, min(n_l, start + GRID_LAYERS)))
    grid = A.head_grid_figure(att, layers=layers, normalize_each=norm,
                              title=_("Layers {first}–{last} × heads 0–{top}").format(
                                  first=layers[0], last=layers[-1], top=n_h - 1))
    long = pd.DataFrame({"layer": np.repeat(layers, n_h), "head": np.tile(range(n_h), len(layers)),
                         "entropy_nats": A.head_entropy(att[layers]).ravel()})
    show(grid, "head_grid", long)

    ent = A.head_entropy(att)
    st.markdown(_("**How focused is each head?** Mean entropy of its rows, $H = -\\sum_j a_{{ij}}\\log a_{{ij}}$ "
                  "(0 = all weight on one token; uniform over {n} tokens = {nats:.2f} nats).").format(
        n=len(toks), nats=np.log(len(toks))))
    efig = heatmap(ent, [f"H{h}" for h in range(n_h)], [f"L{layer}" for layer in range(n_l)],
                   title=_("Mean attention entropy (nats)"), x_title=_("head"), y_title=_("layer"), colorscale="Viridis_r",
                   text_fmt=".1f" if ent.size <= 400 else None, height=min(900, 22 * n_l + 120))
    show(efig, "entropy", frame(ent, [f"L{i}" for i in range(n_l)], [f"H{h}" for h in range(n_h)]))


# ---------------------------------------------------------------------------------------------
# 6. cross-attention
# ---------------------------------------------------------------------------------------------
def section_cross() -> None:
    st.markdown(_(
        "In an encoder–decoder translator, **cross-attention** lets each target word look back at the "
        "source sentence: the **queries come from the decoder** (the word being written), the **keys and "
        "values from the encoder** (the source words). The weights form an alignment: row $i$ says which "
        "source words the model used to write target word $i$."))
    st.latex(r"\mathrm{CrossAttn} = \mathrm{softmax}\!\left(\frac{Q_{dec} K_{enc}^\top}{\sqrt{d}}\right) V_{enc}")
    found, reason = A.seq2seq_status()
    if not found:
        st.info(_("Cross-attention from the seq2seq translator appears here once that model is available. "
                  "{reason}").format(reason=reason))
        return
    names = [s.name for s in found]
    if st.session_state.get("att_s2s_model") not in names:
        st.session_state["att_s2s_model"] = names[0]
    labels = {s.name: s.label for s in found}
    c1, c2 = st.columns([1, 2])
    name = c1.selectbox(_("Translator"), names, format_func=lambda n: _(labels.get(n) or n), key="att_s2s_model")
    c2.text_input(_("English sentence"), key="att_s2s_text", max_chars=300)
    source = next(s for s in found if s.name == name)
    with guard():
        bundle = st_cache.load_source(source)
        with queued("generate", 30):
            res = A.cross_attention(bundle, st.session_state["att_s2s_text"])
    st.markdown(_("**Translation:** {text}").format(text=res["text"]))
    if res["unknown"]:
        st.caption(_("Not in the translator's vocabulary (read as <unk>): {words}").format(
            words=", ".join(res["unknown"][:20])))
    fig = attention_heatmap(res["attention"], res["target_tokens"], res["source_tokens"],
                            title=_("Cross-attention: target (decoder) rows × source (encoder) columns"),
                            query_title=_("target token (query, decoder)"), key_title=_("source token (key, encoder)"))
    show(fig, "cross", frame(res["attention"], res["target_tokens"], res["source_tokens"]))
    st.caption(_("Each row sums to 1. This translator is a small GRU encoder–decoder trained on Tatoeba pairs "
                 "(see the Seq2seq translation page): the same Q-from-decoder, K/V-from-encoder idea as in a "
                 "Transformer; its score may be additive (a small network) or a dot product."))


{
    "Step by step": section_steps,
    "Masks": section_masks,
    "Multi-head": section_multi_head,
    "Positions": section_positions,
    "Real models": section_real,
    "Cross-attention": section_cross,
}[section]()

sync_url()
