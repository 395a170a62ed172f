"""Thinking on demand: map ``reasoning_effort`` (none/low/medium/high) and thinking budgets to
strategy specs. The CLI and the proxy use this mapping; users can replace it with a JSON file
(``{"none": "...", "low": "...", "medium": "...", "high": "..."}``) or in Python.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import StrategySpecError

EFFORTS = ("none", "low", "medium", "high")


class EffortMap(BaseModel):
    """Which strategy each reasoning effort runs. Defaults spend roughly 1x, 1x, 4x and 16x."""

    model_config = ConfigDict(extra="forbid")

    none: str = "think(mode=off)"
    low: str = "think(mode=on)"
    medium: str = "sc(n=4)"
    high: str = "sc(n=16)"

    @field_validator("none", "low", "medium", "high")
    @classmethod
    def _valid_spec(cls, v: str) -> str:
        from .strategies import build_strategy

        build_strategy(v)  # raises StrategySpecError with the valid names and keys
        return v

    @classmethod
    def from_file(cls, path: str | Path) -> "EffortMap":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StrategySpecError(f"cannot read the effort map {str(path)!r}: {exc}") from None
        if not isinstance(data, dict):
            raise StrategySpecError(f"the effort map {str(path)!r} must be a JSON object "
                                    f"{{{', '.join(f'{e!r}: SPEC' for e in EFFORTS)}}}")
        try:
            return cls(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "?"
            cause = first.get("ctx", {}).get("error") or first.get("msg")
            if first.get("type") == "extra_forbidden":
                cause = f"not a reasoning effort; the keys are {', '.join(EFFORTS)}"
            raise StrategySpecError(f"the effort map {str(path)!r}: {where}: {cause}") from None

    def strategy_for(self, effort: str) -> str:
        if effort not in EFFORTS:
            raise StrategySpecError(f"reasoning_effort {effort!r} is not one of {', '.join(EFFORTS)}")
        return getattr(self, effort)


def strategy_for_thinking_budget(budget_tokens: int) -> str:
    """Anthropic-style ``thinking: {"type": "enabled", "budget_tokens": N}`` → s1 budget forcing."""
    if not isinstance(budget_tokens, int) or budget_tokens <= 0:
        raise StrategySpecError(f"thinking budget_tokens must be a positive integer, got {budget_tokens!r}")
    return f"think(mode=budget, tokens={budget_tokens})"
