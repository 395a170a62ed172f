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


def point_columns(points: list[dict[str, Any]], problems: int | None = None) -> list[tuple[str, str]]:
    """``POINT_COLUMNS``, with a ``problems`` column (the problems a point's accuracy is over) after
    the CI95 where points differ in it or fall short of the run's ``problems`` (an unfinished run,
    failed units): accuracies over different problems must not read as measured on the same."""
    counts = {p.get("problems_graded") for p in points if p.get("problems_graded") is not None}
    if len(counts) > 1 or (problems is not None and counts and counts != {problems}):
        return POINT_COLUMNS[:3] + [("problems_graded", "problems")] + POINT_COLUMNS[3:]
    return POINT_COLUMNS


def fmt_versus(row: dict[str, Any]) -> str:
    """A matched-budget winner against its runner-up: "beats X" where the paired test is significant
    at 5 %, "level with X" where it is not, with the problems won and lost and the p-value."""
    if not row.get("runner_up"):
        return "no other strategy within this budget"
    verdict = "beats" if row.get("significant") else "level with"
    p = row["p_value"]
    return (f"{verdict} {row['runner_up']} ({fmt_cell('runner_up_accuracy', row)}): won {row['won']}, "
            f"lost {row['lost']} of {row['paired_problems']}, " + ("p < 0.001" if p < 0.001 else f"p = {p:.2g}"))


# under the matched budgets, in the terminal and the HTML
MATCHED_NOTE = ("Accuracy and CI95 are in-sample: the best is chosen on the same problems it is scored on, so "
                "its accuracy is biased upward and its CI95 does not allow for the choice. Against the runner-up "
                "(the next best within the budget): an exact two-sided sign test over the problems both were "
                "graded on (a problem is won or lost where its score, averaged over seeds and pool subsets, is "
                "higher or lower; equal scores are left out), McNemar's exact test where scores are right or "
                "wrong; \"level with\" where p ≥ 0.05. Only strategies graded on the same problems are compared.")


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
    if key == "versus":
        return fmt_versus(row)
    if key == "ci":
        lo, hi = row.get("ci_low"), row.get("ci_high")
        return "–" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f}%"
    v = row.get(key)
    if key in PERCENT or key == "runner_up_accuracy":
        return "–" if v is None else f"{100 * v:.1f}%"
    if key in ("budget", "up_to", "tokens") and isinstance(v, (int, float)):
        return f"{v:,.0f}"
    return fmt_num(v)
