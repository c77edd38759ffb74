"""Test-wide settings: no network, few threads, a private model cache folder is NOT used
(the converted SmolLM2 in ~/.cache/nlp-playground is reused so the suite stays fast)."""
import os

# No network in tests: hub sources must fail fast with our offline message.
os.environ["NLP_PLAYGROUND_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Page tests run the app as it is served: lazy tabs, only the open tab's code runs. A test opens
# the tab it needs first (tests/pages/conftest.py: run_page(..., tab=...)).
# The app hides tracebacks from users (.streamlit/config.toml); tests want to see them.
os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def fresh_caches():
    """Clear Streamlit's data caches (and session-independent state) around a test.

    Loaded models in st.cache_resource are kept for speed; pass `clear_models=True` via
    `fresh_caches_with_models` when a test needs a cold load.
    """
    import streamlit as st

    from core.transformers import generate

    st.cache_data.clear()
    generate._results.clear()
    yield
    st.cache_data.clear()
    generate._results.clear()


@pytest.fixture
def fresh_caches_with_models(fresh_caches):
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
