"""Per-problem compute budget: maximum total tokens, model calls and seconds."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, AsyncIterator, Awaitable, TypeVar

from .errors import BudgetError, BudgetExhausted

T = TypeVar("T")


@dataclass
class Budget:
    """Limits for one problem. ``None`` means unlimited. Tokens count prompt + completion.

    Calls that run at once share the limits: a call about to start claims one call and the tokens
    it may spend (``claim``); while the tokens not yet claimed are fewer than it needs, it waits for
    the calls in flight to finish and give back what they did not use, and the runs that started
    first are served first. So concurrent runs (``sc(n=8, of=budget(think=128))``) keep within the
    budget and finish in order when it is short, and run side by side when it is large enough.
    """

    max_tokens: int | None = None
    max_calls: int | None = None
    max_seconds: float | None = None
    tokens_used: int = 0
    calls_used: int = 0
    started: float = field(default_factory=time.monotonic)
    window_full: str | None = None  # why a later call did not fit the context window (reported, not a limit)
    cut_short: str | None = None  # why calls got less than they asked before a limit was reached
    calls_in_flight: int = field(default=0, repr=False)
    tokens_claimed: int = field(default=0, repr=False)  # tokens the calls in flight may still spend
    _settled: asyncio.Condition | None = field(default=None, repr=False, compare=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)
    _waiting: dict[tuple[tuple[int, ...], int], int] = field(default_factory=dict, repr=False, compare=False)

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
            if name != "max_seconds":  # tokens and calls are counted whole
                if math.isinf(value) or value != math.floor(value):
                    raise BudgetError(f"budget {name} must be a whole number, got {value!r}")
                setattr(self, name, int(value))

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

    def start_clock(self) -> None:
        """Count ``max_seconds`` from now, if nothing was spent yet (a budget made before its
        models were loaded); a budget already in use keeps its start."""
        if not (self.calls_used or self.tokens_used or self.calls_in_flight):
            self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def unclaimed_tokens(self) -> int | None:
        """Tokens neither spent nor claimed by a call in flight (None: no token limit)."""
        return None if self.max_tokens is None else self.max_tokens - self.tokens_used - self.tokens_claimed

    def calls_left(self) -> int | None:
        """Calls neither made nor in flight (None: no call limit)."""
        return None if self.max_calls is None else self.max_calls - self.calls_used - self.calls_in_flight

    def exhausted_reason(self) -> str | None:
        """Why the work stopped early: a limit reached, or the context window full."""
        return self.window_full or self._limit_reached() or self.cut_short

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
    async def claim(self, completion: int | None = None, prompt: int = 0) -> AsyncIterator[int | None]:
        """Hold one call, its ``prompt`` tokens (an estimate) and up to ``completion`` tokens, for
        a call about to start; yields the completion tokens granted (``None``: no token limit, or a
        call whose size is not known in advance). Raises BudgetExhausted when a limit is reached,
        counting the calls in flight. The caller charges the call (``charge``) before leaving.

        While the tokens left are fewer than it needs, a claim waits for the calls in flight to
        give back what they did not use; waiting claims are served in run order (``_in_run``),
        so the runs that started first finish before later ones start. The first call of a run
        (``gather_within_budget``) whose earlier runs have not all ended takes at most half of
        the tokens left and, under a call budget, starts only while the calls left are a run's
        worth for it and for each of those runs (as many as the longest run that ended made; 2
        until one has); it waits while it cannot: the runs already under way keep enough to
        finish, rather than every run starting and none finishing. A claim alone gets what is
        left; one whose prompt alone does not fit is refused."""
        loop = asyncio.get_running_loop()
        if self._settled is None or self._loop is not loop:  # one per event loop (asyncio.run each time)
            self._settled, self._loop, self._waiting = asyncio.Condition(), loop, {}
        settled = self._settled
        me = (tuple(i for _, i in _RUNS.get()), next(_ARRIVALS))  # its run order, then its arrival
        need = prompt + (completion or 0)
        async with settled:
            self._waiting[me] = need
            try:
                while True:
                    grant = self._try_claim(me, completion, prompt, *_opens_run_behind())
                    if grant is not _WAIT:
                        break
                    await settled.wait()  # the calls in flight give back what they do not use
            finally:
                del self._waiting[me]
                settled.notify_all()  # the claims behind this one may go now, or find the budget spent
            held = 0 if grant is None else prompt + grant
            _mark_called()
            self.calls_in_flight += 1
            self.tokens_claimed += held
        try:
            yield grant
        finally:
            async with settled:
                self.calls_in_flight -= 1
                self.tokens_claimed -= held
                settled.notify_all()

    def _try_claim(self, me: tuple[tuple[int, ...], int], completion: int | None, prompt: int,
                   behind: int = 0, calls_needed: int = 1) -> Any:
        """The completion tokens granted to claim ``me``, None when no token limit applies, or
        ``_WAIT``; raises BudgetExhausted. ``behind``: the claim is the first call of a run
        started after this many runs that have not ended; it may take half of the tokens left,
        and may start only while ``calls_needed`` calls are left (a run's worth for it and for each
        of those runs)."""
        self.check()
        calls_left = self.calls_left()
        if calls_left is not None:
            if calls_left < 1:
                raise BudgetExhausted(f"call budget of {self.max_calls} spent")
            if behind and calls_left < calls_needed and self.calls_in_flight:
                return _WAIT
        if self.max_tokens is None or completion is None:
            return None
        ahead = [need for key, need in self._waiting.items() if key < me]
        free = self.max_tokens - self.tokens_used - self.tokens_claimed - sum(ahead)
        if free >= prompt + completion:
            if behind and free < 2 * (prompt + completion) and (ahead or self.calls_in_flight):
                return _WAIT
            return completion
        if ahead or self.calls_in_flight:
            return _WAIT
        if free - prompt < 1:  # alone, and not even its prompt fits
            self.cut_short = (f"token budget of {self.max_tokens} nearly spent: {free} left, no more than the "
                              f"next call's prompt of about {prompt} (a call needs room to write a token)")
            raise BudgetExhausted(self.cut_short)
        self.cut_short = f"token budget of {self.max_tokens} spent"  # the last call was given what was left
        return free - prompt


_WAIT = object()
_ARRIVALS = itertools.count()


class _Runs:
    """The runs one ``gather_within_budget`` started: the calls each has made, which have ended."""

    def __init__(self, n: int) -> None:
        self.calls = [0] * n
        self.ended = [False] * n

    def calls_per_run(self) -> int:
        """The calls a run is taken to need: the most an ended run made, 2 until one has."""
        made = [c for c, e in zip(self.calls, self.ended) if e and c]
        return max(made) if made else 2


# the runs the current task is inside, outermost first: their siblings and their indices
_RUNS: contextvars.ContextVar[tuple[tuple[_Runs, int], ...]] = contextvars.ContextVar("ponder_runs", default=())


def _opens_run_behind() -> tuple[int, int]:
    """How many runs started before the run whose first call is about to be claimed (at any
    depth: the most at one) have not ended, 0 when the call is not a run's first; and the calls to
    be left before it starts: a run's worth (``calls_per_run``) for it and each of those runs."""
    behind, needed = 0, 1
    for runs, i in _RUNS.get():
        if not runs.calls[i]:
            ahead = runs.ended[:i].count(False)
            behind = max(behind, ahead)
            if ahead:
                needed = max(needed, runs.calls_per_run() * (ahead + 1))
    return behind, needed


