"""Shared by the training scripts: the command line as a model card quotes it."""
from __future__ import annotations

import sys


def card_args(drop: tuple[str, ...] = (), elide: tuple[str, ...] = ("--before",), argv: list[str] | None = None) -> str:
    """`argv` (default: this process's arguments) without the `drop` options and with the values of
    the `elide` options shown as "…" (the card quotes those texts elsewhere)."""
    argv = sys.argv[1:] if argv is None else argv
    out: list[str] = []
    it = iter(argv)
    for a in it:
        name = a.split("=", 1)[0]
        if name in drop:
            if "=" not in a:
                next(it, None)
        elif name in elide:
            out.append(f'{name} "…"')
            if "=" not in a:
                next(it, None)
        else:
            out.append(a)
    return " ".join(out)
