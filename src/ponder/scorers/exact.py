"""``exact``: the task's own checker as a scorer (1 for a correct answer, 0 otherwise).

An oracle: useful for upper bounds (pass@k) and for tasks whose checking needs no gold answer,
such as ``countdown`` (any expression that reaches the target counts). A partial path of
step-level search (``finish_reason="partial"``) scores by the task's ``progress_checker`` where it
has one (the lab tasks: 1 while every step so far is right and, for countdown, the target still
reachable), else 0: ``tot``, ``mcts`` and ``beam`` then search with an exact value function, an
upper bound for what a PRM could give them.
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

    def spends_tokens(self) -> bool:
        return False

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float]:
        self.check(engine, problem)
        assert problem.checker is not None
        return [float(_right(problem, c)) for c in candidates]


def _right(problem: Problem, c: Candidate) -> bool:
    if c.finish_reason == "partial" and problem.progress_checker is not None:
        return bool(problem.progress_checker(c.text))
    return c.answer is not None and bool(problem.checker(c.answer))  # type: ignore[misc]
