"""Shared pieces of the lab tasks: the problem type, step chains and trace rendering.

A solution is represented as a *chain*: a list of leaf numbers and a list of
binary steps whose operands refer either to a leaf (``("n", k)``) or to the
result of an earlier step (``("s", k)``).  Both tasks build such a chain and the
behaviours (self-verification after ``Wait,``, thought switches with
``Alternatively,``, ``<backtrack>``, draft traces) are rendered from it here.

Trace format (assistant text)::

    <think> 567-227=340; 340-134=206; 206*4=824; 824+24=848 </think> Answer: 848

Steps inside ``<think>`` are separated by ``;``; the final answer follows
``</think>`` as ``Answer: X``.  Rendering returns *parts* ``(text, trainable)``;
parts marked ``False`` (deliberately wrong results) are excluded from the loss.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
BACKTRACK = "<backtrack>"
STEP_DELIMITER = ";"
WAIT = "Wait,"
SWITCH = "Alternatively,"

STYLES = ("full", "draft", "verify", "vote", "recheck", "granular", "switch", "backtrack", "slip",
          "backtrack_slip", "switch_slip", "answer_slip", "misread")
"""``slip`` (PRM negatives only): an uncorrected slip carried through to a wrong answer.
``granular`` (arith; countdown renders it as ``verify``): after ``Wait,`` every step is
recomputed by place value (``340-134: 340-100=240, 240-30=210, 210-4=206``), smaller
operations than the step itself, so the re-check is a different and surer computation, not
a copy of the first attempt.
``backtrack_slip`` / ``switch_slip`` (PRM only): the step rewritten after ``<backtrack>``, or
the attempt after ``Alternatively,``, is wrong as well (half the time), so a PRM cannot take
"whatever follows a correction is right" as a rule; ``answer_slip`` (PRM only): right steps,
an answer that is not the last result; ``misread`` (PRM only): a step with a misread second
operand (``424+428`` for ``+42``) or operator, computed right from it and carried on, the
policy's commonest error.
``recheck`` (arith; countdown renders it as ``verify``): after ``Wait,`` every step is checked
by its inverse operation, 1-3 rounds.  Not in the shipped recipe: a 1 500-step stage on it left
the policy writing wrong checks (see the lab EXPERIMENTS.md)."""

VOTE_SLIP, VOTE_STOP_FIRST, VOTE_MAX = 0.4, 0.4, 4
"""``vote``: each attempt slips (masked) with probability ``VOTE_SLIP``; thinking ends after
the first attempt with probability ``VOTE_STOP_FIRST``, later only when the attempt's result
equals an earlier attempt's (or after ``VOTE_MAX`` attempts)."""

CHECK_OK, CHECK_NO = "ok", "no"
_INVERSE = {"+": "-", "-": "+", "/": "*"}

Ref = tuple[str, int]
Op = tuple[Ref, str, Ref]
Parts = list[tuple[str, bool]]


@dataclass(frozen=True)
class LabProblem:
    """One synthetic problem: ``question`` is the user message, ``answer`` the gold answer."""

    id: str
    question: str
    answer: str
    meta: dict = field(default_factory=dict)


def apply_op(a, op: str, b):
    """Apply a binary operation exactly (Fractions for division); raises ZeroDivisionError."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return Fraction(a) / Fraction(b)
    raise ValueError(f"unknown operator {op!r}")


def fmt_num(x) -> str:
    """Format an int or Fraction (integral fractions print as ints)."""
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    return str(x)


def chain_values(leaves: list, ops: list[Op], override: dict[int, object] | None = None) -> list:
    """Values of every step; ``override`` replaces a step's result (error injection)."""
    override = override or {}
    vals: list = []
    for i, (lref, op, rref) in enumerate(ops):
        a = leaves[lref[1]] if lref[0] == "n" else vals[lref[1]]
        b = leaves[rref[1]] if rref[0] == "n" else vals[rref[1]]
        v = apply_op(a, op, b)
        if isinstance(v, Fraction) and v.denominator == 1:
            v = int(v)
        vals.append(override.get(i, v))
    return vals


def step_operands(leaves: list, ops: list[Op], vals: list, i: int) -> tuple:
    lref, op, rref = ops[i]
    a = leaves[lref[1]] if lref[0] == "n" else vals[lref[1]]
    b = leaves[rref[1]] if rref[0] == "n" else vals[rref[1]]
    return a, op, b


def step_text(a, op, b, c) -> str:
    return f"{fmt_num(a)}{op}{fmt_num(b)}={fmt_num(c)}"


