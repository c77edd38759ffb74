"""Pick the compute device once, and make per-call random generators.

Many browser sessions share one process, so nothing here touches the global RNG: every
random choice gets its own `torch.Generator` seeded from the caller's seed.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading

import torch

from core.i18n import _

# Upper bound for user-supplied seeds (torch accepts 64-bit; we keep it readable in URLs).
MAX_SEED = 2**31 - 1


@functools.lru_cache(maxsize=1)
def get_device() -> str:
    """Return "cuda", "mps" or "cpu" (first that is available), chosen once per process.

    `NLP_PLAYGROUND_DEVICE` overrides the choice (e.g. "cpu" to force the CPU on a GPU box).
    """
    forced = os.environ.get("NLP_PLAYGROUND_DEVICE", "").strip().lower()
    if forced:
        if forced not in {"cpu", "cuda", "mps"}:
            raise ValueError(_("NLP_PLAYGROUND_DEVICE must be cpu, cuda or mps, not {forced!r}.").format(
                forced=forced))
        return forced
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def device_label() -> str:
    """Human-readable description of the device in use, for the sidebar."""
    dev = get_device()
    if dev == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if dev == "mps":
        return _("mps (Apple GPU)")
    return _("cpu ({threads} threads)").format(threads=torch.get_num_threads())


def check_seed(seed) -> int:
    """Validate a user seed and return it as an int in [0, MAX_SEED]."""
    try:
        value = int(seed)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(_("The seed must be a whole number between 0 and {max_seed}, not {seed!r}.").format(
            max_seed=MAX_SEED, seed=seed)) from None
    if not 0 <= value <= MAX_SEED:
        raise ValueError(_("The seed must be between 0 and {max_seed}; got {value}.").format(
            max_seed=MAX_SEED, value=value))
    return value


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters live on (CPU for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def count_params(model: torch.nn.Module) -> int:
    """Number of parameters of a model (buffers such as BatchNorm's running statistics are not counted)."""
    return sum(p.numel() for p in model.parameters())


@contextlib.contextmanager
def on_device(model: torch.nn.Module, device=None):
    """Move `model` to `device` (None: where it is) for the block, and back where it was afterwards,
    also when the block is interrupted (a page's stop button). Yields the device."""
    home = model_device(model)
    target = torch.device(device) if device else home
    model.to(target)
    try:
        yield target
    finally:
        model.to(home)


def autocast(device) -> "contextlib.AbstractContextManager":
    """bfloat16 autocast on CUDA (training scripts on a GPU); a no-op everywhere else."""
    if torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# intra-op threads: a process-wide setting that new threads inherit
# ---------------------------------------------------------------------------------------------
BASE_THREADS = torch.get_num_threads()  # the process's intra-op threads, read once at import
_threads_lock = threading.Lock()
_threads_held = 0  # torch_threads blocks running now, in any thread


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with `n` intra-op threads (None: leave them as they are).

    Tiny models (sampling, the Basics CNN, gradient profiles) run single-threaded: more threads only
    add synchronisation, and on a busy machine a second spinning thread can make them 40x slower.
    `torch.set_num_threads` is not private to the calling thread: a thread started meanwhile (the
    next script run of any session: after a Stop click, the sidebar of the new run said "1 threads")
    inherits the count, and "the count before the block" is then 1 for it too. So the blocks of all
    threads are counted, `BASE_THREADS` comes back when the last one ends, and `reset_threads()`
    gives it back to a thread that inherited 1.
    """
    global _threads_held
    if n is None:
        yield
        return
    n = max(1, int(n))
    with _threads_lock:
        _threads_held += 1
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_held -= 1
            if _threads_held == 0 and torch.get_num_threads() != BASE_THREADS:
                torch.set_num_threads(BASE_THREADS)


def reset_threads() -> int:
    """Give the calling thread `BASE_THREADS` back unless some torch_threads block runs (a script
    thread started during one inherited its count). The entry point calls this at every run."""
    with _threads_lock:
        if _threads_held == 0 and torch.get_num_threads() != BASE_THREADS:
            torch.set_num_threads(BASE_THREADS)
    return torch.get_num_threads()


def make_generator(seed, device: str = "cpu") -> torch.Generator:
    """A fresh `torch.Generator` seeded with `seed` (never the global RNG)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(check_seed(seed))
    return gen


# ---------------------------------------------------------------------------------------------
# building models while other sessions do the same
# ---------------------------------------------------------------------------------------------
_build_lock = threading.RLock()


@contextlib.contextmanager
def building():
    """Hold while constructing torch modules or loading a transformers model.

    Many sessions share one process, each in its own thread. transformers' `from_pretrained`
    builds its model under `init_empty_weights` and `no_init_weights`, which patch
    `torch.nn.Module.register_parameter` and `torch.nn.init.*` for the *whole process* while it
    runs; a module built in another thread meanwhile gets meta tensors ("Cannot copy out of meta
    tensor") or no initialisation at all, and two loads that overlap can even restore each other's
    patches and leave them in place for good. So every loader and model factory in core/ builds
    inside this one re-entrant lock (`@builds_models`). What runs on a built model needs no lock.
    """
    with _build_lock:
        yield


def builds_models(fn):
    """Decorator: run `fn` (a loader or model factory) inside `building()`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with building():
            return fn(*args, **kwargs)

    return wrapper
