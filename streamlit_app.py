"""NLP Playground entry point: navigation in course order, and the shared sidebar."""
from __future__ import annotations

import copy
import logging
from urllib.parse import urlencode, urlsplit

# First: this import makes the first run import the whole app in one thread (core/preload.py).
from pages._shared import (LANG_KEY, SEED_KEY, choose_language, entry_point,  # isort: skip
                           leave_pages_directory_mode, once_per_process, reset_url_keys, sync_url, url_state)

import streamlit as st  # noqa: E402

from core import memory  # noqa: E402
from core.device import MAX_SEED, device_label, reset_threads  # noqa: E402
from core.i18n import LANGUAGES, _  # noqa: E402
from core.settings import LOW_MEMORY  # noqa: E402

logging.basicConfig(level=logging.INFO)
leave_pages_directory_mode()
st.set_page_config(page_title="NLP Playground", page_icon="🧪", layout="wide")

# The course's sections and pages, in the order the notes teach them. Titles are in both languages
# (the sidebar is read before anyone picks a language); the pages themselves follow the switch.
# Made once per process: st.Page resolves its file on the disk (a dozen system calls per page), and
# under load each system call is a wait for the GIL. Each run gets shallow copies: st.navigation and
# Page.run mark on the object which page this run may call.
COURSE = once_per_process("course_pages", lambda: {
    "": [st.Page("pages/home.py", title="首页 Home", icon="🏠", default=True),
         st.Page("pages/glossary.py", title="术语表 Glossary", icon="📖")],
    "基础 Basics": [st.Page("pages/basics.py", title="网络如何学习 How a network learns", icon="🧠")],
    "经典 NLP Classic NLP": [st.Page("pages/classic_nlp.py", title="分词与标注 Classic NLP", icon="✂️")],
    "词向量 Embeddings": [st.Page("pages/word_vectors.py", title="词向量 Word vectors", icon="🔤"),
                         st.Page("pages/lm_lineage.py", title="语言模型 Language models", icon="📜")],
    "序列模型 Sequence models": [
        st.Page("pages/rnn_text.py", title="RNN 文本生成 RNN text generation", icon="🔁"),
        st.Page("pages/seq2seq.py", title="Seq2seq 翻译 Seq2seq translation", icon="🌐"),
    ],
    "Transformer 家族 Transformers": [
        st.Page("pages/attention.py", title="注意力 Attention", icon="🎯"),
        st.Page("pages/transformer.py", title="Transformer 编码器-解码器 Transformer", icon="🏗️"),
        st.Page("pages/bert.py", title="BERT 完形填空 BERT fill-mask", icon="🎭"),
        st.Page("pages/gpt.py", title="GPT 采样 GPT sampling", icon="✍️"),
        st.Page("pages/classify.py", title="文本分类 Text classification", icon="🏷️"),
    ],
})
PAGES = {section: [copy.copy(p) for p in pages] for section, pages in COURSE.items()}

reset_threads()  # a script thread started while a model trained single-threaded inherited its 1 thread
page = st.navigation(PAGES, expanded=True)  # every page in sight: collapsed, the last three hid behind "View 3 more"
reset_url_keys()  # each run, only the visible page's inputs go into the URL
choose_language()  # this run's language: the switch below, a link's ?lang=, else the browser's

with st.sidebar:
    st.radio("Language · 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=LANG_KEY, horizontal=True)
    st.caption(_("Device: **{device}**").format(device=device_label()))
    url_state({SEED_KEY: 0}, bounds={SEED_KEY: (0, MAX_SEED)})
    st.number_input(_("Global seed"), min_value=0, max_value=MAX_SEED, step=1, key=SEED_KEY,
                    help=_("Every random choice (sampling, initialization, data order) is drawn from a generator "
                           "seeded with this number, so the same seed gives the same result."))
    link_box = st.container()

with entry_point():
    page.run()
sync_url()
if LOW_MEMORY:  # hand the page's freed temporaries back to the OS (core/memory.py)
    memory.trim()

# After the page ran, st.query_params holds its inputs: show a link that reopens this exact view.
with link_box:
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    query = urlencode({k: st.query_params[k] for k in st.query_params})
    url = f"{parts.scheme}://{parts.netloc}/{page.url_path}" + (f"?{query}" if query else "")
    with st.popover(_("🔗 Copy link to this view"), width="stretch"):
        st.caption(_("This link reopens this page with the same inputs and language (copy button on the right)."))
        st.code(url, language=None)
