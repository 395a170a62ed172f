"""Scorers: prm, orm, logprob, judge, exact, execution — each gives candidates a number, higher is better."""

from . import exact, execution, judge, logprob, prm  # noqa: F401  (registration)
from .base import SCORERS, Scorer, build_scorer, rank, unscored_by_budget

__all__ = ["SCORERS", "Scorer", "build_scorer", "rank", "unscored_by_budget"]
