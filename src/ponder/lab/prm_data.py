"""Training data for the step-tag process reward model (Math-Shepherd format).

PRM input = ``render_chat(messages)`` (the prompt with ``add_generation_prompt``)
followed by the assistant text with ``<step>`` inserted after every ``;`` and at
the very end.  The label of each tag is the exact ``step_labels`` of the task:
a step is good iff every step of the current attempt so far is correct (an
attempt restarts at ``Wait,`` / ``Alternatively,``); the last tag is good iff
the final answer is correct.  Drills (``drill_items``) and result-digit labels
(``result_digit_labels``) train the step check itself.
"""

from __future__ import annotations

import random
import re

from .tokenizer import STEP_TAG

PRM_SPEC = {"format": "step-tag", "step_tag": STEP_TAG, "good_token": "+", "bad_token": "-",
            "step_delimiter": ";"}

# Behaviour styles of the synthetic traces.  ``vote`` puts slips after ``Wait,``: in the
# other styles of the first set every step after it is right, a shortcut the PRM took (it
# rated wrong recomputations after ``Wait,`` highly on the policy's own samples).  The second
# set (``SYNTHETIC_STYLES``) adds slips after ``Alternatively,`` and ``<backtrack>``,
# misread operands and operators, and answers that contradict the last step.
SYNTHETIC_STYLES_V1 = {"full": 0.2, "slip": 0.3, "verify": 0.06, "vote": 0.18, "switch": 0.1,
                       "backtrack": 0.08, "draft": 0.08}
SYNTHETIC_STYLES = {"full": 0.16, "slip": 0.14, "misread": 0.14, "verify": 0.04, "vote": 0.12,
                    "switch": 0.04, "switch_slip": 0.06, "backtrack": 0.04, "backtrack_slip": 0.1,
                    "answer_slip": 0.08, "draft": 0.08}


def written_results(text: str) -> list[tuple[str, str] | None]:
    """For every ``=`` in ``text``: ``(written result, right result)`` when it closes an
    integer equation ``a op b=c``, else ``None``."""
    from fractions import Fraction

    from .tasks.base import EQ_RE, apply_op

    at = {}
    for m in EQ_RE.finditer(text):
        try:
            right = apply_op(Fraction(m.group(1)), m.group(2), Fraction(m.group(3)))
        except ZeroDivisionError:
            continue
        if right.denominator == 1 and "/" not in m.group(4):
            at[text.index("=", m.start())] = (m.group(4), str(right.numerator))
    return [at.get(i) for i, ch in enumerate(text) if ch == "="]


def labelled(tokenizer, problem, messages, text, digit_labels: bool = False,
             operand_labels: bool | tuple[str, ...] = False):
    """``(ids, positions, labels, prompt_len)`` for one trace, or ``None`` if tags and
    segments disagree (``prompt_len``: tokens before the assistant text).  ``positions``
    are the step tags, then (``digit_labels``) every written result digit, labelled by
    whether the result is right so far (see ``result_digit_labels``), then
    (``operand_labels``: ``True`` or the names of the tasks to do it for) for arith every
    operand, operator and answer token, labelled by whether it still agrees with the question
    (``chain_token_labels``), for countdown every operand and answer number, by whether it is
    still available (``available_token_labels``)."""
    from .tasks import task_of
    from .tokenizer import render_chat
    from .train import prm_example_ids

    labels = task_of(problem).step_labels(problem, text)
    ids, pos = prm_example_ids(tokenizer, messages, text, STEP_TAG)
    if len(pos) != len(labels) or len(ids) > 500:
        return None
    if digit_labels:
        dpos, dlab = result_digit_labels(tokenizer, ids, written_results(text))
        pos, labels = pos + dpos, labels + dlab
    prompt_len = len(tokenizer.encode(render_chat(messages), add_special_tokens=False))
    task = problem.meta.get("task")
    if operand_labels is True or (operand_labels and task in operand_labels):
        label = {"arith": chain_token_labels, "countdown": available_token_labels}.get(task)
        if label is not None:
            opos, olab = label(tokenizer, ids, problem, prompt_len)
            pos, labels = pos + opos, labels + olab
    return ids, pos, labels, prompt_len


def synthetic_items(n: int, seed: int, styles: dict[str, float] | None = None,
                    mix: dict[str, float] | None = None):
    """``(problem, messages, text)`` triples rendered from the tasks (with slips)."""
    from .data import PROMPT_STYLES, build_examples

    styles = dict(styles or SYNTHETIC_STYLES)
    styles.pop("draft")
    exs = build_examples(n, seed, mix=mix, trace_styles=styles,
                         prompt_styles={**PROMPT_STYLES, "draft_system": 0.04, "draft_prefix": 0.04})
    return [(e.problem, e.messages, e.text) for e in exs]


