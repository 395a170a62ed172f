"""``vote``: agreement as a score (self-consistency: Wang et al., "Self-Consistency Improves Chain
of Thought Reasoning in Language Models", arXiv 2203.11171).

A candidate scores the share of the candidates scored with it whose answers are equivalent to its
own (grouped as ``sc`` groups them: extracted answers, :func:`ponder.answers.group_answers` under
the problem's answer kind); a candidate with no answer scores 0. No model calls, so no tokens.
``bon(n=16, scorer=vote)`` is majority voting over the same samples as ``sc(n=16)`` (ties: the
first candidate of the tied groups), and a vote is what ``mcts(select=vote)`` picks by. Partial
paths of step-level search have no answer yet and all score 0, so to guide a search by its steps
use ``prm`` or ``exact``.

The score is pool-relative (``pool_relative``): the share among the candidates scored together, so
a subset's scores are not its pool's. ``ponder bench``, which evaluates ``bon(n=1..16, scorer=vote)``
at smaller n on subsets of one pool of 16, scores each subset again (``rescore``), so that at n=4
the pick is the majority of those 4, as ``sc(n=4)``'s, not of all 16.
"""

from __future__ import annotations

from ..answers import group_answers
from ..engine import Engine
from ..types import Candidate, Problem
from .base import Scorer


class VoteScorer(Scorer):
    name = "vote"
    summary = "share of the candidates with an equivalent answer (self-consistency); no model calls"
    role = "vote"
    pool_relative = True

    def spends_tokens(self) -> bool:
        return False

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float]:
        return self.rescore(problem, candidates)

    def rescore(self, problem: Problem, candidates: list[Candidate]) -> list[float]:
        """Each candidate's share of ``candidates`` with an equivalent answer (0 with no answer)."""
        shares = [0.0] * len(candidates)
        if not candidates:
            return shares
        for group in group_answers([c.answer for c in candidates], kind=problem.answer_kind):
            for i in group:
                shares[i] = len(group) / len(candidates)
        return shares
