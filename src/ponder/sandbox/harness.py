"""Run a solution against assertion tests, or on inputs, in the sandbox, one process per call.

Tests are Python statements (usually ``assert f(x) == y``; a HumanEval ``check(candidate)`` block
followed by ``check(f)`` is one test too), each run in a copy of the solution's namespace (so a
test's ``check`` does not replace a helper of the solution's own with that name) with a per-test
time limit. The solution is the module ``solution`` in ``sys.modules``, as if imported (a spawn or
forkserver worker of ``multiprocessing`` imports it from ``solution.py`` by that name; the harness
itself, ``main.py``, does nothing when imported again as ``__mp_main__``). Inputs are Python
expressions (usually calls such as ``f(10**16 + 1)``); the output of each is ``repr`` of its value,
or the exception's type name. The solution is loaded with ``__name__ != "__main__"``, so a demo
block under ``if __name__ == "__main__":`` does not run. Once it has reported, the harness exits at
once (``os._exit``): a thread the solution left running does not hold the run to its wall limit.

Results come back on stdout as lines tagged with a random nonce, which guards against a program's
own output being read as a result (it is not a defence against code written to forge results).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from .result import ExecResult, Limits
from .runner import arun_python, run_python

TestStatus = Literal["passed", "failed", "no_tests", "syntax_error", "error", "timeout", "memory", "crashed",
                     "output_limit"]

HARNESS = r'''
import ast, json, os, signal, sys, traceback

def emit(**obj):
    OUT.write("\n" + NONCE + json.dumps(obj) + "\n")
    OUT.flush()

class Slow(BaseException):
    pass

def alarm(signum, frame):
    raise Slow()

def limited(fn):
    signal.setitimer(signal.ITIMER_REAL, PER)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

def describe(exc, src):
    if isinstance(exc, Slow):
        return f"timed out after {PER:g}s"
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == src]
    if frames:
        text += f" (line {frames[-1].lineno}: {(frames[-1].line or '').strip()})"
    return text[:600]

def actual(test, ns):
    """For a failed 'assert A == B': what A gave."""
    try:
        node = ast.parse(test).body
        if len(node) == 1 and isinstance(node[0], ast.Assert) and isinstance(node[0].test, ast.Compare):
            cmp = node[0].test
            if len(cmp.ops) == 1 and isinstance(cmp.ops[0], ast.Eq):
                got = limited(lambda: eval(compile(ast.Expression(cmp.left), "<test>", "eval"), ns))
                return f"expected {ast.unparse(cmp.comparators[0])}, got {repr(got)[:300]}"
    except BaseException:
        pass
    return None

def finish(code):
    """Exit at once: a thread the solution left running must not hold the process past its report."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)

