"""Self-backtracking: when the model emits ``<backtrack>``, roll back one step and re-expand.

Paper: Yang et al., "Step Back to Leap Forward: Self-Backtracking for Boosting Reasoning of Language
Models", arXiv 2502.04404. Expansion: n samples; a sample that emits the backtrack token is cut
there, its last step is dropped, and the shorter prefix is expanded again (a visited set keeps a
prefix from being expanded twice, ``depth`` bounds the backtracks per path). Selection:
length-normalised log-likelihood of each completed solution, equal answers merged (their
likelihoods summed); from a model server that returns no log-probabilities, a plain majority
vote, which the trace's note says. Defaults: n = 8 and temperature 0.7 (ours; the paper sweeps
N), backtrack depth b = 2 per path, two re-expansions of each rolled-back prefix.
"""

from __future__ import annotations

import math
from collections import defaultdict

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import CUT, Params, Strategy, answer_of, cut_by_budget


class BacktrackParams(Params):
    n: int = Field(8, gt=0, le=256)
    expansions: int = Field(2, gt=0, le=64)
    depth: int = Field(2, ge=0, le=16)
    token: str = "<backtrack>"
    delimiter: str = ";"
    max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    seed: int | None = None


class SelfBacktracking(Strategy):
    name = "backtrack"
    summary = "self-backtracking: on <backtrack>, drop the last step and re-expand; pick by normalised likelihood"
    paper = "arXiv 2502.04404"
    Params = BacktrackParams

    def check(self, engine: Engine) -> None:
        engine.require("prefix_continuation", "backtrack (re-expanding from an earlier step)")

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BacktrackParams = self.params  # type: ignore[assignment]
        queue: list[tuple[str, int]] = [("", 0)]
        visited = {""}
        done: list[Candidate] = []
        rollbacks, calls, exhausted = 0, 0, False
        try:
            while queue:
                prefix, used = queue.pop(0)
                k = p.n if not prefix else p.expansions
                seed = None if p.seed is None else p.seed + calls
                calls += 1
                samples = await engine.generate(GenerationRequest(
                    messages=problem.messages, prefix=prefix, n=k, stop=[p.token], max_tokens=p.max_tokens,
                    temperature=p.temperature, seed=seed, logprobs=True))
                for s in samples:
                    text = prefix + s.text
                    if s.matched_stop == p.token:
                        rollbacks += 1
                        cut = text.rstrip().rfind(p.delimiter)
                        back = text[: cut + 1] if cut >= 0 else ""
                        if used < p.depth and back not in visited:
                            visited.add(back)
                            queue.append((back, used + 1))
                        continue
                    lps = s.logprobs or []
                    norm = sum(lps) / len(lps) if lps else None
                    ans = answer_of(problem, text, cut=s.finish_reason in CUT).value
                    done.append(Candidate(text=text, answer=ans, finish_reason=s.finish_reason, score=norm,
                                          meta={"backtracks": used}))
        except BudgetExhausted:
            exhausted = True
        return self.select(problem, done, exhausted, rollbacks)

    def select(self, problem: Problem, done: list[Candidate], exhausted: bool, rollbacks: int) -> Result:
        from ..answers import group_answers

        exhausted = exhausted or cut_by_budget(done)
        groups = group_answers([c.answer for c in done], kind=problem.answer_kind)
        if not groups:
            return Result(answer=None, text=done[0].text if done else "", strategy=self.spec, candidates=done,
                          budget_exhausted=exhausted, trace={"rollbacks": rollbacks})
        unweighed = any(c.score is None for c in done)
        if unweighed:  # the server returned no log-probabilities: each solution counts once
            mass = [float(len(g)) for g in groups]
        else:
            mass = [sum(math.exp(done[i].score) for i in g) for g in groups]  # type: ignore[arg-type]
        best = max(range(len(groups)), key=lambda g: (mass[g], -min(groups[g])))
        rep = max(groups[best], key=lambda i: -math.inf if done[i].score is None else done[i].score)
        merged: dict[str, float] = defaultdict(float)
        for g, m in zip(groups, mass):
            merged[str(done[g[0]].answer)] = round(m, 4)
        trace: dict = {"rollbacks": rollbacks, "answer_mass": dict(merged)}
        if unweighed:
            trace["note"] = ("the model server returned no token log-probabilities, so the solutions were not "
                             "weighed by their likelihood: a plain majority vote chose the answer")
        return Result(answer=done[rep].answer, text=done[rep].text, strategy=self.spec, candidates=done,
                      budget_exhausted=exhausted, trace=trace)
