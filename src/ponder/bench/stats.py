"""Aggregation of stored results: accuracy with a Wilson score CI95, compute means, matched budgets.

The CI95 is over problems: each problem's score is its mean over run seeds (and, for pool strategies,
already the expectation over subsets), so seeds are averaged within a problem, not treated as
independent problems. The interval is the Wilson score interval of the mean of those scores with
``n`` = the number of problems (see :func:`wilson_ci`). It replaced a percentile bootstrap, which gave a
zero-width interval at 0/n, n/n and n = 1 and covered the true accuracy far less than 95 % of the time
at small ``n`` (p = 0.9, n = 10: about 64 %).

Matched budgets compare only points graded on the same problems, and give each budget's best a
paired comparison with the next best (an exact sign test over problems, McNemar's with 0/1 scores):
the best of several strategies scored on the same problems it was chosen on is biased upward (8
strategies of true accuracy 0.5 on 50 problems: the best averaged 0.60, and its CI95 held 0.5 in
74 % of trials: ``python benchmarks/winner_bias.py``), so its accuracy and CI95 alone cannot say it
is better than the runner-up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

Z95 = 1.959964  # the 97.5th percentile of the standard normal: a two-sided 95 % interval


def wilson_ci(per_problem: list[float], *, z: float = Z95) -> tuple[float, float]:
    """Wilson score CI95 of the mean of ``per_problem`` (scores in [0, 1], one per problem).

    With 0/1 scores this is the exact Wilson interval for k right out of n. With fractional scores
    (seeds, or subsets of a pool, averaged within a problem) it is the Wilson interval at the observed
    mean with ``n`` = the number of problems: a score in [0, 1] with mean p has variance at most
    p(1 - p), the variance of a 0/1 score, so the interval is if anything conservative (wider than it
    must be), never too narrow. The interval has positive width for any finite ``n`` (also at 0/n, n/n
    and n = 1), stays within [0, 1] and contains the mean. ``(nan, nan)`` for no problems.
    """
    x = [float(v) for v in per_problem]
    n = len(x)
    if n == 0:
        return (math.nan, math.nan)
    p = sum(x) / n  # computed as aggregate() computes the accuracy, so that lo <= accuracy <= hi exactly
    if math.isnan(p):
        return (math.nan, math.nan)
    if not -1e-9 <= p <= 1.0 + 1e-9:
        raise ValueError(f"wilson_ci: scores must lie in [0, 1], their mean is {p!r}")
    q = min(1.0, max(0.0, p))  # (an expectation summed in floating point may be 1 + 1 ulp)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (q + z2 / (2 * n)) / denom
    half = z * math.sqrt(q * (1.0 - q) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if q == 0.0 else max(0.0, centre - half)
    hi = 1.0 if q == 1.0 else min(1.0, centre + half)
    return min(lo, p), max(hi, p)


def _mean(values: list[Any]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _tokens_mean(values: list[Any]) -> float | None:
    """The mean of a token total over rows, a row's unknown total (its backend counted none of its
    calls' tokens: ``uncounted_calls``) taken as 0: a lower bound, which the point's
    ``uncounted_calls`` marks as such; None when no row's total is known. Leaving the unknown rows
    out instead would give the mean of the counted problems as if it were all of them."""
    if not values or all(v is None for v in values):
        return None
    return sum(float(v or 0) for v in values) / len(values)


# the point's values that are sums of token counts: lower bounds while ``uncounted_calls`` > 0
TOKEN_METRICS = ("tokens", "policy_tokens", "verifier_tokens", "prompt_tokens", "completion_tokens")


def uncounted(point: dict[str, Any]) -> bool:
    """Some call of the point's had tokens its backend did not count: its token totals are lower
    bounds (or unknown), its FLOPs unknown."""
    return bool(point.get("uncounted_calls"))


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
        scores = {pid: sum(v) / len(v) for pid, v in by_problem.items()}
        per_problem = list(scores.values())
        acc = sum(per_problem) / len(per_problem) if per_problem else None
        lo, hi = wilson_ci(per_problem) if per_problem else (None, None)
        parsed = _mean([r.get("parsed") for r in answered])
        parse_fail = None if parsed is None else 1.0 - parsed
        flops = [r.get("flops") for r in answered]
        point = {
            "family": family, "spec": spec, "point": rs[0].get("point"),
            "problems": len({r["problem_id"] for r in rs}), "seeds": len({r["seed"] for r in rs}),
            # the problems its accuracy is over (fewer than the run's in an unfinished run or with
            # failed units), and each one's score: what matched budgets compare point with point
            "problems_graded": len(scores), "per_problem": scores,
            "accuracy": acc, "ci_low": lo, "ci_high": hi,
            "parse_failures": parse_fail,
            "wrong": None if acc is None or parse_fail is None else max(0.0, 1.0 - acc - parse_fail),
            "pass_at_k": _mean([r.get("pass_at_k") for r in answered]),
            "policy_tokens": _tokens_mean([r.get("policy_tokens") for r in answered]),
            "verifier_tokens": _tokens_mean([r.get("verifier_tokens") for r in answered]),
            "prompt_tokens": _tokens_mean([r.get("prompt_tokens") for r in answered]),
            "completion_tokens": _tokens_mean([r.get("completion_tokens") for r in answered]),
            "calls": _mean([r.get("calls") for r in answered]),
            "uncounted_calls": _mean([r.get("uncounted_calls") or 0.0 for r in answered]),
            # None where a row's uncounted calls are not kept apart (stored before): any role's
            "uncounted_verifier_calls": None if any(r.get("uncounted_calls") and r.get("uncounted_verifier_calls")
                                                    is None for r in answered)
            else _mean([r.get("uncounted_verifier_calls") or 0.0 for r in answered]),
            "wall_seconds": _mean([r.get("wall_seconds") for r in answered]),
            "flops": None if any(f is None for f in flops) else _mean(flops),
            "retries": sum(int(r.get("retries") or 0) for r in rs),
            "errors": sum(1 for r in rs if r.get("error")),
            "budget_exhausted": _mean([r.get("budget_exhausted") for r in rs]),
        }
        sides = [point["policy_tokens"], point["verifier_tokens"]]
        known = sum(v or 0.0 for v in sides)  # with a side unknown and nothing counted: unknown, not 0
        point["tokens"] = None if None in sides and not known else known
        points.append(point)
    points.sort(key=lambda p: (p["family"], p["point"] if p["point"] is not None else -1))
    return points


def comparable(point: dict[str, Any], metric: str) -> bool:
    """The point has an accuracy and a known, nonzero ``metric`` to be placed by: not a token
    total (or FLOPs) that leaves out calls its backend did not count, whose true cost may lie in
    any budget above it."""
    if metric in TOKEN_METRICS + ("flops",) and uncounted(point):
        return False
    return bool(point.get(metric)) and point.get("accuracy") is not None


def left_out(points: list[dict[str, Any]], metric: str = "tokens") -> list[dict[str, Any]]:
    """The graded points that ``matched_budgets`` and the ``metric`` plot leave out because their
    ``metric`` is not known (uncounted tokens), with their uncounted calls per problem: the report
    lists them, so that a strategy is never missing from a comparison without a word."""
    return [{"spec": p["spec"], "family": p["family"], "uncounted_calls": p.get("uncounted_calls"),
             "calls": p.get("calls"), metric: p.get(metric)}
            for p in points if p.get("accuracy") is not None and not comparable(p, metric) and uncounted(p)]


def measured_on(points: list[dict[str, Any]], metric: str = "tokens") -> set[str]:
    """The problems the matched budgets compare on: every problem that some point placed by
    ``metric`` was graded on. A point graded on fewer (its run unfinished, or units of it failed)
    is not compared (``unmatched``)."""
    return {pid for p in points if comparable(p, metric) for pid in p.get("per_problem") or {}}


def unmatched(points: list[dict[str, Any]], metric: str = "tokens") -> list[dict[str, Any]]:
    """The points placed by ``metric`` that ``matched_budgets`` leaves out because they were graded
    on fewer problems than the others: with how many of them, so the report names each."""
    every = measured_on(points, metric)
    return [{"spec": p["spec"], "family": p["family"], "problems": len(p.get("per_problem") or {}),
             "of": len(every), "errors": p.get("errors") or 0}
            for p in points if comparable(p, metric) and set(p.get("per_problem") or {}) != every]


def sign_test(won: int, lost: int) -> float:
    """Exact two-sided p-value of ``won`` against ``lost`` under no difference (each discordant
    problem a fair coin): McNemar's exact test when the scores are right or wrong."""
    n, k = won + lost, min(won, lost)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def paired(a: dict[str, Any], b: dict[str, Any], *, alpha: float = 0.05) -> dict[str, Any]:
    """Point ``a`` against point ``b`` on the problems both were graded on. A problem is won where
    ``a``'s score (its mean over seeds, and for a pool point over subsets) is above ``b``'s, lost
    where below, left out where equal; the p-value is the exact two-sided sign test of won against
    lost (:func:`sign_test`), which with 0/1 scores is McNemar's exact test on the discordant problems."""
    sa, sb = a.get("per_problem") or {}, b.get("per_problem") or {}
    common = sa.keys() & sb.keys()
    won = sum(1 for pid in common if sa[pid] > sb[pid] + 1e-9)
    lost = sum(1 for pid in common if sb[pid] > sa[pid] + 1e-9)
    p = sign_test(won, lost)
    return {"runner_up": b["spec"], "runner_up_family": b["family"], "runner_up_accuracy": b["accuracy"],
            "paired_problems": len(common), "won": won, "lost": lost, "p_value": p, "significant": p < alpha}


