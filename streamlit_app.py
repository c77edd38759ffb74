"""NLP Playground entry point: navigation over pages/, and the shared sidebar."""
from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

# First: this import makes the first run import the whole app in one thread (core/preload.py).
from pages._shared import (SEED_KEY, entry_point, leave_pages_directory_mode, reset_url_keys,  # isort: skip
                           sync_url, url_state)

import streamlit as st  # noqa: E402

from core.device import MAX_SEED, device_label  # noqa: E402

logging.basicConfig(level=logging.INFO)
leave_pages_directory_mode()
st.set_page_config(page_title="NLP Playground", page_icon="🧪", layout="wide")

PAGES = {
    "": [st.Page("pages/home.py", title="Home", icon="🏠", default=True)],
    "Embeddings": [st.Page("pages/word_vectors.py", title="Word vectors", icon="🔤")],
    "Sequence models": [
        st.Page("pages/rnn_text.py", title="RNN text generation", icon="🔁"),
        st.Page("pages/seq2seq.py", title="Seq2seq translation", icon="🌐"),
    ],
    "Transformers": [
        st.Page("pages/attention.py", title="Attention", icon="🎯"),
        st.Page("pages/bert.py", title="BERT fill-mask", icon="🎭"),
        st.Page("pages/gpt.py", title="GPT sampling", icon="✍️"),
    ],
}

page = st.navigation(PAGES)
reset_url_keys()  # each run, only the visible page's inputs go into the URL

with st.sidebar:
    st.caption(f"Device: **{device_label()}**")
    url_state({SEED_KEY: 0}, bounds={SEED_KEY: (0, MAX_SEED)})
    st.number_input("Global seed", min_value=0, max_value=MAX_SEED, step=1, key=SEED_KEY,
                    help="Every random choice (sampling, initialization, data order) is drawn from a "
                         "generator seeded with this number, so the same seed gives the same result.")
    link_box = st.container()

with entry_point():
    page.run()
sync_url()

# After the page ran, st.query_params holds its inputs: show a link that reopens this exact view.
with link_box:
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    query = urlencode({k: st.query_params[k] for k in st.query_params})
    url = f"{parts.scheme}://{parts.netloc}/{page.url_path}" + (f"?{query}" if query else "")
    with st.popover("🔗 Copy link to this view", use_container_width=True):
        st.caption("This link reopens this page with the same inputs (copy button on the right).")
        st.code(url, language=None)
