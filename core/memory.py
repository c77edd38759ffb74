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


# ---------------------------------------------------------------------------------------------
# shared-library pages
# ---------------------------------------------------------------------------------------------
MADV_DONTNEED = 4  # Linux: drop the range from this process's page tables; file pages come back on the next touch
_LIBRARY = ".so"


def droppable_ranges(smaps: str) -> list[tuple[int, int, int]]:
    """(start, end, resident bytes) of the shared-library mappings in /proc/<pid>/smaps text whose resident
    pages are all clean copies of the file: read-only (no `w`) and no private (`Anonymous`) page. Writable
    mappings and the relocated read-only ones (RELRO: written at load time, then made read-only) hold
    copied pages, which dropping would replace with the file's original bytes; they are never listed."""
    maps: list[list] = []  # [start, end, eligible, rss, anonymous], one per mapping, in file order
    for line in smaps.splitlines():
        head = line.split(None, 5)
        if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start, end = (int(x, 16) for x in head[0].split("-"))
            perms = head[1]
            path = head[5] if len(head) > 5 else ""
            is_library = path.startswith("/") and (path.endswith(_LIBRARY) or f"{_LIBRARY}." in path)
            maps.append([start, end, is_library and "r" in perms and "w" not in perms, 0, 0])
        elif maps and head:
            if head[0] == "Rss:":
                maps[-1][3] = int(head[1]) * 1024
            elif head[0] == "Anonymous:":
                maps[-1][4] = int(head[1]) * 1024
    return [(start, end, rss) for start, end, eligible, rss, anonymous in maps if eligible and rss and not anonymous]


def release_library_pages() -> int:
    """Unmap the resident pages of this process's shared libraries that hold only clean file copies; return
    the bytes that were resident in them (Linux only; 0 elsewhere).

    Importing torch, transformers, scipy, Arrow ... touches much code that runs once (static initializers,
    module set-up); those pages stay mapped and count in RSS, though the kernel could drop them at any
    time. How many there are depends on the page cache, not on the app: right after an install, when the
    files are all cached, each page fault maps its cached neighbours too, and the same import left ~120 MB
    more resident (CI: 1,052 MB against 915 MB). Low-memory mode calls this once after the start-up
    import: code that runs again faults its page back in from the page cache (a minor fault, no disk read),
    code that never runs again stops counting."""
    try:
        with open("/proc/self/smaps", encoding="ascii", errors="replace") as fh:
            ranges = droppable_ranges(fh.read())
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, end, rss in ranges:
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += rss
    return released