def matched_budgets(points: list[dict[str, Any]], metric: str = "tokens") -> list[dict[str, Any]]:
    """For each budget level (powers of two of ``metric`` spanning the run), the best point within it,
    with its paired comparison against the next best there (``paired``); points whose ``metric`` is
    unknown (``left_out``) are in no budget.

    Like with like: only points graded on the same problems, every problem any of them was graded on
    (``measured_on``), are compared; a point of an unfinished run, or with failed units, graded on
    fewer is left out (``unmatched``), as its accuracy is over other problems. A winner's failed units
    (``errors``; with seeds, a problem can be graded by one seed and failed by another) go with it.
    The winner's accuracy and CI95 are in-sample: it was chosen on the problems it is scored on."""
    every = measured_on(points, metric)
    usable = [p for p in points if comparable(p, metric) and set(p.get("per_problem") or {}) == every]
    if not usable:
        return []
    lo, hi = min(p[metric] for p in usable), max(p[metric] for p in usable)
    levels, v = [], 2.0 ** math.floor(math.log2(lo))
    while v < hi * 2:
        levels.append(v)
        v *= 2
    out: list[dict[str, Any]] = []
    for level in levels:
        within = sorted((p for p in usable if p[metric] <= level), key=lambda p: (p["accuracy"], -p[metric]),
                        reverse=True)
        if not within:
            continue
        best = within[0]
        vs = paired(best, within[1]) if len(within) > 1 else {}
        last = out[-1] if out else {}
        if (last.get("spec"), last.get("family"), last.get("runner_up"), last.get("runner_up_family")) == (
                best["spec"], best["family"], vs.get("runner_up"), vs.get("runner_up_family")):
            last["up_to"] = level  # the same winner against the same runner-up: one row
            continue
        out.append({"budget": level, "up_to": level, "metric": metric, "family": best["family"],
                    "spec": best["spec"], "accuracy": best["accuracy"], "ci_low": best["ci_low"],
                    "ci_high": best["ci_high"], metric: best[metric], "errors": best.get("errors") or 0,
                    "problems": len(every), **vs})
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
