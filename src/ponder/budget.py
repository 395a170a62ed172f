"""Per-problem compute budget: maximum total tokens, model calls and seconds."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import BudgetError, BudgetExhausted


@dataclass
class Budget:
    """Limits for one problem. ``None`` means unlimited. Tokens count prompt + completion."""

    max_tokens: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None
    tokens_used: int = 0
    calls_used: int = 0
    started: float = field(default_factory=time.monotonic)
    window_full: str | None = None  # why a later call did not fit the context window (reported, not a limit)

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if value is None:
                continue
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or math.isnan(value) or value <= 0:
                raise BudgetError(
                    f"budget {name} must be a positive number, got {value!r} "
                    "(leave it unset for no limit)"
                )

    @classmethod
    def from_dict(cls, limits: dict[str, Any]) -> "Budget":
        """A budget from ``{"max_tokens": ..., "max_calls": ..., "max_seconds": ...}``; any
        other key is refused with the accepted ones named."""
        unknown = sorted(set(limits) - set(LIMITS))
        if unknown:
            raise BudgetError(f"unknown budget key(s) {', '.join(map(repr, unknown))}; "
                              f"accepted: {', '.join(LIMITS)}")
        return cls(**limits)

    def fresh(self) -> "Budget":
        """The same limits with nothing spent (one per problem)."""
        return Budget(self.max_tokens, self.max_calls, self.max_seconds)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining_tokens(self) -> int | None:
        return None if self.max_tokens is None else self.max_tokens - self.tokens_used

    def exhausted_reason(self) -> str | None:
        """Why the work stopped early: a limit reached, or the context window full."""
        return self.window_full or self._limit_reached()

    def _limit_reached(self) -> str | None:
        if self.max_tokens is not None and self.tokens_used >= self.max_tokens:
            return f"token budget of {self.max_tokens} spent"
        if self.max_calls is not None and self.calls_used >= self.max_calls:
            return f"call budget of {self.max_calls} spent"
        if self.max_seconds is not None and self.elapsed >= self.max_seconds:
            return f"time budget of {self.max_seconds}s spent"
        return None

    def check(self) -> None:
        reason = self._limit_reached()
        if reason:
            raise BudgetExhausted(reason)

    def charge(self, tokens: int, calls: int = 1) -> None:
        self.tokens_used += tokens
        self.calls_used += calls


LIMITS = tuple(f.name for f in fields(Budget) if f.name.startswith("max_"))
