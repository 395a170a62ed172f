"""The compute ledger: one entry per model call, totals, FLOPs estimate and money cost.

A counter the backend reported is kept as reported; a counter it did not report is ``None``
(shown as "unknown"), never a zero or a guess.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .types import Usage


@dataclass
class LedgerEntry:
    role: str
    model: str
    n: int
    prompt_tokens: int | None
    cached_prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    wall_seconds: float
    retries: int
    finish_reasons: list[str]
    num_parameters: int | None = None
    model_call: bool = True  # False for work that is not a model's (sandbox runs): no FLOPs, no price

    @property
    def prefill_flops(self) -> float | None:
        """2 x parameters x uncached prompt tokens (None where either is unknown)."""
        if self.num_parameters is None or self.prompt_tokens is None:
            return None
        return 2.0 * self.num_parameters * (self.prompt_tokens - (self.cached_prompt_tokens or 0))

    @property
    def decode_flops(self) -> float | None:
        if self.num_parameters is None or self.completion_tokens is None:
            return None
        return 2.0 * self.num_parameters * self.completion_tokens


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


def _sum(values: list[int | None]) -> int | None:
    """Sum of the known values; None only if no call reported this counter at all (with no call
    at all, 0: nothing was spent)."""
    known = [v for v in values if v is not None]
    return sum(known) if known or not values else None


@dataclass
class Ledger:
    """Every model call of one problem (or one run), appended as calls complete."""

    entries: list[LedgerEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(
        self,
        *,
        role: str,
        model: str,
        n: int,
        usage: Usage,
        wall_seconds: float,
        finish_reasons: list[str],
        num_parameters: int | None = None,
        model_call: bool = True,
    ) -> LedgerEntry:
        entry = LedgerEntry(
            role=role,
            model=model,
            n=n,
            prompt_tokens=usage.prompt_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
            completion_tokens=usage.completion_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            wall_seconds=wall_seconds,
            retries=usage.retries,
            finish_reasons=list(finish_reasons),
            num_parameters=num_parameters,
            model_call=model_call,
        )
        with self._lock:
            self.entries.append(entry)
        return entry

    def extend(self, other: "Ledger") -> None:
        with self._lock:
            self.entries.extend(other.entries)

    # -- totals ---------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """Model calls; sandbox runs and other work that is not a model's are not calls."""
        return sum(1 for e in self.entries if e.model_call)

    @property
    def other_runs(self) -> int:
        """Runs of work that is not a model's (programs run in the sandbox)."""
        return sum(e.n for e in self.entries if not e.model_call)

    def _counted(self, counter: str) -> int | None:
        """A token counter summed over the model calls (sandbox runs count no tokens)."""
        return _sum([getattr(e, counter) for e in self.entries if e.model_call])

    @property
    def prompt_tokens(self) -> int | None:
        return self._counted("prompt_tokens")

    @property
    def cached_prompt_tokens(self) -> int | None:
        return self._counted("cached_prompt_tokens")

    @property
    def completion_tokens(self) -> int | None:
        return self._counted("completion_tokens")

    @property
    def reasoning_tokens(self) -> int | None:
        return self._counted("reasoning_tokens")

    @property
    def total_tokens(self) -> int | None:
        return _sum([self.prompt_tokens, self.completion_tokens])

    @property
    def uncounted_calls(self) -> int:
        """Model calls whose prompt or completion tokens the backend did not report (a stream
        stopped at a deadline, a server that sends no usage, a call that failed): the token
        totals leave them out, so they are a lower bound while this is above 0."""
        return sum(1 for e in self.entries if e.model_call and (e.prompt_tokens is None or e.completion_tokens is None))

    @property
    def retries(self) -> int:
        return sum(e.retries for e in self.entries)

    @property
    def wall_seconds(self) -> float:
        """The model calls' durations added up: model time (sandbox runs are ``other_seconds``).
        Calls that ran at once overlap, so this can be far more than the time the work took from
        start to end."""
        return sum(e.wall_seconds for e in self.entries if e.model_call)

    @property
    def other_seconds(self) -> float:
        """The durations of the work that is no model call (S*'s and the execution scorer's
        sandbox runs), added up."""
        return sum(e.wall_seconds for e in self.entries if not e.model_call)

    def by_role(self) -> dict[str, "Ledger"]:
        out: dict[str, Ledger] = {}
        for e in self.entries:
            out.setdefault(e.role, Ledger()).entries.append(e)
        return out

    def flops(self) -> dict[str, float | None]:
        """Estimated FLOPs, prefill and decode apart; None if any model call's parameters, or its
        token counts (a call the backend did not count: ``uncounted_calls``), are unknown."""
        calls = [e for e in self.entries if e.model_call]
        pre = [e.prefill_flops for e in calls]
        dec = [e.decode_flops for e in calls]
        prefill = None if any(v is None for v in pre) else float(sum(pre))  # type: ignore[arg-type]
        decode = None if any(v is None for v in dec) else float(sum(dec))  # type: ignore[arg-type]
        total = None if prefill is None or decode is None else prefill + decode
        return {"prefill": prefill, "decode": decode, "total": total}

    def cost(self, prices: dict[str, Price]) -> float | None:
        """Dollars from a price table keyed by model name; None if a call's model is not priced."""
        total = 0.0
        for e in self.entries:
            if not e.model_call:
                continue
            price = prices.get(e.model)
            if price is None or e.prompt_tokens is None or e.completion_tokens is None:
                return None
            cached = e.cached_prompt_tokens or 0
            cached_rate = price.cached_input if price.cached_input is not None else price.input
            total += (e.prompt_tokens - cached) * price.input / 1e6
            total += cached * cached_rate / 1e6
            total += e.completion_tokens * price.output / 1e6
        return total

    def summary(self) -> str:
        """One line: calls, tokens in/out, wall time."""

        uncounted = self.uncounted_calls

        def fmt(v: int | None) -> str:
            return "unknown" if v is None else f"at least {v:,}" if uncounted else f"{v:,}"

        parts = [
            f"{self.calls} call{'s' if self.calls != 1 else ''}",
            f"tokens in {fmt(self.prompt_tokens)}",
            f"out {fmt(self.completion_tokens)}",
        ]
        if self.reasoning_tokens is not None:
            parts.append(f"thinking {fmt(self.reasoning_tokens)}")
        if self.cached_prompt_tokens:
            parts.append(f"cached {fmt(self.cached_prompt_tokens)}")
        if uncounted:
            parts.append(f"{uncounted} call{'s' if uncounted != 1 else ''} not counted by the backend")
        if self.retries:
            parts.append(f"retries {self.retries}")
        parts.append(f"{self.wall_seconds:.2f}s model time")
        if self.other_runs:
            runs = self.other_runs
            parts.append(f"{self.other_seconds:.2f}s other work ({runs} sandbox run{'s' if runs != 1 else ''})")
        return ", ".join(parts)

    def totals(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "other_runs": self.other_runs,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "uncounted_calls": self.uncounted_calls,
            "retries": self.retries,
            "wall_seconds": round(self.wall_seconds, 4),
            "other_seconds": round(self.other_seconds, 4),
            "flops": self.flops(),
        }

    def to_dict(self) -> dict[str, Any]:
        by_role = {role: led.totals() for role, led in self.by_role().items()}
        return {
            "totals": self.totals(),
            "by_role": by_role,
            "entries": [asdict(e) for e in self.entries],
        }
