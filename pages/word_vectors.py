"""Word vectors: one-hot vs dense, analogies, neighbours and maps, a scoreboard, and word2vec
trained in the page. Thin UI: everything computed lives in core.embeddings.wordvec and core.embeddings.word2vec_train."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, progress_callback, queued,
                           run_through_entry_point, seed, sync_url, url_state)

run_through_entry_point()

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import sources, st_cache, textio
from core.embeddings import word2vec_train as w2v
from core.embeddings import wordvec
from core.i18n import N_, _
from core.plots import heatmap

st.title(_("Word vectors"))
st.caption(_(
    "A word embedding (词嵌入) gives every word a dense vector so that words used in similar contexts get "
    "similar vectors. Play with real GloVe vectors (400k words, offline) or train word2vec on your own text."
))

SOURCES = {"glove": _("GloVe 6B, 50-d (packaged, offline)"),
           "trained": _("word2vec trained in this session"),
           "hub": _("gensim-data vectors by name (needs network)")}
RESTRICT = [10_000, 30_000, 100_000, 300_000, 400_000]
DEFAULTS = {
    "wv_source": "glove", "wv_hub": "glove-wiki-gigaword-100",
    "wv_a": "man", "wv_b": "king", "wv_c": "woman", "wv_method": "3CosAdd", "wv_exclude": True,
    "wv_restrict": 100_000, "wv_topk": 10,
    "wv_word": "frog", "wv_nn_k": 10,
    "wv_preset": "gender pairs", "wv_map_words": wordvec.PRESETS["gender pairs"], "wv_proj": "PCA",
    "wv_dims": 2, "wv_arrows": True, "wv_map_analogy": True,
    "wv_onehot_words": "king, queen, man, woman, apple, orange",
}
url_state(DEFAULTS,
          choices={"wv_source": list(SOURCES), "wv_method": ["3CosAdd", "3CosMul"], "wv_restrict": RESTRICT,
                   "wv_preset": [*wordvec.PRESETS, "custom"], "wv_proj": ["PCA", "t-SNE"], "wv_dims": [2, 3]},
          bounds={"wv_topk": (1, 30), "wv_nn_k": (1, 30)})
# word2vec training settings: in the URL too, so they survive while their tab is closed (lazy tabs)
W2V_SAMPLES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
url_state({"wv_corpus": "lee", "wv_arch": "skip-gram", "wv_dim": 50, "wv_window": 5, "wv_negative": 5,
           "wv_sample": 1e-3, "wv_epochs": 15, "wv_min_count": 3},
          choices={"wv_corpus": ["lee", "shakespeare", "upload"], "wv_arch": ["skip-gram", "CBOW"],
                   "wv_sample": W2V_SAMPLES},
          bounds={"wv_dim": (10, w2v.MAX_DIM), "wv_window": (1, w2v.MAX_WINDOW), "wv_negative": (1, w2v.MAX_NEGATIVE),
                  "wv_epochs": (1, w2v.MAX_EPOCHS), "wv_min_count": (1, 20)})

# ---------------------------------------------------------------------------------------------
# which vectors
# ---------------------------------------------------------------------------------------------
# A training run that was stopped (any click interrupts it): keep the epochs it finished, whatever tab
# the click opened, so every tab can use those vectors at once.
_keep = st.session_state.get("wv_train_keep") or {}
if st.session_state.get("wv_train_running") and _keep.get("kv") is not None:
    st.session_state["wv_trained_kv"] = _keep["kv"]
    st.session_state["wv_train_running"] = False
    st.session_state["_wv_stopped_note"] = True  # the Train tab says so when it is next shown

top = st.columns([2, 2, 1])
top[0].selectbox(_("Vectors"), list(SOURCES), format_func=SOURCES.get, key="wv_source",
                 help=_("Every tool on this page (analogies, neighbours, maps, scoreboard) uses these vectors."))
if st.session_state["wv_source"] == "hub":
    top[1].text_input(_("gensim-data name"), key="wv_hub", max_chars=80,
                      help=_("e.g. glove-wiki-gigaword-100 or word2vec-google-news-300; downloaded once, needs network."))


def _load_glove():
    return st_cache.load("word_vectors", "glove-6b-50d")


def _vectors_label(name: str) -> str:
    """A vectors' name as shown: `name` stays the English key (scoreboard rows, caches); the session's
    own word2vec is shown in the visitor's language."""
    return _("word2vec (this session)") if name == "word2vec (this session)" else name