def corrupt_value(v: int, rng: random.Random) -> int:
    """A plausible wrong result for ``v`` (off by one, ten, a hundred, or digit swap)."""
    cands = [v + 1, v - 1, v + 2, v - 2, v + 10, v - 10, v + 100, v - 100]
    s = str(v)
    if len(s) >= 2:
        sw = s[:-2] + s[-1] + s[-2]
        if sw[0] != "0":
            cands.append(int(sw))
    cands = [c for c in cands if c != v and 0 <= c <= 999]
    return rng.choice(cands) if cands else v + 1


def _in_range(vals: list) -> bool:
    return all(isinstance(x, int) and 0 <= x <= 999 for x in vals)


def corrupted_chain(leaves, ops, rng: random.Random, tries: int = 20):
    """Pick a step ``j`` and a wrong value; return ``(j, wrong_vals)`` or ``None``."""
    vals = chain_values(leaves, ops)
    for _ in range(tries):
        j = rng.randrange(len(ops))
        wrong = corrupt_value(int(vals[j]), rng) if isinstance(vals[j], int) else None
        if wrong is None:
            continue
        try:
            wv = chain_values(leaves, ops, {j: wrong})
        except ZeroDivisionError:
            continue
        if _in_range(wv):
            return j, wv
    return None


def redo_step(leaves, ops, vals: list, j: int, wrong: int | None, rng: random.Random):
    """A rewrite of step ``j`` (after ``<backtrack>``) that is wrong half the time, as the
    policy's are: the same wrong result again, another wrong result, or a misread operand
    (computed right from it).  Returns ``(step_text, values)`` with the later steps'
    values following from what was written; ``None`` if no in-range variant was found."""
    a, op, b = step_operands(leaves, ops, vals, j)
    kind = rng.choice(["right", "right", "right", "same", "result", "operand"])
    if kind == "right" or not isinstance(vals[j], int):
        return step_text(a, op, b, vals[j]), vals
    if kind == "same" and wrong is not None:
        c = wrong
    elif kind == "operand" and isinstance(a, int):
        a = corrupt_value(a, rng)
        c = apply_op(a, op, b)
    else:
        c = corrupt_value(vals[j], rng)
    try:
        wv = chain_values(leaves, ops, {j: c})
    except ZeroDivisionError:
        return None
    if not (isinstance(c, int) and _in_range(wv)):
        return None
    return step_text(a, op, b, c), wv


