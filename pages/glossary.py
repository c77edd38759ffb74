"""Glossary: every term in English and Chinese, a one-line definition, and where the app shows it."""

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import run_through_entry_point, sync_url, url_state

run_through_entry_point()

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from core.course import GLOSSARY  # noqa: E402
from core.i18n import _  # noqa: E402

st.title(_("Glossary"))
st.caption(_("The terms of the course in English and Chinese (as the notes write them), with a one-line "
             "definition and the page that shows each one."))
url_state({"glossary_q": ""})
st.text_input(_("Search"), key="glossary_q", placeholder=_("a term in either language, e.g. 注意力 or beam"),
              max_chars=100)
query = st.session_state["glossary_q"].strip().lower()
rows = []
for term in GLOSSARY:
    definition = _(term.definition)
    if query and not any(query in s.lower() for s in (term.en, term.zh, definition)):
        continue
    rows.append((term, definition))
if not rows:
    st.info(_("No term matches {query!r}.").format(query=query))
for term, definition in rows:
    with st.container(border=True):
        c1, c2 = st.columns([2, 5])
        c1.markdown(f"**{term.en}**  \n{term.zh}")
        c2.markdown(definition)
        link = term.where.link() if term.where else {}
        if link:
            try:
                c2.page_link(link["page"], label=_("See it in the app →"), query_params=link["query_params"] or None)
            except Exception:  # noqa: BLE001 - run on its own (a test of this page): nothing to link into
                pass
        else:
            c2.caption(_("Coming to the app."))
table = pd.DataFrame([{"term": t.en, "术语": t.zh, "definition": d} for t, d in rows])
st.download_button(_("Download the glossary (CSV)"), table.to_csv(index=False).encode("utf-8-sig"),
                   file_name="glossary.csv", mime="text/csv", key="glossary_dl")
sync_url()