def onpolicy_items(policy_dir, n_problems: int, samples_per_problem: int, seed: int,
                   temperature: float = 1.0, mix: dict[str, float] | None = None):
    """Samples of the policy on fresh training problems, as ``(problem, messages, text)``."""
    from .data import make_messages, training_problems
    from .evaluate import load_model, sample

    model, tok = load_model(policy_dir)
    probs = training_problems(n_problems, seed=seed, mix=mix or {"arith": 0.8, "countdown": 0.2})
    rng = random.Random(seed)
    msgs = [make_messages(p.question, rng.choices(["plain", "cot_system", "cot_prefix"],
                                                  [0.7, 0.15, 0.15])[0], rng)[0] for p in probs]
    outs = sample(model, tok, msgs, n=samples_per_problem, temperature=temperature, seed=seed)
    return [(p, m, t) for p, m, ts in zip(probs, msgs, outs) for t in ts]


DRILL_QUESTION = "Check each step."


def drill_equation(rng: random.Random) -> tuple[str, str, str]:
    """One random step of the arith kind: ``(text, written result, right result)``; the
    written result is right or a near miss, half each."""
    from .tasks.base import apply_op, corrupt_value, step_text

    while True:
        op = rng.choice("+-*")
        a = rng.randint(0, 999)
        b = rng.randint(2, 9) if op == "*" else rng.randint(1, 999)
        c = apply_op(a, op, b)
        if 0 <= c <= 999:
            break
    w = c if rng.random() < 0.5 else corrupt_value(c, rng)
    return step_text(a, op, b, w), str(w), str(c)


def result_digit_labels(tokenizer, ids: list[int], results: list[tuple[str, str] | None]):
    """Positions of the result digits of each ``=`` in ``ids`` (in order; ``results`` has one
    entry per ``=``, ``None`` to skip it) with the label "the result written so far is a
    prefix of the right one": the local comparisons a step check is made of, trained where
    each digit is read."""
    eq = tokenizer.convert_tokens_to_ids("=")
    digits = set(tokenizer.convert_tokens_to_ids(list("0123456789")))
    pos, labels = [], []
    for i, result in zip([i for i, t in enumerate(ids) if t == eq], results):
        if result is None:
            continue
        written, right = result
        j = i + 1
        while j < len(ids) and ids[j] in digits and j - i <= len(written):
            pos.append(j)
            labels.append(written[:j - i] == right[:j - i])
            j += 1
    return pos, labels


def chain_token_labels(tokenizer, ids: list[int], problem, start: int):
    """Positions and labels of the tokens of an arith trace that restate the question.

    In every equation ``a op b=c`` after ``start``: each digit of ``a`` is good iff ``a`` so
    far is a prefix of a value the chain can continue from (the start or an intermediate
    result); the operator and each digit of ``b`` iff some step of the chain continues
    from ``a`` with that operator and an operand of which ``b`` so far is a prefix; each
    digit after ``Answer:`` iff it is a prefix of the right answer.  The step tags
    alone did not teach the PRM to compare a step with the question (it passed
    ``424+428=852`` where the question said ``+42``); these labels put the comparison at
    the token where it is made, as ``result_digit_labels`` does for the arithmetic.  Tried
    in a fifth PRM stage and not shipped (the lab EXPERIMENTS.md: "operand labels")."""
    pieces = tokenizer.convert_ids_to_tokens(ids)
    owner = [i for i, piece in enumerate(pieces) for _ in piece]
    text = "".join(pieces)
    meta = problem.meta
    prevs = [str(meta["start"])] + [str(v) for v in meta["values"][:-1]]
    steps = {}
    for a, (op, b) in zip(prevs, meta["steps"]):
        steps.setdefault(a, []).append(op + str(b))
    pos, labels = [], []
    skip = len("".join(pieces[:start]))
    for m in re.finditer(r"(\d+)([-+*])(\d+)=", text[skip:]):
        a, rest = m.group(1), m.group(2) + m.group(3)
        a0 = skip + m.start(1)
        for k in range(len(a)):
            pos.append(owner[a0 + k])
            labels.append(any(p.startswith(a[:k + 1]) for p in prevs))
        for k in range(len(rest)):
            pos.append(owner[a0 + len(a) + k])
            labels.append(any(r.startswith(rest[:k + 1]) for r in steps.get(a, [])))
    m = re.search(r"Answer:\D*?(\d+)", text[skip:])
    if m:
        for k in range(len(m.group(1))):
            pos.append(owner[skip + m.start(1) + k])
            labels.append(problem.answer.startswith(m.group(1)[:k + 1]))
    return pos, labels


