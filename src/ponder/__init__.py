"""Ponder: make any LLM reason better by spending more compute at inference time.

    >>> import ponder
    >>> result = ponder.solve("Compute left to right: 567-227-134*4+24", model="embedded", strategy="sc(n=8)")
    >>> result.answer, result.ledger.summary()

``import ponder`` stays light: torch and transformers load only when a local model does.
"""

from __future__ import annotations

from .api import asolve, solve
from .budget import Budget
from .engine import Engine
from .errors import (BackendError, BudgetError, BudgetExhausted, CapabilityError, ContextLengthError,
                     ContextWindowFull, ModelSpecError, PonderError, QuestionError, StrategySpecError)
from .ledger import Ledger, LedgerEntry, Price
from .types import Candidate, Capabilities, GenerationRequest, Problem, Result, Sample, Usage

__version__ = "0.1.0"

__all__ = [
    "solve", "asolve", "Engine", "Budget", "Ledger", "LedgerEntry", "Price", "Problem", "Result",
    "Sample", "Candidate", "Capabilities", "GenerationRequest", "Usage", "PonderError",
    "ModelSpecError", "StrategySpecError", "BudgetError", "BudgetExhausted", "CapabilityError",
    "BackendError", "QuestionError", "ContextLengthError", "ContextWindowFull",
    "load_backend", "build_strategy",
]


def __getattr__(name: str):  # lazy re-exports that would pull in more modules
    if name == "load_backend":
        from .backends import load_backend

        return load_backend
    if name == "build_strategy":
        from .strategies import build_strategy

        return build_strategy
    raise AttributeError(name)
