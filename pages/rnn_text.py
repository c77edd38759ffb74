"""RNN text generation: train character-level RNN, GRU and LSTM language models and watch them learn.

Thin UI over core/sequence/charlm.py: generation with the shipped Shakespeare LSTM (or a model trained here),
live training with a loss curve and samples, a side-by-side RNN/GRU/LSTM race at equal parameter
counts, and the vanishing-gradient and gradient-clipping lessons.
"""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, queued, run_through_entry_point, seed,
                           sync_url, url_state)

run_through_entry_point()

import html
import io
import json
import math
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.sequence import charlm as C
from core import st_cache
from core.corpora import VAL_FRACTION
from core.device import MAX_SEED
from core.i18n import N_, _
from core.sources import sources_for
from core.st_cache import load_source

MAX_STEPS = 2000  # per training run in the page
MAX_SECONDS = 120  # per training run in the page (per model in the side-by-side race)
TRAIN_THREADS = 1  # small models on a shared server: one thread each is faster than two fighting
CORPORA = {"shakespeare": _("Tiny Shakespeare (1.1 M characters)"),
           "chinese": _("Chinese sentences (Tatoeba, ~4k characters in use)"),
           "upload": _("Upload a .txt file (≤ 2 MB)")}
GEN_MODELS = {"shipped": _("Shipped LSTM (Tiny Shakespeare)"), "session": _("Model trained in this session"),
              "cmp_rnn": _("Race: RNN"), "cmp_gru": _("Race: GRU"), "cmp_lstm": _("Race: LSTM")}
COLORS = {"rnn": "#d62728", "gru": "#2ca02c", "lstm": "#1f77b4", "shipped": "#9467bd", "session": "#ff7f0e"}
SESSION = "rnn_session"  # session_state: the model trained in the Train tab (+ history, samples)
COMPARE = "rnn_compare"  # session_state: the three race models
HIDDEN_CHOICES = [16, 32, 64, 128, 192, 256, 384, 512]
EMBED_CHOICES = [8, 16, 32, 64, 128]
LR_CHOICES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 5e-2]
TC = C.TrainConfig()  # the tuned defaults (benchmarks/charlm.py measures them); the form starts from these
PARAM_CHOICES = [10_000, 25_000, 50_000, 100_000, 200_000]

st.title(_("RNN text generation"))
st.caption(_("A character-level language model reads text one character at a time, keeps a hidden state "
             "h_t, and predicts the next character. Train RNN, GRU and LSTM cells here and watch them go "
             "from noise to words."))

url_state(
    {"rnn_gen_model": "shipped", "rnn_prime": "ROMEO:\n", "rnn_length": 400, "rnn_temperature": 0.8,
     "rnn_gen_seed": 0,
     "rnn_corpus": "shakespeare", "rnn_cell": "lstm", "rnn_layers": 1, "rnn_hidden": 256, "rnn_embed": 64,
     "rnn_dropout": 0.0, "rnn_batch": TC.batch_size, "rnn_seq": TC.seq_len, "rnn_lr": TC.lr, "rnn_steps": 300,
     "rnn_seconds": 30,
     "rnn_clip_on": True, "rnn_clip": 1.0, "rnn_sample_every": 50,
     "rnn_cmp_params": 50_000, "rnn_cmp_steps": 200, "rnn_cmp_seconds": 20,
     "rnn_vg_len": 80, "rnn_vg_norm": True},
    choices={"rnn_gen_model": list(GEN_MODELS), "rnn_corpus": list(CORPORA), "rnn_cell": list(C.CELLS),
             "rnn_hidden": HIDDEN_CHOICES, "rnn_embed": EMBED_CHOICES, "rnn_lr": LR_CHOICES,
             "rnn_cmp_params": PARAM_CHOICES},
    bounds={"rnn_length": (1, C.MAX_GENERATE_CHARS), "rnn_temperature": (0.0, 2.0), "rnn_gen_seed": (0, MAX_SEED),
            "rnn_layers": (1, 3), "rnn_dropout": (0.0, 0.5), "rnn_batch": (1, 128), "rnn_seq": (8, 256),
            "rnn_steps": (1, MAX_STEPS), "rnn_seconds": (1, MAX_SECONDS), "rnn_clip": (0.1, 10.0),
            "rnn_sample_every": (0, 500), "rnn_cmp_steps": (1, MAX_STEPS), "rnn_cmp_seconds": (1, 60),
            "rnn_vg_len": (10, 200)},
)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _shipped_source():
    found = [s for s in sources_for("char_lm", kinds=("local",)) if s.name == "shakespeare-lstm"]
    return found[0] if found else None


def _shipped():
    """The shipped checkpoint bundle (shared by every session: read-only), or None."""
    source = _shipped_source()
    return load_source(source) if source is not None else None


@st.cache_resource(show_spinner=_("Reading the corpus…"))
def _bundled_corpus(name: str) -> C.Corpus:
    return C.make_corpus(C.corpus_text(name), name)


