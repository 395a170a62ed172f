"""Aggregation: Wilson CI95 on constructed cases and its coverage, seeds averaged within problems, matched budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ponder.bench.stats import aggregate, matched_budgets, wilson_ci


def wilson_reference(k, n, z=1.959964):
    """The textbook Wilson score interval for k right out of n, written out independently."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize("k, n, expected", [
    (0, 5, (0.0, 0.434482)),       # 0/5: not [0, 0]
    (5, 5, (0.565518, 1.0)),       # 5/5: not [1, 1]
    (1, 1, (0.206549, 1.0)),       # one problem: not a point
    (0, 1, (0.0, 0.793451)),
    (7, 10, (0.396778, 0.892209)),
    (30, 30, (0.886487, 1.0)),   # 30/30 = n / (n + z²): not [1, 1]
])
def test_ci95_is_the_wilson_score_interval_for_right_or_wrong(k, n, expected):
    lo, hi = wilson_ci([1.0] * k + [0.0] * (n - k))
    assert (lo, hi) == pytest.approx(expected, abs=1e-6)
    assert (lo, hi) == pytest.approx(wilson_reference(k, n), abs=1e-12)
    assert hi - lo > 0.1  # never zero-width for a finite number of problems


def test_ci95_is_never_zero_width_and_always_holds_the_accuracy():
    rng = np.random.default_rng(7)
    cases = [[1.0] * 30, [0.0] * 5, [1.0], [0.0], [0.5], [0.25] * 4]
    cases += [list(rng.choice([0.0, 0.5, 1.0], size=int(rng.integers(1, 40)))) for _ in range(50)]
    for x in cases:
        lo, hi = wilson_ci(x)
        acc = sum(x) / len(x)
        assert 0.0 <= lo <= acc <= hi <= 1.0 and hi - lo > 0.0, x
    assert all(math.isnan(v) for v in wilson_ci([]))


def test_ci95_covers_the_true_accuracy_at_small_n():
    """p = 0.9 over 10 problems: a percentile bootstrap held the true value in about 64 % of runs
    (every 10/10 run gave [1, 1]); the Wilson interval in about 93 % (exactly P(k >= 8) = 0.930)."""
    rng = np.random.default_rng(2028)
    ks = rng.binomial(10, 0.9, size=4000)
    ci = {k: wilson_ci([1.0] * k + [0.0] * (10 - k)) for k in set(ks.tolist())}
    coverage = np.mean([ci[k][0] <= 0.9 <= ci[k][1] for k in ks.tolist()])
    assert coverage >= 0.9


def test_ci95_covers_the_true_accuracy_with_seeds_averaged_within_problems():
    """Fractional per-problem scores (2 seeds a problem, each right with p = 0.9, 10 problems): the
    Wilson interval at the mean with n = problems is conservative, never a point."""
    rng = np.random.default_rng(2029)
    draws = rng.binomial(1, 0.9, size=(3000, 10, 2)).mean(axis=2)  # per-problem means: 0, 0.5 or 1
    keys = [tuple(sorted(row)) for row in draws.tolist()]
    ci = {key: wilson_ci(list(key)) for key in set(keys)}
    coverage = np.mean([ci[key][0] <= 0.9 <= ci[key][1] for key in keys])
    assert coverage >= 0.9


def test_ci95_of_fractional_scores_is_wilson_at_the_mean_over_problems():
    # mean 0.5 over 3 problems: the Wilson interval of 1.5/3 (n = 3 problems, not 6 seeds)
    expected = (0.125334, 0.874666)
    assert wilson_ci([1.0, 0.5, 0.0]) == pytest.approx(expected, abs=1e-6)
    assert wilson_ci([0.5, 0.5, 0.5]) == pytest.approx(expected, abs=1e-6)  # constant, not a point
    with pytest.raises(ValueError):
        wilson_ci([2.0, 1.0])  # scores are fractions right