kv, kv_name = None, ""
choice = st.session_state["wv_source"]
if choice == "trained":
    kv = st.session_state.get("wv_trained_kv")
    kv_name = "word2vec (this session)"
    if kv is None:
        st.info(_("No word2vec trained in this session yet: train one in the **Train word2vec** tab. "
                  "Showing GloVe meanwhile."), icon="ℹ️")
elif choice == "hub":
    with guard(stop=False):
        kv = st_cache.load_source(sources.hub_source("word_vectors", st.session_state["wv_hub"]))
        kv_name = st.session_state["wv_hub"].strip()
    if kv is None:
        st.warning(_("Showing GloVe 6B 50-d instead."), icon="↩️")
if kv is None:
    with guard():
        kv = _load_glove()
    kv_name = "GloVe 6B 50d"
vocab = len(kv.index_to_key)


def _shared(fn, *args, **kwargs):
    """fn(kv, ...): shared by every session for GloVe and hub vectors (read-only), per session for
    vectors trained here."""
    if choice == "trained" and kv is st.session_state.get("wv_trained_kv"):
        return fn(kv, *args, **kwargs)
    return st_cache.shared(fn, kv, f"word_vectors/{kv_name}", *args, **kwargs)

top[-1].metric(_("Vocabulary"), f"{vocab:,}",
               help=_("{vectors}: {vocab:,} words × {dim} dimensions, most frequent first.").format(
                   vectors=_vectors_label(kv_name), vocab=vocab, dim=kv.vector_size))

tab_analogy, tab_maps, tab_onehot, tab_score, tab_train = lazy_tabs(
    [N_("🧮 Analogies"), N_("🗺️ Neighbours & maps"), N_("🔢 One-hot vs dense"), N_("🏁 Scoreboard"), N_("🏋️ Train word2vec")], key="wv_tab")

# ---------------------------------------------------------------------------------------------
# analogies
# ---------------------------------------------------------------------------------------------
analogy_result: list[tuple[str, float]] = []


def _analogy() -> list[tuple[str, float]]:
    """The analogy a : b :: c : ? with the Analogies tab's settings (the maps tab draws it too)."""
    return _shared(wordvec.analogy, st.session_state["wv_a"], st.session_state["wv_b"], st.session_state["wv_c"],
                   topk=st.session_state["wv_topk"], method=st.session_state["wv_method"],
                   exclude_inputs=st.session_state["wv_exclude"], restrict_vocab=st.session_state["wv_restrict"])