def misread_chain(leaves, ops, rng: random.Random, tries: int = 20):
    """Misread one step's second operand (a near miss, an extra or a dropped digit) or its
    operator: ``(j, leaves', ops', values')`` with every value in range, or ``None``."""
    right = chain_values(leaves, ops)
    for _ in range(tries):
        j = rng.randrange(len(ops))
        lref, op, rref = ops[j]
        new_leaves, new_ops = list(leaves), list(ops)
        b = leaves[rref[1]] if rref[0] == "n" else None
        if isinstance(b, int) and rng.random() < 0.6:
            new_leaves[rref[1]] = rng.choice([corrupt_value(b, rng), b * 10 + rng.randint(0, 9),
                                              b // 10 if b >= 10 else b + 1])
        else:
            new_ops[j] = (lref, rng.choice([o for o in "+-*" if o != op]), rref)
        try:
            vals = chain_values(new_leaves, new_ops)
        except ZeroDivisionError:
            continue
        if _in_range(vals) and vals[j] != right[j]:
            return j, new_leaves, new_ops, vals
    return None


def chain_step_parts(leaves, ops, vals, start: int = 0, stop: int | None = None,
                     wrong_at: int | None = None) -> list[Parts]:
    """Parts of each step ``start..stop``; the result of step ``wrong_at`` is untrainable."""
    stop = len(ops) if stop is None else stop
    out: list[Parts] = []
    for i in range(start, stop):
        a, op, b = step_operands(leaves, ops, vals, i)
        if i == wrong_at:
            out.append([(f"{fmt_num(a)}{op}{fmt_num(b)}=", True), (fmt_num(vals[i]), False)])
        else:
            out.append([(step_text(a, op, b, vals[i]), True)])
    return out


def check_text(a, op: str, b, c) -> tuple[str, bool]:
    """The inverse check of a written step ``a op b = c``: ``(equation, passes)``.

    ``a+b=c`` is checked as ``c-b`` against ``a``, ``a-b=c`` as ``c+b``, ``a/b=c`` as
    ``c*b``; a product ``a*b=c`` is recomputed commuted (``b*a`` against ``c``), which
    keeps the check free of divisions.  The check is a different computation from the
    step, so its slips need not be the step's slips (the point of re-checking).
    """
    if op == "*":
        v = apply_op(b, "*", a)
        return f"{fmt_num(b)}*{fmt_num(a)}={fmt_num(v)}", v == c
    inv = _INVERSE[op]
    v = apply_op(c, inv, b)
    return f"{fmt_num(c)}{inv}{fmt_num(b)}={fmt_num(v)}", v == a


def place_parts(x: int) -> list[int]:
    """The non-zero place values of ``x`` (``206 -> [200, 6]``; ``0 -> [0]``)."""
    parts = [int(d) * 10 ** k for k, d in enumerate(reversed(str(x))) if d != "0"][::-1]
    return parts or [0]


def granular_step(a: int, op: str, b: int) -> tuple[str, int]:
    """Step ``a op b`` recomputed in place-value pieces: ``(text, result)``.

    ``340-134: 340-100=240, 240-30=210, 210-4=206`` (``+``/``-`` take the second operand
    apart); ``206*4: 200*4=800, 6*4=24, 800+24=824`` (``*`` takes the first apart, then
    adds the partial products).
    """
    eqs = []
    if op == "*":
        prods = [(p, p * b) for p in place_parts(a)]
        eqs = [f"{p}*{b}={v}" for p, v in prods]
        acc = prods[0][1]
        for _, v in prods[1:]:
            eqs.append(f"{acc}+{v}={acc + v}")
            acc += v
    else:
        acc = a
        for p in place_parts(b):
            nxt = acc + p if op == "+" else acc - p
            eqs.append(f"{acc}{op}{p}={nxt}")
            acc = nxt
    return f"{a}{op}{b}: " + ", ".join(eqs), acc


def _attempt(leaves, ops, rng: random.Random, p_slip: float) -> tuple[list, int | None]:
    """The values one attempt writes and the step it slips at (``None``: no slip); it slips
    with probability ``p_slip``."""
    bad = corrupted_chain(leaves, ops, rng) if rng.random() < p_slip else None
    return (chain_values(leaves, ops), None) if bad is None else (bad[1], bad[0])


def _recheck_parts(leaves, ops, rng: random.Random, waits: int) -> Parts:
    """A first attempt (with a masked slip half the time), then ``waits`` rounds of
    ``Wait,`` + inverse checks of every written step; the first failed check (``no``)
    is followed by a recomputation from that step (which may slip again, to be caught
    by the next round; the last round always ends right)."""
    vals = chain_values(leaves, ops)
    written, wrong_at = _attempt(leaves, ops, rng, 0.5)
    body = join_steps(chain_step_parts(leaves, ops, written, wrong_at=wrong_at))
    for w in range(waits):
        steps: list[Parts] = []
        failed = None
        for i in range(len(ops)):
            a, op, b = step_operands(leaves, ops, written, i)
            text, ok = check_text(a, op, b, written[i])
            steps.append([(f"{text} {CHECK_OK if ok else CHECK_NO}", True)])
            if not ok:
                failed = i
                break
        if failed is not None:
            slip = None
            if w < waits - 1 and rng.random() < 0.3:
                k = rng.randrange(failed, len(ops))
                wrong = corrupt_value(int(vals[k]), rng) if isinstance(vals[k], int) else None
                if wrong is not None:
                    wv = chain_values(leaves, ops, {k: wrong})
                    if _in_range(wv):
                        slip = (k, wv)
            written, wrong_at = (vals, None) if slip is None else (slip[1], slip[0])
            steps += chain_step_parts(leaves, ops, written, start=failed, wrong_at=wrong_at)
        body += [(f" {WAIT} ", True)] + join_steps(steps)
    return body


def _vote_parts(leaves, ops, rng: random.Random) -> tuple[Parts, object]:
    """Recompute-until-two-agree: whole attempts separated by ``Wait,``, each slipping
    (with its wrong results masked) with probability ``VOTE_SLIP``.  After the first
    attempt thinking ends by chance (``VOTE_STOP_FIRST``, independent of a slip, so
    ``Wait,`` carries no hint that the attempt was wrong); after a later attempt it ends
    exactly when the result repeats an earlier attempt's result.  Returns the parts and
    the final attempt's result (the answer the trace gives)."""
    body: Parts = []
    results: list = []
    for k in range(VOTE_MAX):
        written, wrong_at = _attempt(leaves, ops, rng, VOTE_SLIP)
        if k:
            body.append((f" {WAIT} ", True))
        body += join_steps(chain_step_parts(leaves, ops, written, wrong_at=wrong_at))
        final = written[-1]
        agreed = final in results
        results.append(final)
        if (k == 0 and rng.random() < VOTE_STOP_FIRST) or agreed:
            break
    return body, results[-1]


def join_steps(steps: list[Parts], sep: str = "; ") -> Parts:
    parts: Parts = []
    for k, s in enumerate(steps):
        if k:
            parts.append((sep, True))
        parts.extend(s)
    return parts


def render_chain(leaves, ops, answer: str, style: str, rng: random.Random,
                 draft_values_only: bool = True, failed_attempts: list[list[str]] | None = None) -> Parts:
    """Render a solution chain in one of ``STYLES`` as trainable parts.

    ``failed_attempts`` (countdown) are complete, valid but unsuccessful step lists
    used by the ``switch`` style instead of an arithmetic slip.
    """
    vals = chain_values(leaves, ops)
    correct = chain_step_parts(leaves, ops, vals)
    answer_parts: Parts = [(answer, True)]
    # arith: the answer is the last step's result (a slip changes it); countdown: an expression
    answer_is_last = bool(ops) and ops[-1][0][0] == "s"
    body: Parts
    if style == "full":
        body = join_steps(correct)
    elif style == "draft":
        if draft_values_only:
            body = join_steps([[(fmt_num(v), True)] for v in vals])
        else:
            body = join_steps(correct)
    elif style == "verify":
        written, wrong_at = _attempt(leaves, ops, rng, 0.5)
        first = chain_step_parts(leaves, ops, written, wrong_at=wrong_at)
        body = join_steps(first) + [(f" {WAIT} ", True)] + join_steps(correct)
    elif style == "vote":
        body, final = _vote_parts(leaves, ops, rng)
        if final != vals[-1]:  # the attempts settled on a wrong result: say it, untrained
            answer_parts = [(fmt_num(final), False)]
    elif style == "granular":
        written, wrong_at = _attempt(leaves, ops, rng, 0.5)
        body = join_steps(chain_step_parts(leaves, ops, written, wrong_at=wrong_at))
        redo = join_steps([[(granular_step(*step_operands(leaves, ops, vals, i))[0], True)]
                           for i in range(len(ops))])
        for _ in range(1 if rng.random() < 0.7 else 2):
            body += [(f" {WAIT} ", True)] + redo
    elif style == "recheck":
        waits = rng.choices([1, 2, 3], [0.5, 0.3, 0.2])[0] if len(ops) <= 5 else rng.choice([1, 2])
        body = _recheck_parts(leaves, ops, rng, waits)
    elif style == "switch":
        if failed_attempts:
            body = []
            for att in failed_attempts:
                body += join_steps([[(s, True)] for s in att]) + [(f"; {SWITCH} ", True)]
            body += join_steps(correct)
        else:
            bad = corrupted_chain(leaves, ops, rng)
            if bad is None:
                return render_chain(leaves, ops, answer, "full", rng)
            j, wv = bad
            stop = min(len(ops), j + 1 + rng.randint(0, 1))
            first = chain_step_parts(leaves, ops, wv, stop=stop, wrong_at=j)
            body = join_steps(first) + [(f"; {SWITCH} ", True)] + join_steps(correct)
    elif style == "backtrack":
        bad = corrupted_chain(leaves, ops, rng)
        if bad is None:
            return render_chain(leaves, ops, answer, "full", rng)
        j, wv = bad
        steps = correct[:j]
        wrong_step = chain_step_parts(leaves, ops, wv, start=j, stop=j + 1, wrong_at=j)[0]
        steps.append(wrong_step + [(f" {BACKTRACK} ", True)] + correct[j])
        steps += correct[j + 1:]
        body = join_steps(steps)
    # backtrack_slip, switch_slip, answer_slip, misread: chains whose answer is the last result
    # (arith); countdown renders its own variants instead (``countdown.trace_parts``)
    elif style == "backtrack_slip":
        bad = corrupted_chain(leaves, ops, rng)
        redo = redo_step(leaves, ops, vals, bad[0], int(bad[1][bad[0]]), rng) if bad else None
        if redo is None:
            return render_chain(leaves, ops, answer, "backtrack", rng)
        j, wv = bad
        text, redo_vals = redo
        wrong_step = chain_step_parts(leaves, ops, wv, start=j, stop=j + 1, wrong_at=j)[0]
        steps = correct[:j] + [wrong_step + [(f" {BACKTRACK} {text}", False)]]
        steps += chain_step_parts(leaves, ops, redo_vals, start=j + 1)
        body = join_steps(steps)
        if redo_vals != vals and answer_is_last:
            answer_parts = [(fmt_num(redo_vals[-1]), False)]
    elif style == "switch_slip":
        first, _ = _attempt(leaves, ops, rng, 1.0)
        second, wrong_at = _attempt(leaves, ops, rng, 0.5)
        stop = rng.randint(1, len(ops))
        body = join_steps(chain_step_parts(leaves, ops, first, stop=stop)) + [(f"; {SWITCH} ", True)]
        body += join_steps(chain_step_parts(leaves, ops, second, wrong_at=wrong_at))
        if wrong_at is not None and answer_is_last:
            answer_parts = [(fmt_num(second[-1]), False)]
    elif style == "answer_slip":
        body = join_steps(correct)
        answer_parts = [(fmt_num(corrupt_value(vals[-1], rng)), False)]
    elif style == "misread":
        bad = misread_chain(leaves, ops, rng)
        if bad is None:
            return render_chain(leaves, ops, answer, "slip", rng)
        j, new_leaves, new_ops, wv = bad
        body = join_steps(correct[:j] + chain_step_parts(new_leaves, new_ops, wv, start=j, wrong_at=j))
        if answer_is_last:
            answer_parts = [(fmt_num(wv[-1]), False)]
    elif style == "slip":
        bad = corrupted_chain(leaves, ops, rng)
        if bad is None:
            return render_chain(leaves, ops, answer, "full", rng)
        j, wv = bad
        body = join_steps(chain_step_parts(leaves, ops, wv, wrong_at=j))
        if answer_is_last:
            answer_parts = [(fmt_num(wv[-1]), True)]
    else:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    return [(f"{THINK_OPEN} ", True)] + body + [(f" {THINK_CLOSE} Answer: ", True)] + answer_parts


_ANSWER_RE = re.compile(r"Answer:\s*((?:(?!Answer:)[^\n<])*)")  # the last of two on one line too


def extract_answer(text: str) -> str | None:
    """The text after the last ``Answer:`` (up to a newline or special token), stripped."""
    found = _ANSWER_RE.findall(text)
    if not found:
        return None
    ans = found[-1].strip()
    return ans.rstrip(".").strip() or None


def split_steps(assistant_text: str) -> list[str]:
    """Split an assistant text into PRM segments on the step delimiter ``;``.

    Every segment but the last ends with the delimiter; the last segment holds
    the rest of the text (the final step and the answer).
    """
    pieces = assistant_text.split(STEP_DELIMITER)
    return [p + STEP_DELIMITER for p in pieces[:-1]] + [pieces[-1]]


def insert_step_tags(assistant_text: str, step_tag: str) -> str:
    """Insert ``step_tag`` after every ``;`` and at the very end (PRM input format)."""
    return "".join(s + step_tag for s in split_steps(assistant_text))


_OPERATOR_CHARS = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-"})
_LATEX_OPERATORS = re.compile(r"\\(times|cdot|div)(?![A-Za-z])")
_TIMES_X = re.compile(r"(?<=[\d)])(\s*)[xX](?=\s*[\d(])")  # 8 x 3, (1+2)x8


def ascii_operators(text: str) -> str:
    """``text`` with the typographic and LaTeX operators models write as ``+ - * /``: ``×``,
    ``·``, ``\\times``, ``\\cdot`` and an ``x`` between numbers as ``*``, ``÷`` and ``\\div``
    as ``/``, the minus sign ``−`` as ``-``; the countdown answer checker reads them so
    (``countdown.expression_of``), and a step written with them must be read as a step, not
    skipped as prose (which would leave the numbers it used and made unrecorded)."""
    text = _LATEX_OPERATORS.sub(lambda m: "/" if m.group(1) == "div" else "*", text.translate(_OPERATOR_CHARS))
    return _TIMES_X.sub(r"\1*", text)


_NUM = r"\d+(?:/\d+)?"
EQ_RE = re.compile(
    # anchored: the first operand starts the expression (no digit, ".", "/", ")" or operator
    # right before it, and no operator before it across spaces), so the tail of a longer
    # expression (``8*8+6-4=2``) is not read as a step ``6-4=2``
    r"(?:(?<![-+*/\d.)\s])|(?<![-+*/\s])\s+)"
    rf"({_NUM})\s*([-+*/])\s*({_NUM})\s*=\s*(-?{_NUM})"
    r"(?![\d/]|\.\d)")  # and the result is whole: not the integer part of ``2.9``
"""One step ``a op b = c`` (ASCII operators, see :func:`ascii_operators`); operands and the
result are integers or fractions ``p/q``. Groups: ``a``, ``op``, ``b``, ``c``; the match may
begin with the spaces before ``a``."""

Equation = tuple[Fraction, str, Fraction, Fraction]


def equation_readings(m: re.Match) -> tuple[Equation, ...]:
    """The readings of an ``EQ_RE`` match, the plain one first: ``8/1/3=24`` (how a step
    ``8 ÷ (1/3)`` renders, see ``step_text``) is ``(8/1)/3`` or ``8/(1/3)``, and the caller
    takes the reading that fits (operands it holds, exact arithmetic). Only an unspaced
    ``p/q/r`` has two; operands with a zero denominator have none."""
    a, op, b, c = m.group(1, 2, 3, 4)
    texts = [(a, op, b)]
    if op == "/" and "/" in a and "/" not in b and m.end(1) == m.start(2) and m.end(2) == m.start(3):
        p, q = a.split("/")
        texts.append((p, "/", f"{q}/{b}"))
    out = []
    for x, o, y in texts:
        try:
            out.append((Fraction(x), o, Fraction(y), Fraction(c)))
        except ZeroDivisionError:
            continue
    return tuple(out)


def segment_equations(segment: str) -> list[tuple[str, tuple]]:
    """Events in a segment: ``("reset", ())`` for a restart (``Wait``, ``Alternatively``) and
    ``("eq", readings)`` for a step (:func:`equation_readings`: usually one reading; none
    where an operand divides by zero).

    Text before the last ``<backtrack>`` of the segment is discarded (it was retracted);
    operators are read as :func:`ascii_operators` writes them.
    """
    if BACKTRACK in segment:
        segment = segment.rsplit(BACKTRACK, 1)[1]
    events: list[tuple[str, tuple]] = []
    for m in _EVENT_RE.finditer(ascii_operators(segment)):
        if m.group(0) in ("Alternatively", "Wait"):
            events.append(("reset", ()))
        else:
            events.append(("eq", equation_readings(m)))
    return events


_EVENT_RE = re.compile(r"\bAlternatively\b|\bWait\b|" + EQ_RE.pattern)
RESET_RE = re.compile(r"\bWait\b|\bAlternatively\b")  # the words, not "Waiting" or "Waited"


def attempt_text(segment: str) -> tuple[bool, str]:
    """``(restarts, text)``: whether ``segment`` begins a new attempt (a ``Wait``/
    ``Alternatively`` in it) and the text in it that counts: what follows its last restart
    (what came before belongs to the abandoned attempt, however wrong). What a ``<backtrack>``
    retracted goes first, restarts in it too (``Wait, 8*2=15 <backtrack> 8*3=24``: the
    attempt goes on, it does not restart)."""
    if BACKTRACK in segment:
        segment = segment.rsplit(BACKTRACK, 1)[1]
    pieces = RESET_RE.split(segment)
    return len(pieces) > 1, pieces[-1]


def cumulative_labels(oks: list[bool], resets: list[bool], final_ok: bool | None) -> list[bool]:
    """Step labels: good iff every step since the last restart is ok; last = answer correct
    (``final_ok``; ``None`` for an unfinished text, whose last segment is a step like the rest).

    ``resets[i]`` says segment ``i`` starts a new attempt (``Wait,`` re-check or
    ``Alternatively,`` switch), which clears earlier failures.
    """
    labels: list[bool] = []
    good = True
    for ok, reset in zip(oks, resets):
        if reset:
            good = True
        good = good and ok
        labels.append(good)
    if labels and final_ok is not None:
        labels[-1] = final_ok
    return labels


def right_so_far(module, problem: LabProblem, assistant_text: str) -> bool:
    """Whether a solution is right so far: a finished one (thinking closed or an answer given)
    iff its answer is correct; an unfinished one iff every step since the last restart is
    (``module.step_labels(..., finished=False)``: for countdown, the target is also still
    reachable). The exact value of a partial path for step-level search."""
    answer = extract_answer(assistant_text)
    if "</think>" in assistant_text or answer is not None:
        return module.check(problem, answer)
    labels = module.step_labels(problem, assistant_text, finished=False)
    return not labels or labels[-1]
