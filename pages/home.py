"""Home: the course as a map, each topic linking to the page and tab that teaches it."""

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import run_through_entry_point

run_through_entry_point()

import streamlit as st  # noqa: E402

from core.course import CURRICULUM  # noqa: E402
from core.i18n import _, language  # noqa: E402

st.title("NLP Playground")
st.markdown(_(
    "Learn how NLP works by **using** the models. The map follows the course notes: from the basics of how "
    "a network learns, through classic Chinese NLP and word vectors, to RNNs, seq2seq, attention, the "
    "Transformer, BERT and GPT. Every model runs right here, offline, on your own text. Click a topic to "
    "open the page and tab that teaches it."))


def _pair(zh: str, en: str) -> str:
    """A name in the interface's language; in English with the notes' Chinese term beside it."""
    return _(en) if language() == "zh" else f"{en} · {zh}"


# The course as a path, in the order of the notes: each section builds on the ones before it.
st.graphviz_chart(
    "digraph { rankdir=LR; node [shape=box, style=rounded, fontname=sans]; "
    + " ".join(f'"{i}" [label="{_pair(sec.zh, sec.en)}"];' for i, sec in enumerate(CURRICULUM))
    + " ".join(f'"{i}" -> "{i + 1}";' for i in range(len(CURRICULUM) - 1)) + " }", width="stretch")

PER_ROW = 3
for section in CURRICULUM:
    st.subheader(_pair(section.zh, section.en))
    topics = list(section.topics)
    for start in range(0, len(topics), PER_ROW):
        for col, topic in zip(st.columns(PER_ROW), topics[start:start + PER_ROW]):
            with col:
                link = topic.link()
                if not link:
                    coming = _("coming")
                    st.markdown(f"<span style='color:#999'>{_pair(topic.zh, topic.en)} · <i>{coming}</i></span>",
                                unsafe_allow_html=True)
                    continue
                try:
                    st.page_link(link["page"], label=_pair(topic.zh, topic.en),
                                 query_params=link["query_params"] or None, width="stretch")
                except Exception:  # noqa: BLE001 - run on its own (a test of this page): nothing to link into
                    st.markdown(_pair(topic.zh, topic.en))

st.caption(_(
    "Grey topics are coming. Everything works offline with packaged models (GloVe 6B 50-d, MiniLM-L6, "
    "SmolLM2-135M) and small models trained by scripts in this repository; Hugging Face Hub models are an "
    "extra when the machine has network. The 📖 Glossary lists every term in both languages."))
