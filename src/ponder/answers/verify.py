"""math-verify with a timeout and a cost guard, for :mod:`ponder.answers.equivalence`.

Answers holding a power or factorial too large to compute (:func:`too_costly`) are never sent to
math-verify; a comparison runs under ``signal.alarm`` in the main thread and in a daemon thread
elsewhere (:func:`verify_with_timeout`), and two numbers math-verify calls equal must also agree
within :data:`REL_TOL`.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .extract import _match_brace

#: relative tolerance used when at least one numeric answer is a decimal
REL_TOL = 1e-6


class AnswerTimeout(Exception):
    """Raised internally when a math-verify comparison exceeds its timeout."""


# a power: base, then its exponent (braced, one token, or a number)
_POWER = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^|\*\*)\s*(\{|\(|\d+(?:\s*(?:\^|\*\*)\s*\d+)*)")
_FACTORIAL = re.compile(r"(\d+)\s*!")
#: the most digits a power or a factorial in an answer may have for math-verify (sympy
#: computes it whole, holding the GIL)
MAX_DIGITS = 10**6


def _log10_of(expr: str) -> float | None:
    """log10 of an exponent written as a number or a power tower of numbers
    (``40``, ``2^{40}``, ``{9^{9}}``), else ``None`` (not a plain number)."""
    s = expr.strip()
    while s[:1] in "{(" and s[-1:] in "})":
        s = s[1:-1].strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:(?:\^|\*\*)\s*(.+))?", s)
    if m is None:
        return None
    base = float(m.group(1))
    if m.group(2) is None:
        return math.log10(base) if base > 0 else 0.0
    exp = _log10_of(m.group(2))
    if exp is None or base <= 1:
        return None if exp is None else 0.0
    return 10**min(exp, 300.0) * math.log10(base)


def too_costly(answer: str) -> bool:
    """Whether ``answer`` holds a power or a factorial of more than :data:`MAX_DIGITS`
    digits (``2^{2^{40}}``, ``10^{10000000}``, ``1000000!``)."""
    if "^" not in answer and "**" not in answer and "!" not in answer:
        return False
    for m in _FACTORIAL.finditer(answer):
        if int(m.group(1)) > 200_000:  # 200000! has about a million digits
            return True
    for m in _POWER.finditer(answer):
        start = m.start(2)
        if m.group(2) in "{(":
            end = _match_brace(answer, start) if m.group(2) == "{" else answer.find(")", start)
            if end is None or end < 0:
                continue
            exponent = answer[start : end + 1]
        else:
            exponent = m.group(2)
        log_exp = _log10_of(exponent)
        if log_exp is None:
            continue
        base = float(m.group(1))
        if base > 1 and log_exp > 0 and 10 ** min(log_exp, 300.0) * math.log10(base) > MAX_DIGITS:
            return True
    return False


def _math_verify_equal(gold: str, pred: str, timeout: int | None) -> bool:
    """Compare with math-verify; ``timeout`` None disables its signal timeouts."""
    import math_verify  # lazy: pulls in sympy
    from math_verify import verify

    if timeout is None:
        # We enforce the timeout ourselves; silence math-verify's one-off
        # "timeout is disabled" warning.
        math_verify.parser.TIMEOUT_WARNING_SHOWN = True
        math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    g, p = _parsed(gold, timeout), _parsed(pred, timeout)
    if not g or not p:
        return False
    return bool(verify(g, p, timeout_seconds=timeout)) and _close_as_numbers(g[0], p[0])


def _close_as_numbers(a: Any, b: Any) -> bool:
    """Whether two expressions math-verify calls equal also agree within :data:`REL_TOL`, where
    both are numbers. math-verify rounds numbers to 6 decimal places before it compares them, so
    below a millionth it calls any two equal (``3 \\times 10^{-7}`` and ``4 \\times 10^{-7}``,
    ``\\pi/10^6`` and ``0.000003``) and takes ``6.7 \\times 10^{-5}`` for ``0.0000672``; the
    cheap path's numbers (``1/70`` against ``0.014286``) are held to REL_TOL as well."""
    import sympy

    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr) and a.is_number and b.is_number):
        return True
    try:
        x, y = complex(sympy.N(a, 30)), complex(sympy.N(b, 30))
    except (TypeError, ValueError, OverflowError):
        return True  # not a finite value (infinity): math-verify's word stands
    if not all(math.isfinite(v) for v in (x.real, x.imag, y.real, y.imag)):
        return True
    return abs(x - y) <= REL_TOL * max(abs(x), abs(y))


@functools.lru_cache(maxsize=8192)
def _parsed(answer: str, timeout: int | None) -> list:
    """math-verify's parse of ``answer``, kept: a vote compares each answer with many others.
    Its unit stripping is off: its units include variables (``ab``, ``bc``, ``c``, ``t``, ``h``),
    so ``3ab`` parsed as ``3``; :mod:`.equivalence` drops the units of both answers first."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify.parser import NormalizationConfig

    norm = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all",
                               equations=False)
    config = [LatexExtractionConfig(boxed_match_priority=0, normalization_config=norm), ExprExtractionConfig()]
    return parse(f"\\boxed{{{answer}}}", extraction_config=config, parsing_timeout=timeout)


def _run_in_daemon_thread(fn, args: tuple, timeout: float):
    """Run ``fn(*args)`` in a daemon thread; raise AnswerTimeout after ``timeout`` s."""
    future: Future = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():  # pragma: no cover
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - forwarded to the caller
            future.set_exception(exc)

    threading.Thread(target=target, name="ponder-answer-verify", daemon=True).start()
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise AnswerTimeout(f"math-verify comparison exceeded {timeout}s") from None


def _with_outer_alarm_preserved(fn, *args):
    """Call ``fn(*args)``, re-arming any ``ITIMER_REAL`` timer it cancels.

    math-verify's ``signal.alarm(0)`` would otherwise silently cancel an
    outer alarm such as pytest-timeout's.
    """
    import signal

    delay, interval = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    try:
        return fn(*args)
    finally:
        if delay > 0:
            left = max(delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def verify_with_timeout(a: str, b: str, timeout: float) -> bool:
    """math-verify comparison of ``a`` (gold) and ``b`` under ``timeout``."""
    if threading.current_thread() is threading.main_thread():
        # signal.alarm works here; it needs whole seconds.
        seconds = max(1, math.ceil(timeout))
        return _with_outer_alarm_preserved(_math_verify_equal, a, b, seconds)
    return _run_in_daemon_thread(_math_verify_equal, (a, b, None), timeout)
