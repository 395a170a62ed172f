"""Adaptive self-consistency: sample in small batches, stop as soon as the vote is settled.

Papers: Aggarwal et al., "Let's Sample Step by Step: Adaptive-Consistency for Efficient Reasoning
and Coding with LLMs" (arXiv 2305.11860) — the Beta criterion (two leading answers) and the
Dirichlet criterion (all answers), stopping when the leader stays the majority with probability
>= 0.95 (the paper's threshold); Li et al., "Escape Sky-high Cost: Early-stopping
Self-Consistency for Multi-step Reasoning" (arXiv 2401.10480) — ``window``: the samples are
drawn in sequential, non-overlapping windows of ``window`` (one call a window; ``batch`` is not
used) and sampling stops after a window whose answers all agree; the answer is the vote over
all the samples drawn. Only the window just drawn is checked, as ESC does: checking overlapping
windows (the latest ``window`` samples after each small batch) would stop more often than ESC
and lose its bound. Defaults: max_n = 16 (as ``sc``), batch 2, window 4.
The first call of the Beta and Dirichlet rules draws as many samples as the rule needs to stop at
all (4 unanimous answers at the 0.95 threshold): a call for fewer could never stop, and each call
re-sends the prompt. Under every rule sampling also stops once the leading answer is ahead of the
second by more than the samples left to ``max_n``: no further sample could change the vote.
``of=`` draws the samples from another strategy instead of a chain-of-thought call (e.g.
``asc(of=budget(think=128))``), as for ``sc``. A seeded run gives round ``r`` the seed plus the
number of samples drawn before it, so no two samples share a seed (a server without ``n`` seeds
sample ``i`` of a call with the call's seed plus ``i``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, cut_by_budget
from .cot import Cot
from .voting import score_by_share, vote


def beta_stop_probability(top: int, second: int) -> float:
    """P(p_top > p_second) for p ~ Beta(top + 1, second + 1): exact for integer counts."""
    n = top + second + 1
    return sum(math.comb(n, j) for j in range(top + 1)) / 2**n


def dirichlet_stop_probability(counts: list[int], draws: int = 4000, seed: int = 0) -> float:
    """P(the leading answer has the largest share) under Dirichlet(counts + 1), by Monte Carlo."""
    import numpy as np

    if len(counts) < 2:
        counts = counts + [0]
    rng = np.random.default_rng(seed)
    samples = rng.dirichlet([c + 1 for c in counts], size=draws)
    lead = int(np.argmax(counts))
    return float((samples.argmax(axis=1) == lead).mean())


class AscParams(Params):
    max_n: int = Field(16, gt=0, le=1024)
    batch: int = Field(2, gt=0, le=64)
    rule: Literal["beta", "dirichlet", "window"] = "beta"
    threshold: float = Field(0.95, gt=0.5, lt=1.0)
    window: int = Field(4, gt=1)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    of: Any = None
    seed: int | None = None

    @model_validator(mode="after")
    def _window_fits(self) -> "AscParams":
        if self.rule == "window" and self.window > self.max_n:
            raise ValueError(f"window={self.window} is larger than max_n={self.max_n}: the window rule stops when "
                             "a whole window's answers agree, so it could never stop early; give a window from 2 "
                             f"to {self.max_n}, or max_n={self.window} or more")
        return self


class AdaptiveConsistency(Strategy):
    name = "asc"
    summary = "adaptive self-consistency: stop sampling once the vote is settled (beta, dirichlet, window)"
    paper = "arXiv 2305.11860, 2401.10480"
    Params = AscParams
    strategy_params = ("of",)
    runs_param = "max_n"

    def fewest_to_stop(self) -> int:
        """The fewest samples after which the rule can stop (all of them agreeing)."""
        p: AscParams = self.params  # type: ignore[assignment]
        if p.rule == "window":
            return p.window
        k = 1  # with two answers the Dirichlet criterion is the Beta one
        while beta_stop_probability(k, 0) < p.threshold:
            k += 1
        return k

    def round_size(self, drawn: int) -> int:
        """How many samples the next round draws after ``drawn``: a whole window for the window
        rule (ESC's windows do not overlap); else ``batch``, the first round at least as many as
        the rule needs to stop at all. Never past ``max_n``."""
        p: AscParams = self.params  # type: ignore[assignment]
        if p.rule == "window":
            k = p.window
        else:
            k = p.batch if drawn else max(p.batch, self.fewest_to_stop())
        return min(k, p.max_n - drawn)

    def settled(self, problem: Problem, cands: list[Candidate], fresh: int | None = None) -> tuple[bool, float]:
        """Whether to stop after ``cands``, and the confidence. ``fresh``: how many of the last
        candidates the round just drew (the window rule checks only them: a whole window);
        None: the last ``window``."""
        p: AscParams = self.params  # type: ignore[assignment]
        v = vote(cands, kind=problem.answer_kind)
        counts = sorted((len(g) for g in v.groups), reverse=True)
        top, second = (counts + [0, 0])[:2]
        if top - second > p.max_n - len(cands):  # the rest could not overturn the vote
            return True, 1.0
        if p.rule == "window":
            recent = cands[max(0, len(cands) - (p.window if fresh is None else fresh)):]
            if len(recent) < p.window or any(c.answer is None for c in recent):
                return False, 0.0
            agree = len(vote(recent, kind=problem.answer_kind).groups) == 1
            return agree, 1.0 if agree else 0.0
        if not counts:
            return False, 0.0
        if p.rule == "beta":
            prob = beta_stop_probability(top, second)
        else:
            prob = dirichlet_stop_probability(counts, seed=len(cands))
        return prob >= p.threshold, prob

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: AscParams = self.params  # type: ignore[assignment]
        inner = p.of if p.of is not None else Cot()
        cands: list[Candidate] = []
        exhausted, confidence, rounds = False, 0.0, 0
        while len(cands) < p.max_n:
            k = self.round_size(len(cands))
            seed = None if p.seed is None else p.seed + len(cands)
            try:
                drawn = await inner.sample(problem, engine, k, seed=seed, temperature=self.pool_temperature())
            except BudgetExhausted:
                exhausted = True
                break
            cands += drawn
            rounds += 1
            done, confidence = self.settled(problem, cands, fresh=len(drawn))
            if done:
                break
        v = vote(cands, kind=problem.answer_kind)
        score_by_share(cands, v)
        text = cands[v.index].text if v.index is not None else ""
        return Result(answer=v.answer, text=text, strategy=self.spec, candidates=cands,
                      budget_exhausted=exhausted or cut_by_budget(cands),
                      trace={"samples": len(cands), "rounds": rounds, "confidence": round(confidence, 4),
                             "rule": p.rule, "votes": {cands[g[0]].answer: len(g) for g in v.groups}})
