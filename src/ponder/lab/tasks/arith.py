"""Arithmetic chains: ``Compute left to right: 567-227-134*4+24`` -> ``848``.

Expressions are evaluated strictly left to right (no operator precedence); every
intermediate value stays in 0..999 and multipliers are single digits.  The
difficulty is the number of operations (default mix ``DEFAULT_DIFFICULTIES``).
"""

from __future__ import annotations

import random
import re

from .base import (
    EQ_RE,
    RESET_RE,
    LabProblem,
    Parts,
    apply_op,
    ascii_operators,
    chain_values,
    cumulative_labels,
    extract_answer,
    render_chain,
    segment_equations,
    split_steps,
)

NAME = "arith"
QUESTION_PREFIX = "Compute left to right: "
DIFFICULTY_RANGE = (1, 50)  # the difficulties (how many operations) generate accepts
DEFAULT_DIFFICULTIES = (2, 3, 4)
TRAIN_DIFFICULTIES = (2, 3, 4, 5, 6, 7)


def _chain(rng: random.Random, n_ops: int) -> tuple[int, list[tuple[str, int]]]:
    cur = rng.randint(10, 999)
    start = cur
    steps: list[tuple[str, int]] = []
    for _ in range(n_ops):
        choices = []
        if cur <= 989:
            choices.append("+")
        if cur >= 12:
            choices.append("-")
        if 2 <= cur <= 499:
            choices.append("*")
        op = rng.choice(choices)
        if op == "+":
            b = rng.randint(10, 999 - cur)
            cur += b
        elif op == "-":
            b = rng.randint(1, cur - 1) if cur < 20 else rng.randint(10, cur - 1)
            cur -= b
        else:
            b = rng.randint(2, min(9, 999 // cur))
            cur *= b
        steps.append((op, b))
    return start, steps


def expression(start: int, steps: list[tuple[str, int]]) -> str:
    return str(start) + "".join(f"{op}{b}" for op, b in steps)


def generate(n: int, seed: int, difficulty: int | None = None) -> list[LabProblem]:
    """``n`` problems, deterministic per ``(seed, difficulty)``; difficulty = #operations, within
    ``DIFFICULTY_RANGE`` (``ValueError`` otherwise)."""
    low, high = DIFFICULTY_RANGE
    if difficulty is not None and not low <= difficulty <= high:
        raise ValueError(f"arith difficulty (operations) must be from {low} to {high}, got {difficulty}")
    rng = random.Random(f"arith:{seed}:{difficulty}")
    out = []
    for i in range(n):
        n_ops = difficulty if difficulty is not None else rng.choice(DEFAULT_DIFFICULTIES)
        start, steps = _chain(rng, n_ops)
        leaves = [start] + [b for _, b in steps]
        ops = [(("n", 0) if k == 0 else ("s", k - 1), op, ("n", k + 1)) for k, (op, _) in enumerate(steps)]
        vals = chain_values(leaves, ops)
        expr = expression(start, steps)
        out.append(LabProblem(
            id=f"arith-{seed}-{difficulty if difficulty is not None else 'mix'}-{i}",
            question=QUESTION_PREFIX + expr,
            answer=str(vals[-1]),
            meta={"task": NAME, "start": start, "steps": [list(s) for s in steps],
                  "values": vals, "difficulty": n_ops},
        ))
    return out


_INT_RE = re.compile(r"-?\d+")
_ANSWER_RE = re.compile(r"-?[0-9]{1,400}")  # ASCII digits only (\d takes other scripts' too); a sane length


def check(problem: LabProblem, answer: str | None) -> bool:
    """Exact grader: the answer must be an integer equal to the gold value, in ASCII digits (a
    minus sign, leading zeros, surrounding whitespace and one final full stop are accepted; other
    scripts' digits, ``693..`` and numbers too long for ``int`` are not)."""
    if answer is None:
        return False
    a = answer.strip()
    a = a[:-1].strip() if a.endswith(".") else a
    return bool(_ANSWER_RE.fullmatch(a)) and int(a) == int(problem.answer)


def _chain_of(problem: LabProblem):
    steps = problem.meta["steps"]
    leaves = [problem.meta["start"]] + [b for _, b in steps]
    ops = [(("n", 0) if k == 0 else ("s", k - 1), op, ("n", k + 1)) for k, (op, _) in enumerate(steps)]
    return leaves, ops


def trace_parts(problem: LabProblem, rng: random.Random, style: str = "full") -> Parts:
    """Training target as ``(text, trainable)`` parts (see ``base.render_chain``)."""
    leaves, ops = _chain_of(problem)
    return render_chain(leaves, ops, problem.answer, style, rng, draft_values_only=True)


def trace(problem: LabProblem, rng: random.Random, style: str = "full") -> str:
    """Assistant text for ``problem`` in ``style`` (full, draft, verify, switch, backtrack)."""
    return "".join(t for t, _ in trace_parts(problem, rng, style))


# anchored like ``base.EQ_RE``: not the tail of a longer number or expression
_CHECK_RE = re.compile(r"(?<![-+*/\d.])(\d+)([-+*])(\d+)=(-?\d+) (ok|no)\b")
_GRANULAR_RE = re.compile(r"(?<![-+*/\d.])(\d+)([-+*])(\d+):((?:\s*\d+[-+*]\d+=-?\d+,?)+)")


def _granular_ok(m: re.Match, valid: set) -> bool:
    """A place-value recomputation ``a op b: e1, e2, ...`` is ok iff every piece is exact
    arithmetic and ``a op b = (last result)`` is a correct step of the chain."""
    last = None
    for e in EQ_RE.finditer(m.group(4)):
        z = int(e.group(4))
        if apply_op(int(e.group(1)), e.group(2), int(e.group(3))) != z:
            return False
        last = z
    return last is not None and (int(m.group(1)), m.group(2), int(m.group(3)), last) in valid


def _check_ok(m: re.Match, valid: set) -> bool:
    """A re-check ``x inv y = z ok|no`` is right iff its arithmetic is exact and, when it
    says ``ok``, the step it vouches for is a correct step of the chain."""
    x, inv, y, z, verdict = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)), m.group(5)
    if {"+": x + y, "-": x - y, "*": x * y}[inv] != z:
        return False
    if verdict == "no":
        return True
    if inv == "*":  # a product is re-checked commuted
        return (y, "*", x, z) in valid or (x, "*", y, z) in valid
    return (z, "+" if inv == "-" else "-", y, x) in valid


