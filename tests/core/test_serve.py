"""serve.py: the app as an ASGI server that warms itself up before its health check answers."""
import ast
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

import serve  # noqa: E402


def _course_url_paths() -> set[str]:
    """The url path of every st.Page in streamlit_app.py ("" for the default page)."""
    tree = ast.parse((ROOT / "streamlit_app.py").read_text(encoding="utf-8"))
    paths = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page":
            default = any(k.arg == "default" and getattr(k.value, "value", False) for k in node.keywords)
            paths.add("" if default else Path(node.args[0].value).stem)
    return paths


def test_the_warm_up_renders_every_page_of_the_course():
    assert len(serve.WARM_PAGES) == len(set(serve.WARM_PAGES))
    assert set(serve.WARM_PAGES) == _course_url_paths()


def test_streamlit_runs_serve_py_as_an_asgi_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "serve.py")
    assert found.is_asgi_app and found.import_string.endswith(":app")
    assert not discover_asgi_app(ROOT / "streamlit_app.py").is_asgi_app  # the script stays a script


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_health_answers_only_after_every_page_rendered_without_error(tmp_path):
    port = _free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("serve.py did not answer its health check within 400 s\n" + log_path.read_text()[-3000:])
        text = log_path.read_text(encoding="utf-8", errors="replace")  # the first answer came after the warm-up:
        warm = next((line for line in text.splitlines() if "warm-up before serving" in line), "")
        assert warm, text[-3000:]
        for page in serve.WARM_PAGES:
            assert f" /{page} " in warm, warm  # every page's default view was rendered
        assert "Traceback" not in text and "Uncaught app execution" not in text, text[-5000:]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
