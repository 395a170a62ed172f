"""Argument types and error handling shared by the benchmark scripts: bad input is one line on
stderr and exit code 2, as at the ``ponder`` command line, never a traceback."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def positive_ints(text: str) -> list[int]:
    """``"300,400,600"`` -> ``[300, 400, 600]``."""
    return [positive_int(part.strip()) for part in text.split(",")]


def seed_range(text: str) -> list[int]:
    """``"14-43"`` -> seeds 14..43; ``"5"`` -> ``[5]``."""
    lo, _, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed or a range of seeds such as 14-43") from None
    if first < 0 or last < first:
        raise argparse.ArgumentTypeError(f"{text!r}: give seeds from 0 up, low-high, e.g. 14-43")
    return list(range(first, last + 1))


def run(main: Callable[[], None]) -> None:
    """Call ``main``; Ponder's errors about the input (a strategy spec, a model, a task) end the
    script with their one-line message and exit code 2."""
    from ponder.errors import PonderError

    try:
        main()
    except PonderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
