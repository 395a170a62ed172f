"""Typed errors. Each one carries a message that says what was wrong and what is accepted.

The CLI and the HTTP server turn these into one-line messages; Python callers can catch them by type.
"""

from __future__ import annotations


class PonderError(Exception):
    """Base class of every error Ponder raises on purpose."""


class ModelSpecError(PonderError, ValueError):
    """A model spec could not be understood or does not point at a usable model."""


class StrategySpecError(PonderError, ValueError):
    """A strategy spec names an unknown strategy or key, or has an invalid value."""


class BudgetError(PonderError, ValueError):
    """A budget was given an invalid limit (zero or negative)."""


class QuestionError(PonderError, ValueError):
    """The question to solve is empty."""


class ContextLengthError(PonderError, ValueError):
    """A prompt does not fit in the model's context window."""


class CapabilityError(PonderError):
    """A strategy needs something the backend cannot do (logits, prefix continuation, ...)."""


class BackendError(PonderError):
    """A backend failed to answer (unreachable server, repeated upstream errors, ...).

    What the failed call did, for the engine to record it in the ledger and charge it to the
    budget: ``retries``, the attempts it made after the first, and ``slept``, the seconds it waited
    between them (not the model's time); ``texts``, the text each choice had passed on before it
    failed (a stream that broke in the middle)."""

    retries: int = 0
    slept: float = 0.0
    texts: tuple[str, ...] = ()


class BudgetExhausted(PonderError):
    """Raised inside the engine when a budget runs out.

    Strategies catch it and return their best answer so far with ``budget_exhausted=True``;
    callers of a strategy never see it.
    """


class ContextWindowFull(BudgetExhausted, ContextLengthError):
    """A call after the first no longer fits the model's context window (a refinement round, a
    longer beam, a PRM reading a long candidate): strategies stop there and keep their work, as
    when a budget runs out; a direct caller of the Engine can catch it as a ContextLengthError."""
