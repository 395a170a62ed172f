"""Per-problem compute budget: maximum total tokens, model calls and seconds."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, AsyncIterator

from .errors import BudgetError, BudgetExhausted


@dataclass
class Budget:
    """Limits for one problem. ``None`` means unlimited. Tokens count prompt + completion.

    Calls that run at once share the limits: a call about to start claims one call and the
    completion tokens it may write (``claim``); while the tokens not yet claimed are fewer than it
    asks for, it waits for the calls in flight to finish and give back what they did not use.
    So concurrent runs (``sc(n=8, of=budget(think=128))``) spend the budget as if they had run one
    after another, and run side by side whenever it is large enough.
    """

    max_tokens: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None
    tokens_used: int = 0
    calls_used: int = 0
    started: float = field(default_factory=time.monotonic)
    window_full: str | None = None  # why a later call did not fit the context window (reported, not a limit)
    calls_in_flight: int = field(default=0, repr=False)
    tokens_claimed: int = field(default=0, repr=False)  # completion tokens the calls in flight may still write
    _settled: asyncio.Condition | None = field(default=None, repr=False, compare=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)

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

    @contextlib.asynccontextmanager
    async def claim(self, tokens: int | None = None) -> AsyncIterator[int | None]:
        """Hold one call, and up to ``tokens`` completion tokens, for a call about to start; yields
        the tokens granted (``None``: no token limit or none asked). Raises BudgetExhausted when a
        limit is reached counting the calls in flight. Charge the call (``charge``) before leaving."""
        loop = asyncio.get_running_loop()
        if self._settled is None or self._loop is not loop:  # one per event loop (asyncio.run each time)
            self._settled, self._loop = asyncio.Condition(), loop
        settled = self._settled
        async with settled:
            while True:
                self.check()
                if self.max_calls is not None and self.calls_used + self.calls_in_flight >= self.max_calls:
                    raise BudgetExhausted(f"call budget of {self.max_calls} spent")
                if self.max_tokens is None or tokens is None:
                    grant = None
                    break
                free = self.max_tokens - self.tokens_used - self.tokens_claimed
                if free >= tokens or self.calls_in_flight == 0:  # alone, it gets what is left (check: > 0)
                    grant = min(tokens, free)
                    break
                await settled.wait()  # the calls in flight give back what they do not use
            self.calls_in_flight += 1
            self.tokens_claimed += grant or 0
        try:
            yield grant
        finally:
            async with settled:
                self.calls_in_flight -= 1
                self.tokens_claimed -= grant or 0
                settled.notify_all()


LIMITS = tuple(f.name for f in fields(Budget) if f.name.startswith("max_"))