def step_labels(problem: LabProblem, assistant_text: str, finished: bool = True) -> list[bool]:
    """Gold PRM labels for each ``;``-segment of ``assistant_text``.

    An equation is ok iff it is one of the problem's correct chain steps (operands
    and result); a bare number (draft) is ok iff it equals the next chain value; an
    inverse re-check after ``Wait,`` (``206+134=340 ok``) is ok iff its arithmetic is
    exact and it vouches only for correct steps; a place-value recomputation
    (``340-134: 340-100=240, 240-30=210, 210-4=206``) iff its pieces are exact and it ends
    at the right result of a chain step.  Only what follows the last
    ``Wait,``/``Alternatively,`` of a segment counts (that starts a new attempt, whose
    draft numbers are compared with the chain values from the first again).
    The last segment is good iff the extracted answer is correct (``finished=False``: the
    text is unfinished and its last segment is labelled like the others).
    """
    start = problem.meta["start"]
    steps = problem.meta["steps"]
    vals = problem.meta["values"]
    valid = set()
    prev = start
    for (op, b), v in zip(steps, vals):
        valid.add((prev, op, b, v))
        prev = v
    oks, resets = [], []
    draft_k = 0
    for seg in split_steps(assistant_text):
        parts = RESET_RE.split(ascii_operators(seg))
        resets.append(len(parts) > 1)
        if len(parts) > 1:
            draft_k = 0
        seg = parts[-1]
        granular = list(_GRANULAR_RE.finditer(seg))
        if granular:
            oks.append(all(_granular_ok(m, valid) for m in granular)
                       and not segment_equations(_GRANULAR_RE.sub("", seg)))
            continue
        checks = list(_CHECK_RE.finditer(seg))
        ok_checks = all(_check_ok(m, valid) for m in checks)
        if checks:
            seg = _CHECK_RE.sub("", seg)
        eqs = [readings for kind, readings in segment_equations(seg) if kind == "eq"]
        if eqs:
            oks.append(ok_checks and all(any(all(x.denominator == 1 for x in (a, b, c)) and
                                             (int(a), op, int(b), int(c)) in valid for a, op, b, c in readings)
                                         for readings in eqs))
            continue
        if checks:  # a segment of re-checks only
            oks.append(ok_checks)
            continue
        body = seg.split("</think>")[0]
        nums = _INT_RE.findall(body)
        if len(nums) == 1:
            oks.append(draft_k < len(vals) and int(nums[0]) == vals[draft_k])
            draft_k += 1
        else:
            oks.append(not nums)
    return cumulative_labels(oks, resets, check(problem, extract_answer(assistant_text)) if finished else None)
