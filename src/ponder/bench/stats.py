"""Aggregation of stored results: accuracy with a bootstrap CI95, compute means, matched budgets.

The CI95 is a percentile bootstrap over problems: each problem's score is its mean over run seeds (and,
for pool strategies, already the expectation over subsets), problems are resampled with replacement
``B`` times with a fixed RNG, and the 2.5th and 97.5th percentiles of the mean are reported. Seeds are
therefore averaged within a problem, not treated as independent problems.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

BOOTSTRAP = 2000


def bootstrap_ci(per_problem: list[float], *, b: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI95 of the mean of ``per_problem`` (resampling problems)."""
    x = np.asarray(per_problem, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1 or np.all(x == x[0]):
        return (float(x[0]), float(x[0])) if x.size else (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(b, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def _mean(values: list[Any]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per (family, spec): accuracy, CI95 and compute means, in plotting order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["family"], r["spec"])].append(r)
    points = []
    for (family, spec), rs in groups.items():
        by_problem: dict[str, list[float]] = defaultdict(list)
        # a failed unit is no answer, right or wrong, and its compute is what was spent before it
        # failed (a timed-out unit loses the call in flight): accuracy and compute are both means over
        # the answered units, so that a point's accuracy and its cost describe the same problems
        answered = [r for r in rs if not r.get("error")]
        for r in answered:  # (runs stored before failed units were kept apart have 0.0 for them)
            if r.get("correct") is not None:
                by_problem[r["problem_id"]].append(float(r["correct"]))
        per_problem = [sum(v) / len(v) for v in by_problem.values()]
        acc = sum(per_problem) / len(per_problem) if per_problem else None
        lo, hi = bootstrap_ci(per_problem) if per_problem else (None, None)
        parsed = _mean([r.get("parsed") for r in answered])
        parse_fail = None if parsed is None else 1.0 - parsed
        flops = [r.get("flops") for r in answered]
        point = {
            "family": family, "spec": spec, "point": rs[0].get("point"),
            "problems": len({r["problem_id"] for r in rs}), "seeds": len({r["seed"] for r in rs}),
            "accuracy": acc, "ci_low": lo, "ci_high": hi,
            "parse_failures": parse_fail,
            "wrong": None if acc is None or parse_fail is None else max(0.0, 1.0 - acc - parse_fail),
            "pass_at_k": _mean([r.get("pass_at_k") for r in answered]),
            "policy_tokens": _mean([r.get("policy_tokens") for r in answered]),
            "verifier_tokens": _mean([r.get("verifier_tokens") for r in answered]),
            "prompt_tokens": _mean([r.get("prompt_tokens") for r in answered]),
            "completion_tokens": _mean([r.get("completion_tokens") for r in answered]),
            "calls": _mean([r.get("calls") for r in answered]),
            "wall_seconds": _mean([r.get("wall_seconds") for r in answered]),
            "flops": None if any(f is None for f in flops) else _mean(flops),
            "retries": sum(int(r.get("retries") or 0) for r in rs),
            "errors": sum(1 for r in rs if r.get("error")),
            "budget_exhausted": _mean([r.get("budget_exhausted") for r in rs]),
        }
        point["tokens"] = (point["policy_tokens"] or 0.0) + (point["verifier_tokens"] or 0.0)
        points.append(point)
    points.sort(key=lambda p: (p["family"], p["point"] if p["point"] is not None else -1))
    return points


def matched_budgets(points: list[dict[str, Any]], metric: str = "tokens") -> list[dict[str, Any]]:
    """For each budget level (powers of two of ``metric`` spanning the run), the best point within it."""
    usable = [p for p in points if p.get(metric) and p.get("accuracy") is not None]
    if not usable:
        return []
    lo, hi = min(p[metric] for p in usable), max(p[metric] for p in usable)
    levels, v = [], 2.0 ** math.floor(math.log2(lo))
    while v < hi * 2:
        levels.append(v)
        v *= 2
    out = []
    for level in levels:
        within = [p for p in usable if p[metric] <= level]
        if not within:
            continue
        best = max(within, key=lambda p: (p["accuracy"], -p[metric]))
        if out and out[-1]["spec"] == best["spec"] and out[-1]["family"] == best["family"]:
            out[-1]["up_to"] = level
            continue
        out.append({"budget": level, "up_to": level, "metric": metric, "family": best["family"],
                    "spec": best["spec"], "accuracy": best["accuracy"], "ci_low": best["ci_low"],
                    "ci_high": best["ci_high"], metric: best[metric]})
    return out


def failures_by_problem(units: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per problem: retried calls, retries, failed units and their last error (only problems with any)."""
    out: dict[str, dict[str, Any]] = {}
    unit_problem = {u["unit"]: u["problem_id"] for u in units}
    for c in calls:
        if c.get("retries"):
            p = out.setdefault(unit_problem.get(c["unit"], "?"), {"retries": 0, "failed_units": 0, "error": None})
            p["retries"] += int(c["retries"])
    for u in units:
        if u["status"] == "failed":
            p = out.setdefault(u["problem_id"], {"retries": 0, "failed_units": 0, "error": None})
            p["failed_units"] += 1
            p["error"] = u["error"]
    return [{"problem_id": k, **v} for k, v in sorted(out.items())]