with tab_analogy:
    if tab_analogy.open is not False:  # lazy tabs: only the open tab's code runs
        left, right = st.columns([3, 2])
        with left:
            st.markdown(_("**a : b :: c : ?** — *man* is to *king* as *woman* is to …"))
            c1, c2, c3 = st.columns(3)
            c1.text_input("a", key="wv_a", max_chars=60)
            c2.text_input("b", key="wv_b", max_chars=60)
            c3.text_input("c", key="wv_c", max_chars=60)
            o1, o2, o3 = st.columns(3)
            o1.radio(_("Method"), ["3CosAdd", "3CosMul"], key="wv_method", horizontal=True)
            o2.select_slider(_("Vocabulary: top-N words"), RESTRICT, key="wv_restrict",
                             format_func=lambda n: f"{n // 1000}k",
                             help=_("Only the N most frequent words can be answers (and inputs). Rare words are "
                                    "noisy; restricting to frequent ones usually helps."))
            o3.slider(_("Answers"), 1, 30, key="wv_topk")
            st.checkbox(_("Exclude the input words from the answers"), key="wv_exclude",
                        help=_("b − a + c usually stays closest to b or c themselves (‘king’ is the nearest word to "
                               "king − man + woman), so the standard evaluation skips a, b and c."))
            if not st.session_state["wv_exclude"]:
                st.caption(_("Inputs included: expect *b* or *c* at the top — the offset b − a is small next to b itself."))
            with guard(stop=False):
                analogy_result = _analogy()
            if analogy_result:
                best = analogy_result[0][0]
                st.success(f"{st.session_state['wv_a']} : {st.session_state['wv_b']} :: "
                           f"{st.session_state['wv_c']} : **{best}**")
                col_word, col_score = _("word"), _("score")
                table = pd.DataFrame(analogy_result, columns=[col_word, col_score])
                table.index = range(1, len(table) + 1)
                fig = go.Figure(go.Bar(x=table[col_score][::-1], y=table[col_word][::-1], orientation="h",
                                       hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
                lo, hi = float(table[col_score].min()), float(table[col_score].max())
                fig.update_layout(height=max(220, 24 * len(table) + 60), margin=dict(l=10, r=10, t=30, b=10),
                                  title=_("{method} scores").format(method=st.session_state['wv_method']),
                                  xaxis_title=col_score,
                                  xaxis_range=[lo - 0.1 * (hi - lo + 1e-3) - 0.02, hi + 0.02])
                st.plotly_chart(fig, width="stretch", key="wv_analogy_chart")
                figure_downloads(fig, "analogy", "wv_analogy_dl", data=table)
        with right:
            st.markdown(_("**Cosine similarity (余弦相似度)** compares directions, not lengths:"))
            st.latex(r"\cos(u, v) = \frac{u \cdot v}{\lVert u \rVert\, \lVert v \rVert}")
            st.markdown(_("**3CosAdd** (vector offset): move from *c* by the offset *b − a*:"))
            st.latex(r"d^\ast = \arg\max_{d \notin \{a,b,c\}} \cos\!\big(d,\; \hat b - \hat a + \hat c\big)")
            st.markdown(_("**3CosMul** (Levy & Goldberg, 2014) multiplies instead of adding, so one large "
                          "similarity can't dominate; cosines are shifted to [0, 1] and ε = 0.001:"))
            st.latex(r"d^\ast = \arg\max_{d} \frac{\cos'(d,b)\,\cos'(d,c)}{\cos'(d,a) + \varepsilon}")
            st.latex(r"\cos'(x, y) = \tfrac{1}{2}\big(\cos(x, y) + 1\big)")

# ---------------------------------------------------------------------------------------------
# neighbours and maps
# ---------------------------------------------------------------------------------------------
def _apply_preset():
    preset = st.session_state["wv_preset"]
    if preset in wordvec.PRESETS:
        st.session_state["wv_map_words"] = wordvec.PRESETS[preset]


with tab_maps:
    if tab_maps.open is not False:  # lazy tabs: only the open tab's code runs
        n1, n2 = st.columns([1, 2])
        with n1:
            st.text_input(_("Nearest neighbours of"), key="wv_word", max_chars=60)
            st.slider(_("How many"), 1, 30, key="wv_nn_k")
            st.caption(_("Neighbours = the words with the highest cosine similarity (余弦相似度), within the "
                         "top-N vocabulary chosen in the Analogies tab."))
        with n2:
            with guard(stop=False):
                near = _shared(wordvec.neighbours, st.session_state["wv_word"], topk=st.session_state["wv_nn_k"],
                               restrict_vocab=st.session_state["wv_restrict"])
                near_df = pd.DataFrame(near, columns=[_("word"), _("cosine")])
                near_df.index = range(1, len(near_df) + 1)
                st.dataframe(near_df, width="stretch", height=min(400, 36 * len(near_df) + 40),
                             key="wv_nn_table")
        st.divider()
        m1, m2 = st.columns([1, 2])
        with m1:
            # labels made in this run (a format_func may be called outside the run's thread)
            preset_names = {**{p: _(p) for p in wordvec.PRESETS}, "custom": _("custom")}
            st.selectbox(_("Preset word list"), [*wordvec.PRESETS, "custom"], key="wv_preset", on_change=_apply_preset,
                         format_func=preset_names.get,
                         help=_("Presets are ordered in pairs (France, Paris, Germany, Berlin, …): arrows join each pair."))
            st.text_area(_("Words (comma separated, edit freely)"), key="wv_map_words", height=130, max_chars=3000)
            st.radio(_("Projection"), ["PCA", "t-SNE"], key="wv_proj", horizontal=True,
                     help=_("PCA keeps the directions of largest variance (linear: parallel offsets stay parallel). "
                            "t-SNE keeps neighbourhoods but bends distances and directions."))
            dim_names = {d: _("{d}-D").format(d=d) for d in (2, 3)}
            st.radio(_("Dimensions"), [2, 3], key="wv_dims", horizontal=True, format_func=dim_names.get)
            st.checkbox(_("Arrows between pairs (1st→2nd, 3rd→4th, …)"), key="wv_arrows")
            st.checkbox(_("Add the analogy (a→b and c→answer)"), key="wv_map_analogy")
            st.caption(_("PCA: centre the vectors, X = UΣVᵀ, plot the first 2–3 columns of UΣ."))
        with m2:
            with guard(stop=False):
                typed = wordvec.parse_words(st.session_state["wv_map_words"])
                arrows = wordvec.pair_arrows(typed) if st.session_state["wv_arrows"] else []
                highlight: set[str] = set()
                if st.session_state["wv_map_analogy"] and not analogy_result:
                    with guard(stop=False):  # the Analogies tab is closed (lazy tabs): compute it here
                        analogy_result = _analogy()
                if st.session_state["wv_map_analogy"] and analogy_result:
                    quad = [st.session_state[k].strip() for k in ("wv_a", "wv_b", "wv_c")] + [analogy_result[0][0]]
                    typed = typed + [w for w in quad if w.lower() not in {t.lower() for t in typed}]
                    arrows = arrows + [(quad[0], quad[1]), (quad[2], quad[3])]
                    highlight = set(quad)
                known, missing = wordvec.split_known(kv, typed)
                if missing:
                    st.warning(_("Not in the vocabulary, left out: {words}").format(words=", ".join(missing[:20])), icon="⚠️")
                arrows = [(kv.index_to_key[wordvec.word_index(kv, s)], kv.index_to_key[wordvec.word_index(kv, d)])
                          for s, d in arrows if s not in missing and d not in missing]
                highlight = {kv.index_to_key[wordvec.word_index(kv, w)] for w in highlight if w not in missing}
                vecs = kv.vectors[[kv.key_to_index[w] for w in known]]  # (n, D)
                coords = wordvec.project(vecs, st.session_state["wv_proj"], st.session_state["wv_dims"], seed=seed())
                fig = wordvec.map_figure(known, coords, arrows, highlight=highlight,
                                         title=_("{projection} of {n} words ({vectors})").format(
                                             projection=st.session_state['wv_proj'], n=len(known),
                                             vectors=_vectors_label(kv_name)))
                st.plotly_chart(fig, width="stretch", key="wv_map_chart")
                coord_df = pd.DataFrame(coords, index=known, columns=[_("axis{n}").format(n=i + 1) for i in range(coords.shape[1])])
                figure_downloads(fig, "word_map", "wv_map_dl", data=coord_df)

# ---------------------------------------------------------------------------------------------
# one-hot vs dense
# ---------------------------------------------------------------------------------------------
with tab_onehot:
    if tab_onehot.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "A **one-hot** code (独热编码) of word *w* in a vocabulary of V words is a V-long vector with a single 1. "
            "Any two different one-hot codes are orthogonal, so their cosine similarity is **0**: *king* is as far "
            "from *queen* as from *apple*. A **dense** vector (词嵌入) has a few dozen real numbers learned from text, "
            "and similar words get similar directions. The embedding matrix E (V × d) turns one into the other:"))
        st.latex(r"\mathbf{e}_w^\top E = E_{w,:}\qquad(\text{one-hot} \times \text{matrix} = \text{row lookup})")
        st.text_input(_("Words to compare (2–12, commas)"), key="wv_onehot_words", max_chars=300)
        with guard(stop=False):
            words = wordvec.parse_words(st.session_state["wv_onehot_words"], max_words=wordvec.MAX_ONEHOT_WORDS)
            demo = wordvec.one_hot_demo(kv, words)
            h1, h2 = st.columns(2)
            onehot_fig = heatmap(demo.onehot_cos, demo.words, demo.words, title=_("one-hot: cosine similarity"),
                                 zmin=-1, zmax=1, colorscale="RdBu")
            dense_fig = heatmap(demo.dense_cos, demo.words, demo.words, title=_("dense ({dim}-d): cosine similarity").format(dim=kv.vector_size),
                                zmin=-1, zmax=1, colorscale="RdBu")
            for fig in (onehot_fig, dense_fig):
                fig.update_xaxes(tickangle=-45)
            h1.plotly_chart(onehot_fig, width="stretch", key="wv_oh_heat")
            h2.plotly_chart(dense_fig, width="stretch", key="wv_dense_heat")
            w0, i0 = demo.words[0], demo.indices[0]
            st.markdown(_(
                "One-hot code of **{word}**: {vocab:,} numbers, all 0 except a 1 at index {index:,} (counting "
                "from 0; words are sorted by frequency). Multiplying it by E (a {vocab:,} × {dim} matrix) gives row {index:,} of E — "
                "checked on the real matrix: **{verdict}**. That is why "
                "frameworks implement embeddings as a lookup table instead of a matrix product.").format(
                    word=w0, vocab=demo.vocab_size, index=i0, dim=kv.vector_size,
                    verdict=_("equal") if demo.lookup_equal else _("NOT equal")))
            shown = min(kv.vector_size, 20)
            st.plotly_chart(heatmap(demo.dense_rows[:, :shown], [str(i) for i in range(shown)], demo.words,
                                    title=_("the rows E[w] (first {shown} of {dim} dimensions)").format(
                                        shown=shown, dim=kv.vector_size),
                                    colorscale="RdBu", text_fmt=None, x_title=_("dimension"), y_title=_("word")),
                            width="stretch", key="wv_rows_heat")

