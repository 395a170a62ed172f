"""Code tasks: problems whose answer is a program, graded by running hidden tests in the sandbox.

Format of a code problem (``ponder.types.Problem`` with ``answer_kind="code"``):
  ``meta["public_tests"]``  Python assertion statements the solver may see and run
                            (e.g. ``assert add(2, 3) == 5``); an empty list means none;
  ``meta["entry_point"]``   the function under test (or None);
  ``meta["code_prefix"]``   code the answer completes (HumanEval's signature and docstring), or "";
  ``checker(answer)``       assembles the answer with the prefix and runs the hidden tests in the
                            sandbox; the hidden tests are kept in the checker only, never in ``meta``.

The generic task ``code:PATH`` reads JSONL rows with ``prompt`` (the problem text),
``public_tests`` and ``hidden_tests`` (lists of assertion statements), and optional ``entry_point``,
``prefix`` and ``id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..types import Problem
from .base import (Task, TaskSpecError, read_jsonl, register_task, require_fields, require_file, require_options,
                   take)

INSTRUCTION = "Write a Python solution. Reply with the complete code in a single ```python code block."


def make_checker(hidden_tests: list[str], prefix: str = "", entry_point: str | None = None, per_test: float = 10.0):
    """A checker that runs ``hidden_tests`` on an answer in the sandbox: True only if all pass."""
    from ..sandbox.harness import assemble, run_tests

    def check(answer: str) -> bool:
        if not answer or not answer.strip():
            return False
        return run_tests(assemble(answer, prefix, entry_point), hidden_tests, per_test=per_test).status == "passed"

    check.hidden_tests = list(hidden_tests)  # type: ignore[attr-defined]  # for graders and task checks
    return check


def code_problem(pid: str, text: str, *, public_tests: list[str], hidden_tests: list[str],
                 entry_point: str | None = None, prefix: str = "", **meta: Any) -> Problem:
    """A code Problem: the instruction and ``text`` as the user message, tests as documented above."""
    if prefix:
        content = f"{text.strip()}\n\n```python\n{prefix.rstrip()}\n```\n\n{INSTRUCTION}" if text.strip() else \
            f"Complete the following Python code.\n\n```python\n{prefix.rstrip()}\n```\n\n{INSTRUCTION}"
    else:
        content = f"{text.strip()}\n\n{INSTRUCTION}"
    return Problem(id=pid, messages=[{"role": "user", "content": content}], answer=None, answer_kind="code",
                   meta={"public_tests": list(public_tests), "entry_point": entry_point, "code_prefix": prefix,
                         **meta},
                   checker=make_checker(hidden_tests, prefix, entry_point))


def _tests(row: dict, key: str, where: str) -> list[str]:
    value = row.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise TaskSpecError(f"{where}: {key!r} must be a list of Python assertion strings")
    return value


@register_task("code")
def code_task(path: str | None, options: dict[str, str]) -> Task:
    """``code:PATH``: JSONL rows with prompt, public_tests, hidden_tests[, entry_point, prefix, id]."""
    p: Path = require_file("code", path)
    require_options("code", options)

    def load(limit: int | None, seed: int) -> list[Problem]:
        out = []
        for n, row in enumerate(read_jsonl(p, ("prompt", "hidden_tests")), 1):
            require_fields("code", p, n, row, ("prompt", "hidden_tests"))
            where = f"{p}: record {n}"
            out.append(code_problem(str(row.get("id", f"code-{len(out)}")), str(row["prompt"]),
                                    public_tests=_tests(row, "public_tests", where),
                                    hidden_tests=_tests(row, "hidden_tests", where),
                                    entry_point=row.get("entry_point"), prefix=str(row.get("prefix", ""))))
        return take(out, limit)

    return Task("code", load)
