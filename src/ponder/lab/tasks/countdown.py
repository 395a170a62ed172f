"""Countdown / Game of 24: reach a target from given numbers with + - * /.

Question: ``Use the numbers 3 5 7 10 to make 24.``  One operation per step, e.g.
``<think> 5-3=2; 7*2=14; 14+10=24 </think> Answer: (5-3)*7+10``.  The grader
accepts *any* expression that uses each given number exactly once with
``+ - * /`` and evaluates exactly (Fractions) to the target; it parses with
``ast`` and never evaluates code.  Difficulty = how many numbers (default mix:
3-number problems with targets up to 99, and 4-number target-24 problems with
numbers 1..13 that have a solution with integer intermediates).  The generated
problems' steps (training traces, ``step_labels``) keep to integer intermediates;
a problem with ``meta["fractions"]`` (``problem_from_numbers``: a Game of 24 row,
whose rules allow them, e.g. ``1 5 5 5`` = ``5*(5-1/5)``) also takes fractional
ones, as its grader does.
"""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .base import (
    LabProblem,
    apply_op,
    attempt_text,
    Parts,
    cumulative_labels,
    extract_answer,
    render_chain,
    segment_equations,
    split_steps,
    step_text,
)

NAME = "countdown"
DIFFICULTY_RANGE = (2, 6)  # the difficulties (how many numbers) generate accepts
DEFAULT_DIFFICULTIES = (3, 4)
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _num(x: Fraction | int) -> Fraction | int:
    """``x`` as an int where it is whole (so equal states hash and print alike)."""
    return int(x) if isinstance(x, Fraction) and x.denominator == 1 else x


