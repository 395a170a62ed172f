"""The matched-budget winner's bias, simulated through ``ponder.bench.stats`` (prints figures).

    python benchmarks/winner_bias.py [--strategies 8] [--problems 50] [--trials 2000]

Strategies of equal true accuracy 0.5 and equal cost are graded on the same problems (each problem
right or wrong at random) and put through ``stats.matched_budgets`` as a bench report would be.
Printed: the winner's mean accuracy (0.5 without bias), how often its CI95 holds 0.5, and how often
its paired test calls it better than the runner-up (about 5 % or less where none is).
"""

from __future__ import annotations

import argparse
import random

from _args import positive_int, run

from ponder.bench.stats import matched_budgets, wilson_ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", type=positive_int, default=8)
    ap.add_argument("--problems", type=positive_int, default=50)
    ap.add_argument("--trials", type=positive_int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    best, covered, significant = 0.0, 0, 0
    for _ in range(args.trials):
        points = []
        for s in range(args.strategies):
            scores = {f"p{i}": float(rng.random() < 0.5) for i in range(args.problems)}
            acc = sum(scores.values()) / len(scores)
            lo, hi = wilson_ci(list(scores.values()))
            points.append({"family": f"s{s}", "spec": f"s{s}", "tokens": 100.0, "accuracy": acc, "ci_low": lo,
                           "ci_high": hi, "per_problem": scores, "uncounted_calls": 0.0})
        [row] = matched_budgets(points)
        best += row["accuracy"]
        covered += row["ci_low"] <= 0.5 <= row["ci_high"]
        significant += bool(row.get("significant"))
    n = args.trials
    print(f"{args.strategies} strategies of true accuracy 0.5 on {args.problems} problems, {n} trials:")
    print(f"  winner's mean accuracy {best / n:.3f}; its CI95 holds 0.5 in {100 * covered / n:.1f} % of trials; "
          f"its paired test against the runner-up is significant in {100 * significant / n:.1f} %")


if __name__ == "__main__":
    run(main)
