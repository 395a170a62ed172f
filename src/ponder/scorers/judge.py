"""``judge``: an LLM rates each candidate through a prompt (LLM-as-a-judge).

The judge (any model spec; by default the policy itself) reads the problem and one candidate
solution and answers with a rating from 1 to 10; the score is rating / 10. The rating read is a
labelled one (``Rating: 7``, ``score 7``, ``7/10``, ``7 out of 10``), else the last number from 1 to
10 of the reply outside any thinking (a judge that works the problem first, ``12+7=19 ... Rating: 1``,
is not read as 7). A reply with no rating scores 0 and is kept in the candidate's metadata; a reply
the budget cut off is not read at all: the candidate is unscored (None), as if the budget had
stopped the call.
"""

from __future__ import annotations

import re

from pydantic import Field

from ..budget import gather_within_budget
from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, GenerationRequest, Problem
from .base import Scorer, ScorerParams

JUDGE_PROMPT = (
    "You are grading a solution to a problem.\n\nProblem:\n{question}\n\nSolution:\n{solution}\n\n"
    "How likely is the solution's final answer to be correct? Reply with a single integer rating from "
    "1 (certainly wrong) to 10 (certainly correct)."
)


_LABELLED = re.compile(r"(?:\b(?:rating|score|grade)\b\W{0,3}(?:is\W{0,2})?(10|[1-9])\b"
                       r"|\b(10|[1-9])\s*(?:/\s*10|out of 10)\b)", re.IGNORECASE)
_RATING = re.compile(r"(?<![\d.])(10|[1-9])(?!\d|\.\d)")  # not a piece of 12 or 3.5


def read_rating(reply: str) -> int | None:
    """The 1-10 rating of a judge's reply (see the module docstring), or None."""
    from ..answers.spans import split_think

    outside, _ = split_think(reply)
    text = outside if outside.strip() else reply
    labelled = list(_LABELLED.finditer(text))
    if labelled:
        m = labelled[-1]
        return int(m.group(1) or m.group(2))
    numbers = [m for m in _RATING.finditer(text) if not _in_number(text, m)]
    return int(numbers[-1].group(1)) if numbers else None


def _in_number(text: str, m: re.Match[str]) -> bool:
    """The match is an operand of an expression (``12+7``, ``19*3``), not a rating."""
    before = text[m.start() - 1] if m.start() > 0 else ""
    after = text[m.end()] if m.end() < len(text) else ""
    return any(ch and ch in "+-*/=^" for ch in (before, after))


class JudgeParams(ScorerParams):
    model: str | None = None
    max_tokens: int = Field(16, gt=0)


class JudgeScorer(Scorer):
    name = "judge"
    summary = "an LLM rates each candidate 1-10 through a prompt (any model spec; default the policy)"
    role = "judge"
    Params = JudgeParams

    def _engine(self, engine: Engine) -> Engine:
        p: JudgeParams = self.params  # type: ignore[assignment]
        return engine if p.model is None else engine.with_model(p.model)

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        self._engine(engine)  # a bad judge model spec fails here, before any call

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float | None]:
        p: JudgeParams = self.params  # type: ignore[assignment]
        judge = self._engine(engine)

        async def rate(c: Candidate) -> float | None:
            prompt = JUDGE_PROMPT.format(question=problem.question, solution=c.text)
            [s] = await judge.generate(GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                                         max_tokens=p.max_tokens, temperature=0.0), role=self.role)
            c.meta["judge_reply"] = s.text[:200]
            if s.finish_reason == "budget":  # the budget cut the reply (or left it undrawn): no rating read
                return None  # unscored by the budget (``unscored_by_budget``), as a reply never made
            rating = read_rating(s.text)
            return rating / 10 if rating is not None else 0.0

        scores, stopped = await gather_within_budget(*(rate(c) for c in candidates))
        if stopped and all(s is None for s in scores):
            raise BudgetExhausted(engine.budget.exhausted_reason() or "budget spent")
        return scores