def _moves(a, b, fractions: bool = False) -> list[tuple[str, Any, Any, Any]]:
    """Moves on a pair with non-negative results, larger operand first: ``(op, x, y, result)``.
    Division only where it is exact, unless ``fractions`` (then either way round)."""
    x, y = max(a, b), min(a, b)
    out = [("+", x, y, _num(x + y)), ("*", x, y, _num(x * y)), ("-", x, y, _num(x - y))]
    if not fractions:
        if y and x % y == 0:
            out.append(("/", x, y, x // y))
        return out
    ways = [(x, y)] if x == y else [(x, y), (y, x)]
    return out + [("/", u, v, _num(Fraction(u) / v)) for u, v in ways if v]


@lru_cache(maxsize=200_000)
def solvable(state: tuple, target: int, fractions: bool = False) -> bool:
    """Whether the sorted multiset ``state`` reaches ``target`` with integer intermediates (or,
    with ``fractions``, with exact fractional ones too)."""
    if len(state) == 1:
        return state[0] == target
    n = len(state)
    for i in range(n):
        for j in range(i + 1, n):
            rest = state[:i] + state[i + 1:j] + state[j + 1:]
            for _, _, _, r in _moves(state[i], state[j], fractions):
                if solvable(tuple(sorted(rest + (r,))), target, fractions):
                    return True
    return False


def _expr(tree) -> tuple[str, int]:
    """Format an expression tree with minimal parentheses; returns (text, precedence)."""
    if isinstance(tree, int):
        return str(tree), 3
    op, left, right = tree
    ls, lp = _expr(left)
    rs, rp = _expr(right)
    p = _PREC[op]
    if lp < p:
        ls = f"({ls})"
    if rp < p or (rp == p and op in "-/"):
        rs = f"({rs})"
    return f"{ls}{op}{rs}", p


def format_tree(tree) -> str:
    return _expr(tree)[0]


def _walk(numbers: list[int], target: int | None, rng: random.Random, guided: bool, fractions: bool = False):
    """Random sequence of moves; ``guided`` keeps the state solvable (``fractions``: as for ``solvable``).

    With ``target=None`` no solvability is checked (a free random walk); otherwise
    an unguided walk stops at the first step that makes the target unreachable.

    Returns ``(ops, steps_text, tree, dead)`` where ``ops`` is a chain over leaves
    ``numbers`` and ``dead`` says the walk ended in an unsolvable state.
    """
    items = [(v, ("n", k), v) for k, v in enumerate(numbers)]  # (value, ref, tree)
    ops, texts = [], []
    while len(items) > 1:
        cands = []
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                for op, x, y, r in _moves(items[i][0], items[j][0], fractions):
                    rest = [it[0] for k, it in enumerate(items) if k not in (i, j)]
                    ok = target is None or solvable(tuple(sorted(rest + [r])), target, fractions)
                    if ok or not guided:
                        cands.append((i, j, op, x, y, r, ok))
        if not cands:
            return None
        i, j, op, x, y, r, ok = rng.choice(cands)
        a_it, b_it = (items[i], items[j]) if items[i][0] == x else (items[j], items[i])
        if a_it[0] != x:
            a_it, b_it = b_it, a_it
        ops.append((a_it[1], op, b_it[1]))
        texts.append(step_text(x, op, y, r))
        new = (r, ("s", len(ops) - 1), (op, a_it[2], b_it[2]))
        items = [it for k, it in enumerate(items) if k not in (i, j)] + [new]
        if not ok:
            return ops, texts, None, True
    return ops, texts, items[0][2], items[0][0] != target


def solve(numbers: list[int], target: int, rng: random.Random, fractions: bool = False):
    """A random solution ``(ops, tree)`` with integer intermediates (or, with ``fractions``, exact
    fractional ones too), or ``None``."""
    if not solvable(tuple(sorted(numbers)), target, fractions):
        return None
    ops, _, tree, _ = _walk(numbers, target, rng, guided=True, fractions=fractions)
    return ops, tree


def generate(n: int, seed: int, difficulty: int | None = None) -> list[LabProblem]:
    """``n`` problems, deterministic per ``(seed, difficulty)``; difficulty = #numbers, within
    ``DIFFICULTY_RANGE`` (``ValueError`` otherwise)."""
    low, high = DIFFICULTY_RANGE
    if difficulty is not None and not low <= difficulty <= high:
        raise ValueError(f"countdown difficulty (numbers) must be from {low} to {high}, got {difficulty}")
    rng = random.Random(f"countdown:{seed}:{difficulty}")
    out = []
    while len(out) < n:
        count = difficulty if difficulty is not None else rng.choice(DEFAULT_DIFFICULTIES)
        if count == 4:
            nums = sorted(rng.randint(1, 13) for _ in range(4))
            target = 24
            sol = solve(nums, target, rng)
            if sol is None:
                continue
            tree = sol[1]
        else:
            nums = sorted(rng.randint(1, 13) for _ in range(count))
            walk = _walk(nums, None, rng, guided=False)
            if walk is None:
                continue
            target = int(walk[1][-1].split("=")[1])
            if not 2 <= target <= 99 or target in nums:
                continue
            tree = walk[2]
        out.append(LabProblem(
            id=f"countdown-{seed}-{difficulty if difficulty is not None else 'mix'}-{len(out)}",
            question=question(nums, target),
            answer=format_tree(tree),
            meta={"task": NAME, "numbers": list(nums), "target": target, "difficulty": count},
        ))
    return out


def question(numbers: list[int], target: int) -> str:
    return f"Use the numbers {' '.join(map(str, numbers))} to make {target}."


def problem_from_numbers(numbers: list[int], target: int = 24, pid: str = "custom",
                         fractions: bool = True) -> LabProblem:
    """A problem for given numbers (e.g. a Game of 24 row); ``answer`` may be empty if unsolved.
    ``fractions``: its steps may have fractional results (Game of 24 rules: ``1 5 5 5`` is
    ``5*(5-1/5)``), so the exact check of partial solutions (``step_labels``) accepts them; the
    reference answer keeps to integer intermediates where it can."""
    sol = solve(list(numbers), target, random.Random(0)) or (
        solve(list(numbers), target, random.Random(0), fractions=True) if fractions else None)
    return LabProblem(id=pid, question=question(sorted(numbers), target),
                      answer=format_tree(sol[1]) if sol else "",
                      meta={"task": NAME, "numbers": sorted(numbers), "target": target,
                            "difficulty": len(numbers), "fractions": fractions})


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_DECIMAL = re.compile(r"[0-9]+")


def _eval(node, leaves: list[int], text: str) -> Fraction:
    """The exact value of the expression tree ``node`` parsed from ``text``; its numbers go to
    ``leaves``. A number must be written as a plain decimal integer (``ast`` also reads ``0b11``,
    ``0x3`` and ``1_3`` as integers: not numbers the problem gives)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a = _eval(node.left, leaves, text)
        b = _eval(node.right, leaves, text)
        return apply_op(a, _OPS[type(node.op)], b)  # exact; division by zero raises
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0 \
            and _DECIMAL.fullmatch(ast.get_source_segment(text, node) or ""):
        leaves.append(node.value)
        return Fraction(node.value)
    raise ValueError("disallowed syntax")


_LATEX = (("\\left", ""), ("\\right", ""), ("\\times", "*"), ("\\cdot", "*"), ("\\div", "/"), ("×", "*"),
          ("·", "*"), ("÷", "/"), ("−", "-"), ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", ""), ("$", ""),
          ("`", ""), ("[", "("), ("]", ")"))
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TIMES_X = re.compile(r"(?<=[\d)])\s*[xX]\s*(?=[\d(])")  # 3 x 8, (1+2)x8
# the value an answer's equality claims, maybe followed by a remark that is no arithmetic:
# "24", "24, using each number once", "24 ✓", "24 (each number once)"; not "24 - 0", "24.5"
_CLAIMED = re.compile(r"(\d+)(?:\s*(?:[,;:!✓✔✅]|\.(?!\d)|\((?=[A-Za-z])|(?<=\s)[A-Za-z]{2}).*)?", re.DOTALL)


def expression_of(answer: str, target: int) -> str | None:
    """The arithmetic expression of an answer as models write it: LaTeX and typographic operators
    as Python's, backticks gone, square brackets as parentheses, and an ``= 24`` after it (or
    ``24 =`` before it) dropped when it is the target, with a remark after it (``= 24, using each
    number once``, ``= 24 ✓``); None when such an equality names another number."""
    text = answer.strip().rstrip(".")
    for old, new in _LATEX:
        text = text.replace(old, new)
    for _ in range(4):  # nested fractions, innermost first
        text = _FRAC.sub(r"((\1)/(\2))", text)
    text = _TIMES_X.sub("*", text.replace("{", "(").replace("}", ")"))
    parts = [p.strip() for p in text.split("=")]
    if len(parts) == 1:
        return text
    if len(parts) == 2 and re.fullmatch(r"\d+", parts[0]):  # 24 = (4+8)*(6-4)
        parts.reverse()
    claimed = _CLAIMED.fullmatch(parts[-1])
    if claimed is None or int(claimed.group(1)) != target:
        return None
    return parts[0]  # the expression; steps between it and the target are not graded


def check(problem: LabProblem, answer: str | None) -> bool:
    """Exact grader: each given number used exactly once, value == target (Fractions). The answer may
    end in ``= <target>`` and use LaTeX or typographic operators (see :func:`expression_of`)."""
    if not answer or len(answer) > 400:
        return False
    text = expression_of(answer, problem.meta["target"])
    if text is None or len(text) > 200:
        return False
    try:
        tree = ast.parse(text, mode="eval")
        leaves: list[int] = []
        value = _eval(tree.body, leaves, text)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return Counter(leaves) == Counter(problem.meta["numbers"]) and value == problem.meta["target"]


def _chain_of(problem: LabProblem, rng: random.Random):
    nums, target = problem.meta["numbers"], problem.meta["target"]
    sol = solve(nums, target, rng)
    if sol is None:
        raise ValueError(f"no integer solution for {problem.question!r}")
    return nums, sol[0], format_tree(sol[1])


def trace_parts(problem: LabProblem, rng: random.Random, style: str = "full") -> Parts:
    """Training target parts; a random solution path is chosen with ``rng``."""
    nums, ops, expr = _chain_of(problem, rng)
    if style in ("recheck", "vote", "granular"):  # countdown re-checks by recomputing the solution after "Wait,"
        style = "verify"
    # The PRM-only slip variants are arith's (an expression answer has no "last result"):
    style = {"backtrack_slip": "backtrack", "switch_slip": "switch", "answer_slip": "slip",
             "misread": "slip"}.get(style, style)
    if style == "slip":  # a complete random walk that misses the target (wrong answer)
        for _ in range(20):
            walk = _walk(nums, None, rng, guided=False)
            if walk and walk[3] and walk[2] is not None and walk[0] and \
                    len(walk[1]) == len(nums) - 1 and not _reaches(walk, problem):
                body = "; ".join(walk[1])
                return [(f"<think> {body} </think> Answer: {format_tree(walk[2])}", True)]
        style = "full"
    failed = None
    if style == "switch":
        failed = []
        for _ in range(rng.choice((1, 1, 2))):
            walk = _walk(nums, problem.meta["target"], rng, guided=False)
            if walk and walk[3]:
                failed.append(walk[1])
        if not failed:
            style = "full"
    return render_chain(nums, ops, expr, style, rng, draft_values_only=False, failed_attempts=failed)


def _reaches(walk, problem) -> bool:
    return int(walk[1][-1].split("=")[1]) == problem.meta["target"]


def trace(problem: LabProblem, rng: random.Random, style: str = "full") -> str:
    """Assistant text for ``problem`` in ``style`` (full, draft, verify, switch, backtrack)."""
    return "".join(t for t, _ in trace_parts(problem, rng, style))


def step_labels(problem: LabProblem, assistant_text: str, finished: bool = True) -> list[bool]:
    """Gold PRM labels per ``;``-segment: a step is ok iff it uses available numbers,
    is arithmetically exact and leaves a state from which the target is still
    reachable; ``Alternatively``/``Wait`` restart from the given numbers, and only what follows
    the last restart of a segment counts (``verify`` writes ``...; 144/6=42 Wait, 13*11=143;``:
    the slip belongs to the abandoned attempt). A segment that writes an equation but no step
    it can read (``6/4=1.5``, ``8*8+6-4=2``) is not ok: its numbers are not tracked; one with no
    ``=`` (prose such as ``We have 4, 6, 8, 8.``, a model's plan) is let be. The last segment
    is good iff the answer is correct (``finished=False``: labelled like the others). Results
    must be whole unless the problem allows fractions (``meta["fractions"]``)."""
    nums, target = problem.meta["numbers"], problem.meta["target"]
    fractions = bool(problem.meta.get("fractions"))
    state = Counter(nums)
    oks, resets = [], []
    for seg in split_steps(assistant_text):
        restarts, text = attempt_text(seg)
        resets.append(restarts)
        if restarts:
            state = Counter(nums)
        steps = [readings for kind, readings in segment_equations(text) if kind == "eq"]
        if not steps:
            oks.append("=" not in text.split("</think>")[0])
            continue
        ok = True
        for readings in steps:
            state, good = _take_step(state, readings, target, fractions)
            ok = ok and good
        oks.append(ok)
    return cumulative_labels(oks, resets, check(problem, extract_answer(assistant_text)) if finished else None)


def _take_step(state: Counter, readings: tuple, target: int, fractions: bool) -> tuple[Counter, bool]:
    """``(state after the step, ok)`` for one written step with its ``readings``
    (``base.equation_readings``): a reading fits if ``state`` holds its operands and its
    arithmetic is exact (a whole, non-negative result unless ``fractions``); the step is ok if
    one fits and leaves the target reachable (a fitting reading that does is preferred). A step
    that fits no reading leaves ``state`` as it was."""
    best: tuple[Counter, bool] | None = None
    for a, op, b, c in readings:
        need = Counter([a, b])
        if not all(state[k] >= v for k, v in need.items()):
            continue
        try:
            exact = apply_op(a, op, b) == c and (fractions or c.denominator == 1) and c >= 0
        except ZeroDivisionError:
            exact = False
        if not exact:
            continue
        after = state - need
        after[c] += 1
        reachable = solvable(tuple(sorted(_num(k) for k in after.elements())), target, fractions)
        if reachable:
            return after, True
        best = best or (after, False)
    return best or (state, False)
