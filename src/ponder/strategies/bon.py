"""Best-of-N: draw n candidates, score each with a verifier, keep the highest-scoring one.

Papers: Cobbe et al., "Training Verifiers to Solve Math Word Problems" (arXiv 2110.14168) for
outcome verifiers; Lightman et al., "Let's Verify Step by Step" (arXiv 2305.20050) for process
reward models. Defaults: n = 16, temperature 0.7 (as self-consistency), scorer ``prm`` (the lab PRM
unless ``scorer=prm(model='hf:PATH')``), step scores aggregated by the last step (the
search-and-learn default). Ties go to the earliest candidate.

Under a token budget a scorer that calls a model (``prm``, ``orm``, ``judge``, ``logprob`` by a
forward pass) gets half of what is left when sampling starts: reading a candidate costs it about
what writing it cost the policy, so samples that took the whole budget would go unscored.
Candidates with no answer are not scored (they cannot be chosen).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import Scorer, build_scorer, rank, unscored_by_budget
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, cut_by_budget
from .cot import Cot


class BonParams(Params):
    n: int = Field(16, gt=0, le=1024)
    scorer: Any = "prm"
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    of: Any = None
    seed: int | None = None


class BestOfN(Strategy):
    name = "bon"
    summary = "best-of-N: n samples scored by a verifier (prm, orm, logprob, judge, exact, execution), keep the best"
    paper = "arXiv 2110.14168, 2305.20050"
    Params = BonParams
    strategy_params = ("of",)
    pool_param = "n"

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        super().__init__(params, spec)
        self.scorer: Scorer = build_scorer(self.params.scorer)  # type: ignore[attr-defined]
        of = self.params.of  # type: ignore[attr-defined]
        # a scorer that reads log-probabilities gets them from cot's sampling call (draw asks for them)
        self.asks_logprobs = self.scorer.wants_logprobs and (of is None or isinstance(of, Cot))
        if self.asks_logprobs:
            self.scorer.with_candidates = True  # type: ignore[attr-defined]

    def check(self, engine: Engine) -> None:
        super().check(engine)
        self.scorer.check(engine)

    async def draw(self, problem: Problem, engine: Engine) -> list[Candidate]:
        p: BonParams = self.params  # type: ignore[assignment]
        self.scorer.check(engine, problem)
        inner = p.of if p.of is not None else Cot()
        extra = {"logprobs": True} if self.asks_logprobs else {}
        room = engine.budget.unclaimed_tokens()
        held = room // 2 if room is not None and self.scorer.spends_tokens() else 0
        async with engine.budget.holding(held, "scoring"):  # the scorer's half of a token budget
            cands = await inner.sample(problem, engine, p.n, seed=p.seed,
                                       temperature=None if p.of is not None else p.temperature, **extra)
        answered = [c for c in cands if c.answer is not None]  # one with no answer cannot be chosen
        for c in cands:
            if c.answer is None:
                c.meta["unscored"] = "no answer to score"
        try:
            scores = await self.scorer.score(problem, answered, engine) if answered else []
        except BudgetExhausted:
            scores = [None] * len(answered)  # type: ignore[list-item]
        for c, s in zip(answered, scores):
            c.score = s
        return cands

    async def run(self, problem: Problem, engine: Engine) -> Result:
        try:
            return self.decide(problem, await self.draw(problem, engine))
        except BudgetExhausted:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)

    def decide(self, problem: Problem, candidates: list[Candidate], exhausted: bool = False) -> Result:
        scored = [i for i, c in enumerate(candidates) if c.score is not None and c.answer is not None]
        if not scored:  # no scores (budget, none readable) or no answers: the first candidate with an answer
            scored = [i for i, c in enumerate(candidates) if c.answer is not None] or list(range(len(candidates)))
        if not scored:
            return Result(answer=None, text="", strategy=self.spec, candidates=candidates, budget_exhausted=True)
        best = max(scored, key=lambda i: (rank(candidates[i].score), -i))
        c = candidates[best]
        trace: dict = {"chosen": best, "scores": [x.score for x in candidates]}
        if any("unscored" in x.meta for x in candidates):
            trace["unscored"] = {i: x.meta["unscored"] for i, x in enumerate(candidates) if "unscored" in x.meta}
        return Result(answer=c.answer, text=c.text, strategy=self.spec, candidates=candidates,
                      budget_exhausted=exhausted or unscored_by_budget(candidates) or cut_by_budget(candidates),
                      trace=trace)
