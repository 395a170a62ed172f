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


def fmt_cell(key: str, row: dict[str, Any]) -> str:
    if key == "ci":
        lo, hi = row.get("ci_low"), row.get("ci_high")
        return "–" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f}%"
    v = row.get(key)
    if key in PERCENT:
        return "–" if v is None else f"{100 * v:.1f}%"
    if key in ("budget", "up_to", "tokens") and isinstance(v, (int, float)):
        return f"{v:,.0f}"
    return fmt_num(v)