def drill_items(tokenizer, n: int, seed: int, steps: int = 8):
    """Arithmetic drill for the PRM's step check: sequences of unrelated steps, each tag
    labelled by its own equation alone (not "correct so far"), and each result digit by
    whether the result is still right up to it.  On the traces alone the PRM never learned
    to check a step (its scores did not tell a near-miss result from the right one; it
    judged a trace by its shape).  Rendered in the PRM input format."""
    from .tasks.base import THINK_CLOSE, THINK_OPEN
    from .tokenizer import render_chat
    from .train import prm_example_ids

    rng = random.Random(f"drill:{seed}")
    msgs = [{"role": "user", "content": DRILL_QUESTION}]
    prompt_len = len(tokenizer.encode(render_chat(msgs), add_special_tokens=False))
    out = []
    for _ in range(n):
        eqs = [drill_equation(rng) for _ in range(steps)]
        text = f"{THINK_OPEN} " + "; ".join(e for e, _, _ in eqs) + f" {THINK_CLOSE}"
        ids, tags = prm_example_ids(tokenizer, msgs, text, STEP_TAG)
        dpos, dlab = result_digit_labels(tokenizer, ids, [(w, c) for _, w, c in eqs])
        out.append((ids, tags + dpos, [w == c for _, w, c in eqs] + dlab, prompt_len))
    return out


def build_prm_dataset(tokenizer, policy_dir, seed: int = 0, n_onpolicy: int = 1200,
                      samples_per_problem: int = 4, n_synthetic: int = 12000, n_drill: int = 0,
                      digit_labels: bool = False, synthetic_styles: dict[str, float] | None = None,
                      task_mix: dict[str, float] | None = None,
                      operand_labels: bool | tuple[str, ...] = False):
    """Labelled PRM sequences: synthetic traces, on-policy samples and ``n_drill``
    step-check drills (``digit_labels``: the traces' result digits are labelled too;
    ``operand_labels``: their operands, operators and answers; ``task_mix``: the tasks'
    shares of traces and samples, default the data's own)."""
    items = synthetic_items(n_synthetic, seed, synthetic_styles, task_mix)
    if n_onpolicy:
        items += onpolicy_items(policy_dir, n_onpolicy, samples_per_problem, seed + 1, mix=task_mix)
    out = []
    for p, m, t in items:
        r = labelled(tokenizer, p, m, t, digit_labels, operand_labels)
        if r is not None:
            out.append(r)
    return out + (drill_items(tokenizer, n_drill, seed) if n_drill else [])


# the restart words and steps as the task reads them (``tasks.base``): whole words (read in token
# pieces, where a space is "Ġ", a letter to ``\b``), and a step whose first operand starts the
# expression and whose result is whole
_CD_EVENT_RE = re.compile(r"(?<![A-Za-z])(?:Alternatively|Wait)(?![A-Za-z])|<backtrack>|Answer:|"
                          r"(?<![-+*/\d.)])(\d+)([-+*/])(\d+)=(\d+)(?![\d/]|\.\d)")


def available_token_labels(tokenizer, ids: list[int], problem, start: int):
    """Positions and labels of the operand digits of a countdown trace (and of the numbers in
    its answer): each digit is good iff the number so far is a prefix of a number still
    available (the given numbers, minus the operands used, plus the results written, since
    the attempt began; ``Wait,`` and ``Alternatively,`` begin a new one, ``<backtrack>``
    retracts the step before it). A policy's wrong countdown sample mostly uses a number it
    no longer has (59 % of them, on 200 x 16 samples); these labels put that check on the
    token where it is made. Labelling stops at the first unavailable number of an attempt."""
    from collections import Counter

    pieces = tokenizer.convert_ids_to_tokens(ids)
    owner = [i for i, piece in enumerate(pieces) for _ in piece]
    text = "".join(pieces)
    skip = len("".join(pieces[:start]))
    given = Counter(problem.meta["numbers"])
    state, history, broken = Counter(given), [], False
    pos, labels = [], []

    def take(number: str, at: int, pool: Counter) -> bool:
        for k in range(len(number)):
            pos.append(owner[at + k])
            labels.append(any(str(x).startswith(number[:k + 1]) for x, c in pool.items() if c > 0))
        return pool[int(number)] > 0

    for m in _CD_EVENT_RE.finditer(text, skip):
        word = m.group(0)
        if word in ("Alternatively", "Wait"):
            state, history, broken = Counter(given), [], False
        elif word == "<backtrack>":
            if history and not broken:
                state = history.pop()
        elif word == "Answer:":
            pool = Counter(given)
            for num in re.finditer(r"\d+", text[m.end():m.end() + 60].split("<")[0].split("\n")[0]):
                if not take(num.group(0), m.end() + num.start(), pool):
                    break
                pool[int(num.group(0))] -= 1
            break
        elif not broken:
            a, b, c = m.group(1), m.group(3), m.group(4)
            pool = Counter(state)
            ok = take(a, m.start(1), pool)
            if ok:
                pool[int(a)] -= 1
                ok = take(b, m.start(3), pool)
            if not ok:
                broken = True
                continue
            history.append(state)
            state = pool - Counter([int(b)])
            state[int(c)] += 1
    return pos, labels
