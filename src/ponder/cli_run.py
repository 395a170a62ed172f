"""Running a typer app as a command: every error becomes one line on stderr and an exit code.

Shared by ``ponder``, ``python -m ponder.bench`` and ``python -m ponder.server``. Ponder's own
errors exit 2 with ``error: ...``; usage errors (a missing argument, an option that is not a
number, an unknown command) are shown by the command-line library with the usage line and exit 2;
Ctrl-C prints ``aborted`` (with what a command left, ``set_abort_note``) and exits 130 (an EOFError,
which the library turns into the same Abort, does not); anything else is a bug in Ponder: one line
and exit 1 (``PONDER_DEBUG=1`` raises it instead).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from .errors import PonderError

_abort_note: str | None = None


def set_abort_note(note: str | None) -> None:
    """What Ctrl-C printed after "aborted:" tells the user, set by the command it interrupted (a
    bench: its finished units are kept, and the command that goes on). The command-line library
    turns the interrupt into an exit code, so the command says it here before it lets it go."""
    global _abort_note
    _abort_note = note


def _is_usage_error(exc: BaseException) -> bool:
    # typer >= 0.17 ships its own copy of click, whose exceptions are not click's: match by name
    return any(c.__name__ == "ClickException" for c in type(exc).__mro__) and hasattr(exc, "show")


def run_app(app: Any, argv: list[str] | None = None) -> None:
    """Run ``app`` (a typer app) on ``argv`` and exit with its status."""
    _show_flags_bare()
    try:
        code = app(args=argv, standalone_mode=False)
    except PonderError as exc:
        _print_error(f"error: {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        _abort()
    except Exception as exc:
        name = type(exc).__name__
        if name == "Exit" and hasattr(exc, "exit_code"):
            _exit_with(exc.exit_code)
            return
        if name == "Abort":
            eof = _eof_error(exc)
            if eof is None:
                _abort()
            exc, name = eof, type(eof).__name__  # reported as what it is, below
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2) or 2)
        if os.environ.get("PONDER_DEBUG"):
            raise exc
        _print_error(f"internal error: {name}: {exc} (a bug in Ponder; set PONDER_DEBUG=1 for the traceback)")
        sys.exit(1)
    _exit_with(code)


def _eof_error(abort: BaseException) -> BaseException | None:
    """The EOFError an ``Abort`` was raised from, None for any other (Ctrl-C). The command-line
    library turns an EOFError into Abort as it does Ctrl-C (its meaning at a prompt, which Ponder
    never shows): one from inside a command (a gzip file cut short) is an error, not "aborted"."""
    cause = abort.__cause__ or abort.__context__
    return cause if isinstance(cause, EOFError) else None


def _exit_with(code: Any) -> None:
    """Exit with the status typer returned. Without standalone mode typer does not raise its
    ``Exit``: it returns the code, and it turns Ctrl-C (KeyboardInterrupt) into ``Exit(130)``, so
    an interrupted command would otherwise exit 0, as if it had finished."""
    if isinstance(code, bool) or not isinstance(code, int) or code == 0:
        return  # a command's own return value (None), or success
    if code == 130:
        _abort()
    sys.exit(code)


def _abort() -> NoReturn:
    """Ctrl-C: "aborted" and exit code 130, at once. The work was left on the way here (a bench's
    store is closed, finished units kept for ``--resume``), but a local model's decoding thread
    may still be inside the step it was taking: the interpreter's shutdown would wait for queued
    model calls and then stop that thread mid-call, which aborts the process (SIGABRT,
    "terminate called without an active exception"). So the streams are flushed and the process
    ends without that shutdown."""
    _print_error(f"aborted: {_abort_note}" if _abort_note else "aborted")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(130)


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