# ---------------------------------------------------------------------------------------------
# scoreboard
# ---------------------------------------------------------------------------------------------
scores: dict = st.session_state.setdefault("wv_scores", {})
with tab_score:
    if tab_score.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "**Google analogy set** (Mikolov et al., 2013): 19,544 questions *a : b :: c : d* in 14 sections "
            "(capitals, currencies, plurals, tenses, …). Accuracy = share of questions whose 3CosAdd answer "
            "(inputs excluded) is exactly *d*; questions with a word outside the top-300k are skipped, as in gensim. "
            "**WordSim-353** and **SimLex-999**: Spearman rank correlation ρ between cosine similarity and human "
            "ratings (SimLex rates similarity, not relatedness: *coffee–cup* scores low there)."))
        st.latex(r"\rho = \operatorname{corr}\big(\operatorname{rank}(\cos(w_1,w_2)),\ "
                 r"\operatorname{rank}(\text{human score})\big)")
        st.caption(_("How it is fast: a question is right exactly when its expected word *d* beats every other word, "
                   "so *d*'s score is one dot product and the vocabulary is scanned in batched products, Q (2048 × d) @ "
                   "Ûᵀ, most frequent words first; a question drops out as soon as any word beats *d*. Wrong answers "
                   "are usually beaten within the first few thousand words, so only right ones cost a full pass. Same "
                   "accuracy as gensim's evaluate_word_analogies (one question at a time against all 300k words), "
                   "20–30× faster."))
        if st.button(_("Run the scoreboard on {vectors}").format(vectors=_vectors_label(kv_name)), key="wv_score_run",
                     type="primary"):
            with guard(stop=False):
                on_step, bar = progress_callback(_("Analogy questions"))
                with queued("eval", 30):
                    result = wordvec.scoreboard(kv, restrict_vocab=300_000, on_step=on_step)
                bar.empty()
                scores[kv_name] = result
                st.toast(_("Scored {questions:,} questions in {seconds:.1f} s").format(
                    questions=result['analogies'].total, seconds=result['analogies'].seconds))
        if scores:
            rows = []
            col_vectors, col_accuracy, col_seconds = _("vectors"), _("analogy accuracy"), _("seconds")
            for name, res in scores.items():
                an = res["analogies"]
                row = {col_vectors: _vectors_label(name), col_accuracy: an.accuracy, _("answered"): an.total,
                       _("skipped"): an.skipped, col_seconds: round(an.seconds, 2)}
                for pair_set in ("WordSim-353", "SimLex-999"):
                    val = res[pair_set]
                    row[f"{pair_set} ρ"] = val.spearman if isinstance(val, wordvec.PairScore) else None
                rows.append(row)
            summary = pd.DataFrame(rows).set_index(col_vectors)
            st.dataframe(summary.style.format({col_accuracy: "{:.3f}", "WordSim-353 ρ": "{:.3f}",
                                               "SimLex-999 ρ": "{:.3f}", col_seconds: "{:.1f}"}, na_rep="—"),
                         width="stretch", key="wv_score_table")
            fig = go.Figure()
            per_section = {}
            for name, res in scores.items():
                secs = res["analogies"].sections
                label = _vectors_label(name)
                per_section[label] = {s["section"]: s["accuracy"] for s in secs}
                fig.add_trace(go.Bar(x=[s["section"] for s in secs], y=[s["accuracy"] for s in secs], name=label,
                                     customdata=[[s["correct"], s["total"]] for s in secs],
                                     hovertemplate="%{x}: %{y:.3f} (%{customdata[0]}/%{customdata[1]})<extra>" + label + "</extra>"))
            fig.update_layout(barmode="group", title=_("Analogy accuracy per section"), yaxis_title=_("accuracy"),
                              yaxis_range=[0, 1], height=420, margin=dict(l=10, r=10, t=40, b=10))
            st.plotly_chart(fig, width="stretch", key="wv_score_chart")
            for name, res in scores.items():
                for pair_set in ("WordSim-353", "SimLex-999"):
                    if isinstance(res[pair_set], str):
                        st.caption(f"{_vectors_label(name)} · {pair_set}: {res[pair_set]}")
            figure_downloads(fig, "scoreboard", "wv_score_dl", data=pd.DataFrame(per_section))
        else:
            st.info(_("Press the button to score the selected vectors (GloVe: ~6 s on an idle 2-core CPU, longer when the "
                      "server is busy). Train word2vec and "
                      "score it too to compare them side by side."), icon="🏁")

