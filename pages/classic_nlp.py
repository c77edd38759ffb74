"""Classic NLP: Chinese word segmentation (dictionary, bigram lattice, HMM, CRF), POS tagging and
NER, keywords and new words, all trained on People's Daily 1998 in the page. Thin UI over core.classic."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, queued, run_through_entry_point, sync_url,
                           url_state)

run_through_entry_point()

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from core import textio  # noqa: E402
from core.classic import corpus, crf, evaluation, hmm, keywords, segment  # noqa: E402
from core.i18n import N_, _  # noqa: E402
from core.plots import heatmap  # noqa: E402

MAX_CHARS = 200  # a sentence to segment or tag
MAX_DOC_CHARS = 20_000  # a document for keywords / new words
DIRECTIONS = {"forward": N_("forward"), "backward": N_("backward")}  # maximum matching, translated where shown
CRF_SECONDS = 50  # budget of a CRF trained in the page (CRFsuite passes are fixed before it starts)
EXAMPLES = {
    "研究生命起源": N_("交集型 ambiguity: 研究生 / 生命 overlap"),
    "结婚的和尚未结婚的": N_("交集型 ambiguity: 和尚 / 尚未"),
    "他从马上下来": N_("组合型 ambiguity: 马上 as one word or two"),
    "商品和服务": N_("交集型 ambiguity: 和服 / 服务"),
    "中国首都北京有故宫": N_("a plain sentence"),
}
DOC_DEFAULT = ("中共中央总书记、国家主席江泽民发表1998年新年讲话《迈向充满希望的新世纪》。"
               "江泽民指出，1997年是中国发展历史上非常重要的一年。中国人民决心继承邓小平同志的遗志，"
               "继续把建设有中国特色社会主义事业推向前进。中国政府顺利恢复对香港行使主权，"
               "并按照一国两制、港人治港、高度自治的方针保持香港的繁荣稳定。")

st.title(_("Classic NLP"))
st.caption(_("Chinese is written without spaces: before anything else, text must be cut into words (分词). "
             "Here you train the classic methods on People's Daily, January 1998 (PKU annotation, 19,484 "
             "sentences; every 10th sentence is held out for testing) and see why each step beats the last."))

url_state({"cl_text": "研究生命起源", "cl_lattice_text": "他从马上下来", "cl_tag_text": "江泽民在北京会见了美国客人。",
           "cl_doc": DOC_DEFAULT, "cl_window": 5, "cl_top": 10, "cl_dir": "forward"},
          choices={"cl_dir": ["forward", "backward"]},
          bounds={"cl_window": (2, 10), "cl_top": (3, 30)})
url_state({"cl_crf_seconds": CRF_SECONDS}, bounds={"cl_crf_seconds": (5, CRF_SECONDS)})


def _sentence(key: str) -> str:
    """The sentence in a text box, checked (empty, too long, no Chinese): ValueError to show."""
    text = textio.check_text(st.session_state[key], "sentence", MAX_CHARS).strip()
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        raise ValueError(_("Type a Chinese sentence (these methods segment Chinese characters), e.g. 研究生命起源."))
    return text


@st.cache_resource(show_spinner=False)
def _dictionary() -> segment.Dictionary:
    return segment.Dictionary.from_sentences(corpus.train_test()[0])


@st.cache_resource(show_spinner=False)
def _lattice_model() -> segment.BigramLattice:
    return segment.BigramLattice.train(corpus.train_test()[0])


@st.cache_resource(show_spinner=False)
def _timed_hmm_segmenter() -> tuple[hmm.HMMSegmenter, float]:
    """The HMM segmenter and the seconds its training took (the scoreboard shows them)."""
    t0 = time.perf_counter()
    model = hmm.HMMSegmenter.train(corpus.train_test()[0])
    return model, time.perf_counter() - t0


def _hmm_segmenter() -> hmm.HMMSegmenter:
    return _timed_hmm_segmenter()[0]


@st.cache_resource(show_spinner=False)
def _hmm_pos() -> hmm.HMMTagger:
    return hmm.HMMTagger.train(corpus.train_test()[0])


@st.cache_resource(show_spinner=False)
def _hmm_ner() -> hmm.HMMTagger:
    return hmm.HMMTagger.train_ner(corpus.train_test()[0])


@st.cache_resource(show_spinner=False)
def _shipped_crf(kind: str):
    return crf.load_shipped(kind)


def _crf(kind: str):
    """The CRF of a task: the one trained in this session if there is one, else the shipped one."""
    return st.session_state.get(f"_cl_crf_{kind}") or _shipped_crf(kind)


def _words_html(words: list[str]) -> str:
    return " <span style='color:#bbb'>/</span> ".join(words)


tab_mm, tab_lattice, tab_seq, tab_tag, tab_kw, tab_eval = lazy_tabs(
    [N_("✂️ Dictionary segmentation"), N_("🕸️ Bigram lattice"), N_("🏷️ HMM & CRF segmentation"),
     N_("🧩 POS tagging & NER"), N_("🔑 Keywords & new words"), N_("📊 Evaluation")], key="cl_tab")


# =============================================================================================
# Dictionary segmentation
# =============================================================================================
with tab_mm:
    if tab_mm.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "**Maximum matching** (最大匹配, 词典分词) needs only a dictionary: here, every word of the training "
            "split. Forward matching takes the longest dictionary word that starts at the current character, "
            "then moves on; backward matching does the same from the end of the sentence. **Bidirectional** "
            "matching runs both and keeps the one with fewer words, then fewer single characters, else the "
            "backward one. Two kinds of ambiguity trip them up: 交集型 (overlapping words, 研究生 / 生命) and "
            "组合型 (a word that is sometimes two, 马上)."))
        e1, e2 = st.columns([3, 2])
        e1.text_input(_("Sentence"), key="cl_text", max_chars=MAX_CHARS)
        example = e2.selectbox(_("Or an example"), ["", *EXAMPLES], key="cl_example",
                               format_func=lambda t: _(EXAMPLES[t]) + f": {t}" if t else "—")
        if example and example != st.session_state.get("_cl_example_used"):
            st.session_state["_cl_example_used"] = example
            st.session_state["cl_text"] = example
            st.rerun()
        with guard(stop=False):
            text = _sentence("cl_text")
            vocab = _dictionary()
            result = segment.compare_max_match(text, vocab)
            c1, c2, c3 = st.columns(3)
            c1.markdown(_("**Forward**") + "<br>" + _words_html(result["forward"]), unsafe_allow_html=True)
            c2.markdown(_("**Backward**") + "<br>" + _words_html(result["backward"]), unsafe_allow_html=True)
            c3.markdown(_("**Bidirectional**") + "<br>" + _words_html(result["chosen"]), unsafe_allow_html=True)
            st.caption(_("Bidirectional kept the {direction} result: {reason}").format(
                direction=_(DIRECTIONS[result["direction"]]), reason=result["reason"]))
            st.radio(_("Show the steps of"), list(DIRECTIONS), key="cl_dir", horizontal=True,
                     format_func=lambda d: _(DIRECTIONS[d]))
            steps = segment.max_match_steps(text[:segment.STEPS_MAX_CHARS], vocab,
                                            direction=st.session_state["cl_dir"])
            frame = pd.DataFrame([{_("window"): s["window"], _("in the dictionary?"): "✓" if s["matched"] else "✗",
                                   _("word taken"): s["taken"] or ""} for s in steps])
            st.dataframe(frame, hide_index=True, width="stretch", height=min(400, 36 + 35 * len(frame)))
            st.caption(_("The window starts at the longest dictionary word ({n} characters) and shrinks one "
                         "character at a time until it is a word (or a single character).").format(n=vocab.max_len))


# =============================================================================================
# Bigram lattice
# =============================================================================================
with tab_lattice:
    if tab_lattice.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "The **word lattice** (词网) holds every way to cut the sentence: each dictionary word (and each "
            "single character) is an edge from its first to just past its last character. A **bigram model** "
            "(二元语法) prices each edge by how likely the word is after the previous one, and Viterbi finds "
            "the cheapest path from start to end: context settles what the dictionary alone can't."))
        st.latex(r"\hat w = \arg\min_{w_1..w_m} \sum_{i} -\log P(w_i \mid w_{i-1}), \quad "
                 r"P(w \mid v) = \lambda \frac{c(v,w)}{c(v)} + (1-\lambda)\frac{c(w)+k}{N + k(V+1)}")
        st.text_input(_("Sentence"), key="cl_lattice_text", max_chars=segment.LATTICE_MAX_CHARS)
        with guard(stop=False):
            text = _sentence("cl_lattice_text")
            with st.spinner(_("Counting bigrams in the training split (once)…")):
                lat = _lattice_model().lattice(text)
            st.markdown(_("**Best path** (cost {cost:.2f}): {words}").format(cost=lat["cost"],
                                                                            words=_words_html(lat["best_words"])),
                        unsafe_allow_html=True)
            best = set(lat["best"])
            fig = go.Figure()
            for i, (a, b, word, weight) in enumerate(lat["edges"]):
                on_path = i in best
                xs = np.linspace(a, b, 24)
                height = 0.35 * (b - a) * (1 if lat["known"][i] else -1)
                ys = height * np.sin(np.pi * (xs - a) / max(b - a, 1e-9))
                fig.add_scatter(x=xs, y=ys, mode="lines", showlegend=False,
                                line=dict(color="#d62728" if on_path else "#9ecae1", width=4 if on_path else 1.5),
                                hovertemplate=f"{word}<br>-log P = {weight:.2f}<extra></extra>")
                fig.add_annotation(x=(a + b) / 2, y=height, text=f"{word} {weight:.1f}", showarrow=False,
                                   font=dict(size=13 if on_path else 10, color="#d62728" if on_path else "#555"),
                                   yshift=8 if height >= 0 else -8)
            fig.add_scatter(x=lat["nodes"], y=[0] * len(lat["nodes"]), mode="markers+text", showlegend=False,
                            text=[str(i) for i in lat["nodes"]], textposition="bottom center",
                            marker=dict(size=8, color="#333"), hoverinfo="skip")
            for i, ch in enumerate(text):
                fig.add_annotation(x=i + 0.5, y=0, text=ch, showarrow=False, font=dict(size=18), yshift=-22)
            fig.update_layout(title=_("Word lattice: each edge a word, cost −log P(w | previous word)"),
                              height=480, margin=dict(l=10, r=10, t=70, b=10),
                              xaxis=dict(visible=False), yaxis=dict(visible=False))
            st.plotly_chart(fig, width="stretch", key="cl_lattice")
            figure_downloads(fig, "word_lattice", "cl_lattice_dl",
                             data=pd.DataFrame(lat["edges"], columns=["start", "end", "word", "weight"]))
            st.caption(_("Red: the Viterbi path. Arcs below the line: single characters that are not dictionary "
                         "words. Smoothing: {formula}. Bidirectional maximum matching gives {mm}.").format(
                formula=lat["smoothing"], mm=" / ".join(segment.bidirectional_max_match(text, _dictionary()))))

# =============================================================================================
# Keywords & new words
# =============================================================================================
with tab_kw:
    if tab_kw.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Three ways to pick a document's keywords. **TF** counts words. **TF-IDF** multiplies the count by "
            "how rare the word is across many documents (jieba's IDF table), so words every text uses fall "
            "back. **TextRank** links words that occur within a window of each other and ranks them with "
            "PageRank: a word is important when important words stand near it. Only content words count "
            "(two or more Chinese characters, not a stop word)."))
        st.latex(r"\mathrm{tfidf}(w) = \frac{n_w}{\sum_v n_v}\cdot \log\frac{N}{\mathrm{df}(w)}, \qquad "
                 r"S(v_i) = (1-d) + d \sum_{v_j \in \mathrm{In}(v_i)} \frac{w_{ji}}{\sum_{v_k \in \mathrm{Out}(v_j)} w_{jk}} S(v_j)")
        st.text_area(_("Document"), key="cl_doc", height=150, max_chars=MAX_DOC_CHARS)
        k1, k2 = st.columns(2)
        k1.slider(_("Keywords to show"), 3, 30, key="cl_top")
        k2.slider(_("TextRank co-occurrence window"), 2, 10, key="cl_window")
        with guard(stop=False):
            words = keywords.words_of(textio.check_text(st.session_state["cl_doc"], "text", MAX_DOC_CHARS))
            top = int(st.session_state["cl_top"])
            tf = keywords.term_frequency(words, top=top)
            ti = keywords.tfidf(words, top=top)
            ranked, graph = keywords.textrank(words, window=int(st.session_state["cl_window"]), top=top)
            c1, c2, c3 = st.columns(3)
            for col, title, rows in ((c1, "TF", tf), (c2, "TF-IDF", ti), (c3, "TextRank", ranked)):
                col.markdown(f"**{title}**")
                col.dataframe(pd.DataFrame([{_("word"): r["word"], _("score"): round(r["score"], 4)} for r in rows]),
                              hide_index=True, width="stretch")
            # the co-occurrence graph, the top words bigger
            layout = graph["layout"]
            score = {n["word"]: n["score"] for n in graph["nodes"]}
            fig = go.Figure()
            for a, b, w in graph["edges"]:
                if a in layout and b in layout:
                    fig.add_scatter(x=[layout[a][0], layout[b][0]], y=[layout[a][1], layout[b][1]], mode="lines",
                                    line=dict(color="#ccc", width=min(4, 0.5 + w / 2)), hoverinfo="skip",
                                    showlegend=False)
            names = list(layout)
            fig.add_scatter(x=[layout[n][0] for n in names], y=[layout[n][1] for n in names], mode="markers+text",
                            text=names, textposition="top center", showlegend=False,
                            marker=dict(size=[8 + 400 * score.get(n, 0) for n in names], color="#1f77b4"),
                            hovertemplate="%{text}<extra></extra>")
            fig.update_layout(title=_("TextRank: the co-occurrence graph (the {n} best words)").format(n=len(names)),
                              height=460, margin=dict(l=10, r=10, t=60, b=10),
                              xaxis=dict(visible=False), yaxis=dict(visible=False))
            st.plotly_chart(fig, width="stretch", key="cl_textrank_graph")
            figure_downloads(fig, "textrank", "cl_kw_dl", data=pd.DataFrame(ranked))

        st.subheader(_("New words (新词提取)"))
        st.markdown(_(
            "A new word is a string that sticks together (**凝固度**: even its weakest split into two parts "
            "occurs far more often together than chance, pointwise mutual information) and is used freely "
            "(**自由度**: many different characters stand left and right of it, high neighbour entropy). "
            "No dictionary is needed: paste or upload a corpus."))
        st.latex(r"\mathrm{PMI}(w) = \min_{w = ab} \log \frac{p(w)}{p(a)\,p(b)}, \qquad "
                 r"H_{\mathrm{left}}(w) = -\sum_{c} p(c \mid \cdot\, w) \log p(c \mid \cdot\, w)")
        upload = st.file_uploader(_("Corpus (.txt, UTF-8, ≤ 2 MB; default: the document above)"), type=["txt"],
                                  key="cl_nw_upload")
        n1, n2, n3 = st.columns(3)
        n1.slider(_("Minimum count"), 2, 50, value=3, key="cl_nw_count")
        n2.slider(_("Minimum PMI (凝固度)"), 0.0, 8.0, value=3.0, step=0.5, key="cl_nw_pmi")
        n3.slider(_("Minimum entropy (自由度)"), 0.0, 3.0, value=1.0, step=0.1, key="cl_nw_entropy")
        only_new = st.checkbox(_("Only words jieba's dictionary lacks"), value=False, key="cl_nw_only_new")
        with guard(stop=False):
            text = (textio.decode_upload(upload.getvalue(), what="upload") if upload is not None
                    else st.session_state["cl_doc"])
            found = keywords.new_words(text, min_count=int(st.session_state["cl_nw_count"]),
                                       min_pmi=float(st.session_state["cl_nw_pmi"]),
                                       min_entropy=float(st.session_state["cl_nw_entropy"]), top=50,
                                       only_new=only_new)
            if not found:
                st.info(_("No string passes both thresholds: lower them, or use a longer corpus."))
            else:
                frame = pd.DataFrame(found)
                st.dataframe(frame, hide_index=True, width="stretch")
                st.download_button(_("Download the new words (CSV)"), frame.to_csv(index=False).encode("utf-8-sig"),
                                   file_name="new_words.csv", mime="text/csv", key="cl_nw_dl")


# =============================================================================================
# HMM & CRF segmentation (character tagging)
# =============================================================================================
with tab_seq:
    if tab_seq.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Segmentation as **sequence labelling** (序列标注): tag every character B (begins a word), M "
            "(middle), E (ends) or S (a one-character word). An **HMM** (隐马尔可夫模型) counts how tags follow "
            "each other (transitions) and which characters each tag emits (emissions), then Viterbi finds "
            "the likeliest tag sequence. A **CRF** (条件随机场) scores features of the whole window around "
            "each character (the character, its neighbours, character pairs), so it can tag names and "
            "numbers it never saw as words: dictionaries can't."))
        st.latex(r"\hat y = \arg\max_{y} \; \pi_{y_1} b_{y_1}(x_1) \prod_{t=2}^{T} a_{y_{t-1} y_t}\, b_{y_t}(x_t)")
        st.text_input(_("Sentence"), key="cl_text", max_chars=MAX_CHARS)
        own = st.file_uploader(_("Train the HMM on your own segmented corpus instead (.txt, one sentence a line, "
                                 "words separated by spaces; ≤ 2 MB)"), type=["txt"], key="cl_hmm_upload")
        with guard(stop=False):
            text = _sentence("cl_text")
            if own is None:
                with st.spinner(_("Training the HMM on the training split (a few seconds, once)…")):
                    hmm_seg = _hmm_segmenter()
                st.caption(_("HMM trained on the {n:,} training sentences of People's Daily.").format(
                    n=len(corpus.train_test()[0])))
            else:
                data = own.getvalue()
                cached = st.session_state.get("_cl_own_hmm")
                if cached is None or cached[0] != (own.name, len(data)):
                    sentences = corpus.parse_segmented(textio.decode_upload(data, what="upload"))
                    with queued("train", 30):
                        cached = ((own.name, len(data)), hmm.HMMSegmenter.train(sentences), len(sentences))
                    st.session_state["_cl_own_hmm"] = cached
                hmm_seg = cached[1]
                st.caption(_("HMM trained on your {n:,} sentences ({name}).").format(n=cached[2], name=own.name))
            probs = hmm_seg.tag_probabilities(text)
            crf_seg = _crf("seg")
            rows = [(_("Bidirectional maximum matching"), segment.bidirectional_max_match(text, _dictionary())),
                    (_("HMM (B/M/E/S, Viterbi)"), probs["words"]),
                    (_("CRF (this session)") if st.session_state.get("_cl_crf_seg") else _("CRF (shipped, CRFsuite)"),
                     crf_seg.segment(text)),
                    ("jieba", segment.jieba_segment(text))]
            for name, words in rows:
                st.markdown(f"**{name}** · {_words_html(words)}", unsafe_allow_html=True)
            st.caption(_("Try a sentence with a name the training text never saw, e.g. 王小鸭在长沙开了一家面馆: the "
                         "dictionary cuts the name into pieces, the taggers can keep it whole."))
            fig = heatmap(np.asarray(probs["probabilities"]).T, list(probs["chars"]), list(probs["states"]),
                          title=_("HMM: the probability of each tag at each character (forward-backward)"),
                          x_title=_("character"), y_title=_("tag"), zmin=0, zmax=1, text_fmt=".2f")
            st.plotly_chart(fig, width="stretch", key="cl_hmm_post")
            figure_downloads(fig, "hmm_tag_probabilities", "cl_hmm_post_dl",
                             data=pd.DataFrame(np.asarray(probs["probabilities"]), index=list(probs["chars"]),
                                               columns=list(probs["states"])))
            c1, c2 = st.columns(2)
            with c1:
                A = hmm_seg.hmm.A
                states = list(hmm_seg.hmm.states)
                fig_a = heatmap(A, states, states, title=_("HMM transitions p(next tag | tag)"), x_title=_("next tag"),
                                y_title=_("tag"), zmin=0, zmax=1, text_fmt=".2f")
                st.plotly_chart(fig_a, width="stretch", key="cl_hmm_trans")
                st.caption(_("The zeros are the impossible moves: B→B, B→S, M→B, M→S, E→M, E→E, S→M, S→E."))
            with c2:
                tag = st.radio(_("Characters a tag emits most"), list(states), horizontal=True, key="cl_emit_tag")
                st.dataframe(pd.DataFrame(hmm_seg.hmm.top_symbols(tag, 12), columns=[_("character"), "p"]),
                             hide_index=True, width="stretch")
            with st.expander(_("Train a CRF segmenter here (averaged perceptron, at most {s} s)").format(
                    s=CRF_SECONDS)):
                st.caption(_("CRFsuite trains on all {n:,} training sentences with the same features as the shipped "
                             "model, for as many passes as fit in the budget; the shipped one had 150 passes of "
                             "L-BFGS. This session then uses yours on every tab.").format(
                    n=len(corpus.train_test()[0])))
                st.slider(_("Seconds"), 5, CRF_SECONDS, step=5, key="cl_crf_seconds")
                if st.button(_("Train the CRF"), key="cl_crf_train"):
                    budget = int(st.session_state["cl_crf_seconds"])
                    with queued("train", 30), st.spinner(_("Training the CRF (up to {s} s)…").format(s=budget)):
                        st.session_state["_cl_crf_seg"] = crf.CRFSegmenter.train(corpus.train_test()[0],
                                                                                  seconds=budget)
                    st.rerun()
                if st.session_state.get("_cl_crf_seg") is not None:
                    st.success(_("Using the CRF trained in this session."))
            with st.expander(_("The CRF's strongest features and transitions")):
                st.dataframe(pd.DataFrame(crf_seg.top_features(15), columns=[_("feature"), _("tag"), _("weight")]),
                             hide_index=True, width="stretch")
                st.dataframe(pd.DataFrame([(a, b, round(w, 3)) for (a, b), w in crf_seg.transitions().items()],
                                          columns=[_("from"), _("to"), _("weight")]), hide_index=True, width="stretch")


# =============================================================================================
# POS tagging & NER
# =============================================================================================
with tab_tag:
    if tab_tag.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "**Part-of-speech tagging** (词性标注) gives each word its class (n noun, v verb, nr person name, "
            "ns place, nt organisation …); **named-entity recognition** (命名实体识别) marks the names as "
            "B-/I-/O spans of PER, LOC and ORG. The sentence is segmented by the shipped CRF first; the HMM "
            "and the CRF then tag the same words."))
        st.text_input(_("Sentence"), key="cl_tag_text", max_chars=MAX_CHARS)
        with guard(stop=False):
            text = _sentence("cl_tag_text")
            words = _crf("seg").segment(text)
            pos_hmm = _hmm_pos().tag(words)
            pos_crf = _crf("pos").tag(words)
            ner_hmm = _hmm_ner().tag(words)
            ner_crf = _crf("ner").tag(words, pos_crf)
            table = pd.DataFrame({_("word"): words, _("POS (HMM)"): pos_hmm, _("POS (CRF)"): pos_crf,
                                  _("NER (HMM)"): ner_hmm, _("NER (CRF)"): ner_crf})
            st.dataframe(table, hide_index=True, width="stretch")
            names = [(" ".join(words[s:e]) if False else "".join(words[s:e]), kind)
                     for s, e, kind in sorted(corpus.entities(ner_crf))]
            st.markdown(_("Entities found by the CRF: {names}").format(
                names=", ".join(f"**{n}** ({k})" for n, k in names) or "—"))
            st.caption(_("Scores on the whole test split, and a confusion matrix of the POS tags, are in the "
                         "📊 Evaluation tab."))
            with st.expander(_("The CRF's strongest features and transitions (POS)")):
                st.dataframe(pd.DataFrame(_crf("pos").top_features(15), columns=[_("feature"), _("tag"), _("weight")]),
                             hide_index=True, width="stretch")


# =============================================================================================
# Evaluation
# =============================================================================================
SCOREBOARD_LABELS = {**segment.METHOD_LABELS, "hmm": N_("HMM (B/M/E/S)"), "crf": N_("CRF (shipped)")}


@st.cache_data(show_spinner=False, max_entries=1)
def _scoreboard() -> dict:
    """Every model on the whole test split: numbers only, computed once per process for every visitor
    (labels are looked up in the visitor's language where shown)."""
    hp, hn = _hmm_pos(), _hmm_ner()
    hs, hmm_s = _timed_hmm_segmenter()
    cs, cp, cn = _shipped_crf("seg"), _shipped_crf("pos"), _shipped_crf("ner")
    seg = evaluation.segmenters({
        "hmm": (SCOREBOARD_LABELS["hmm"], hs.segment_clean, hmm_s),
        "crf": (SCOREBOARD_LABELS["crf"], cs.segment_clean, cs.info.seconds),
    })
    pos = evaluation.pos_scores({"HMM": hp.tag, "CRF": cp.tag})
    ner = evaluation.ner_scores({"HMM": lambda w, t: hn.tag(w), "CRF": lambda w, t: cn.tag(w, t)})
    return {"seg": seg, "pos": pos, "ner": ner}


with tab_eval:
    if tab_eval.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_(
            "Every model on the same held-out sentences (every 10th sentence of People's Daily, 1,948 "
            "sentences, 183k characters). **Precision** = right words / words the segmenter output, "
            "**recall** = right words / gold words, F1 their harmonic mean; **OOV recall** = the share of "
            "gold words that never occur in the training split and were still cut exactly. jieba is not "
            "trained on this corpus's standard (PKU), so its numbers are lower than its real quality."))
        if st.button(_("Score every model on the test split"), key="cl_eval_go", type="primary") or \
                st.session_state.get("_cl_eval_done"):
            with guard(stop=False), queued("eval", 60), st.spinner(_("Scoring (about half a minute the first "
                                                                     "time; then remembered for everyone)…")):
                board = _scoreboard()
                st.session_state["_cl_eval_done"] = True
                seg = pd.DataFrame([{_("segmenter"): _(SCOREBOARD_LABELS[r["method"]]), "P": round(r["precision"], 4),
                                     "R": round(r["recall"], 4), "F1": round(r["f1"], 4),
                                     _("OOV recall"): round(r["oov_recall"], 4),
                                     _("characters / s"): int(r["chars_per_s"]),
                                     _("training (s)"): round(r["train_s"], 1)} for r in board["seg"]])
                st.dataframe(seg, hide_index=True, width="stretch")
                fig = go.Figure()
                fig.add_bar(x=seg[_("segmenter")], y=seg["F1"], name="F1")
                fig.add_bar(x=seg[_("segmenter")], y=seg[_("OOV recall")], name=_("OOV recall"))
                fig.update_layout(barmode="group", title=_("Segmentation on the test split"), yaxis_range=[0, 1],
                                  height=380, margin=dict(l=10, r=10, t=60, b=10))
                st.plotly_chart(fig, width="stretch", key="cl_eval_seg")
                figure_downloads(fig, "segmentation_scores", "cl_eval_dl", data=seg)
                c1, c2 = st.columns(2)
                c1.markdown("**" + _(evaluation.TAGGER_LABELS["pos"]) + "**")
                c1.dataframe(pd.DataFrame([{_("model"): r["method"], _("accuracy"): round(r["accuracy"], 4),
                                            _("on unseen words"): round(r["oov_accuracy"], 4)}
                                           for r in board["pos"]["rows"]]), hide_index=True, width="stretch")
                c2.markdown("**" + _(evaluation.TAGGER_LABELS["ner"]) + "**")
                c2.dataframe(pd.DataFrame([{_("model"): r["method"], "P": round(r["precision"], 4),
                                            "R": round(r["recall"], 4), "F1": round(r["f1"], 4)}
                                           for r in board["ner"]]), hide_index=True, width="stretch")
                which = st.radio(_("Confusion matrix of"), list(board["pos"]["confusion"]), horizontal=True,
                                 key="cl_eval_cm")
                tags, matrix = board["pos"]["confusion"][which]
                share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
                fig_cm = heatmap(share, tags, tags, title=_("POS tags: gold (rows) vs predicted (columns), share of "
                                                            "each row"), x_title=_("predicted"), y_title=_("gold"),
                                 zmin=0, zmax=1, text_fmt=".2f")
                st.plotly_chart(fig_cm, width="stretch", key="cl_eval_cm_fig")
        else:
            st.info(_("Press the button to score every segmenter and tagger on the 1,948 test sentences."))

sync_url()
