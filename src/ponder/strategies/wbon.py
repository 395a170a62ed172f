"""Weighted best-of-N: majority vote where each answer group weighs the sum of its verifier scores.

Papers: Li et al., "Making Large Language Models Better Reasoners with Step-Aware Verifier"
(arXiv 2206.02336) and the weighted majority of Uesato et al. (arXiv 2211.14275); also the
"weighted best-of-N" of Snell et al. (arXiv 2408.03314). Defaults as ``bon``. A scorer of
log-probabilities (``logprob``) weighs each candidate by ``exp(score)``; a candidate with no score
weighs 0. Ties of the weighted tally go to the group with more candidates (so all-zero weights,
e.g. a judge that gave no rating, leave the plain majority, not the first answer), then to the
group whose first candidate came first.
"""

from __future__ import annotations

import math

from ..scorers import unscored_by_budget
from ..types import Candidate, Problem, Result
from .base import cut_by_budget
from .bon import BestOfN
from .voting import vote


class WeightedBestOfN(BestOfN):
    name = "wbon"
    summary = "weighted majority: answer groups weighed by the sum of their verifier scores"
    paper = "arXiv 2206.02336, 2408.03314"

    def decide(self, problem: Problem, candidates: list[Candidate], exhausted: bool = False) -> Result:
        # a log-probability score (logprob) weighs exp(score), the per-token probability: summed
        # as it is (<= 0), every agreeing sample would count against its answer
        log_scale = getattr(self.scorer, "log_scale", False)
        weights = [0.0 if c.score is None else math.exp(c.score) if log_scale else c.score for c in candidates]
        v = vote(candidates, kind=problem.answer_kind, weights=weights)
        text = candidates[v.index].text if v.index is not None else ""
        return Result(answer=v.answer, text=text, strategy=self.spec, candidates=candidates,
                      budget_exhausted=exhausted or unscored_by_budget(candidates) or cut_by_budget(candidates),
                      trace={"weights": {candidates[g[0]].answer: round(t, 4) for g, t in zip(v.groups, v.tally)}})
