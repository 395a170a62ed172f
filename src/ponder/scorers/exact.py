"""``exact``: the task's own checker as a scorer (1 for a correct answer, 0 otherwise).

An oracle: useful for upper bounds (pass@k) and for tasks whose checking needs no gold answer,
such as ``countdown`` (any expression that reaches the target counts).
"""

from __future__ import annotations

from ..engine import Engine
from ..errors import StrategySpecError
from ..types import Candidate, Problem
from .base import Scorer


class ExactScorer(Scorer):
    name = "exact"
    summary = "the task's checker (1 correct, 0 not); needs a task with a checker"
    role = "checker"

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        if problem is not None and problem.checker is None:
            raise StrategySpecError(f"scorer exact needs a task with a checker; problem {problem.id!r} has none "
                                    "(lab tasks such as countdown and arith have one; use prm, orm or judge)")

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float]:
        self.check(engine, problem)
        assert problem.checker is not None
        return [1.0 if c.answer is not None and problem.checker(c.answer) else 0.0 for c in candidates]
