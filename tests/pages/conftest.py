import ast
import functools
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def new_app(path: str, timeout: float = 120) -> AppTest:
    """AppTest for a file given relative to the repo root (not yet run)."""
    return AppTest.from_file(str(ROOT / path), default_timeout=timeout)


@functools.lru_cache(maxsize=None)
def page_tabs(path: str) -> tuple[str, tuple[str, ...]]:
    """(tab key, tab labels) of a page's `lazy_tabs(labels, key=...)` call, read from its source."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_tabs":
            # labels are string literals, each marked for translation: N_("🏋️ Train")
            labels = tuple(ast.literal_eval(e.args[0] if isinstance(e, ast.Call) else e) for e in node.args[0].elts)
            key = next(ast.literal_eval(k.value) for k in node.keywords if k.arg == "key")
            return key, labels
    raise AssertionError(f"{path} has no lazy_tabs(...) call")


def tab_label(path: str, fragment: str) -> tuple[str, str]:
    """(tab key, the full label of the tab whose label contains `fragment`)."""
    key, labels = page_tabs(path)
    found = [label for label in labels if fragment.lower() in label.lower()]
    assert len(found) == 1, f"{fragment!r} matches {found} of {labels}"
    return key, found[0]


def new_app_at_tab(path: str, tab: str | None = None, timeout: float = 120) -> AppTest:
    """AppTest of a page (not yet run) that opens on the tab whose label contains `tab` (as a
    permalink does): only that tab's code runs, as for a visitor who opens it first."""
    at = new_app(path, timeout)
    if tab is not None:
        key, label = tab_label(path, tab)
        at.query_params[key] = label
    return at


def open_tab(at: AppTest, path: str, tab: str) -> AppTest:
    """Switch an AppTest that has run to another tab (as a click on it does) and rerun."""
    key, label = tab_label(path, tab)
    at.session_state[key] = label
    return at.run()


def run_page(path: str, timeout: float = 120, query: dict | None = None, tab: str | None = None) -> AppTest:
    """Render a page file with AppTest, opened on `tab` (a fragment of its label; default: the
    first tab), and return it (already run once)."""
    at = new_app_at_tab(path, tab, timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def problems(at: AppTest) -> list[str]:
    """Uncaught exceptions and our own "Something went wrong" boxes (a ValueError's message is fine: it
    tells the visitor what to change)."""
    return [f"exception: {e.value}" for e in at.exception] + \
           [f"error: {e.value}" for e in at.error if "Something went wrong" in str(e.value)]


def errors(at: AppTest) -> str:
    """Every error box's text, joined (to look for a fix-it message)."""
    return " ".join(str(e.value) for e in at.error)


@pytest.fixture
def page(fresh_caches):
    return run_page
