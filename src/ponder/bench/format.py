"""How report cells are written, shared by the terminal tables and the HTML report."""

from __future__ import annotations

from typing import Any

POINT_COLUMNS: list[tuple[str, str]] = [
    ("spec", "strategy"), ("accuracy", "accuracy"), ("ci", "CI95"), ("wrong", "wrong"),
    ("parse_failures", "parse fail"), ("pass_at_k", "pass@k"), ("policy_tokens", "policy tok"),
    ("verifier_tokens", "verifier tok"), ("calls", "calls"), ("wall_seconds", "model s"),
    ("flops", "FLOPs"), ("retries", "retries"), ("errors", "failed"),
]

PERCENT = {"accuracy", "wrong", "parse_failures", "pass_at_k"}


def fmt_num(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1e6:
            return f"{v:.2e}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.2f}" if v != int(v) else f"{int(v)}"
    return str(v)


# token totals: with calls whose tokens the backend did not count (``uncounted_calls``) they are
# lower bounds, written "≥ N", or "unknown" where nothing was counted; never a 0 that reads as exact
TOKEN_CELLS = {"tokens", "policy_tokens", "verifier_tokens", "prompt_tokens", "completion_tokens"}


def uncounted_in(key: str, row: dict[str, Any]) -> float:
    """The calls (per problem) whose tokens the backend did not count that the token total ``key``
    of ``row`` leaves out."""
    total = float(row.get("uncounted_calls") or 0.0)
    verifier = row.get("uncounted_verifier_calls")
    if verifier is None:  # not kept apart (a run stored before): any total may lack them
        return total
    part = float(verifier) if key == "verifier_tokens" else total - float(verifier) if key == "policy_tokens" else total
    return part if part > 1e-9 else 0.0


def fmt_cell(key: str, row: dict[str, Any]) -> str:
    if key in TOKEN_CELLS and uncounted_in(key, row):
        v = row.get(key)
        if not v:  # nothing counted ("≥ 0" says nothing)
            return "unknown"
        return "≥ " + (f"{v:,.0f}" if key == "tokens" else fmt_num(float(v)))
    if key == "ci":
        lo, hi = row.get("ci_low"), row.get("ci_high")
        return "–" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f}%"
    v = row.get(key)
    if key in PERCENT:
        return "–" if v is None else f"{100 * v:.1f}%"
    if key in ("budget", "up_to", "tokens") and isinstance(v, (int, float)):
        return f"{v:,.0f}"
    return fmt_num(v)
