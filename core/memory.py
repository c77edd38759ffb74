"""Giving freed memory back to the operating system (low-memory mode; see README "Hosting").

CPython and the libraries under it allocate through glibc's malloc, which keeps freed blocks for reuse
instead of returning them: after a page built and dropped a large temporary (a corpus, a table of
n-gram counts, a batch of activations) the process stays as large as it was at its peak. On a host that
kills the app at 1 GB, that slack matters. `trim()` asks glibc to return the free pages of every arena
(`malloc_trim(0)`); the entry point calls it after each script run in low-memory mode, at most once a second.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

MIN_INTERVAL_S = 1.0  # a trim walks the heap (a few ms for ~1 GB): not after every one of many quick reruns

_lock = threading.Lock()
_last = 0.0
_libc = None


def _malloc_trim():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
            _libc = lib if lib is not None and hasattr(lib, "malloc_trim") else False
        except OSError:
            _libc = False
    return _libc.malloc_trim if _libc else None


def trim(force: bool = False) -> bool:
    """Return free heap pages to the OS (glibc only; elsewhere nothing happens). True when it trimmed."""
    global _last
    fn = _malloc_trim()
    if fn is None:
        return False
    with _lock:
        now = time.monotonic()
        if not force and now - _last < MIN_INTERVAL_S:
            return False
        _last = now
    fn(0)
    return True
