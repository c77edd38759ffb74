"""The server: `streamlit run serve.py` serves streamlit_app.py, and warms it up before it says it is ready.

`streamlit run streamlit_app.py` starts answering at once, cold: the first visitors wait while one
thread imports the app (about 10 s here) and every page loads its models, all at the same time. A
class that opens a shared link together then waits 20-30 s for its first page (benchmarks/load.py).

This file is the same app as an ASGI server (`st.App`: Streamlit finds the `app` below and runs it
with uvicorn). Its lifespan runs before the server opens its port, so before `/_stcore/health`
answers: it imports the app, then (unless NLP_PLAYGROUND_LOW_MEMORY is set) renders the default
view of every page once in a session of its own, which loads each page's models into the caches
that all sessions share. Load balancers, Docker's HEALTHCHECK and Hugging Face Spaces send nobody
before the health check answers. Low-memory mode only imports: a page's models load when someone
opens it, as before.

    .venv/bin/streamlit run serve.py --server.port 8501      # what `make run` and the Dockerfile do
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

import streamlit as st

log = logging.getLogger("nlp_playground")

# The pages whose default view is rendered before the server answers (url paths: "" is the home page).
WARM_PAGES = ("", "glossary", "basics", "classic_nlp", "word_vectors", "lm_lineage", "rnn_text", "seq2seq",
              "attention", "transformer", "bert", "gpt", "classify")
PAGE_TIMEOUT_S = 180.0


async def render_once(page: str, timeout: float = PAGE_TIMEOUT_S) -> float:
    """Run streamlit_app.py once for `page` in a session with no browser (as Streamlit's script health
    check does); returns the seconds it took. Errors are logged by Streamlit like any visitor's."""
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.runtime import Runtime
    from streamlit.runtime.app_session import AppSession, AppSessionState
    from streamlit.runtime.script_data import ScriptData

    runtime = Runtime.instance()
    session = AppSession(script_data=ScriptData(runtime._main_script_path, False),
                         uploaded_file_manager=runtime._uploaded_file_mgr, script_cache=runtime._script_cache,
                         message_enqueued_callback=None, user_info={"email": "warm-up@localhost"})
    t0 = time.perf_counter()
    try:
        state = ClientState()
        state.page_name = page
        session.request_rerun(state)
        while time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.05)
            if session._scriptrunner is None and session._state == AppSessionState.APP_NOT_RUNNING:
                break
        return time.perf_counter() - t0
    finally:
        session.shutdown()


@asynccontextmanager
async def warm_up(_app):
    from core.preload import import_app
    from core.settings import LOW_MEMORY

    t0 = time.perf_counter()
    await asyncio.to_thread(import_app)
    done = [f"imports {time.perf_counter() - t0:.1f} s"]
    if not LOW_MEMORY:
        for page in WARM_PAGES:
            done.append(f"/{page} {await render_once(page):.1f} s")
    log.warning("warm-up before serving: %s; total %.1f s", ", ".join(done), time.perf_counter() - t0)
    yield


app = st.App("streamlit_app.py", lifespan=warm_up)