def _corpus(name: str) -> C.Corpus | None:
    """The chosen corpus (bundled ones cached per process, uploads per session); ValueError if unusable."""
    if name != "upload":
        return _bundled_corpus(name)
    file = st.session_state.get("rnn_upload")
    if file is None:
        return None
    data = file.getvalue()
    cache = st.session_state.get("_rnn_upload_corpus")
    if cache and cache[0] == (file.name, len(data)):
        return cache[1]
    corpus = C.make_corpus(C.corpus_text("upload", data), f"upload: {file.name}")
    st.session_state["_rnn_upload_corpus"] = ((file.name, len(data)), corpus)
    return corpus


def _chosen_corpus() -> C.Corpus | None:
    """The corpus chosen in the Train tab (each tab computes it: only the open tab's code runs);
    None, with the reason shown, if it can't be used."""
    with guard(stop=False):
        return _corpus(st.session_state["rnn_corpus"])
    return None


def _corpus_named(name: str) -> C.Corpus | None:
    """The corpus a session or race model was trained on: a bundled one, or this session's upload
    if it is still the same file; None if it is gone."""
    if name in CORPORA and name != "upload":
        return _bundled_corpus(name)
    cache = st.session_state.get("_rnn_upload_corpus")
    return cache[1] if cache and cache[1].name == name else None


def _shown(ch: str) -> str:
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(ch, ch)


def _colored(prime: str, text: str, probs: list[float]) -> str:
    """HTML: the prime in grey, each generated character shaded by how unlikely it was."""
    out = [f"<span style='color:#888'>{html.escape(prime)}</span>"]
    for ch, p in zip(text, probs):
        alpha = max(0.0, min(1.0, 1.0 - p)) * 0.8
        title = f"p={p:.3f}"
        out.append(f"<span title='{title}' style='background:rgba(255,140,0,{alpha:.2f})'>{html.escape(ch)}</span>")
    return ("<div style='font-family:monospace;white-space:pre-wrap;line-height:1.45;border:1px solid #ddd;"
            "border-radius:6px;padding:10px;max-height:420px;overflow:auto'>" + "".join(out) + "</div>")


def _loss_figure(runs: dict[str, list], title: str, uniform: float | None = None) -> go.Figure:
    """Train (smoothed) and validation loss curves for one or more histories."""
    fig = go.Figure()
    for name, history in runs.items():
        color = COLORS.get(name, "#1f77b4")
        steps = [h for h in history if "loss" in h]
        if steps:
            ema, smooth = None, []
            for h in steps:
                ema = h["loss"] if ema is None else 0.9 * ema + 0.1 * h["loss"]
                smooth.append(ema)
            fig.add_scatter(x=[h["step"] for h in steps], y=smooth, mode="lines",
                            name=_("{name} train").format(name=name), line=dict(color=color, width=1.5), opacity=0.55)
        vals = [h for h in history if "val_loss" in h]
        if vals:
            fig.add_scatter(x=[h["step"] for h in vals], y=[h["val_loss"] for h in vals], mode="lines+markers",
                            name=_("{name} validation").format(name=name), line=dict(color=color, width=3))
    if uniform:
        fig.add_hline(y=uniform, line_dash="dot", line_color="#999",
                      annotation_text=_("uniform guess ln V = {value:.2f}").format(value=uniform))
    fig.update_layout(title=title, xaxis_title=_("step"), yaxis_title=_("loss (nats/char)"), height=360,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _history_frame(history: list) -> pd.DataFrame:
    return pd.DataFrame(history).set_index("step") if history else pd.DataFrame()


def _gen_choices() -> list[str]:
    choices = []
    if _shipped_source() is not None:
        choices.append("shipped")
    if SESSION in st.session_state:
        choices.append("session")
    for cell in C.CELLS:
        if cell in st.session_state.get(COMPARE, {}):
            choices.append(f"cmp_{cell}")
    return choices


def _gen_model(choice: str):
    """(model, vocab, label) for a generation choice."""
    if choice == "shipped":
        bundle = _shipped()
        return bundle.model, bundle.vocab, "shipped LSTM"
    if choice == "session":
        s = st.session_state[SESSION]
        return s["model"], s["vocab"], "session model"
    cmp = st.session_state[COMPARE]
    cell = choice.split("_", 1)[1]
    return cmp[cell]["model"], cmp["vocab"], f"race {cell.upper()}"


def _sample_bundle(bundle: C.CharLMBundle, *args) -> tuple[C.Generation, float]:
    """A sample of the shipped model and the seconds it took (shared: later calls return both again)."""
    t0 = time.perf_counter()
    return C.generate(bundle.model, bundle.vocab, *args), time.perf_counter() - t0


def _model_bytes(model: C.CharLM, vocab: C.Vocab, info: dict) -> bytes:
    """The model as one safetensors file (config and vocabulary in its metadata)."""
    from safetensors.torch import save

    meta = {"config": model.config.to_json(), "vocab": vocab.to_json(),
            **{k: str(v) for k, v in info.items()}}
    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, metadata=meta)


tab_gen, tab_train, tab_cmp, tab_vg = lazy_tabs(
    [N_("✍️ Generate"), N_("🏋️ Train"), N_("⚖️ RNN vs GRU vs LSTM"), N_("📉 Vanishing gradients & clipping")], key="rnn_tab")

