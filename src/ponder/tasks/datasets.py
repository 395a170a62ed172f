"""File-backed tasks: GSM8K, MATH-500, Game of 24 and any JSONL with question/answer fields."""

from __future__ import annotations

import csv
import io
import json
import re

from ..types import Problem
from .base import (Task, TaskSpecError, no_records, read_jsonl, read_text, register_task, require_fields,
                   require_file, require_options, take)


@register_task("gsm8k")
def gsm8k(path: str | None, options: dict[str, str]) -> Task:
    p = require_file("gsm8k", path)
    require_options("gsm8k", options)

    def load(limit: int | None, seed: int) -> list[Problem]:
        out = []
        for i, row in enumerate(read_jsonl(p, ("question", "answer"))):
            require_fields("gsm8k", p, i + 1, row, ("question", "answer"))
            if "####" not in str(row["answer"]):  # the whole solution would become the gold answer
                raise TaskSpecError(f"{p}: record {i + 1}: its answer has no '#### <number>' line, which gsm8k "
                                    "reads the gold answer from (openai/grade-school-math's format)")
            gold = str(row["answer"]).split("####")[-1].strip().replace(",", "")
            out.append(Problem.from_question(row["question"], answer=gold, id=f"gsm8k-{i}", answer_kind="gsm8k"))
        return take(out, limit)

    return Task("gsm8k", load)


@register_task("math500")
def math500(path: str | None, options: dict[str, str]) -> Task:
    p = require_file("math500", path)
    require_options("math500", options)

    def load(limit: int | None, seed: int) -> list[Problem]:
        text = read_text(p)
        if text.lstrip().startswith("["):
            try:
                rows = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TaskSpecError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
            if not rows:
                raise no_records(p, "a JSON array of objects, or one JSON object per line", ("problem", "answer"))
        else:
            rows = read_jsonl(p, ("problem", "answer"))
        rows = [require_fields("math500", p, i + 1, r, ("problem", "answer")) for i, r in enumerate(rows)]
        out = [Problem.from_question(str(r["problem"]), answer=str(r["answer"]),
                                     id=str(r.get("unique_id", f"math500-{i}")), answer_kind="math",
                                     subject=r.get("subject"), level=r.get("level"))
               for i, r in enumerate(rows)]
        return take(out, limit)

    return Task("math500", load)


@register_task("jsonl")
def jsonl(path: str | None, options: dict[str, str]) -> Task:
    from ..answers.extract import KINDS

    p = require_file("jsonl", path)
    require_options("jsonl", options, ("question", "answer", "kind"))
    qf, af, kind = options.get("question", "question"), options.get("answer", "answer"), options.get("kind", "auto")
    if kind not in KINDS:  # else every answer failed to grade, each unit with the same error
        raise TaskSpecError(f"task jsonl: kind= accepts {', '.join(KINDS)}, got {kind!r}")

    def load(limit: int | None, seed: int) -> list[Problem]:
        out = []
        for i, row in enumerate(read_jsonl(p, (qf, af))):
            require_fields("jsonl", p, i + 1, row, (qf, af), hint="; name other fields with ?question=…&answer=…")
            out.append(Problem.from_question(str(row[qf]), answer=str(row[af]), id=str(row.get("id", f"row-{i}")),
                                             answer_kind=kind))
        return take(out, limit)

    return Task("jsonl", load)


@register_task("game24")
def game24(path: str | None, options: dict[str, str]) -> Task:
    """Game of 24 (the Tree of Thoughts CSV): reach 24 from four numbers, checked exactly."""
    from ..lab.tasks import countdown

    p = require_file("game24", path)
    require_options("game24", options)

    def load(limit: int | None, seed: int) -> list[Problem]:
        out = []
        for n, row in enumerate(csv.DictReader(io.StringIO(read_text(p), newline="")), 1):
            puzzle = require_fields("game24", p, n, row, ("Puzzles",))["Puzzles"]
            nums = [int(x) for x in re.findall(r"\d+", puzzle)]
            if len(nums) != 4:
                raise TaskSpecError(f"{p}: record {n}: Puzzles {puzzle!r} is not four numbers")
            lab_problem = countdown.problem_from_numbers(nums, 24, pid=f"game24-{row.get('Rank', len(out))}")
            out.append(_from_lab(lab_problem, countdown))
        if not out:
            raise no_records(p, "a CSV file with a header and a row per puzzle", ("Puzzles",))
        return take(out, limit)

    return Task("game24", load)


def _from_lab(lp, module) -> Problem:
    """A lab problem as a Ponder Problem with its exact checker and its exact check of partial
    solutions (``right_so_far``)."""
    from ..lab.tasks.base import right_so_far

    return Problem(id=lp.id, messages=[{"role": "user", "content": lp.question}], answer=lp.answer,
                   answer_kind="string", meta=dict(lp.meta), checker=lambda ans, lp=lp: module.check(lp, ans),
                   progress_checker=lambda text, lp=lp: right_so_far(module, lp, text))
