"""Process-wide limits on concurrent heavy work, so one busy user can't starve the others.

`gate("train")` is a context manager: it admits up to N runs at once; a caller over the limit
waits up to `wait_s` seconds and then gets a ValueError telling them to try again.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

# Concurrent runs per kind of work, overridable with NLP_PLAYGROUND_MAX_<KIND> (e.g. _MAX_TRAIN=1).
DEFAULT_LIMITS = {"train": 2, "generate": 4, "eval": 2}


class Gate:
    def __init__(self, name: str, limit: int):
        self.name = name
        self.limit = max(1, limit)
        self._cond = threading.Condition()
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    @contextlib.contextmanager
    def __call__(self, wait_s: float = 30.0, on_wait=None):
        """Hold a slot for the duration of the block. `on_wait(position)` is called while queued."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            self._waiting += 1
            try:
                while self._running >= self.limit:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ValueError(
                            f"The server is busy: {self._running} {self.name} run(s) are going and "
                            f"{self._waiting - 1} other(s) are waiting. Try again in a minute."
                        )
                    if on_wait is not None:
                        on_wait(self._waiting)
                    self._cond.wait(timeout=min(left, 1.0))
                self._running += 1
            finally:
                self._waiting -= 1
        try:
            yield self
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify()


_gates: dict[str, Gate] = {}
_lock = threading.Lock()


def gate(kind: str) -> Gate:
    with _lock:
        if kind not in _gates:
            limit = int(os.environ.get(f"NLP_PLAYGROUND_MAX_{kind.upper()}", DEFAULT_LIMITS.get(kind, 2)))
            _gates[kind] = Gate(kind, limit)
        return _gates[kind]
