"""Majority and weighted voting over extracted answers grouped by equivalence."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..answers import group_answers
from ..types import Candidate


@dataclass
class Vote:
    answer: str | None
    index: int | None  # the candidate that represents the winning group
    groups: list[list[int]]
    tally: list[float]


def vote(candidates: list[Candidate], kind: str = "auto", weights: list[float] | None = None) -> Vote:
    """Majority vote (or weighted, with ``weights``) over equivalence groups of answers.

    Candidates whose answer could not be extracted do not vote; a NaN weight counts 0. Groups
    do not depend on the candidates' order (see :func:`~ponder.answers.group_answers`). Tie
    rule: among groups with the same tally, the one with more members wins (the unweighted
    majority: with every weight 0, e.g. a judge that gave no rating, the vote is a plain
    majority vote, not the first answer), then the one whose first member came first (so the
    rule is deterministic).
    """
    groups = group_answers([c.answer for c in candidates], kind=kind)
    if not groups:
        return Vote(None, None, [], [])
    w = [0.0 if math.isnan(x) else x for x in weights] if weights is not None else [1.0] * len(candidates)
    tally = [sum(w[i] for i in g) for g in groups]
    best = max(range(len(groups)), key=lambda g: (tally[g], len(groups[g]), -min(groups[g])))
    rep = min(groups[best])
    return Vote(candidates[rep].answer, rep, groups, tally)


def score_by_share(candidates: list[Candidate], v: Vote) -> None:
    """Each voting candidate's score: its answer group's share of all the candidates' votes."""
    for gi, group in enumerate(v.groups):
        for i in group:
            candidates[i].score = v.tally[gi] / max(1, len(candidates))