def test_ci95_matches_the_normal_approximation_for_half_right():
    x = [1.0, 0.0] * 200  # 400 problems, accuracy 0.5: CI95 ≈ 0.5 ± 1.96·sqrt(0.25/400) = 0.5 ± 0.049
    lo, hi = wilson_ci(x)
    half = 1.96 * math.sqrt(0.25 / 400)
    assert lo == pytest.approx(0.5 - half, abs=0.01)
    assert hi == pytest.approx(0.5 + half, abs=0.01)
    assert wilson_ci(x) == (lo, hi)  # deterministic: the same every time


def rows(family, spec, point, table, tokens):
    """``table``: {problem: [correct per seed]}."""
    return [{"family": family, "spec": spec, "point": point, "problem_id": p, "seed": s, "correct": c,
             "parsed": 1.0, "policy_tokens": tokens, "verifier_tokens": 0.0, "flops": tokens * 2.0, "calls": 1}
            for p, cs in table.items() for s, c in enumerate(cs)]


def test_aggregate_takes_the_ci_over_problems_across_seeds():
    # p0 right in both seeds, p1 in one of two, p2 never: per-problem means 1, 0.5, 0 -> accuracy 0.5
    table = {"p0": [1.0, 1.0], "p1": [1.0, 0.0], "p2": [0.0, 0.0]}
    [pt] = aggregate(rows("cot", "cot", None, table, 100.0))
    assert pt["accuracy"] == pytest.approx(0.5)
    assert (pt["problems"], pt["seeds"]) == (3, 2)
    assert 0.0 <= pt["ci_low"] < 0.5 < pt["ci_high"] <= 1.0
    # the CI is over 3 problems, not 6 independent samples: Wilson at 0.5 with n = 3, exactly
    assert (pt["ci_low"], pt["ci_high"]) == wilson_ci([1.0, 0.5, 0.0])
    assert (pt["ci_low"], pt["ci_high"]) == pytest.approx((0.125334, 0.874666), abs=1e-6)
    assert (pt["ci_low"], pt["ci_high"]) != pytest.approx(wilson_reference(3, 6), abs=1e-3)
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
    assert [m["errors"] for m in matched] == [0, 0]


def test_a_matched_budget_winner_shows_its_failed_units():
    """Accuracy is over the units that finished. A point whose failed unit leaves a problem ungraded
    is not compared with those graded on every problem (its accuracy is over others: a strategy
    that fails on the hard problems would win); one whose failed seed leaves the problem graded by
    its other seed is, and the matched table says how many of its units failed."""
    import io

    from rich.console import Console

    from ponder.bench.report import print_tables
    from ponder.bench.stats import unmatched

    ok = rows("sc(n=1..4)", "sc(n=4)", 4, {"a": [1.0, 1.0], "b": [1.0, 1.0]}, 300.0)
    failed = [{**ok[0], "problem_id": "c", "correct": 0.0, "parsed": 0.0, "error": "TimeoutError: "}]
    cot = rows("cot", "cot", None, {"a": [0.0, 0.0], "b": [1.0, 1.0], "c": [0.0, 0.0]}, 100.0)
    pts = aggregate(cot + ok + failed)
    assert [(m["spec"], m["errors"]) for m in matched_budgets(pts)] == [("cot", 0)]
    assert [(u["spec"], u["problems"], u["of"]) for u in unmatched(pts)] == [("sc(n=4)", 2, 3)]
    seed_failed = [{**ok[0], "problem_id": "c", "seed": 1, "correct": 0.0, "parsed": 0.0, "error": "TimeoutError: "}]
    graded = [{**ok[0], "problem_id": "c", "seed": 0}]
    pts = aggregate(cot + ok + graded + seed_failed)
    matched = matched_budgets(pts)
    assert [(m["spec"], m["errors"]) for m in matched] == [("cot", 0), ("sc(n=4)", 1)]
    out = io.StringIO()
    print_tables({"manifest": {"model": "m", "task": "arith", "seeds": 2},
                  "summary": {"problems": 3, "units_failed": 1, "retries": 0}, "points": [], "matched": matched},
                 Console(file=out, width=200))
    assert "failed" in out.getvalue().split("matched budgets")[1].split("retried call")[0]