# Only as the program itself: a spawn or forkserver worker of multiprocessing imports this file again
# (as __mp_main__) and must not run the tests once more.
if __name__ == "__main__":
    NONCE, PER = sys.argv[1], float(sys.argv[2])
    OUT = sys.stdout
    signal.signal(signal.SIGALRM, alarm)
    with open("solution.py", encoding="utf-8") as f:
        source = f.read()
    with open("cases.json", encoding="utf-8") as f:
        cases = json.load(f)
    try:
        code = compile(source, "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        emit(kind="syntax", error=f"{type(exc).__name__}: {exc}"[:600])
        finish(3)
    module = type(sys)("solution")  # a real module: dataclasses, pickle and typing look it up by name
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    ns = module.__dict__
    try:
        limited(lambda: exec(code, ns))
    except BaseException as exc:
        emit(kind="load", error=describe(exc, "solution.py"))
        finish(4)
    emit(kind="loaded")
    for i, item in enumerate(cases["items"]):
        try:
            if cases["mode"] == "tests":
                # in a copy: a test's own names (HumanEval's check) do not replace the solution's
                limited(lambda: exec(compile(item, "<test>", "exec"), dict(ns)))
                emit(kind="case", i=i, ok=True)
            else:
                value = limited(lambda: eval(compile(item, "<input>", "eval"), ns))
                emit(kind="case", i=i, ok=True, out=repr(value)[:2000])
        except BaseException as exc:
            extra = actual(item, ns) if cases["mode"] == "tests" and isinstance(exc, AssertionError) else None
            out = "timeout" if isinstance(exc, Slow) else f"raised {type(exc).__name__}"
            emit(kind="case", i=i, ok=False, error=extra or describe(exc, "solution.py"), out=out)
    emit(kind="done")
    finish(0)
'''


@dataclass
class TestReport:
    """The outcome of running a solution on tests (``mode="tests"``) or inputs (``mode="inputs"``).

    ``status``: ``passed`` (every test passed), ``failed`` (a test failed), ``timeout`` (a test ran past
    its own limit, or the whole run past the sandbox's), ``no_tests`` (the solution
    loads, nothing to run), ``syntax_error`` (it does not parse), ``error`` (loading it raised), or
    the sandbox status when the run ended abnormally (``timeout``, ``memory``, ``crashed``,
    ``output_limit``). ``passed[i]`` is None for a test that never reported (the run ended first).
    ``outputs[i]`` (inputs mode) is ``repr`` of the value, ``raised X``, ``timeout`` or ``no output``.
    """

    status: TestStatus
    items: list[str]
    passed: list[bool | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    execution: ExecResult | None = None

    @property
    def num_passed(self) -> int:
        return sum(1 for p in self.passed if p)

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "no_tests")

    def feedback(self, limit: int = 6) -> str:
        """What went wrong, in words a model can act on."""
        if self.status == "passed":
            return f"All {len(self.items)} tests passed."
        if self.status in ("syntax_error", "error"):
            return f"The code could not be loaded: {self.error}"
        lines = []
        for item, ok, err in zip(self.items, self.passed, self.errors):
            if ok is False:
                lines.append(f"Test: {item.strip()}\nResult: {err or 'failed'}")
            elif ok is None:
                lines.append(f"Test: {item.strip()}\nResult: did not run ({self.status})")
            if len(lines) >= limit:
                break
        if self.status in ("timeout", "memory", "crashed", "output_limit") and self.execution is not None:
            lines.append(f"The program ended abnormally: {self.execution.describe(tail=400)}")
        return "\n\n".join(lines) or f"status: {self.status}"


def assemble(code: str, prefix: str = "", entry_point: str | None = None) -> str:
    """A runnable solution from a model's code and a task's code prefix (HumanEval's prompt).

    When the code defines ``entry_point`` itself, the prefix is kept above it for its imports and
    helpers (the prefix's stub is then redefined); otherwise the code is the body that completes
    the prefix.
    """
    if not prefix:
        return code
    if entry_point and re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return prefix.rstrip("\n") + "\n\n\n" + code
    return prefix + code


def _program(solution: str, items: list[str], mode: str, per_item: float) -> tuple[str, dict, list[str]]:
    nonce = "@@" + secrets.token_hex(8) + "@@"
    files = {"solution.py": solution, "cases.json": json.dumps({"mode": mode, "items": list(items)})}
    return HARNESS, files, [nonce, str(per_item)]


def _report(items: list[str], mode: str, nonce: str, r: ExecResult) -> TestReport:
    events = []
    for line in r.stdout.splitlines():
        if line.startswith(nonce):
            try:
                events.append(json.loads(line[len(nonce):]))
            except ValueError:
                continue
    rep = TestReport(status="failed", items=list(items), passed=[None] * len(items), errors=[None] * len(items),
                     outputs=["no output"] * len(items), execution=r)
    kinds = {e.get("kind") for e in events}
    for e in events:
        if e.get("kind") == "case" and isinstance(e.get("i"), int) and 0 <= e["i"] < len(items):
            rep.passed[e["i"]], rep.errors[e["i"]] = bool(e.get("ok")), e.get("error")
            if "out" in e:
                rep.outputs[e["i"]] = str(e["out"])
        elif e.get("kind") in ("syntax", "load"):
            rep.error = e.get("error")
    if "syntax" in kinds:
        rep.status = "syntax_error"
    elif "load" in kinds:
        rep.status = "error"
    elif r.status in ("timeout", "memory", "crashed", "output_limit"):
        rep.status = r.status
    elif "loaded" not in kinds:
        rep.status, rep.error = "error", r.describe(tail=400)
    elif "done" not in kinds:
        rep.status = "failed"
    elif not items:
        rep.status = "no_tests"
    elif mode == "inputs" or all(rep.passed):
        rep.status = "passed"
    elif "timeout" in rep.outputs:  # a test ran past its own time limit
        rep.status = "timeout"
    return rep


def _limits(limits: Limits | None, n: int, per_item: float) -> Limits:
    if limits is not None:
        return limits
    wall = min(60.0, 5.0 + per_item * max(1, n))
    return Limits(wall_seconds=wall, cpu_seconds=wall)


def run_tests(solution: str, tests: list[str], *, limits: Limits | None = None, per_test: float = 5.0,
              mode: Literal["tests", "inputs"] = "tests") -> TestReport:
    """Run ``solution`` then each test (or input expression, ``mode="inputs"``) in one sandboxed process."""
    program, files, args = _program(solution, tests, mode, per_test)
    r = run_python(program, files=files, args=args, limits=_limits(limits, len(tests), per_test))
    return _report(tests, mode, args[0], r)


async def arun_tests(solution: str, tests: list[str], *, limits: Limits | None = None, per_test: float = 5.0,
                     mode: Literal["tests", "inputs"] = "tests") -> TestReport:
    """``run_tests`` without blocking the event loop."""
    program, files, args = _program(solution, tests, mode, per_test)
    r = await arun_python(program, files=files, args=args, limits=_limits(limits, len(tests), per_test))
    return _report(tests, mode, args[0], r)