# ---------------------------------------------------------------------------------------------
# training word2vec
# ---------------------------------------------------------------------------------------------
with tab_train:
    if tab_train.open is not False:  # lazy tabs: only the open tab's code runs
        t1, t2 = st.columns([3, 2])
        with t2:
            st.markdown(_("**Skip-gram (跳字模型)** predicts each context word c from the centre word w; "
                          "**CBOW (连续词袋模型)** predicts w from the average of its context. "
                          "With **negative sampling (负采样)** each true pair is contrasted with K random words:"))
            # two lines: in this narrow column one line ran past the right edge
            st.latex(r"\begin{aligned}&\log \sigma(u_c^\top v_w) \\ &+ \textstyle\sum_{k=1}^{K} "
                     r"\log \sigma(-u_{n_k}^\top v_w),\\ &n_k \sim P(w)^{3/4}\end{aligned}")
            st.markdown(_("**Sub-sampling (下采样)** drops frequent words: a word with frequency f is kept with "
                          "probability (√(f/t) + 1)·t/f, so *the*, *and* stop crowding every window."))
        with t1:
            # labels made in this run (a format_func may be called outside the run's thread)
            corpus_names = {**{c: _(label) for c, label in w2v.BUNDLED.items()}, "upload": _("Upload a .txt file")}
            st.radio(_("Corpus"), ["lee", "shakespeare", "upload"], key="wv_corpus", horizontal=True,
                     format_func=corpus_names.get)
            if st.session_state.get("wv_corpus") == "upload":
                st.file_uploader(_("Plain-text file (UTF-8, at most {mb} MB)").format(
                                     mb=textio.MAX_UPLOAD_BYTES // 1024 // 1024),
                                 type=["txt"], key="wv_upload")
            a1, a2, a3 = st.columns(3)
            a1.radio(_("Model"), ["skip-gram", "CBOW"], key="wv_arch", horizontal=True)
            a2.slider(_("Dimension"), 10, w2v.MAX_DIM, step=10, key="wv_dim")
            a3.slider(_("Window"), 1, w2v.MAX_WINDOW, key="wv_window")
            b1, b2, b3 = st.columns(3)
            b1.slider(_("Negative samples K"), 1, w2v.MAX_NEGATIVE, key="wv_negative")
            b2.select_slider(_("Sub-sampling t"), W2V_SAMPLES, key="wv_sample",
                             format_func=lambda t, off=_("off"): off if t == 0 else f"{t:g}")
            b3.slider(_("Epochs"), 1, w2v.MAX_EPOCHS, key="wv_epochs",
                      help=_("Small corpora need many passes: with 5 epochs on the Lee corpus every word still looks alike."))
            st.slider(_("Minimum count"), 1, 20, key="wv_min_count",
                      help=_("Words seen fewer times are left out of the vocabulary."))
            st.caption(_("Limits: {epochs} epochs, {dims} dimensions, tokens × epochs ≤ "
                         "{tokens:,}, uploads ≤ {mb} MB. "
                         "Clicking anything while training stops it (the epochs done so far are kept).").format(
                           epochs=w2v.MAX_EPOCHS, dims=w2v.MAX_DIM, tokens=w2v.MAX_TOKENS_X_EPOCHS,
                           mb=textio.MAX_UPLOAD_BYTES // 1024 // 1024))
            train_clicked = st.button(_("Train word2vec"), key="wv_train", type="primary")
        if train_clicked:
            with guard(stop=False):
                corpus = st.session_state["wv_corpus"]
                if corpus == "upload":
                    upload = st.session_state.get("wv_upload")
                    if upload is None:
                        raise ValueError(_("Upload a .txt file first, or pick a bundled corpus."))
                    text = textio.decode_upload(upload.getvalue(), what="uploaded corpus")  # textio translates `what`
                else:
                    text = w2v.bundled_text(corpus)
                sentences = w2v.tokenize(text)
                config = w2v.W2VConfig(sg=st.session_state["wv_arch"] == "skip-gram",
                                       vector_size=st.session_state["wv_dim"], window=st.session_state["wv_window"],
                                       negative=st.session_state["wv_negative"], sample=st.session_state["wv_sample"],
                                       epochs=st.session_state["wv_epochs"], min_count=st.session_state["wv_min_count"],
                                       seed=seed() % (2**31))
                # Model and history go into the session before the loop: a stopped run keeps its epochs.
                history: list = []
                keep: dict = {}
                st.session_state["wv_train_history"] = history
                st.session_state["wv_train_keep"] = keep
                st.session_state["wv_train_info"] = {"corpus": w2v.BUNDLED.get(corpus, N_("uploaded text")),
                                                     **w2v.corpus_stats(sentences), **w2v.config_dict(config)}
                on_step, bar = progress_callback(_("Training word2vec · epoch"), every_s=0.0)
                with queued("train", 30):
                    st.session_state["wv_train_running"] = True  # stays True if the run is interrupted
                    # [0]: the history is filled in place (`_` is the translation function on this page)
                    trained = w2v.train_word2vec(sentences, config, on_step=on_step, history=history, keep=keep)[0]
                st.session_state["wv_train_running"] = False
                st.session_state["wv_trained_kv"] = trained
                st.session_state.get("wv_scores", {}).pop("word2vec (this session)", None)
                bar.progress(1.0, text=_("Trained {epochs} epochs · {words:,} words").format(
                    epochs=len(history), words=len(trained.index_to_key)))
        if st.session_state.pop("_wv_stopped_note", False):
            st.info(_("Training was stopped after {epochs} epoch(s); those vectors are kept.").format(
                        epochs=len(st.session_state.get('wv_train_history') or [])), icon="⏹️")
        trained = st.session_state.get("wv_trained_kv")
        history = st.session_state.get("wv_train_history") or []
        if trained is not None:
            info = st.session_state.get("wv_train_info", {})
            st.success(_("Trained vectors in this session: {words:,} words × {dim} "
                         "dimensions, {epochs} epochs on {corpus} "
                         "({tokens:,} tokens). Choose *{source}* at the top to use every "
                         "tool on them.").format(
                           words=len(trained.index_to_key), dim=trained.vector_size, epochs=len(history),
                           corpus=_(info["corpus"]) if "corpus" in info else _("a corpus"),
                           tokens=info.get('tokens', 0), source=SOURCES['trained']), icon="✅")
            st.button(_("Use these vectors in every tab"), key="wv_use_trained",
                      on_click=lambda: st.session_state.update(wv_source="trained"),
                      disabled=st.session_state["wv_source"] == "trained")
            r1, r2 = st.columns([2, 3])
            with r1:
                if history:
                    hist_df = pd.DataFrame(history).set_index("epoch")
                    loss_fig = go.Figure(go.Scatter(x=hist_df.index, y=hist_df["loss"], mode="lines+markers"))
                    loss_fig.update_layout(title=_("Training loss per epoch"), xaxis_title=_("epoch"),
                                           yaxis_title=_("loss"), height=300, margin=dict(l=10, r=10, t=40, b=10))
                    st.plotly_chart(loss_fig, width="stretch", key="wv_loss_chart")
                    st.caption(_("gensim's negative-sampling loss summed over each epoch; it is a rough signal "
                                 "(the learning rate decays linearly to ~0, so late epochs change little)."))
                st.download_button(_("Download vectors (word2vec text format)"), w2v.to_word2vec_text(trained),
                                   file_name="word2vec.txt", mime="text/plain", key="wv_download")
            with r2:
                probe_default = next((w for w in ("government", "love", "king", "good") if w in trained.key_to_index),
                                     trained.index_to_key[min(50, len(trained.index_to_key) - 1)])
                st.session_state.setdefault("wv_probe", probe_default)
                st.text_input(_("Neighbours in your trained vectors"), key="wv_probe", max_chars=60)
                with guard(stop=False):
                    probe = wordvec.neighbours(trained, st.session_state["wv_probe"], topk=10)
                    probe_df = pd.DataFrame(probe, columns=[_("word"), _("cosine")])
                    probe_df.index = range(1, len(probe_df) + 1)
                    st.dataframe(probe_df, width="stretch", key="wv_probe_table")

sync_url()
