"""The memory budget of low-memory mode (issue 23): a cold server in NLP_PLAYGROUND_LOW_MEMORY=1 mode, every
page's default view and main interaction visited (benchmarks/load.py --warmup), peak RSS within the limit.

The target is 1,000 MB (a free 1 GB host), and it is what the test enforces. RSS also counts the pages of shared
libraries (torch, Arrow, ...) the process has mapped, and how many of those are resident depends on the page
cache: in a venv installed minutes before (as CI's is) the same import left ~120 MB more resident (CI measured
1,052 MB where the development venv read 915 MB). Low-memory mode now unmaps the clean library pages after its
start-up import (core.memory.release_library_pages): one visitor on every page then peaks at ~840 MB here and
~865 MB with a fresh clone's venv. The anonymous part, which the kernel cannot drop, stays < 750 MB.

The server runs as a deployed one does: after scripts/prepare_models.py has made the converted files.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core import memory

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET_MB = 1000  # issue 23: fits a 1 GB host
LIMIT_MB = TARGET_MB
ANON_LIMIT_MB = 750  # the part that is not file-backed


@pytest.mark.slow
def test_low_memory_mode_stays_within_its_budget(tmp_path):
    env = {**os.environ, "NLP_PLAYGROUND_LOW_MEMORY": "1"}
    prep = subprocess.run([sys.executable, "scripts/prepare_models.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert prep.returncode == 0, prep.stdout[-2000:] + prep.stderr[-2000:]
    out = subprocess.run([sys.executable, "benchmarks/load.py", "--sessions", "1", "--seconds", "1", "--warmup",
                          "--log", str(tmp_path / "server.log")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    m = re.search(r"errors=(\d+).*peak_rss_mb=(\d+) peak_anon_mb=(\d+)", line)
    assert m, out.stdout[-2000:] + out.stderr[-2000:]
    errors, peak, anon = int(m[1]), int(m[2]), int(m[3])
    assert errors == 0, out.stdout[-3000:]
    assert peak <= LIMIT_MB, f"low-memory peak {peak} MB > {LIMIT_MB} MB (target {TARGET_MB})\n{out.stdout[-3000:]}"
    assert anon <= ANON_LIMIT_MB, f"low-memory anonymous peak {anon} MB > {ANON_LIMIT_MB} MB\n{out.stdout[-3000:]}"


def test_trim_returns_free_heap_to_the_os():
    """After a large temporary is freed, malloc_trim gives its pages back (glibc; a no-op elsewhere)."""
    import ctypes.util

    if not ctypes.util.find_library("c"):
        pytest.skip("no C library to ask")

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    junk = [bytes(200) for _ in range(400_000)]  # ~100 MB of small blocks, which glibc keeps once freed
    del junk[::2]  # every other one: the heap is fragmented, nothing can shrink it from the top
    before_free = rss_mb()
    del junk
    assert memory.trim(force=True)
    assert rss_mb() < before_free - 30
    assert not memory.trim()  # a second call within MIN_INTERVAL_S does nothing


SMAPS = """\
7f0000000000-7f0000100000 r-xp 00000000 08:01 11 /venv/lib/libtorch_cpu.so
Rss:                 400 kB
Anonymous:             0 kB
7f0000100000-7f0000110000 r--p 00100000 08:01 11 /venv/lib/libtorch_cpu.so
Rss:                  64 kB
Anonymous:            64 kB
7f0000110000-7f0000120000 rw-p 00110000 08:01 11 /venv/lib/libtorch_cpu.so
Rss:                  64 kB
Anonymous:             8 kB
7f0000200000-7f0000300000 r--p 00000000 08:01 12 /models/smollm2.gguf
Rss:                1024 kB
Anonymous:             0 kB
7f0000300000-7f0000301000 r--p 00000000 08:01 13 /usr/lib/libc.so.6
Rss:                   4 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 rw-p 00000000 00:00 0
Rss:                 512 kB
Anonymous:           512 kB
7f0000500000-7f0000600000 r-xp 00000000 08:01 14 /venv/lib/libarrow.so.1900
Rss:                   0 kB
Anonymous:             0 kB
"""


def test_only_clean_read_only_library_mappings_are_dropped():
    """Code and read-only data of libraries, never a written page (RELRO, .data), a weight file or the heap."""
    assert memory.droppable_ranges(SMAPS) == [(0x7F0000000000, 0x7F0000100000, 400 * 1024),
                                              (0x7F0000300000, 0x7F0000301000, 4 * 1024)]


def test_a_process_keeps_working_after_its_library_pages_are_released():
    code = ("import numpy, torch; from core import memory; a = torch.randn(64, 64); before = (a @ a).sum().item(); "
            "n = memory.release_library_pages(); after = (a @ a).sum().item(); "
            "print(n, before == after, float(numpy.linalg.norm(numpy.ones(4))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    released, same, norm = out.stdout.split()
    if not Path("/proc/self/smaps").exists():
        pytest.skip("no /proc: nothing is released")
    assert int(released) > 10 * 2**20  # torch's and numpy's import leave tens of MB of code resident
    assert same == "True" and float(norm) == 2.0
