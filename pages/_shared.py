"""UI helpers every page uses: permalinks, error display, progress callbacks, downloads.

Pages are thin: they read widgets, call `core`, and render what comes back. Everything that
computes lives in `core/`.
"""
from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

from core.preload import import_app

import_app()  # the first run imports the whole app in one thread: core/preload.py says why

import streamlit as st  # noqa: E402
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

from core.device import MAX_SEED  # noqa: E402
from core.i18n import LANGUAGES, N_, _, from_locale, set_language  # noqa: E402

log = logging.getLogger("nlp_playground")


# Each script run happens in its session's own thread; the entry point marks the runs it wraps.
_run = threading.local()
ENTRY = "streamlit_app.py"


def leave_pages_directory_mode() -> None:
    """Called first by the entry point: end Streamlit's old multipage mode for the whole process.

    A `pages/` folder beside the entry point makes Streamlit start in that mode, until some script
    calls st.navigation: on a cold server every visitor who arrives before that runs a page file on
    its own (no sidebar, no shared setup). The first run of the entry point that sees the mode ends
    it and starts again, now as a normal run of the entry point.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@contextlib.contextmanager
def entry_point():
    """streamlit_app.py runs the chosen page inside this block."""
    _run.in_entry = True
    try:
        yield
    finally:
        _run.in_entry = False


def run_through_entry_point() -> None:
    """Called first by every page: a page run without the entry point reruns through it.

    That happens to visitors who opened a deep link on a cold server (see above). A page file run
    on its own on purpose (AppTest of one page) has itself as its main script and runs normally,
    in the language its URL asks for (`?lang=zh`).
    """
    if getattr(_run, "in_entry", False):
        return
    ctx = get_script_run_ctx()
    if ctx is not None and Path(ctx.pages_manager.main_script_path).name == ENTRY:
        PagesManager.uses_pages_directory = False
        st.rerun()
    choose_language()


_ONCE: dict[str, Any] = {}


def once_per_process(name: str, make: Callable[[], Any]) -> Any:
    """`make()` the first time `name` is asked for in this process, the same object afterwards.

    For UI objects that are the same for every session and costly to make on every run (the entry
    point's st.Page list). Two first runs at once may both call `make`; the first result is kept.
    """
    found = _ONCE.get(name)
    if found is None:
        found = _ONCE.setdefault(name, make())
    return found


LANG_KEY = "lang"  # session_state key and URL parameter: ?lang=zh opens the app in Chinese


def choose_language() -> str:
    """Set this run's language (core.i18n): the session's choice or the link's `lang`, else the
    browser's language (st.context.locale), else English."""
    try:
        locale = st.context.locale
    except Exception:  # noqa: BLE001 - no browser (tests) or an older Streamlit
        locale = None
    url_state({LANG_KEY: from_locale(locale)}, choices={LANG_KEY: list(LANGUAGES)})
    return set_language(st.session_state[LANG_KEY])


SEED_KEY = "app_seed"
_URL_KEYS = "_url_keys"  # session_state entry: widget keys mirrored into st.query_params


# ---------------------------------------------------------------------------------------------
# permalinks: a page's main inputs live in st.query_params so a copied URL reopens the same view
# ---------------------------------------------------------------------------------------------
def _coerce(raw: str, default: Any, choices: Iterable | None, bounds: tuple | None):
    """Turn a query-param string into the type of `default`; None if it does not fit."""
    try:
        if isinstance(default, bool):
            value = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif isinstance(default, int):
            value = int(float(raw))
        elif isinstance(default, float):
            value = float(raw)
            if not math.isfinite(value):
                return None
        else:
            value = str(raw)[:5000]
    except (TypeError, ValueError, OverflowError):
        return None
    if choices is not None and value not in list(choices):
        return None
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = bounds
        value = min(max(value, lo), hi)
    return value


def reset_url_keys() -> None:
    """Forget which keys the URL mirrors (the entry point calls this at the top of every run)."""
    st.session_state[_URL_KEYS] = {}


def url_state(defaults: dict[str, Any], choices: dict[str, Iterable] | None = None,
              bounds: dict[str, tuple] | None = None) -> None:
    """Seed widget keys from the URL (or their defaults) before the widgets are drawn.

    `defaults` maps full widget keys (e.g. "gpt_temperature") to default values; widgets are then
    created with `key=` and no `value=`. Choice widgets need their options in `choices` and
    numeric widgets their (min, max) in `bounds`, so a hand-edited URL can never break a widget.
    Call `sync_url()` after the widgets to write the current values back into the URL.
    """
    choices = choices or {}
    bounds = bounds or {}
    params = st.query_params
    url_keys = st.session_state.setdefault(_URL_KEYS, {})
    for key, default in defaults.items():
        url_keys[key] = default
        if key in st.session_state:
            # Re-assign so Streamlit treats it as set by us, not only by a widget: a widget that is not
            # drawn in a run (its lazy tab is closed) would otherwise be reset to its default.
            st.session_state[key] = st.session_state[key]
            continue
        value = None
        if key in params:
            value = _coerce(params[key], default, choices.get(key), bounds.get(key))
        st.session_state[key] = default if value is None else value


def sync_url(keys: Iterable[str] | None = None) -> None:
    """Mirror the current values of the page's URL keys into st.query_params."""
    url_keys = st.session_state.get(_URL_KEYS, {})
    keys = list(keys) if keys is not None else list(url_keys)
    wanted = {}
    for key in keys:
        if key in st.session_state:
            value = st.session_state[key]
            if isinstance(value, (str, int, float, bool)):
                wanted[key] = str(value)
    if SEED_KEY in st.session_state:
        wanted[SEED_KEY] = str(st.session_state[SEED_KEY])
    current = {k: st.query_params[k] for k in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def seed() -> int:
    """The global seed from the sidebar (pages may offer their own seed widget too)."""
    return int(st.session_state.get(SEED_KEY, 0))


# ---------------------------------------------------------------------------------------------
# errors: ValueError from core is the user's to fix; anything else is ours, logged, never shown raw
# ---------------------------------------------------------------------------------------------
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\*_$~"})  # what Markdown would eat ([MASK] is not a link)


def plain(text: str) -> str:
    """`text` escaped so that Markdown shows it as written: core's messages are plain text and quote what
    the visitor typed (x**2 was shown as a bold "2", __import__ as a bold "import"). Code spans in
    backticks still work."""
    return text.translate(_MARKDOWN)


@contextlib.contextmanager
def guard(stop: bool = True):
    """Show core's ValueError as st.error (and stop the page); hide tracebacks of real bugs."""
    try:
        yield
    except ValueError as exc:
        st.error(plain(str(exc)) or _("That input can't be used. Change it and try again."), icon="⚠️")
        if stop:
            st.stop()
    except Exception as exc:  # noqa: BLE001 - a user must never see a traceback
        log.error("unexpected error: %s\n%s", exc, traceback.format_exc())
        st.error(_("Something went wrong ({error}). Try other settings; if it keeps happening, please report "
                   "it with the link from the sidebar.").format(error=type(exc).__name__), icon="🚨")
        if stop:
            st.stop()


def run(fn: Callable, *args, **kwargs):
    """Call `fn` under `guard()` and return its result (the page stops on error)."""
    with guard():
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# waiting for a slot of heavy work
# ---------------------------------------------------------------------------------------------
KIND_NAMES = {"train": N_("training"), "generate": N_("generation"), "eval": N_("evaluation")}


@contextlib.contextmanager
def queued(kind: str, wait_s: float = 30.0):
    """Hold a slot of `core.limits.gate(kind)` for the block; while the server is busy, show the
    visitor their place in the queue (first come, first served). Past `wait_s` the gate raises a
    ValueError ("The server is busy ... try again"), which `guard()` shows."""
    from core.limits import gate

    box = st.empty()

    def on_wait(position: int) -> None:
        box.info(_("The server is busy. You are number {position} in the queue for a {kind} slot; this starts "
                   "by itself as soon as one is free.").format(position=position, kind=_(KIND_NAMES.get(kind, kind))),
                 icon="⏳")

    try:
        with gate(kind)(wait_s=wait_s, on_wait=on_wait):
            box.empty()
            yield
    finally:
        box.empty()


# ---------------------------------------------------------------------------------------------
# tabs
# ---------------------------------------------------------------------------------------------
def lazy_tabs(labels: list[str], key: str):
    """st.tabs whose hidden tabs run no code: switching tabs reruns the page with only the open tab.

    Pages guard each tab's body with `if tab.open is not False:`. `labels` are English: they are
    the tab's value in `st.session_state[key]` and in the permalink (so a link opens the same tab
    in either language, and tests open a tab by it); the tabs show them translated. The widget
    itself lives under another key, kept in step with `key` both ways: a click on a tab changes
    the widget, a permalink or a test changes `key`.
    """
    url_state({key: labels[0]}, choices={key: labels})
    shown = [_(label) for label in labels]
    widget, last = f"_{key}_shown", f"_{key}_last"
    state = st.session_state
    previous = state.get(last)  # (value, shown label) after the previous run
    clicked = state.get(widget)
    if previous is not None and clicked != previous[1] and clicked in shown and state[key] == previous[0]:
        state[key] = labels[shown.index(clicked)]  # the visitor clicked a tab
    state[widget] = shown[labels.index(state[key])]
    state[last] = (state[key], state[widget])
    return st.tabs(shown, key=widget, on_change="rerun")


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
# the names core's training loops give their progress figures (on_step's info dict)
INFO_NAMES = {"loss": N_("loss"), "epoch": N_("epoch"), "now": N_("now"), "val_loss": N_("val_loss")}


def progress_callback(label: str | None = None, every_s: float = 0.2):
    """An `on_step(done, total, info=None)` callback drawing an st.progress bar.

    Returns (callback, bar). Updates are throttled to one per `every_s` seconds.
    """
    label = label or _("Working…")
    bar = st.progress(0.0, text=label)
    last = [0.0]

    def on_step(done: int, total: int, info: dict | None = None) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < every_s:
            return
        last[0] = now
        frac = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
        extra = ""
        if info:
            extra = " · " + " · ".join(f"{_(INFO_NAMES.get(k, k))} {v:.3g}" if isinstance(v, float)
                                       else f"{_(INFO_NAMES.get(k, k))} {v}" for k, v in info.items())
        bar.progress(frac, text=f"{label} {done}/{total}{extra}")

    return on_step, bar


# ---------------------------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------------------------
def figure_downloads(fig, name: str, key: str, data=None) -> None:
    """Download buttons for a plotly figure (interactive HTML) and optionally its data as CSV.

    PNG export is built into every plotly chart (the camera icon in its toolbar). The files are made
    only when a button is pressed (deferred data): building a figure's HTML hashes the whole plotly.js
    bundle, which cost ~200 ms per figure on every rerun when it was done eagerly.
    """
    cols = st.columns(2 if data is not None else 1)
    cols[0].download_button(_("Download figure (HTML)"), lambda: fig.to_html(include_plotlyjs="cdn"),
                            file_name=f"{name}.html", mime="text/html", key=f"{key}_html")
    if data is not None:
        cols[1].download_button(_("Download data (CSV)"),
                                lambda: data.to_csv(index=True) if hasattr(data, "to_csv") else str(data),
                                file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv")


def placeholder(title: str, coming: list[str]) -> None:
    st.title(title)
    st.info(_("This page is being built. Coming here:") + "\n\n" + "\n".join(f"- {c}" for c in coming))


__all__ = ["choose_language", "LANG_KEY", "leave_pages_directory_mode", "entry_point", "run_through_entry_point", "lazy_tabs", "queued", "url_state", "sync_url", "seed", "guard", "run", "progress_callback", "figure_downloads",
           "placeholder", "SEED_KEY", "MAX_SEED"]
