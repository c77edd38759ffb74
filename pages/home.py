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
    """A name as the notes write it and in the interface's language (once, where they are the same)."""
    shown = _(en)
    if language() == "zh":
        return zh if shown == zh else f"{zh} · {shown}"
    return f"{shown} · {zh}"


def _name(topic) -> str:
    return _pair(topic.zh, topic.en)


cols = st.columns(len(CURRICULUM))
for col, section in zip(cols, CURRICULUM):
    with col:
        st.subheader(_pair(section.zh, section.en))
        for topic in section.topics:
            link = topic.link()
            if not link:
                coming = _("coming")
                st.markdown(f"<span style='color:#999'>{_name(topic)} · <i>{coming}</i></span>",
                            unsafe_allow_html=True)
                continue
            try:
                st.page_link(link["page"], label=_name(topic), query_params=link["query_params"] or None)
            except Exception:  # noqa: BLE001 - run on its own (a test of this page): nothing to link into
                st.markdown(_name(topic))

st.caption(_(
    "Grey topics are coming. Everything works offline with packaged models (GloVe 6B 50-d, MiniLM-L6, "
    "SmolLM2-135M) and small models trained by scripts in this repository; Hugging Face Hub models are an "
    "extra when the machine has network. The 📖 Glossary lists every term in both languages."))
