"""Aggregation: bootstrap CI95 on constructed cases, seeds averaged within problems, matched budgets."""

from __future__ import annotations

import math

import pytest

from ponder.bench.stats import aggregate, bootstrap_ci, matched_budgets


def test_ci95_of_a_constant_is_a_point():
    assert bootstrap_ci([1.0] * 30) == (1.0, 1.0)
    assert bootstrap_ci([0.0] * 5) == (0.0, 0.0)


def test_ci95_matches_the_normal_approximation_for_half_right():
    x = [1.0, 0.0] * 200  # 400 problems, accuracy 0.5: CI95 ≈ 0.5 ± 1.96·sqrt(0.25/400) = 0.5 ± 0.049
    lo, hi = bootstrap_ci(x)
    half = 1.96 * math.sqrt(0.25 / 400)
    assert lo == pytest.approx(0.5 - half, abs=0.01)
    assert hi == pytest.approx(0.5 + half, abs=0.01)
    assert bootstrap_ci(x) == (lo, hi)  # seeded: the same every time


def rows(family, spec, point, table, tokens):
    """``table``: {problem: [correct per seed]}."""
    return [{"family": family, "spec": spec, "point": point, "problem_id": p, "seed": s, "correct": c,
             "parsed": 1.0, "policy_tokens": tokens, "verifier_tokens": 0.0, "flops": tokens * 2.0, "calls": 1}
            for p, cs in table.items() for s, c in enumerate(cs)]


def test_aggregate_bootstraps_over_problems_across_seeds():
    # p0 right in both seeds, p1 in one of two, p2 never: per-problem means 1, 0.5, 0 -> accuracy 0.5
    table = {"p0": [1.0, 1.0], "p1": [1.0, 0.0], "p2": [0.0, 0.0]}
    [pt] = aggregate(rows("cot", "cot", None, table, 100.0))
    assert pt["accuracy"] == pytest.approx(0.5)
    assert (pt["problems"], pt["seeds"]) == (3, 2)
    assert 0.0 <= pt["ci_low"] < 0.5 < pt["ci_high"] <= 1.0
    # the CI is over 3 problems, not 6 independent samples: the bootstrap of [1, .5, 0] exactly
    assert (pt["ci_low"], pt["ci_high"]) == bootstrap_ci([1.0, 0.5, 0.0])
    assert pt["wrong"] == pytest.approx(0.5) and pt["parse_failures"] == 0.0


def test_failed_units_of_a_run_stored_before_are_left_out_of_accuracy():
    """Runs stored before failed units were kept apart have correct = parsed = 0.0 on them: they
    are errors, not wrong unparsed answers, whatever the row says."""
    table = {"p0": [1.0], "p1": [0.0]}
    ok = rows("cot", "cot", None, table, 100.0)
    failed = [{**ok[1], "problem_id": "p2", "correct": 0.0, "parsed": 0.0, "error": "server down"}]
    [pt] = aggregate(ok + failed)
    assert pt["accuracy"] == pytest.approx(0.5) and pt["parse_failures"] == 0.0 and pt["errors"] == 1


def test_failed_units_are_left_out_of_compute_as_of_accuracy():
    """A timed-out unit lost the call in flight and recorded next to no tokens: averaged into the
    compute of the answered units it made the point look cheaper than it is."""
    ok = rows("sc", "sc(n=8)", 8, {"p0": [1.0], "p1": [0.0]}, 300.0)
    timed_out = [{**ok[0], "problem_id": f"t{i}", "correct": 0.0, "parsed": 0.0, "policy_tokens": 0.0,
                  "flops": 0.0, "calls": 0, "error": "TimeoutError: "} for i in range(4)]
    [pt] = aggregate(ok + timed_out)
    assert pt["accuracy"] == pytest.approx(0.5) and pt["errors"] == 4 and pt["problems"] == 6
    assert pt["tokens"] == 300.0 and pt["flops"] == 600.0 and pt["calls"] == 1


def test_matched_budgets_pick_the_best_within_each_budget():
    pts = aggregate(
        rows("cot", "cot", None, {"a": [0.0], "b": [1.0]}, 100.0)
        + rows("sc(n=1..4)", "sc(n=1)", 1, {"a": [0.0], "b": [0.0]}, 90.0)
        + rows("sc(n=1..4)", "sc(n=4)", 4, {"a": [1.0], "b": [1.0]}, 300.0))
    matched = matched_budgets(pts)
    # levels are powers of two: within 128 and 256 tokens cot (50 %) is best;
    # sc(n=1) (0 %) is cheaper but worse; sc(n=4) wins only once 300 tokens are allowed
    assert [(m["spec"], m["budget"], m["up_to"]) for m in matched] == [("cot", 128.0, 256.0), ("sc(n=4)", 512.0, 512.0)]
    assert matched[0]["accuracy"] == 0.5 and matched[1]["accuracy"] == 1.0
