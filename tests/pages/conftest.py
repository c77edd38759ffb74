from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def new_app(path: str, timeout: float = 120) -> AppTest:
    """AppTest for a file given relative to the repo root (not yet run)."""
    return AppTest.from_file(str(ROOT / path), default_timeout=timeout)


def run_page(path: str, timeout: float = 120, query: dict | None = None) -> AppTest:
    """Render a page file with AppTest and return it (already run once)."""
    at = new_app(path, timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def page(fresh_caches):
    return run_page
