"""Unit tests for ``ponder.answers.equivalence``."""

from __future__ import annotations

import concurrent.futures
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ponder.answers import answers_equal, group_answers, normalize
from ponder.answers import equivalence as eq
from ponder.answers import verify

REPO_ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------- normalize
@pytest.mark.parametrize(
    "raw, key",
    [
        (" 1,000 ", "1000"),
        ("2.50", "2.5"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("+5", "5"),
        ("5.0", "5"),
        ("$42$.", "42"),
        (r"\$18.90", "18.9"),
        (r"\$32,\!348", "32348"),
        (r"\text{(C)}", "(C)"),
        (r"\textbf{Evelyn}", "Evelyn"),
        (r"\left( 3, \dfrac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
        (r"\tfrac{1}{2}", r"\frac{1}{2}"),
        (r"\(x + 1\)", "x+1"),
        ("x^2 + 2x", "x^2+2x"),
    ],
)
def test_normalize(raw, key):
    assert normalize(raw) == key


def test_normalize_is_idempotent():
    for raw in ["1,000", r"\left[ 1, 2 \right)", r"\text{ cm}^2", "2.50", r"\dfrac{a}{b}"]:
        assert normalize(normalize(raw)) == normalize(raw)


# --------------------------------------------------------- equal answers
@pytest.mark.parametrize(
    "a, b",
    [
        ("42", "42"),
        ("1,000", "1000"),
        ("2.50", "2.5"),
        ("-0", "0"),
        ("3/4", "0.75"),
        ("1/2", "2/4"),
        (r"\frac{1}{2}", "0.5"),
        (r"\dfrac{3}{4}", r"\tfrac{3}{4}"),
        ("3", "3.0000001"),  # within the 1e-6 relative tolerance
        (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"),
        (r"2\sqrt{2}", r"\sqrt{8}"),
        (r"\pi", "3.14159265"),
        (r"\frac{\pi}{2}", r"\pi/2"),
        ("[1, 2)", r"\left[1,2\right)"),
        (r"(-\infty, 3]", r"(-\infty,3]"),
        (r"\{1, 2\}", r"\{2, 1\}"),
        ("x^2+2x+1", "(x+1)^2"),
        (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)"),
        (r"\text{(C)}", "C"),
        ("$5$", "5"),
        (r"10\text{ cm}", "10"),  # a unit on one side only is left to math-verify
        (r"5\text{ hours}", "5 hour"),  # the same unit
        (r"864 \mbox{ inches}^2", r"864\text{ inches}^2"),
        ("52_8", "52_{8}"),  # the same base
        ("0.0000672", r"6.72\times10^{-5}"),
        (r"\frac{\sqrt{3}}{2}", "0.866025"),  # math-verify's numbers, within REL_TOL
    ],
)
def test_answers_equal_true(a, b):
    assert answers_equal(a, b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("42", "43"),
        ("3", "3.001"),
        ("1/3", "0.333"),
        (r"\frac{1}{2}", r"\frac{1}{3}"),
        ("[1, 2)", "(1, 2]"),
        ("(1, 2)", "(2, 1)"),  # ordered pairs are not sets
        (r"\sqrt{2}", r"\sqrt{3}"),
        (r"2\pi", r"\pi"),
        ("x+1", "x-1"),
        ("", ""),
        ("", "0"),
        # math-verify rounds to 6 decimal places: small numbers must also agree within REL_TOL
        ("0.0000672", r"6.7\times10^{-5}"),
        (r"\pi/1000000", "0.000003"),
        ("e^{-5}", "0.006738"),  # as 1/70 against 0.014286 in the cheap path
    ],
)
def test_answers_equal_false(a, b):
    assert not answers_equal(a, b)


def test_none_is_never_equal():
    assert not answers_equal(None, "1")  # type: ignore[arg-type]
    assert not answers_equal("1", None)  # type: ignore[arg-type]


def test_string_kind():
    assert answers_equal("hello   world", " hello world\n", kind="string")
    assert not answers_equal("Hello world", "hello world", kind="string")
    assert not answers_equal("0.5", r"\frac{1}{2}", kind="string")


def test_number_kinds_do_not_use_math_verify(monkeypatch):
    def boom(*args, **kwargs):  # pragma: no cover - must not be called
        raise AssertionError("math-verify called for a numeric kind")

    monkeypatch.setattr(eq, "verify_with_timeout", boom)
    assert answers_equal("1,000", "1000.0", kind="gsm8k")
    assert not answers_equal("18", "19", kind="number")
    assert not answers_equal(r"\sqrt{4}", "2", kind="number")


def test_bad_arguments():
    with pytest.raises(ValueError):
        answers_equal("1", "1", kind="nope")
    with pytest.raises(ValueError):
        answers_equal("1", "1", timeout=0)


def test_results_are_cached():
    eq._answers_equal_cached.cache_clear()
    assert answers_equal(r"\sqrt{8}", r"2\sqrt{2}")
    assert answers_equal(r"\sqrt{8}", r"2\sqrt{2}")
    info = eq._answers_equal_cached.cache_info()
    assert info.hits == 1 and info.misses == 1


def test_works_off_the_main_thread():
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yes = pool.submit(answers_equal, r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}")
        no = pool.submit(answers_equal, r"\sqrt{2}", r"\sqrt{3}")
        assert yes.result(timeout=30) is True
        assert no.result(timeout=30) is False


# --------------------------------------------------------------- timeout
def _slow(*args, **kwargs):
    time.sleep(3)
    return True


def test_timeout_off_main_thread(monkeypatch, caplog):
    """Off the main thread our own daemon-thread timeout applies."""
    monkeypatch.setattr(verify, "_math_verify_equal", _slow)
    caplog.set_level(logging.WARNING, logger=eq.__name__)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = pool.submit(answers_equal, r"\sqrt{2}", r"\sqrt{2}+0", timeout=0.3).result(10)
    assert result is False
    assert time.monotonic() - start < 2.5
    assert any("timed out" in r.getMessage() for r in caplog.records)
    # a timed-out comparison is not cached
    monkeypatch.setattr(verify, "_math_verify_equal", lambda a, b, t: True)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(answers_equal, r"\sqrt{2}", r"\sqrt{2}+0", timeout=0.3).result(10)


def test_timeout_main_thread(monkeypatch, caplog):
    """On the main thread math-verify's own signal-based timeout applies."""
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("pytest is not running tests on the main thread")
    import math_verify.grader

    monkeypatch.setattr(math_verify.grader, "sympy_expr_eq", _slow)
    caplog.set_level(logging.WARNING)
    start = time.monotonic()
    assert answers_equal(r"\sqrt{5}", r"\sqrt{5}+0", timeout=1) is False
    assert time.monotonic() - start < 2.9
    assert any("imeout" in r.getMessage() for r in caplog.records)


def test_daemon_thread_runner_returns_and_raises():
    assert verify._run_in_daemon_thread(lambda x: x + 1, (1,), 5) == 2
    with pytest.raises(ZeroDivisionError):
        verify._run_in_daemon_thread(lambda: 1 / 0, (), 5)
    with pytest.raises(eq.AnswerTimeout):
        verify._run_in_daemon_thread(time.sleep, (2,), 0.1)


# ---------------------------------------------------------------- groups
def test_group_answers():
    values = ["1/2", "0.5", None, r"\frac{1}{2}", "3", "$3$", "three", "", r"\dfrac12", "0.50"]
    assert group_answers(values) == [[0, 1, 3, 8, 9], [4, 5], [6]]


def test_group_answers_merges_symbolic_equivalents():
    values = [r"\sqrt{8}", r"2\sqrt{2}", r"2 \sqrt{2}", "2.83", r"\sqrt{8}"]
    assert group_answers(values) == [[0, 1, 2, 4], [3]]


def test_group_answers_kinds():
    assert group_answers(["a  b", "a b", "A b"], kind="string") == [[0, 1], [2]]
    assert group_answers(["1,000", "1000", "999"], kind="gsm8k") == [[0, 1], [2]]
    assert group_answers([]) == []
    assert group_answers([None, None]) == []


# ----------------------------------------------------------------- lazy
def test_import_is_light():
    code = (
        "import sys; import ponder.answers; "
        "heavy = [m for m in ('math_verify', 'sympy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    env_path = str(REPO_ROOT / "src")
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r}); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_outer_alarm_survives_math_verify():
    """math-verify's signal.alarm(0) must not cancel an outer timer (e.g. pytest-timeout)."""
    import signal

    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("needs the main thread")
    old = signal.getitimer(signal.ITIMER_REAL)
    handler = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        assert answers_equal(r"\sqrt{12}", r"2\sqrt{3}")
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < left <= 100.0
    finally:
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, *old)