# =============================================================================================
# Generate
# =============================================================================================
with tab_gen:
    if tab_gen.open is not False:  # lazy tabs: only the open tab's code runs
        choices = _gen_choices()
        if not choices:
            st.info(_("No model yet: the shipped checkpoint is missing (run scripts/train_charlm.py) and nothing "
                      "was trained in this session. Train one in the **Train** tab."))
        else:
            if st.session_state.pop("_rnn_use_session", False) and "session" in choices:
                st.session_state["rnn_gen_model"] = "session"  # a model was just trained: generate with it
                sess = st.session_state[SESSION]
                if sess["vocab"].unknown(st.session_state.get("rnn_prime", "")):
                    st.session_state["rnn_prime"] = sess["prime_hint"]  # the old prime has characters it never saw
            if st.session_state.get("rnn_gen_model") not in choices:
                st.session_state["rnn_gen_model"] = choices[0]
            c1, c2 = st.columns([3, 2])
            with c1:
                st.selectbox(_("Model"), choices, format_func=GEN_MODELS.get, key="rnn_gen_model")
                st.text_area(_("Prime text (the model reads this first, then continues it)"), key="rnn_prime",
                             height=80, max_chars=C.MAX_PRIME_CHARS)
            with c2:
                st.slider(_("Length (characters to generate)"), 1, C.MAX_GENERATE_CHARS, step=1, key="rnn_length")
                st.slider(_("Temperature"), 0.0, 2.0, step=0.05, key="rnn_temperature",
                          help=_("Divides the logits before the softmax: below 1 sharpens the distribution (safer, "
                                 "more repetitive), above 1 flattens it (more surprising, more typos); 0 = always "
                                 "take the most likely character."))
                s1, s2 = st.columns([1, 1], vertical_alignment="bottom")
                s1.number_input(_("Sampling seed"), 0, MAX_SEED, step=1, key="rnn_gen_seed",
                                help=_("Same seed + same inputs ⇒ same text."))

                def _next_seed():
                    st.session_state["rnn_gen_seed"] = (int(st.session_state["rnn_gen_seed"]) + 1) % (MAX_SEED + 1)

                s2.button(_("🎲 Reseed"), key="rnn_gen_reseed", on_click=_next_seed, width="stretch")
            st.caption(_("Temperature rescales the scores z_i before the softmax: "
                         "T < 1 makes likely characters likelier, T > 1 gives rare ones a chance, T → 0 is greedy."))
            st.latex(r"p_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)}")
            clicked = st.button(_("Generate"), key="rnn_generate", type="primary")
            choice = st.session_state["rnn_gen_model"]
            signature = (choice, st.session_state["rnn_prime"], int(st.session_state["rnn_length"]),
                         float(st.session_state["rnn_temperature"]), int(st.session_state["rnn_gen_seed"]),
                         id(_gen_model(choice)[0]) if choice != "shipped" else 0)
            last = st.session_state.get("_rnn_gen")
            if clicked or last is None or last["signature"] != signature:
                with guard(stop=False):
                    model, vocab, label = _gen_model(choice)
                    with queued("generate", 30), st.spinner(_("Sampling…")):
                        t0 = time.perf_counter()
                        args = (st.session_state["rnn_prime"], int(st.session_state["rnn_length"]),
                                float(st.session_state["rnn_temperature"]), int(st.session_state["rnn_gen_seed"]))
                        if choice == "shipped":
                            # the shipped model is shared and read-only: its samples are shared by every session
                            result, seconds = st_cache.shared(_sample_bundle, _shipped(), "char_lm/shipped", *args)
                        else:
                            result = C.generate(model, vocab, *args)
                            seconds = time.perf_counter() - t0
                        # far quicker than it took to make: an earlier run (any session) had the same inputs
                        reused = time.perf_counter() - t0 < 0.5 * seconds
                    st.session_state["_rnn_gen"] = {"signature": signature, "result": result, "label": label,
                                                    "seconds": seconds, "reused": reused}
            last = st.session_state.get("_rnn_gen")
            if last is not None and last["signature"] == signature:
                result: C.Generation = last["result"]
                probs = result.chosen_probs
                mean_nll = -sum(math.log(max(p, 1e-12)) for p in probs) / max(1, len(probs))
                m1, m2, m3 = st.columns(3)
                m1.metric(_("Characters generated"), len(result.text))
                m2.metric(_("Mean surprisal of the sample"), _("{value:.2f} nats/char").format(value=mean_nll),
                          help=_("−mean log p of the characters drawn (at this temperature). Low = the model was sure."))
                m3.metric(_("Time"), f"{last['seconds']:.2f} s",
                          help=_("How long sampling took. Generation is deterministic (same model, prime, settings "
                                 "and seed ⇒ same text), so a sample that was made before is shown again at once."))
                if last.get("reused"):
                    st.caption(_("🔁 Same inputs as an earlier run, so its sample is shown again (it took "
                                 "{seconds:.2f} s to make). Change the seed or press 🎲 Reseed for a new one.").format(
                                     seconds=last["seconds"]))
                st.markdown(_colored(result.prime, result.text, probs), unsafe_allow_html=True)
                st.caption(_("Grey = your prime. Orange shading = how unlikely the drawn character was "
                             "(hover for its probability)."))
                with st.expander(_("Plain text")):
                    st.code(result.prime + result.text, language=None)
                st.download_button(_("Download the text"), result.prime + result.text, file_name="rnn_sample.txt",
                                   mime="text/plain", key="rnn_gen_download")
                top = result.last_top
                fig = go.Figure(go.Bar(x=[_shown(c) for c, _ in top], y=[p for _, p in top],
                                       marker_color="#1f77b4", text=[f"{p:.2f}" for _, p in top],
                                       textposition="outside"))
                fig.update_layout(title=_("What the model would write next (top {k}, T = {temperature:.2f})").format(
                                      k=len(top), temperature=st.session_state["rnn_temperature"]),
                                  xaxis_title=_("next character (⏎ newline, ␣ space)"), yaxis_title=_("probability"),
                                  height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis_range=[0, 1.1])
                st.plotly_chart(fig, width="stretch", key="rnn_gen_top")
            if choice == "shipped":
                bundle = _shipped()
                with st.expander(_("About the shipped model (model card)")):
                    info = bundle.info
                    st.write(_("{layers}-layer {cell}, {hidden} units, {params:,} parameters; "
                               "{steps} steps, validation loss {val_loss} nats/char.").format(
                                   layers=bundle.config.n_layers, cell=bundle.config.cell.upper(),
                                   hidden=bundle.config.hidden_size, params=C.count_params(bundle.model),
                                   steps=info.get("steps", "?"), val_loss=info.get("val_loss", "?")))
                    card = _shipped_source().ref + "/README.md"
                    try:
                        st.markdown(open(card, encoding="utf-8").read())
                    except OSError:
                        st.caption(_("Model card not found."))

