"""Best-of-N: draw n candidates, score each with a verifier, keep the highest-scoring one.

Papers: Cobbe et al., "Training Verifiers to Solve Math Word Problems" (arXiv 2110.14168) for
outcome verifiers; Lightman et al., "Let's Verify Step by Step" (arXiv 2305.20050) for process
reward models. Defaults: n = 16, temperature 0.7 (as self-consistency), scorer ``prm`` (the lab PRM
unless ``scorer=prm(model='hf:PATH')``), step scores aggregated by the last step (the
search-and-learn default). Ties go to the earliest candidate.

Under a token budget that may not pay for n candidates and their scores (a scorer that calls a
model: ``prm``, ``orm``, ``judge``, ``logprob`` by a forward pass), candidates are drawn and scored
a wave at a time, so that samples do not take the whole budget and leave their answers unscored.
Candidates with no answer are not scored (they cannot be chosen).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import Scorer, build_scorer, rank, unscored_by_budget
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, cut_by_budget, derive_seed
from .cot import Cot


class BonParams(Params):
    n: int = Field(16, gt=0, le=1024)
    scorer: Any = "prm"
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    of: Any = None
    seed: int | None = None


class BestOfN(Strategy):
    name = "bon"
    summary = "best-of-N: n samples scored by a verifier (prm, orm, logprob, judge, exact, execution, vote), keep the best"
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
        kw: dict[str, Any] = {"temperature": self.pool_temperature()}
        if self.asks_logprobs:
            kw["logprobs"] = True
        if self._short(problem, engine, inner):
            return await self._draw_in_turn(problem, engine, inner, kw)
        cands = await inner.sample(problem, engine, p.n, seed=p.seed, **kw)
        await self._score(problem, engine, cands)
        return cands

    def _short(self, problem: Problem, engine: Engine, inner: Strategy) -> bool:
        """A token budget that may not pay for n candidates and their scores (reading a candidate
        costs a scorer about what writing it cost the policy). Unknown for a strategy with no
        ``max_tokens``: then any token budget is taken as short."""
        room = engine.budget.unclaimed_tokens()
        if room is None or not self.scorer.spends_tokens():
            return False
        most = getattr(inner.params, "max_tokens", None)
        if not isinstance(most, int):
            return True
        prompt = engine.estimate_tokens("\n".join(str(m.get("content") or "") for m in problem.messages))
        return room < 2 * self.params.n * (prompt + most)  # type: ignore[attr-defined]

    async def _draw_in_turn(self, problem: Problem, engine: Engine, inner: Strategy,
                            kw: dict[str, Any]) -> list[Candidate]:
        """Candidates drawn and scored a wave at a time: the first alone (it may take all that is
        left), each later wave as many as the tokens left pay for twice over at the most a candidate
        has cost so far, its sample and its score. It stops when the budget cuts a sample or a
        score, or leaves less than that most, so the answers drawn are scored. The wave drawing
        candidates ``i`` on is seeded ``seed + i`` for cot (as a fanned-out call) and
        ``derive_seed(seed, i)`` for another strategy."""
        p: BonParams = self.params  # type: ignore[assignment]
        cands: list[Candidate] = []
        cost = 0.0
        while len(cands) < p.n:
            i, room = len(cands), engine.budget.unclaimed_tokens() or 0
            if cost and room < cost:  # another sample could not be scored, so could not be chosen
                engine.budget.cut_short = (f"token budget of {engine.budget.max_tokens} nearly spent: {room} "
                                           f"left, less than a candidate has cost (sample and score: {cost:.0f})")
                break
            k = 1 if not cost else max(1, min(p.n - i, int(room // (2 * cost))))
            seed = None if p.seed is None else p.seed + i if isinstance(inner, Cot) else derive_seed(p.seed, i)
            spent = engine.budget.tokens_used
            try:
                wave = await inner.sample(problem, engine, k, seed=seed, **kw)
            except BudgetExhausted:
                break
            scored = await self._score(problem, engine, wave)
            cands += wave
            if not scored or cut_by_budget(wave):
                break
            cost = max(cost, (engine.budget.tokens_used - spent) / k, 1.0)
        return cands + [Candidate.not_drawn(strategy=inner.spec) for _ in range(p.n - len(cands))]

    async def _score(self, problem: Problem, engine: Engine, cands: list[Candidate]) -> bool:
        """Score the candidates with an answer (one with none cannot be chosen); False when the
        budget stopped the scorer before it scored them all."""
        answered = [c for c in cands if c.answer is not None]
        for c in cands:
            if c.answer is None:
                c.meta["unscored"] = "no answer to score"
        try:
            scores = await self.scorer.score(problem, answered, engine) if answered else []
        except BudgetExhausted:
            scores = [None] * len(answered)  # type: ignore[list-item]
        for c, s in zip(answered, scores):
            c.score = s
        return not unscored_by_budget(answered)

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