def _mark_called() -> None:
    for runs, i in _RUNS.get():
        runs.calls[i] += 1


async def _in_run(runs: _Runs, index: int, work: Awaitable[T]) -> T:
    """Await ``work`` as run ``index`` of ``runs`` (inside the current run): when the budget is
    short, the calls of earlier runs (and of their own nested runs) are served first. Use it inside
    a task of its own (``asyncio.gather`` makes one per awaitable), whose context the run is set in."""
    token = _RUNS.set(_RUNS.get() + ((runs, index),))
    try:
        return await work
    finally:
        runs.ended[index] = True
        _RUNS.reset(token)


async def gather_within_budget(*aws: Awaitable[T]) -> tuple[list[T | None], bool]:
    """Await concurrent work, keeping what finished when the budget stops some of it: those are
    ``None``, and the flag says whether any was. (``asyncio.gather`` would raise at the first and
    drop the others' results while they run on unseen.) Any other error is raised. When the budget
    is short, the calls of the first awaitables are served before those of later ones."""
    runs = _Runs(len(aws))
    results = await asyncio.gather(*(_in_run(runs, i, aw) for i, aw in enumerate(aws)), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, BudgetExhausted):
            raise r
    stopped = [isinstance(r, BudgetExhausted) for r in results]
    return [None if s else r for r, s in zip(results, stopped)], any(stopped)  # type: ignore[misc]


LIMITS = tuple(f.name for f in fields(Budget) if f.name.startswith("max_"))