# =============================================================================================
# Train
# =============================================================================================
with tab_train:
    if tab_train.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Training minimises the cross-entropy of the next character. The text is cut into **B** parallel "
            "streams read **T** characters at a time (*truncated back-propagation through time*); the hidden "
            "state is carried from one chunk to the next, so the model sees context longer than T, but "
            "gradients flow back only T steps."))
        st.latex(r"h_t = f(h_{t-1}, \mathrm{emb}(x_t)), \qquad p_\theta(\cdot \mid x_{\le t}) = \mathrm{softmax}(W h_t + b)")
        st.latex(r"\mathcal{L} = -\frac{1}{BT}\sum_{b,t} \log p_\theta(x_{b,t+1} \mid x_{b,\le t})"
                 r"\quad \text{(nats/char; divide by } \ln 2 \text{ for bits)}")
        st.radio(_("Corpus"), list(CORPORA), format_func=CORPORA.get, key="rnn_corpus", horizontal=True)
        if st.session_state["rnn_corpus"] == "upload":
            st.file_uploader(_("Your text (.txt, UTF-8, ≤ 2 MB)"), type=["txt"], key="rnn_upload")
        corpus = _chosen_corpus()
        if corpus is not None:
            st.caption(_("{name}: {train:,} training and {val:,} validation characters (the last {fraction:.0%}), "
                         "{vocab:,} distinct characters.").format(
                             name=corpus.name, train=corpus.train_ids.numel(), val=corpus.val_ids.numel(),
                             fraction=VAL_FRACTION, vocab=len(corpus.vocab)))
        elif st.session_state["rnn_corpus"] == "upload" and st.session_state.get("rnn_upload") is None:
            st.info(_("Upload a .txt file to train on it."))

        with st.form("rnn_train_form", border=True):
            st.markdown(_("**Model**"))
            a1, a2, a3, a4, a5 = st.columns(5)
            a1.selectbox(_("Cell"), list(C.CELLS), format_func=C.CELL_LABELS.get, key="rnn_cell")
            a2.number_input(_("Layers"), 1, 3, step=1, key="rnn_layers")
            a3.select_slider(_("Hidden size"), HIDDEN_CHOICES, key="rnn_hidden")
            a4.select_slider(_("Embedding size"), EMBED_CHOICES, key="rnn_embed")
            a5.slider(_("Dropout"), 0.0, 0.5, step=0.05, key="rnn_dropout")
            st.markdown(_("**Training** (bounded: at most {steps} steps and {seconds} s per run)").format(
                steps=MAX_STEPS, seconds=MAX_SECONDS))
            b1, b2, b3, b4, b5 = st.columns(5)
            b1.slider(_("Batch size B"), 1, 128, step=1, key="rnn_batch")
            b2.slider(_("Sequence length T"), 8, 256, step=8, key="rnn_seq")
            b3.select_slider(_("Peak learning rate"), LR_CHOICES, key="rnn_lr",
                             help=_("AdamW; linear warm-up, then cosine decay over the run."))
            b4.number_input(_("Max steps"), 1, MAX_STEPS, step=50, key="rnn_steps")
            b5.number_input(_("Max seconds"), 1, MAX_SECONDS, step=5, key="rnn_seconds")
            c1, c2, c3 = st.columns(3)
            c1.checkbox(_("Clip the gradient norm"), key="rnn_clip_on")
            c2.number_input(_("Clip threshold τ"), 0.1, 10.0, step=0.1, key="rnn_clip")
            c3.number_input(_("Print a sample every N steps (0 = off)"), 0, 500, step=10, key="rnn_sample_every")
            d1, d2 = st.columns(2)
            # no key=: the submit buttons' ids come from their labels (tests click the English one)
            train_new = d1.form_submit_button(_("🏋️ Train a new model"), type="primary", width="stretch")
            train_more = d2.form_submit_button(_("➕ Continue training the session model"), width="stretch")

        def _configs(vocab_size: int):
            ss = st.session_state
            cfg = C.CharLMConfig(ss["rnn_cell"], vocab_size, int(ss["rnn_layers"]), int(ss["rnn_hidden"]),
                                 int(ss["rnn_embed"]), float(ss["rnn_dropout"]))
            tc = C.TrainConfig(batch_size=int(ss["rnn_batch"]), seq_len=int(ss["rnn_seq"]), lr=float(ss["rnn_lr"]),
                               max_steps=int(ss["rnn_steps"]), max_seconds=float(ss["rnn_seconds"]),
                               clip=float(ss["rnn_clip"]) if ss["rnn_clip_on"] else 0.0,
                               eval_every=max(10, int(ss["rnn_steps"]) // 15), eval_chars=10_000,
                               eval_every_s=float(ss["rnn_seconds"]) / 15,
                               sample_every=int(ss["rnn_sample_every"]), sample_len=160)
            return cfg, tc

        if corpus is not None:
            with guard(stop=False):
                cfg_preview, _tc_preview = _configs(len(corpus.vocab))
                st.caption(_("This model has **{params:,}** parameters.").format(params=C.param_count(cfg_preview)))

        if train_new or train_more:
            with guard(stop=False):
                if corpus is None:
                    raise ValueError(_("Choose a corpus (or upload a usable .txt file) first."))
                cfg, tc = _configs(len(corpus.vocab))
                if train_more:
                    sess = st.session_state.get(SESSION)
                    if sess is None:
                        raise ValueError(_("There is no session model yet: click 'Train a new model' first."))
                    if sess["corpus_name"] != corpus.name:
                        raise ValueError(_("The session model was trained on {corpus}; switch the corpus "
                                           "back to continue, or train a new model.").format(corpus=sess["corpus_name"]))
                else:
                    # store the new model and its history before the loop: Stop keeps what was trained so far
                    sess = {"model": C.build_model(cfg, seed()), "vocab": corpus.vocab, "corpus_name": corpus.name,
                            "history": [], "samples": [], "uniform": math.log(len(corpus.vocab)),
                            "prime_hint": corpus.vocab.decode(corpus.train_ids[:1])}
                    st.session_state[SESSION] = sess
                history, samples = sess["history"], sess["samples"]
                offset = max((h["step"] for h in history), default=0)
                with queued("train", 20):
                    st.button(_("⏹ Stop (keeps the model trained so far)"), key="rnn_stop")
                    with st.status(_("Training a {cell} on {corpus}…").format(cell=cfg.cell.upper(), corpus=corpus.name),
                                   expanded=True) as status:
                        bar = st.progress(0.0, text=_("starting…"))
                        chart = st.empty()
                        sample_box = st.empty()
                        tick = {"t": 0.0, "n": 0}

                        def on_step(done, total, info):
                            now = time.monotonic()
                            if done < total and now - tick["t"] < 0.7 and "sample" not in info:
                                return
                            tick["t"], tick["n"] = now, tick["n"] + 1
                            frac = max(done / total, (history[-1]["time_s"] / tc.max_seconds) if history else 0)
                            if "val_loss" in info:
                                text = _("step {done}/{total} · loss {loss:.3f} · val {val_loss:.3f}").format(
                                    done=done, total=total, loss=info["loss"], val_loss=info["val_loss"])
                            else:
                                text = _("step {done}/{total} · loss {loss:.3f}").format(
                                    done=done, total=total, loss=info["loss"])
                            bar.progress(min(1.0, frac), text=text)
                            chart.plotly_chart(_loss_figure({cfg.cell: history}, _("Loss while training"),
                                                            sess["uniform"]),
                                               width="stretch", key=f"rnn_live_{tick['n']}")
                            if samples:
                                sample_box.code(_("step {step}:").format(step=samples[-1][0]) + "\n" + samples[-1][1],
                                                language=None)

                        res = C.train(sess["model"], corpus, tc, seed=seed(), on_step=on_step, history=history,
                                      samples=samples, step_offset=offset,
                                      sample_prime="\n" if "\n" in corpus.vocab.stoi else corpus.vocab.chars[0],
                                      threads=TRAIN_THREADS)
                        chart.empty()
                        sample_box.empty()
                        if res.stopped_by == "time":
                            done_text = _("done: {steps} steps in {seconds:.1f} s (stopped by time)")
                        else:
                            done_text = _("done: {steps} steps in {seconds:.1f} s (stopped by steps)")
                        bar.progress(1.0, text=done_text.format(steps=res.steps, seconds=res.seconds))
                        status.update(label=_("Trained {steps} steps in {seconds:.1f} s · validation loss "
                                              "{val_loss:.3f} nats/char").format(
                                                  steps=res.steps, seconds=res.seconds, val_loss=res.val_loss),
                                      state="complete", expanded=False)
                st.session_state["_rnn_use_session"] = True
                st.rerun()  # redraw with the new model; the Generate tab samples from it when it is opened

        sess = st.session_state.get(SESSION)
        if sess is not None and sess["history"]:
            history = sess["history"]
            model = sess["model"]
            vals = [h["val_loss"] for h in history if "val_loss" in h]
            steps = [h for h in history if "loss" in h]
            c = model.config
            st.subheader(_("Session model: {layers}×{hidden} {cell} on {corpus}").format(
                layers=c.n_layers, hidden=c.hidden_size, cell=C.CELL_LABELS[c.cell], corpus=sess["corpus_name"]))
            m1, m2, m3, m4 = st.columns(4)
            m1.metric(_("Parameters"), f"{C.count_params(model):,}")
            m2.metric(_("Steps trained"), steps[-1]["step"] if steps else 0)
            m3.metric(_("Validation loss"), f"{vals[-1]:.3f}" if vals else "–",
                      help=_("nats per character on held-out text (the last {fraction:.0%} of the corpus)").format(
                          fraction=VAL_FRACTION))
            m4.metric(_("Bits per character"), f"{vals[-1] / math.log(2):.2f}" if vals else "–")
            fig = _loss_figure({model.config.cell: history}, _("Loss on {corpus}").format(corpus=sess["corpus_name"]),
                               sess["uniform"])
            st.plotly_chart(fig, width="stretch", key="rnn_train_curve")
            figure_downloads(fig, "rnn_loss_curve", "rnn_train_dl", data=_history_frame(history))
            if sess["samples"]:
                st.markdown(_("**Samples along the way** (temperature 0.8): from noise to words"))
                step_no, text = sess["samples"][-1]
                st.code(_("step {step}:").format(step=step_no) + "\n" + text, language=None)
                with st.expander(_("All {n} samples").format(n=len(sess["samples"]))):
                    for step_no, text in sess["samples"]:
                        st.text(_("step {step}:").format(step=step_no) + "\n" + text)
            st.download_button(_("Download the trained model (.safetensors)"),
                               _model_bytes(model, sess["vocab"], {"corpus": sess["corpus_name"]}),
                               file_name=f"charlm-{model.config.cell}.safetensors", key="rnn_model_dl")
            st.caption(_("Generate with it in the **Generate** tab (model: 'Model trained in this session')."))

# =============================================================================================
# Side by side
# =============================================================================================
with tab_cmp:
    if tab_cmp.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Three cells, one budget. The parameter count is matched by choosing the hidden size: a layer "
            "has one weight block for the RNN, three for the GRU (reset, update, candidate) and four for the "
            "LSTM (input, forget, cell, output), so the RNN gets the widest hidden state."))
        st.latex(r"\text{params} \approx V E + g\,H\,(E + H + 2) + H V + V,\qquad g_{\mathrm{RNN}}=1,\ "
                 r"g_{\mathrm{GRU}}=3,\ g_{\mathrm{LSTM}}=4")
        e1, e2, e3 = st.columns(3)
        e1.select_slider(_("Parameters per model"), PARAM_CHOICES, key="rnn_cmp_params",
                         format_func=lambda n: f"{n // 1000}k")
        e2.number_input(_("Max steps per model"), 1, MAX_STEPS, step=50, key="rnn_cmp_steps")
        e3.number_input(_("Max seconds per model"), 1, 60, step=5, key="rnn_cmp_seconds")
        st.caption(_("Uses the corpus, batch size, sequence length, learning rate and clipping from the **Train** tab."))
        if st.button(_("⚖️ Train all three"), key="rnn_cmp_go", type="primary"):
            corpus = _chosen_corpus()
            with guard(stop=False):
                if corpus is None:
                    raise ValueError(_("Choose a corpus (or upload a usable .txt file) in the Train tab first."))
                ss = st.session_state
                race = {"vocab": corpus.vocab, "corpus_name": corpus.name, "uniform": math.log(len(corpus.vocab))}
                st.session_state[COMPARE] = race
                tc = C.TrainConfig(batch_size=int(ss["rnn_batch"]), seq_len=int(ss["rnn_seq"]), lr=float(ss["rnn_lr"]),
                                   max_steps=int(ss["rnn_cmp_steps"]), max_seconds=float(ss["rnn_cmp_seconds"]),
                                   clip=float(ss["rnn_clip"]) if ss["rnn_clip_on"] else 0.0,
                                   eval_every=max(10, int(ss["rnn_cmp_steps"]) // 10), eval_chars=10_000,
                                   eval_every_s=float(ss["rnn_cmp_seconds"]) / 10)
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="rnn_cmp_stop")
                    bar = st.progress(0.0, text=_("starting…"))
                    last_t: dict[int, float] = {}  # cell index -> when its progress was last drawn

                    def on_step(i, cell, done, total, info, entry):
                        now = time.monotonic()
                        if done < total and now - last_t.get(i, 0.0) < 0.5:
                            return
                        last_t[i] = now
                        frac = max(done / total, entry["history"][-1]["time_s"] / tc.max_seconds)
                        bar.progress(min(1.0, (i + min(1.0, frac)) / 3),
                                     text=_("{cell} (H={hidden}): step {done} · loss {loss:.3f}").format(
                                         cell=cell.upper(), hidden=entry["hidden"], done=done, loss=info["loss"]))

                    # fills `race` (already in session_state) cell by cell: Stop keeps the cells trained so far
                    C.race(corpus, int(ss["rnn_cmp_params"]), tc, seed(), embed=32, results=race, on_step=on_step,
                           threads=TRAIN_THREADS)
                    bar.progress(1.0, text=_("done"))
        race = st.session_state.get(COMPARE)
        raced = [c for c in C.CELLS if race and c in race and race[c]["history"]]
        if raced:
            if len(raced) < len(C.CELLS):
                st.warning(_("The race was stopped early: showing the cells trained so far."))
            fig = _loss_figure({c: race[c]["history"] for c in raced},
                               _("RNN vs GRU vs LSTM on {corpus}").format(corpus=race["corpus_name"]), race["uniform"])
            st.plotly_chart(fig, width="stretch", key="rnn_cmp_curve")
            rows = []
            for c in raced:
                e = race[c]
                vals = [h["val_loss"] for h in e["history"] if "val_loss" in h]
                res = e.get("result")
                rows.append({_("cell"): C.CELL_LABELS[c], _("hidden size"): e["hidden"],
                             _("parameters"): C.count_params(e["model"]),
                             _("steps"): res.steps if res else len([h for h in e["history"] if "loss" in h]),
                             _("seconds"): round(res.seconds, 1) if res else None,
                             _("validation loss"): round(vals[-1], 4) if vals else None})
            table = pd.DataFrame(rows).set_index(_("cell"))
            st.dataframe(table, width="stretch")
            figure_downloads(fig, "rnn_vs_gru_vs_lstm", "rnn_cmp_dl", data=table)
            cols = st.columns(3)
            for col, c in zip(cols, raced):
                with col:
                    st.markdown(_("**{cell}** sample").format(cell=C.CELL_LABELS[c]))
                    st.text(race[c].get("sample", _("(stopped before the end)")))
        else:
            st.info(_("Click **Train all three** to race the cells (about 3 × the seconds budget)."))

