"""Where the memory goes: resident memory (RSS) after each big import and after each page's default view.

    .venv/bin/python benchmarks/memory.py [page ...]            # every page, in course order
    NLP_PLAYGROUND_LOW_MEMORY=1 .venv/bin/python benchmarks/memory.py
One process, one visitor (AppTest runs the entry point and then each page, so models stay loaded as they do
in a server), who also does the page's main interaction of benchmarks/load.py (GPT: Generate): the growth per
line is what that import or page adds. The baseline in the same run is the bare
interpreter. For many visitors at once, use benchmarks/load.py (its peak_rss_mb is the server's).
Ends with: memory: python_mb=… imports_mb=… pages_mb=… peak_mb=… low_memory=…
"""
from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

PAGES = ["home", "glossary", "basics", "classic_nlp", "word_vectors", "lm_lineage", "rnn_text", "seq2seq",
         "attention", "transformer", "bert", "gpt", "classify"]
IMPORTS = ["numpy", "pandas", "plotly.graph_objects", "streamlit", "torch", "transformers", "sklearn.linear_model",
           "gensim", "jieba"]


def main() -> None:
    proc = psutil.Process()

    def rss() -> float:
        return proc.memory_info().rss / 2**20

    python = last = rss()
    peak = python
    print(f"{'python':34s} {python:7.0f} MB")
    for mod in IMPORTS:
        __import__(mod)
        now = rss()
        print(f"import {mod:27s} {now:7.0f} MB  (+{now - last:.0f})")
        last, peak = now, max(peak, now)
    from core import preload, settings

    preload.import_app()
    now = rss()
    print(f"{'the rest of the app (core.preload)':34s} {now:7.0f} MB  (+{now - last:.0f})")
    imports = last = now
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from load import INTERACTIONS

    for page in sys.argv[1:] or PAGES:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
        if page != "home":
            at.switch_page(f"pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        values, button = INTERACTIONS.get(page, ({}, None))
        if values or button:  # on the page file itself (an AppTest rerun through the entry point loses clicks)
            at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=600)
            at.run()
            for key, value in values.items():
                at.session_state[key] = value
            if button:
                at.button(key=button).click()
            at.run()
        gc.collect()
        now = rss()
        print(f"page {page:29s} {now:7.0f} MB  (+{now - last:.0f}; {time.perf_counter() - t0:.1f} s"
              f"{', EXCEPTION' if at.exception else ''})", flush=True)
        last, peak = now, max(peak, now)
    print(f"memory: python_mb={python:.0f} imports_mb={imports:.0f} pages_mb={last - imports:.0f} peak_mb={peak:.0f} "
          f"low_memory={int(settings.LOW_MEMORY)}")


if __name__ == "__main__":
    main()
