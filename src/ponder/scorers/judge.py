"""``judge``: an LLM rates each candidate through a prompt (LLM-as-a-judge).

The judge (any model spec; by default the policy itself) reads the problem and one candidate
solution and answers with a rating from 1 to 10; the score is rating / 10. A reply with no
rating scores 0 and is counted in the candidate's metadata.
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

        async def rate(c: Candidate) -> float:
            prompt = JUDGE_PROMPT.format(question=problem.question, solution=c.text)
            [s] = await judge.generate(GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                                         max_tokens=p.max_tokens, temperature=0.0), role=self.role)
            m = re.search(r"\b(10|[1-9])\b", s.text)
            c.meta["judge_reply"] = s.text[:200]
            return int(m.group(1)) / 10 if m else 0.0

        scores, stopped = await gather_within_budget(*(rate(c) for c in candidates))
        if stopped and all(s is None for s in scores):
            raise BudgetExhausted(engine.budget.exhausted_reason() or "budget spent")
        return scores
