"""BERT fill-mask: masked-LM predictions, how MLM training corrupts text, and contextual word vectors."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, progress_callback, queued, run_through_entry_point,
                           seed, sync_url, url_state)

run_through_entry_point()

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import loaders, sources, st_cache
from core.i18n import N_, _
from core.transformers import bert_zh, both_sides, fillmask, llamacpp
from core.plots import heatmap

st.title(_("BERT fill-mask"))
st.markdown(_(
    "BERT is a Transformer **encoder** pre-trained on a *cloze* task: hide some words, predict them from "
    "the words on **both** sides. Type a sentence with `[MASK]` and see what the model would put there; "
    "then see how training corrupts text, and how the same word gets a different vector in each context."
))

CUSTOM = "__custom__"
model_sources = {s.name: s for s in sources.sources_for("masked_lm")}
model_names = list(model_sources) + [CUSTOM]
PRESETS = {**fillmask.PRESETS, **bert_zh.PRESETS}  # English and Chinese contextual-vector presets
PRESET_NAMES = list(fillmask.PRESETS)
default_word, default_lines = fillmask.PRESETS[PRESET_NAMES[0]]
PT_SESSION = "_bert_pt"  # session_state: the live pre-training run ({"history", "result"})


def _lines_text(lines) -> str:
    return "\n".join(f"{s} | {t}" for s, t in lines)


EMB_PARTS = ["token", "segment", "position", "sum", "input"]  # the embedding view's choices
url_state(
    {
        "bert_model": model_names[0],
        "bert_hub_id": "",
        "bert_compare": False,
        "bert_model_b": model_names[min(1, len(model_names) - 1)],
        "bert_text": "i drink a cup of [MASK] every morning.",
        "bert_topk": 5,
        "bert_mode": "independent",
        "bert_corrupt_text": "the quick brown fox jumps over the lazy dog because it wanted to see the river bank.",
        "bert_corrupt_seed": 0,
        "bert_mask_rate": 0.15,
        "bert_pair_a": "my dog is cute.",
        "bert_pair_b": "he likes playing.",
        "bert_ctx_preset": PRESET_NAMES[0],
        "bert_ctx_word": default_word,
        "bert_ctx_lines": _lines_text(default_lines),
        "bert_ctx_layer": 6,
        "bert_emb_part": "token",
        "bert_pt_seconds": 20,
        "bert_gpt": False,
    },
    choices={"bert_model": model_names, "bert_model_b": model_names, "bert_mode": ["independent", "left_to_right"],
             "bert_ctx_preset": list(PRESETS) + ["custom"], "bert_emb_part": EMB_PARTS},
    bounds={"bert_topk": (1, fillmask.MAX_TOP_K), "bert_corrupt_seed": (0, 2**31 - 1),
            "bert_mask_rate": (0.05, 0.5), "bert_ctx_layer": (0, 48), "bert_pt_seconds": (5, 60)},
)
ss = st.session_state


def _lang(name: str) -> str:
    return "zh" if name == bert_zh.SOURCE else "en"


# The examples follow the model's language: picking the Chinese BERT swaps every English default for a Chinese
# one and back (a text the visitor typed stays).
ZH_WORD, ZH_LINES = next(iter(bert_zh.PRESETS.values()))
EXAMPLES = {"bert_text": ("i drink a cup of [MASK] every morning.", bert_zh.EXAMPLES["fill"]),
            "bert_corrupt_text": ("the quick brown fox jumps over the lazy dog because it wanted to see the river bank.",
                                  bert_zh.EXAMPLES["corrupt"]),
            "bert_pair_a": ("my dog is cute.", bert_zh.EXAMPLES["pair_a"]),
            "bert_pair_b": ("he likes playing.", bert_zh.EXAMPLES["pair_b"]),
            "bert_ctx_preset": (PRESET_NAMES[0], next(iter(bert_zh.PRESETS))),
            "bert_ctx_word": (default_word, ZH_WORD),
            "bert_ctx_lines": (_lines_text(default_lines), _lines_text(ZH_LINES))}
lang = _lang(ss["bert_model"])
if ss.get("_bert_lang") != lang:
    for key, (en, zh) in EXAMPLES.items():
        if ss.get(key) == (en if lang == "zh" else zh):
            ss[key] = zh if lang == "zh" else en
    ss["_bert_lang"] = lang
lang_presets = list(bert_zh.PRESETS if lang == "zh" else fillmask.PRESETS)


def _label(name: str) -> str:
    return _("Other Hugging Face id…") if name == CUSTOM else _(model_sources[name].label)


# ---- model choice --------------------------------------------------------------------------
c1, c2, c3 = st.columns([3, 3, 2], vertical_alignment="bottom")
c1.selectbox(_("Model"), model_names, format_func=_label, key="bert_model",
             help=_("The shipped MiniLM + MLM head works offline. Hub models download on first use (needs network)."))
c3.toggle(_("Compare models"), key="bert_compare", help=_("Run the same sentence through a second model."))
if st.session_state["bert_compare"]:
    c2.selectbox(_("Second model"), model_names, format_func=_label, key="bert_model_b")
if CUSTOM in (st.session_state["bert_model"], st.session_state["bert_model_b"] if st.session_state["bert_compare"] else ""):
    st.text_input(_("Hugging Face model id (a masked LM)"), key="bert_hub_id",
                  placeholder=_("e.g. distilroberta-base"))


def _source(name: str) -> sources.Source:
    if name == CUSTOM:
        return sources.hub_source("masked_lm", st.session_state["bert_hub_id"])
    return model_sources[name]


def _load(name: str, stop: bool = True):
    with guard(stop=stop):
        return st_cache.load_source(_source(name))
    return None  # only reached when stop=False and loading failed (the error is shown)


if not model_names[:-1] and st.session_state["bert_model"] != CUSTOM:
    st.error(_("No masked-LM model is available. Train the shipped head with `python scripts/train_mlm_head.py`."))
    st.stop()

bundle = _load(st.session_state["bert_model"])
bundle_b = _load(st.session_state["bert_model_b"], stop=False) if st.session_state["bert_compare"] else None
n_layers = int(bundle.info.get("layers") or 6)
st.caption(_("**{name}** · {layers} layers · {hidden}-d · {params:.1f}M parameters · vocabulary {vocab}").format(
               name=bundle.name, layers=n_layers, hidden=bundle.info.get("hidden"),
               params=(bundle.info.get("params") or 0) / 1e6, vocab=bundle.info.get("vocab"))
           + (_(" · head reads layer {layer}, held-out masked-token top-1 {top1:.1%} / top-5 {top5:.1%}").format(
                  layer=bundle.info["head_from_layer"], top1=bundle.info.get("heldout_top1", float("nan")),
                  top5=bundle.info.get("heldout_top5", float("nan")))
              if "head_from_layer" in bundle.info else "")
           + (_(" · pre-trained here: held-out masked-character top-1 {top1:.1%}, next-sentence accuracy {nsp:.1%}").format(
                  top1=bundle.info["heldout_top1"], nsp=bundle.info["nsp_acc"]) if bundle.info.get("nsp_acc") else ""))

tab_fill, tab_corrupt, tab_emb, tab_ctx, tab_nsp, tab_pt, tab_card = lazy_tabs(
    [N_("🎭 Fill-mask"), N_("🧪 How MLM corrupts text"), N_("➕ Input embeddings"), N_("🧭 Contextual vectors"),
     N_("🔗 Next sentence"), N_("🏋️ Pre-training"), N_("📇 Model card")], key="bert_tab")


# ---- fill-mask ------------------------------------------------------------------------------
def _bars(preds: list[dict], title: str) -> go.Figure:
    toks = [p["token"] for p in preds][::-1]
    probs = [p["prob"] for p in preds][::-1]
    fig = go.Figure(go.Bar(x=probs, y=toks, orientation="h", text=[f"{p:.1%}" for p in probs],
                           textposition="auto", hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=_("probability"), height=max(220, 26 * len(toks) + 90),
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_range=[0, max(probs + [0.01]) * 1.15])
    return fig


def _show_fill(res: dict, key: str) -> None:
    st.markdown(_("**Completed:** {sentence}").format(sentence=res["completed"]))
    cols = st.columns(min(len(res["masks"]), 3))
    for j, m in enumerate(res["masks"]):
        with cols[j % len(cols)]:
            title = (_("mask {n} (filled at step {step})").format(n=j + 1, step=m["step"])
                     if res["mode"] == "left_to_right" else _("mask {n}").format(n=j + 1))
            st.plotly_chart(_bars(m["predictions"], title), width="stretch", key=f"{key}_bar{j}")
    cols_fill = {"mask": _("mask"), "rank": _("rank"), "token": _("token"), "probability": _("probability")}
    df = pd.DataFrame([{cols_fill["mask"]: j + 1, cols_fill["rank"]: r + 1, cols_fill["token"]: p["token"],
                        cols_fill["probability"]: round(p["prob"], 5)}
                       for j, m in enumerate(res["masks"]) for r, p in enumerate(m["predictions"])])
    with st.expander(_("Sentences with the first mask's top choices, and all predictions")):
        st.dataframe(pd.DataFrame([{_("sentence"): v["sentence"], _("p(first mask)"): round(v["prob"], 4)}
                                   for v in res["variants"]]), hide_index=True, width="stretch")
        st.dataframe(df, hide_index=True, width="stretch")
    st.download_button(_("Download predictions (CSV)"), df.to_csv(index=False), file_name="fill_mask.csv",
                       mime="text/csv", key=f"{key}_csv")


with tab_fill:
    if tab_fill.open is not False:  # lazy tabs: only the open tab's code runs
        st.text_input(_("Sentence with [MASK] (up to 5 masks)"), key="bert_text",
                      help=_("Write [MASK] where a word is missing. Uncased models lower-case everything."))
        f1, f2 = st.columns([2, 3])
        f1.slider(_("Predictions per mask (top-k)"), 1, fillmask.MAX_TOP_K, key="bert_topk")
        f2.radio(_("Several masks"), ["independent", "left_to_right"], key="bert_mode", horizontal=True,
                 format_func=lambda m: {"independent": _("each mask independently (one pass)"),
                                        "left_to_right": _("left to right, one at a time")}[m])
        for note in fillmask.quality_notes(bundle.info):
            st.caption(_(note["text"]).format(**note["values"]))
        runs = [(bundle, "a")] + ([(bundle_b, "b")] if bundle_b is not None else [])
        out_cols = st.columns(len(runs))
        results = {}
        for (b, k), col in zip(runs, out_cols):
            with col:
                if len(runs) > 1:
                    st.subheader(b.name)
                with guard(), queued("generate", 30):
                    res = st_cache.shared(fillmask.fill_mask, b, b.name, st.session_state["bert_text"],
                                          top_k=int(st.session_state["bert_topk"]), mode=st.session_state["bert_mode"])
                results[k] = res
                _show_fill(res, f"bert_fill_{k}")
                if len(res["masks"]) > 1:
                    other = "left_to_right" if res["mode"] == "independent" else "independent"
                    with guard(stop=False):
                        alt = st_cache.shared(fillmask.fill_mask, b, b.name, st.session_state["bert_text"], top_k=1,
                                              mode=other)
                        mode_name = {"independent": _("independent"), "left_to_right": _("left to right")}[other]
                        st.info(_("With **{mode}** filling: *{sentence}*").format(mode=mode_name,
                                                                                  sentence=alt["completed"]))
        if lang == "en":
            st.toggle(_("Compare with a left-to-right model (GPT: SmolLM2-135M)"), key="bert_gpt",
                      help=_("SmolLM2 scores the candidate words (BERT's top fills and its own guesses) twice: from "
                             "the words before the blank only, and as the whole filled-in sentence."))
        if lang == "en" and ss["bert_gpt"]:
            with guard(stop=False):
                text = re.sub(r"\[mask\]", "[MASK]", ss["bert_text"], flags=re.IGNORECASE)
                # llama.cpp where installed: the packaged GGUF the GPT page runs, no float copy of SmolLM2
                lm = (loaders.load_smollm_llamacpp() if llamacpp.available()
                      else st_cache.load_source(sources.get_source("causal_lm", "smollm2-135m")))
                with queued("generate", 30):
                    left = text.split("[MASK]")[0]
                    guesses = st_cache.shared(both_sides.next_words, lm, "smollm2-135m", left)
                    mine = [p["token"] for p in results["a"]["masks"][0]["predictions"] if p["token"].isalpha()]
                    scored = st_cache.shared(both_sides.rescore, lm, "smollm2-135m", text, tuple(mine + guesses))
                g1, g2, g3 = st.columns(3)
                with g1:
                    st.plotly_chart(_bars(results["a"]["masks"][0]["predictions"][:8],
                                          _("BERT: both sides at once")), width="stretch", key="bert_gpt_a")
                for col, key, title in ((g2, "p_left", _("GPT: the words before the blank")),
                                        (g3, "p_both", _("GPT: the whole sentence, word by word"))):
                    ranked = sorted(zip(scored[key], scored["candidates"]), reverse=True)[:8]
                    with col:
                        st.plotly_chart(_bars([{"token": w, "prob": p} for p, w in ranked], title),
                                        width="stretch", key=f"bert_gpt_{key}")
                st.caption(_("A left-to-right model at the blank knows only the words before it: its middle ranking. "
                             "Scoring the whole filled-in sentence, log P(w | left) + log P(right | left, w), lets the "
                             "words after the blank vote too: its right ranking. BERT (left) reads both sides in one pass. "
                             "GPT's probabilities here are renormalised over the {n} candidates.").format(
                    n=len(scored["candidates"])))
        with st.expander(_("The math: what the MLM head computes"), expanded=False):
            st.markdown(_("The encoder turns the (corrupted) sentence into vectors $h_i$. At a masked position the "
                          "head maps $h_i$ back to the vocabulary; the decoder matrix is the word-embedding matrix "
                          "$E$ itself (weight tying):"))
            st.latex(r"p(x_i = w \mid \tilde{x}) = \operatorname{softmax}\big(E\,\mathrm{LN}(\mathrm{GELU}(W h_i + c)) + b\big)_w")
            st.markdown(_("With several masks, one pass predicts each from the *unmasked* words only, as if they "
                          "were independent:"))
            st.latex(r"p(x_{m_1}, \dots, x_{m_k} \mid \tilde{x}) \approx \prod_{j} p(x_{m_j} \mid \tilde{x})")
            st.markdown(_("so *new [MASK] [MASK]* may give 'new new'. Filling **left to right** puts each choice back "
                          "into the input before predicting the next mask, so later masks see earlier ones."))

# ---- corruption -----------------------------------------------------------------------------
with tab_corrupt:
    if tab_corrupt.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("During pre-training BERT picks **15%** of the word pieces of every sequence. Of those, "
                      "**80%** become `[MASK]`, **10%** a random word piece and **10%** stay unchanged; the loss "
                      "is computed only on the picked positions $M$:"))
        st.latex(r"\mathcal{L} = -\frac{1}{|M|}\sum_{i \in M} \log p(x_i \mid \tilde{x})")
        st.markdown(_("The random and unchanged cases keep the model from trusting that only `[MASK]` needs "
                      "predicting: it must keep a good vector for **every** token, since any could be a target."))
        st.text_area(_("Sentence"), key="bert_corrupt_text", height=80)
        k1, k2 = st.columns(2)
        k1.number_input(_("Seed (same seed → same corruption)"), 0, 2**31 - 1, step=1, key="bert_corrupt_seed")
        k2.slider(_("Masking rate"), 0.05, 0.5, step=0.05, key="bert_mask_rate")
        with guard():
            ct = fillmask.corruption_table(bundle.tokenizer, st.session_state["bert_corrupt_text"],
                                           int(st.session_state["bert_corrupt_seed"]), st.session_state["bert_mask_rate"])
        st.markdown(_("{chosen} of {n} word pieces chosen (round({rate:.0%} × {n}), at least 1). "
                      "Rows with **loss here** are the positions the model is trained to predict.").format(
                        chosen=ct["n_chosen"], n=ct["n_tokens"], rate=st.session_state["bert_mask_rate"]))
        loss_col = _("loss here")
        ctdf = pd.DataFrame(ct["rows"]).rename(columns={
            "position": _("position"), "original": _("original"), "input to model": _("input to model"),
            "what happened": _("what happened"), "loss here": loss_col})
        st.dataframe(ctdf.style.apply(lambda r: ["background-color: #fff3cd" if r[loss_col] else "" for _c in r],
                                      axis=1), hide_index=True, width="stretch")
        st.download_button(_("Download table (CSV)"), ctdf.to_csv(index=False), file_name="mlm_corruption.csv",
                           mime="text/csv", key="bert_corrupt_csv")
        with st.expander(_("Check the 15% / 80-10-10 rates over many draws")), guard(stop=False):
            draws = st_cache.shared(fillmask.corruption_rates, bundle.tokenizer, bundle.name,
                                    st.session_state["bert_corrupt_text"], int(st.session_state["bert_corrupt_seed"]),
                                    float(st.session_state["bert_mask_rate"]))
            rate_names = {"chosen": _("chosen"), "random": _("random"), "unchanged": _("unchanged")}
            rf = go.Figure(go.Bar(x=[rate_names.get(k, k) for k in draws["rates"]], y=list(draws["rates"].values()),
                                  text=[f"{v:.1%}" for v in draws["rates"].values()], textposition="auto"))
            rf.update_layout(title=_("{draws} corruptions of this sentence (seeds {seed}…)").format(
                                 draws=draws["draws"], seed=draws["seed"]),
                             yaxis_title=_("fraction"), yaxis_tickformat=".0%", height=320, margin=dict(l=10, r=10, t=40, b=10))
            st.plotly_chart(rf, width="stretch", key="bert_corrupt_rates")
            st.caption(_("'chosen' is a fraction of all word pieces; the other three are fractions of the chosen ones."))
        with st.expander(_("What the model predicts for this corrupted input")):
            with guard(stop=False), queued("generate", 30):
                cp = fillmask.corruption_predictions(bundle, ct)
                st.dataframe(pd.DataFrame(cp["rows"]).rename(columns={
                    "position": _("position"), "target": _("target"), "model input": _("model input"),
                    "top guess": _("top guess"), "p(target)": _("p(target)"), "-log p(target)": _("-log p(target)")}),
                    hide_index=True, width="stretch")
                if cp["rows"]:
                    st.markdown(_("Loss on this sequence: **{loss:.3f}** nats.").format(loss=cp["loss"]))

# ---- input embeddings -----------------------------------------------------------------------
with tab_emb:
    if tab_emb.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("BERT reads a sentence **pair** as `[CLS] A [SEP] B [SEP]`. Each input vector is the sum of "
                      "three learned embeddings, then layer-normalized:"))
        st.latex(r"e_t = \mathrm{LN}\big(E_{\text{token}}[x_t] + E_{\text{segment}}[s_t] + E_{\text{position}}[t]\big)")
        st.markdown(_("$s_t$ is 0 for A (and `[CLS]`, the first `[SEP]`) and 1 for B; $t$ is the position "
                      "0, 1, 2, …  Without position embeddings attention would see a bag of words."))
        e1, e2 = st.columns(2)
        e1.text_input(_("Sentence A"), key="bert_pair_a")
        e2.text_input(_("Sentence B"), key="bert_pair_b")
        with guard():
            parts = st_cache.shared(fillmask.embedding_parts, bundle, bundle.name, st.session_state["bert_pair_a"],
                                    st.session_state["bert_pair_b"])
        edf = pd.DataFrame({_("token"): parts["tokens"], _("segment s_t"): parts["segment_ids"],
                            _("position t"): parts["position_ids"],
                            _("|token emb|"): np.round(parts["token_norm"], 3),
                            _("|segment emb|"): np.round(parts["segment_norm"], 3),
                            _("|position emb|"): np.round(parts["position_norm"], 3),
                            _("|sum|"): np.round(parts["sum_norm"], 3)})
        st.dataframe(edf, hide_index=True, width="stretch")
        emb_names = {"token": _("token embedding"), "segment": _("segment embedding"),
                     "position": _("position embedding"), "sum": _("sum embedding"), "input": _("input embedding")}
        comp = st.radio(_("Show the first 24 dimensions of"), EMB_PARTS,
                        horizontal=True, key="bert_emb_part",
                        format_func=lambda c: _("input after LayerNorm") if c == "input" else emb_names[c])
        arr = parts[comp][:, :24]  # (T, 24)
        lim = float(np.abs(arr).max()) or 1.0
        fig = heatmap(arr, [str(i) for i in range(arr.shape[1])], parts["tokens"], x_title=_("dimension"),
                      y_title=_("token"), colorscale="RdBu", zmin=-lim, zmax=lim, text_fmt=None,
                      title=_("{part}, dimensions 0-23").format(part=emb_names[comp]))
        st.plotly_chart(fig, width="stretch", key="bert_emb_fig")
        figure_downloads(fig, "bert_input_embeddings", "bert_emb_dl", data=edf)

# ---- contextual vectors ---------------------------------------------------------------------
def _apply_preset() -> None:
    name = st.session_state.get("bert_ctx_preset")
    if name in PRESETS:
        word, lines = PRESETS[name]
        st.session_state["bert_ctx_word"] = word
        st.session_state["bert_ctx_lines"] = _lines_text(lines)


with tab_ctx:
    if tab_ctx.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("word2vec or GloVe give a word **one** vector. BERT's layers mix in the context, so 'bank' by a "
                      "river and 'bank' with money drift apart as we go up. Write one sentence per line as "
                      "`sense | sentence`; the word's vector (mean of its word pieces) is compared across sentences "
                      "with cosine similarity $\\cos(u, v) = \\frac{u \\cdot v}{\\lVert u\\rVert\\,\\lVert v\\rVert}$."))
        x1, x2 = st.columns([2, 1])
        if ss["bert_ctx_preset"] not in lang_presets:  # a preset of the other language (from a link)
            ss["bert_ctx_preset"] = "custom"
        x1.selectbox(_("Preset"), lang_presets + ["custom"], key="bert_ctx_preset", on_change=_apply_preset,
                     format_func=lambda p: _("custom") if p == "custom" else _(p))
        x2.text_input(_("Word"), key="bert_ctx_word")
        st.text_area(_("Sentences (sense | sentence)"), key="bert_ctx_lines", height=170)
        if st.session_state["bert_ctx_layer"] > n_layers:
            st.session_state["bert_ctx_layer"] = n_layers
        st.slider(_("Layer (0 = static word-piece embedding)"), 0, n_layers, key="bert_ctx_layer")
        with guard(), queued("generate", 30):
            cv = st_cache.shared(fillmask.contextual_vectors, bundle, bundle.name, st.session_state["bert_ctx_word"],
                                 tuple(fillmask.parse_sense_lines(st.session_state["bert_ctx_lines"])))
        layer = int(st.session_state["bert_ctx_layer"])
        labels = [f"{i + 1}. {s}" for i, s in enumerate(cv["senses"])]
        m1, m2 = st.columns([1, 1])
        with m1:
            fig = heatmap(cv["sims"][layer], [str(i + 1) for i in range(len(labels))], labels,
                          title=_("cosine similarity at layer {layer}").format(layer=layer),
                          x_title=_("sentence"), y_title=_("sentence"), colorscale="Viridis",
                          zmin=float(min(0.0, cv["sims"][layer].min())), zmax=1.0)
            st.plotly_chart(fig, width="stretch", key="bert_ctx_matrix")
        with m2:
            lf = go.Figure()
            xs = list(range(cv["layers"]))
            if not np.all(np.isnan(cv["within"])):
                lf.add_trace(go.Scatter(x=xs, y=cv["within"], mode="lines+markers", name=_("same sense")))
                lf.add_trace(go.Scatter(x=xs, y=cv["across"], mode="lines+markers", name=_("different sense")))
            else:
                mean_off = [float(s[~np.eye(len(s), dtype=bool)].mean()) for s in cv["sims"]]
                lf.add_trace(go.Scatter(x=xs, y=mean_off, mode="lines+markers", name=_("all pairs")))
            lf.add_vline(x=layer, line_dash="dot")
            lf.update_layout(title=_("mean similarity by layer"), xaxis_title=_("layer (0 = static)"),
                             yaxis_title=_("mean cosine similarity"), height=380, margin=dict(l=10, r=10, t=40, b=10))
            st.plotly_chart(lf, width="stretch", key="bert_ctx_lines_fig")
        st.caption(_("Sentences: {sentences}").format(sentences=" · ".join(
            f"**{i + 1}.** {s} ({'+'.join(p)})" for i, (s, p) in enumerate(zip(cv["sentences"], cv["pieces"])))))
        if np.all(np.isnan(cv["within"])):
            st.info(_("Label the sentences with at least two senses (`river | …`, `money | …`) to compare "
                      "same-sense and different-sense similarity."))
        simdf = pd.DataFrame(cv["sims"][layer], index=labels, columns=labels)
        figure_downloads(fig, f"bert_context_layer{layer}", "bert_ctx_dl", data=simdf)


# ---- next-sentence prediction ---------------------------------------------------------------
with tab_nsp:
    if tab_nsp.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("BERT's second pre-training task, **next-sentence prediction (NSP)**: read `[CLS] A [SEP] B [SEP]` "
                      "and say whether B is the sentence that follows A in the text ($y = 1$) or a random sentence "
                      "from elsewhere ($y = 0$), half and half in training. The answer is read from the `[CLS]` "
                      "position:"))
        st.latex(r"P(y = 1 \mid A, B) = \operatorname{softmax}\big(W \tanh(P\, h_{[\mathrm{CLS}]} + c) + d\big)_1")
        zh = bundle.info.get("bert_zh")
        if zh is None and bert_zh.SOURCE in model_sources:
            st.info(_("This model was not trained with an NSP head. Pick **Chinese BERT pre-trained here** in the model "
                      "box: it learned both tasks."))
        elif zh is None:
            st.info(_("This model was not trained with an NSP head, and the Chinese BERT that learns both tasks has not "
                      "been pre-trained on this installation yet (`scripts/train_bert_zh.py`). The Pre-training tab "
                      "trains a tiny one live."))
        else:
            n1, n2 = st.columns(2)
            n1.text_input(_("Sentence A"), key="bert_pair_a")
            n2.text_input(_("Sentence B"), key="bert_pair_b")
            a, b = ss["bert_pair_a"], ss["bert_pair_b"]
            other = bert_zh.corpus_split()[1][7]  # a held-out sentence: a random B for A
            other = "".join(other)
            with guard():
                rows = [(_("A → B (your pair)"), a, b), (_("B → A (swapped)"), b, a),
                        (_("A → a random newspaper sentence"), a, other)]
                probs = [st_cache.shared(bert_zh.next_sentence_probability, zh.model, bundle.name, zh.vocab, x, y)
                         for _label, x, y in rows]
            st.metric(_("P(B follows A)"), f"{probs[0]:.1%}")
            fig = go.Figure(go.Bar(x=probs, y=[r[0] for r in rows], orientation="h", text=[f"{p:.1%}" for p in probs],
                                   textposition="auto"))
            fig.add_vline(x=0.5, line_dash="dot")
            fig.update_layout(xaxis=dict(range=[0, 1], title=_("P(y = 1): B follows A")), height=260,
                              margin=dict(l=10, r=10, t=30, b=10))
            st.plotly_chart(fig, width="stretch", key="bert_nsp_fig")
            table = pd.DataFrame([{_("pair"): r[0], _("sentence A"): r[1], _("sentence B"): r[2],
                                   _("P(B follows A)"): round(p, 4)} for r, p in zip(rows, probs)])
            figure_downloads(fig, "bert_next_sentence", "bert_nsp_dl", data=table)
            st.caption(_("Held-out next-sentence accuracy of this model: {acc:.1%} (chance: 50%). A random B is usually "
                         "about another topic, so NSP learns topic more than order; later models (RoBERTa) dropped it, "
                         "ALBERT replaced it with sentence-order prediction.").format(acc=bundle.info["nsp_acc"] or 0.0))

# ---- pre-training ---------------------------------------------------------------------------
with tab_pt:
    if tab_pt.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("Pre-train a tiny Chinese BERT here, with both of BERT's losses summed: **MLM** on 15% of the "
                      "characters, chosen as whole words (中国 is masked as both characters or neither; 80% `[MASK]`, "
                      "10% a random character, 10% unchanged), and **NSP** on sentence pairs from People's Daily "
                      "1998. Then it is scored on held-out sentences it never saw."))
        st.latex(r"\mathcal{L} = \underbrace{-\frac{1}{|M|}\sum_{i \in M}\log p(x_i \mid \tilde{x})}_{\text{MLM}}"
                 r"\;\underbrace{-\,\log P(y \mid A, B)}_{\text{NSP}}")
        p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
        p1.slider(_("Seconds of training"), 5, 60, step=5, key="bert_pt_seconds",
                  help=_("{layers} layers, d_model {d_model}, {heads} heads, batches of 32 pairs, one CPU "
                         "thread.").format(layers=bert_zh.LIVE["n_layers"], d_model=bert_zh.LIVE["d_model"],
                                           heads=bert_zh.LIVE["n_heads"]))
        go_pt = p2.button(_("🏋️ Pre-train"), key="bert_pt_go", type="primary")
        if go_pt:
            with guard():
                with queued("train", 20):
                    sess = {"history": [], "result": None}
                    ss[PT_SESSION] = sess  # before training: a Stop keeps the curve so far
                    st.button(_("⏹ Stop"), key="bert_pt_stop")
                    on_step, bar = progress_callback(_("Pre-training…"))
                    budget = float(ss["bert_pt_seconds"])
                    sess["result"] = bert_zh.live_run(
                        budget, seed(), history=sess["history"],
                        on_step=lambda done, _total, info: on_step(min(sess["history"][-1]["time_s"], budget), budget,
                                                                   info))
                    bar.empty()
        sess = ss.get(PT_SESSION)
        if sess and sess["history"]:
            h = pd.DataFrame(sess["history"])
            fig = make_subplots(rows=1, cols=2, subplot_titles=(_("loss"), _("accuracy on the training batch")))
            for col, name, color in (("mlm", _("MLM loss"), "#1f77b4"), ("nsp", _("NSP loss"), "#d62728")):
                fig.add_scatter(x=h["step"], y=h[col], name=name, mode="lines", line=dict(color=color), row=1, col=1)
            for col, name, color in (("mlm_acc", _("MLM accuracy"), "#1f77b4"), ("nsp_acc", _("NSP accuracy"), "#d62728")):
                fig.add_scatter(x=h["step"], y=h[col], name=name, mode="lines", line=dict(color=color, dash="dot"),
                                row=1, col=2)
            fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
            fig.update_xaxes(title_text=_("step"))
            st.plotly_chart(fig, width="stretch", key="bert_pt_fig")
            figure_downloads(fig, "bert_pretraining", "bert_pt_dl", data=h)
            res = sess["result"]
            if res:
                held = res["held_out"]
                q1, q2, q3 = st.columns(3)
                q1.metric(_("held-out masked-character top-1"), f"{held['mlm_top1']:.1%}")
                q2.metric(_("held-out top-5"), f"{held['mlm_top5']:.1%}")
                q3.metric(_("held-out next-sentence accuracy"), f"{held['nsp_acc']:.1%}", help=_("chance: 50%"))
                st.caption(_("{steps} steps in {seconds:.0f} s, {params:,} parameters, {n} held-out pairs. A model "
                             "this small and this short a run stay far from the shipped one's figures.").format(
                    steps=res["run"]["steps"], seconds=res["run"]["seconds"], params=res["params"],
                    n=held["pairs"]))
            else:
                st.info(_("Stopped: the curve so far is kept; press Pre-train to run again."))
        shipped = bundle.info.get("bert_zh")
        if shipped is not None and shipped.meta.get("evals"):
            ev = pd.DataFrame(shipped.meta["evals"])
            st.subheader(_("The shipped model, pre-trained for {minutes:.0f} minutes").format(
                minutes=shipped.meta.get("minutes", 0)))
            fig2 = go.Figure()
            for col, name in (("mlm_top1", _("masked-character top-1")), ("mlm_top5", _("top-5")),
                              ("nsp_acc", _("next-sentence accuracy"))):
                fig2.add_scatter(x=ev["step"], y=ev[col], mode="lines+markers", name=name)
            fig2.update_layout(height=320, xaxis_title=_("step"), yaxis=dict(title=_("held-out"), tickformat=".0%"),
                               margin=dict(l=10, r=10, t=30, b=10))
            st.plotly_chart(fig2, width="stretch", key="bert_pt_shipped")

# ---- model card -----------------------------------------------------------------------------
with tab_card:
    if tab_card.open is not False:  # lazy tabs: only the open tab's code runs
        src = _source(st.session_state["bert_model"]) if st.session_state["bert_model"] != CUSTOM else None
        card = Path(src.ref) / "README.md" if src is not None and src.kind == "local" else None
        if card is not None and card.exists():
            st.markdown(card.read_text(encoding="utf-8"))
        else:
            about = (_(src.description) if src.description else "") if src else _("a Hugging Face model")
            st.markdown(f"**{bundle.name}**: {about}")  # _("") would give the catalogue's header
        st.json(json.loads(json.dumps({k: v for k, v in bundle.info.items() if k != "bert_zh"}, default=str)),
                expanded=False)

sync_url()