# =============================================================================================
# Vanishing gradients & clipping
# =============================================================================================
with tab_vg:
    if tab_vg.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "How much does the loss at the **last** character depend on the state **k steps earlier**? "
            "Back-propagation multiplies one Jacobian per step:"))
        st.latex(r"\frac{\partial \mathcal{L}_T}{\partial h_{T-k}} = \frac{\partial \mathcal{L}_T}{\partial h_T}"
                 r"\prod_{t=T-k+1}^{T} \frac{\partial h_t}{\partial h_{t-1}}, \qquad "
                 r"\text{RNN: } \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(1-h_t^2)\,W_{hh}")
        st.markdown(_(
            "For a tanh RNN each factor has norm about $\\lVert W_{hh} \\rVert (1-h^2) < 1$, so the product "
            "shrinks **exponentially** in k: the gradient vanishes and the model cannot learn long-range "
            "dependencies. The LSTM's cell state is updated additively, $c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$, "
            "so $\\partial c_t / \\partial c_{t-1} = \\mathrm{diag}(f_t)$: with forget gates near 1 the gradient "
            "survives many steps (GRUs do the same with their update gate). The chart plots "
            "$\\lVert \\partial \\mathcal{L}_T / \\partial s_{T-k} \\rVert$ ($s$ = every layer's $h$, and $c$ for "
            "the LSTM), averaged over 8 random windows of the validation text, on a log scale."))
        v1, v2 = st.columns(2)
        v1.slider(_("Window length (steps back)"), 10, 200, step=10, key="rnn_vg_len")
        v2.checkbox(_("Normalise each curve to 1 at k = 0"), key="rnn_vg_norm")

        @st.cache_data(show_spinner=_("Back-propagating through fresh models…"), max_entries=16)
        def _fresh_profiles(params: int, length: int, seed_: int) -> dict:
            return C.fresh_grad_profiles(_bundled_corpus("shakespeare"), params, length, seed_)

        @st.cache_data(show_spinner=_("Back-propagating through the shipped LSTM…"), max_entries=16)
        def _shipped_profile(length: int, seed_: int) -> list[float]:
            bundle = _shipped()
            return C.grad_norm_profile(bundle.model, _bundled_corpus("shakespeare").val_ids, length, 8, seed_)

        profiles: dict[str, list[float]] = {}  # English name (picks colour and dash) -> norms
        shown: dict[str, str] = {}  # English name -> legend label in the visitor's language
        length = int(st.session_state["rnn_vg_len"])
        with guard(stop=False), queued("eval", 30):
            profiles.update(_fresh_profiles(int(st.session_state["rnn_cmp_params"]), length, seed()))
            shown.update({f"{c} (untrained)": _("{cell} (untrained)").format(cell=c) for c in C.CELLS})
            if _shipped_source() is not None:
                profiles["shipped LSTM (trained)"] = _shipped_profile(length, seed())
                shown["shipped LSTM (trained)"] = _("shipped LSTM (trained)")
            race = st.session_state.get(COMPARE)
            if race and all(c in race and "result" in race[c] for c in C.CELLS):
                race_corpus = _corpus_named(race["corpus_name"])
                if race_corpus is not None and len(race_corpus.vocab) == len(race["vocab"]):
                    for c in C.CELLS:
                        profiles[f"{c} (race, trained)"] = C.grad_norm_profile(
                            race[c]["model"], race_corpus.val_ids, length, 8, seed())
                        shown[f"{c} (race, trained)"] = _("{cell} (race, trained)").format(cell=c)
            sess = st.session_state.get(SESSION)
            sess_corpus = _corpus_named(sess["corpus_name"]) if sess is not None else None
            if sess_corpus is not None:
                profiles[f"{sess['model'].config.cell} (session, trained)"] = C.grad_norm_profile(
                    sess["model"], sess_corpus.val_ids, length, 8, seed())
                shown[f"{sess['model'].config.cell} (session, trained)"] = _("{cell} (session, trained)").format(
                    cell=sess["model"].config.cell)
        if profiles:
            fig = go.Figure()
            for name, norms in profiles.items():
                cell = name.split(" ")[0]
                ys = [n / norms[0] if st.session_state["rnn_vg_norm"] and norms[0] > 0 else n for n in norms]
                ys = [max(y, 1e-30) for y in ys]
                dash = "dot" if "untrained" in name else "solid"
                color = COLORS["shipped"] if name.startswith("shipped") else COLORS.get(cell, "#555")
                fig.add_scatter(x=list(range(len(ys))), y=ys, mode="lines", name=shown.get(name, name),
                                line=dict(color=color, dash=dash, width=2.5))
            fig.update_layout(title=_("Gradient norm vs distance from the predicted character"),
                              xaxis_title=_("k = steps before the last character"),
                              yaxis_title="‖∂L_T / ∂s_{T−k}‖"
                              + (" " + _("(relative)") if st.session_state["rnn_vg_norm"] else ""),
                              yaxis_type="log", height=420, margin=dict(l=10, r=10, t=40, b=10),
                              legend=dict(orientation="h", y=-0.25))
            st.plotly_chart(fig, width="stretch", key="rnn_vg_curve")
            frame = pd.DataFrame({shown.get(k, k): v for k, v in profiles.items()})
            frame.index.name = "k"
            figure_downloads(fig, "rnn_vanishing_gradients", "rnn_vg_dl", data=frame)
            st.caption(_("Dotted: freshly initialised models with equal parameter counts (the 'Parameters per model' "
                         "setting of the race). Solid: trained models. Race the cells or train a model to add them."))

        st.subheader(_("Gradient clipping"))
        st.markdown(_("When the product of Jacobians has norm > 1 the opposite happens: gradients **explode** and "
                      "one step can throw the weights far away. Clipping rescales the whole gradient when its norm "
                      "exceeds a threshold τ, keeping its direction:"))
        st.latex(r"g \leftarrow g \cdot \min\!\left(1, \frac{\tau}{\lVert g \rVert}\right)")
        sess = st.session_state.get(SESSION)
        steps = [h for h in sess["history"] if "grad_norm" in h] if sess else []
        if steps:
            fig = go.Figure()
            xs = [h["step"] for h in steps]
            fig.add_scatter(x=xs, y=[h["grad_norm"] for h in steps], mode="lines", name=_("‖g‖ before clipping"),
                            line=dict(color="#d62728", dash="dot", width=2.5))
            fig.add_scatter(x=xs, y=[h["clipped_norm"] for h in steps], mode="lines", name=_("‖g‖ after clipping"),
                            line=dict(color="#1f77b4"))
            fig.add_scatter(x=xs, y=[h["update_norm"] for h in steps], mode="lines", name=_("‖Δθ‖ (AdamW update)"),
                            line=dict(color="#2ca02c"), yaxis="y2")
            fig.update_layout(title=_("Gradient and update norms of the session model, step by step"),
                              xaxis_title=_("step"), yaxis_title=_("gradient norm"), yaxis_type="log",
                              yaxis2=dict(title=_("update norm"), overlaying="y", side="right", type="log",
                                          tickformat=".0e", showgrid=False),
                              height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
            st.plotly_chart(fig, width="stretch", key="rnn_clip_curve")
            clipped = sum(1 for h in steps if h["grad_norm"] > h["clipped_norm"] + 1e-12)
            st.caption(_("{clipped} of {total} steps were clipped. With AdamW the update size is set mostly by "
                         "the learning rate (Adam divides by a running RMS of the gradient), so clipping matters most "
                         "on spikes: it keeps a single exploding batch from dominating the running averages. "
                         "Try a plain RNN with a high learning rate, once with clipping off and once on.").format(
                             clipped=clipped, total=len(steps)))
            figure_downloads(fig, "rnn_clipping", "rnn_clip_dl", data=_history_frame(steps))
        else:
            st.info(_("Train a model in the **Train** tab to see its gradient norms before and after clipping "
                      "(a plain RNN with learning rate 0.02 shows spikes well)."))

sync_url()
