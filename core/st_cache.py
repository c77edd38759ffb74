"""The one module in core/ that imports streamlit: loaders wrapped in st.cache_resource.

Cached models are shared by every session in the process, so they are read-only: pages never
train or mutate them (training works on a session-owned copy or a new model).
"""
from __future__ import annotations

import streamlit as st

from core import sources
from core.i18n import language
from core.settings import MAX_MODELS


# (a decorator's text is fixed for every visitor, so it is in both languages)
@st.cache_resource(max_entries=MAX_MODELS, show_spinner="Loading model (first time only)… 正在加载模型（仅首次）…")
def _load(family: str, kind: str, name: str, ref: str, loader: str):
    source = sources.Source(family, kind, name, name, ref, loader)
    return source.load()


def load_source(source: sources.Source):
    """Load a source once per process (keyed by strings) and return the shared bundle."""
    return _load(source.family, source.kind, source.name, source.ref, source.loader)


def load(family: str, name: str):
    """Load a registered source by family and name, e.g. load("word_vectors", "glove-6b-50d")."""
    return load_source(sources.get_source(family, name))


@st.cache_data(max_entries=512, show_spinner=False)
def _memo(model_key: str, fn_name: str, args: tuple, kwargs: tuple, lang: str, _model, _fn):
    return _fn(_model, *args, **dict(kwargs))


def shared(fn, model, model_key: str, *args, **kwargs):
    """`fn(model, *args, **kwargs)`, computed once per process for every session.

    For deterministic functions of a *shared* model (one that came from `load`/`load_source`, so it
    is never trained): `model_key` names the model (e.g. the source name), the other arguments must
    be hashable values. A ValueError is not cached, so the page shows it each time.
    """
    # the language is part of the key: a result may hold words in the visitor's language
    return _memo(model_key, f"{fn.__module__}.{fn.__qualname__}", args, tuple(sorted(kwargs.items())),
                 language(), model, fn)


def clear() -> None:
    _load.clear()
    _memo.clear()
