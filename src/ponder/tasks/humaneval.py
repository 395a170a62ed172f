"""HumanEval (``humaneval:PATH``, the gzip JSONL of openai/human-eval) as code problems.

Public tests are the examples in each prompt's docstring, turned into assertions (doctest
``>>> f(x)`` / ``result`` pairs, and ``f(x) == y`` / ``f(x) ==> y`` / ``f(x) ➞ y`` / ``f(x) => y``
lines, with or without ``>>>``); the hidden
``test`` (``check(candidate)``) is used only for grading. Options: ``?public=none`` gives problems
without public tests. Importing this module also registers the generic ``code:PATH`` task.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..types import Problem
from . import code as _code  # noqa: F401  (registers code:PATH)
from .base import Task, TaskSpecError, read_jsonl, register_task, require_fields, require_file, require_options, take
from .code import code_problem

_ARROW = re.compile(r"^\s*(?P<call>[A-Za-z_]\w*\(.*\))\s*(?:==>|==|➞|=>|->|should return|returns?)\s*(?P<want>.+?)\s*$")


# Docstring examples of the dataset that its own canonical solution (and its hidden test) contradict:
# HumanEval/47's median is 8.0, not 15.0; 116's examples ignore the task's ordering by binary ones;
# 148's ("Venus") is a string where the function returns a tuple. Checked against the canonical
# solutions in tests/sandbox/test_sandbox_data.py.
_WRONG_EXAMPLES = {
    "HumanEval/47": {"assert abs(median([-10, 4, 6, 1000, 10, 20]) - 15.0) < 1e-6"},
    "HumanEval/116": {"assert sort_array([1, 5, 2, 3, 4]) == [1, 2, 3, 4, 5]",
                      "assert sort_array([-2, -3, -4, -5, -6]) == [-6, -5, -4, -3, -2]"},
    "HumanEval/148": {"assert bf('Earth', 'Mercury') == (\"Venus\")"},
}

_SAFE_NAMES = {"round", "abs", "sorted", "list", "len", "set", "tuple", "int", "float", "str", "sum", "min", "max"}


def read_rows(path: Path) -> list[dict]:
    """The rows of a HumanEval file (gzip or plain JSONL)."""
    fields = ("task_id", "prompt", "test", "entry_point")
    return [require_fields("humaneval", path, n, row, fields) for n, row in enumerate(read_jsonl(path, fields), 1)]


def _literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _assertion(call: str, want: str, entry_point: str) -> str | None:
    """``assert call == want`` when both parse (floats compared with a tolerance)."""
    want = want.strip().rstrip(".,;").strip()
    if not _literal(want):
        return None
    try:
        tree = ast.parse(call.strip(), mode="eval")
    except SyntaxError:
        return None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if not names <= {entry_point, *_SAFE_NAMES}:  # e.g. is_happy(abcd): a name the example never defined
        return None
    call = ast.unparse(tree)  # drops comments and normalises spacing
    value = ast.literal_eval(want)
    if isinstance(value, float):
        return f"assert abs({call} - {want}) < 1e-6"
    return f"assert {call} == {want}"


def docstring_tests(prompt: str, entry_point: str) -> list[str]:
    """Assertions from the examples in the docstring of ``entry_point`` (may be empty)."""
    lines = prompt.splitlines()
    tests: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(">>>"):
            call = line[3:].strip()
            m = _ARROW.match(call)  # the whole example on one line: >>> f(x) == y
            if m and m.group("call").startswith(entry_point + "("):
                t = _assertion(m.group("call"), m.group("want"), entry_point)
                if t:
                    tests.append(t)
                i += 1
                continue
            want = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if entry_point in call and want and not want.startswith(">>>"):
                t = _assertion(call, want, entry_point)
                if t:
                    tests.append(t)
                i += 2
                continue
        else:
            m = _ARROW.match(line)
            if m and m.group("call").startswith(entry_point + "("):
                t = _assertion(m.group("call"), m.group("want"), entry_point)
                if t:
                    tests.append(t)
        i += 1
    return list(dict.fromkeys(tests))


def hidden_test(row: dict) -> str:
    """The HumanEval ``test`` code as one test statement: its check() called on the entry point."""
    return f"{row['test']}\n\ncheck({row['entry_point']})\n"


def to_problem(row: dict, public: bool = True) -> Problem:
    entry = row["entry_point"]
    wrong = _WRONG_EXAMPLES.get(row["task_id"], set())
    tests = [t for t in docstring_tests(row["prompt"], entry) if t not in wrong] if public else []
    return code_problem(row["task_id"], "", public_tests=tests,
                        hidden_tests=[hidden_test(row)], entry_point=entry, prefix=row["prompt"],
                        canonical_solution=row.get("canonical_solution"))


@register_task("humaneval")
def humaneval(path: str | None, options: dict[str, str]) -> Task:
    p = require_file("humaneval", path)
    require_options("humaneval", options, ("public",))
    if options.get("public", "docstring") not in ("docstring", "none"):
        raise TaskSpecError(f"task humaneval: public= accepts docstring or none, got {options['public']!r}")
    public = options.get("public", "docstring") != "none"

    def load(limit: int | None, seed: int) -> list[Problem]:
        return take([to_problem(row, public) for row in read_rows(p)], limit)

    return Task("humaneval", load)
