"""Self-consistency: sample n reasoning paths, majority-vote over their extracted answers.

Paper: Wang et al., "Self-Consistency Improves Chain of Thought Reasoning in Language Models",
arXiv 2203.11171. Answers are grouped by equivalence (``ponder.answers``), not by raw text; samples
whose answer cannot be extracted do not vote; ties go to the answer that appeared first.
Defaults: temperature 0.7 (the paper's setting for its GPT-3 runs); n = 16 (the paper used 40 paths;
most of its gain is reached by 16). ``of=`` draws the n paths from another strategy instead of a
single chain-of-thought call (e.g. ``sc(n=8, of=budget(think=128))``), at sc's temperature unless the
inner spec sets its own (``of=budget(think=128, temperature=0.3)``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, cut_by_budget
from .cot import Cot
from .voting import score_by_share, vote


class ScParams(Params):
    n: int = Field(16, gt=0, le=1024)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    of: Any = None
    seed: int | None = None


class SelfConsistency(Strategy):
    name = "sc"
    summary = "self-consistency: n samples, majority vote over equivalent answers"
    paper = "arXiv 2203.11171"
    Params = ScParams
    strategy_params = ("of",)
    pool_param = "n"

    def inner(self) -> Strategy:
        p: ScParams = self.params  # type: ignore[assignment]
        return p.of if p.of is not None else Cot()

    async def draw(self, problem: Problem, engine: Engine) -> list[Candidate]:
        p: ScParams = self.params  # type: ignore[assignment]
        return await self.inner().sample(problem, engine, p.n, seed=p.seed, temperature=self.pool_temperature())

    async def run(self, problem: Problem, engine: Engine) -> Result:
        try:
            cands, exhausted = await self.draw(problem, engine), False
        except BudgetExhausted:
            cands, exhausted = [], True
        return self.decide(problem, cands, exhausted)

    def decide(self, problem: Problem, cands: list[Candidate], exhausted: bool = False) -> Result:
        v = vote(cands, kind=problem.answer_kind)
        score_by_share(cands, v)
        text = cands[v.index].text if v.index is not None else (cands[0].text if cands else "")
        return Result(answer=v.answer, text=text, strategy=self.spec, candidates=cands,
                      budget_exhausted=exhausted or cut_by_budget(cands),
                      trace={"votes": {cands[g[0]].answer: len(g) for g in v.groups}})
