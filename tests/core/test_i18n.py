"""The 中文/English interface: every message of the app has a Chinese translation that keeps its
{placeholders}, the committed .mo matches the .po, the language is per visitor (thread), and no
page reaches into core's private names."""
import ast
import gettext
import importlib.util
import threading
from pathlib import Path

import pytest

from core import i18n

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "scripts" / "i18n.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_message_has_a_chinese_translation_with_its_placeholders():
    tool = _tool()
    problems = tool.problems(tool.read_catalog(), tool.extracted())
    assert not problems, "\n".join(problems[:40]) + "\n(run: .venv/bin/python scripts/i18n.py all)"


def test_the_committed_mo_is_compiled_from_the_po():
    tool = _tool()
    fresh = gettext.GNUTranslations(__import__("io").BytesIO(tool.compiled(tool.read_catalog())))
    committed = gettext.GNUTranslations(open(tool.MO, "rb"))
    assert fresh._catalog == committed._catalog, "run: .venv/bin/python scripts/i18n.py compile"


def test_placeholder_check_catches_a_dropped_placeholder():
    from babel.messages.catalog import Catalog

    tool = _tool()
    pot, po = Catalog(), Catalog(locale="zh_CN")
    pot.add("Trained {n} steps in {s:.1f} s")
    pot.add("Hello")
    po.add("Trained {n} steps in {s:.1f} s", "训练了 {n} 步")
    assert tool.problems(po, pot) == [
        "placeholders differ: 'Trained {n} steps in {s:.1f} s' -> '训练了 {n} 步'", "untranslated: 'Hello'"]


def test_language_is_per_thread_and_falls_back_to_english():
    msg = "Global seed"
    seen = {}

    def run(lang):
        i18n.set_language(lang)
        barrier.wait()
        seen[lang] = i18n._(msg)

    barrier = threading.Barrier(3)
    threads = [threading.Thread(target=run, args=(lang,)) for lang in ("en", "zh", "xx")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["en"] == msg and seen["xx"] == msg
    assert seen["zh"] != msg and any("\u4e00" <= ch <= "\u9fff" for ch in seen["zh"])
    assert i18n.from_locale("zh-CN") == "zh" and i18n.from_locale("en-US") == "en" and i18n.from_locale(None) == "en"


def test_tab_labels_are_translated():
    from tests.pages.conftest import page_tabs

    i18n.set_language("zh")
    try:
        for path in ("pages/word_vectors.py", "pages/rnn_text.py", "pages/seq2seq.py", "pages/bert.py", "pages/gpt.py"):
            for label in page_tabs(path)[1]:
                assert i18n._(label) != label, (path, label)
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py")))
def test_no_page_imports_a_private_core_name(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
            private += [a.name for a in node.names if a.name.startswith("_") and a.name != "_"]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            if isinstance(base, ast.Name) and base.id in _core_aliases(tree):
                private.append(f"{base.id}.{node.attr}")
    assert not private, f"{path} uses private core names: {private}"


def _core_aliases(tree) -> set[str]:
    """Names a page bound to core modules (`from core import x as X`, `import core.y`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core"):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("core")}
    return names


def test_nothing_shadows_the_translation_function():
    """`x, _ = f()` in a function that also calls `_()` makes `_` local there (UnboundLocalError),
    and at a page's top level it replaces the translation function for the rest of the run."""
    bad = []
    files = sorted([*(ROOT / "core").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "streamlit_app.py"])
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                                     ast.comprehension)) for n in ast.walk(f)}
        imports_it = any(isinstance(n, ast.ImportFrom) and any(a.name == "_" for a in n.names) for n in tree.body)
        top = [n for n in ast.walk(tree) if _stores_underscore(n) and id(n) not in nested]
        if imports_it and top:
            bad.append(f"{path.relative_to(ROOT)}:{top[0].lineno}: top-level assignment to _")
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            stores = [n for n in ast.walk(fn) if _stores_underscore(n)]
            calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "_"]
            if stores and calls:
                bad.append(f"{path.relative_to(ROOT)}:{stores[0].lineno}: {fn.name} assigns _ and calls _()")
    assert not bad, bad


def _stores_underscore(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
