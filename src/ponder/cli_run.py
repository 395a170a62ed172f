"""Running a typer app as a command: every error becomes one line on stderr and an exit code.

Shared by ``ponder``, ``python -m ponder.bench`` and ``python -m ponder.server``. Ponder's own
errors exit 2 with ``error: ...``; usage errors (a missing argument, an option that is not a
number, an unknown command) are shown by the command-line library with the usage line and exit 2;
anything else is a bug in Ponder: one line and exit 1 (``PONDER_DEBUG=1`` raises it instead).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import PonderError


def _is_usage_error(exc: BaseException) -> bool:
    # typer >= 0.17 ships its own copy of click, whose exceptions are not click's: match by name
    return any(c.__name__ == "ClickException" for c in type(exc).__mro__) and hasattr(exc, "show")


def run_app(app: Any, argv: list[str] | None = None) -> None:
    """Run ``app`` (a typer app) on ``argv`` and exit with its status."""
    _show_flags_bare()
    try:
        app(args=argv, standalone_mode=False)
    except PonderError as exc:
        _print_error(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        _print_error("aborted")
        sys.exit(130)
    except Exception as exc:
        name = type(exc).__name__
        if name == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        if name == "Abort":
            _print_error("aborted")
            sys.exit(130)
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2) or 2)
        if os.environ.get("PONDER_DEBUG"):
            raise
        _print_error(f"internal error: {name}: {exc} (a bug in Ponder; set PONDER_DEBUG=1 for the traceback)")
        sys.exit(1)


def _show_flags_bare() -> None:
    """Typer >= 0.29 writes a type beside every option in the help, flags too (``--json <bool>``),
    which reads as if the flag took a value; show flags without one."""
    try:
        from typer.core import TyperOption
    except ImportError:  # an older typer: it shows flags bare already
        return
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "ponder_flags_bare", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich.ponder_flags_bare = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def _print_error(line: str) -> None:
    from rich.console import Console
    from rich.text import Text

    head, colon, rest = line.partition(":")  # the message itself is printed as it is, never as markup
    Console(stderr=True, soft_wrap=True).print(Text.assemble((head + colon, "red"), rest), highlight=False)
