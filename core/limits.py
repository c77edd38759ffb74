"""Process-wide limits on concurrent heavy work, so one busy user can't starve the others.

`gate("train")` is a context manager: it admits up to N runs at once; a caller over the limit
waits up to `wait_s` seconds and then gets a ValueError telling them to try again.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import os
import threading
import time

from core.i18n import N_, _

# Concurrent runs per kind of work, overridable with NLP_PLAYGROUND_MAX_<KIND> (e.g. _MAX_TRAIN=1).
# Generations: one per core up to 4 (on this repo's 2-core machine, 2 instead of 4 cut the GPT page's
# median click under `benchmarks/load.py --vary` from 7.9 s to 5.4 s: each run uses both cores anyway).
DEFAULT_LIMITS = {"train": 2, "generate": max(2, min(4, os.cpu_count() or 2)), "eval": 2}
# How the busy message names each kind (English: the kind itself, as before; translated where shown).
_KIND_WORDS = {"train": N_("train"), "generate": N_("generate"), "eval": N_("eval")}


class Gate:
    """At most `limit` holders at once; the others wait in arrival order (first come, first served)."""

    def __init__(self, name: str, limit: int):
        self.name = name
        self.limit = max(1, limit)
        self._cond = threading.Condition()
        self._running = 0
        self._queue: collections.deque = collections.deque()  # tickets of the waiters, oldest first
        self._tickets = itertools.count()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextlib.contextmanager
    def __call__(self, wait_s: float = 30.0, on_wait=None):
        """Hold a slot for the duration of the block.

        A caller over the limit queues; `on_wait(position)` is called when it starts waiting and
        whenever its place in the queue (1 = next) changes. After `wait_s` seconds it gets a
        ValueError telling the user to try again.
        """
        deadline = time.monotonic() + wait_s
        with self._cond:
            ticket = next(self._tickets)
            self._queue.append(ticket)
            shown = None
            try:
                while self._running >= self.limit or self._queue[0] != ticket:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ValueError(_(
                            "The server is busy: {running} {kind} run(s) are going and "
                            "{waiting} other(s) are waiting. Try again in a minute."
                        ).format(running=self._running, kind=_(_KIND_WORDS.get(self.name, self.name)),
                                 waiting=len(self._queue) - 1))
                    position = self._queue.index(ticket) + 1
                    if on_wait is not None and position != shown:
                        shown = position
                        on_wait(position)
                    self._cond.wait(timeout=min(left, 1.0))
                self._running += 1
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line may go now (or has moved up)
        try:
            yield self
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


_gates: dict[str, Gate] = {}
_lock = threading.Lock()


def gate(kind: str) -> Gate:
    with _lock:
        if kind not in _gates:
            limit = int(os.environ.get(f"NLP_PLAYGROUND_MAX_{kind.upper()}", DEFAULT_LIMITS.get(kind, 2)))
            _gates[kind] = Gate(kind, limit)
        return _gates[kind]
