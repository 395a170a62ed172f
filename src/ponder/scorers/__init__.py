"""Scorers: prm, orm, logprob, judge, exact, execution, vote — each gives candidates a number, higher is better."""

from . import exact, execution, judge, logprob, prm, vote  # noqa: F401  (registration)
from .base import SCORERS, Scorer, build_scorer, rank, unscored_by_budget

__all__ = ["SCORERS", "Scorer", "build_scorer", "rank", "unscored_by_budget"]
