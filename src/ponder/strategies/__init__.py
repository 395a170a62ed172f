"""Strategies: one file per method, registered under its spec name."""

from __future__ import annotations

from . import (asc, backtrack, beam, bon, budget, cod, cot, dvts, feedback_edit, mcts, refine,  # noqa: F401
               passthrough, s_star, sc, think, tip, tot, wbon)
from .base import REGISTRY, Strategy, build_strategy, describe_params, run_strategy
from .spec import ParsedSpec, Range, parse_spec, split_specs

__all__ = ["REGISTRY", "Strategy", "build_strategy", "describe_params", "run_strategy", "ParsedSpec",
           "Range", "parse_spec", "split_specs"]
