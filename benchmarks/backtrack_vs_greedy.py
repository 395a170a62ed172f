"""Self-backtracking against greedy decoding of the same lab policy, paired per problem.

    python benchmarks/backtrack_vs_greedy.py [--seeds 14-43] [--spec "backtrack(n=32)"]

Runs greedy decoding (``cot``) and the spec on the same 7-operation ``arith`` problems (100 per
problem seed, the seeds given), and prints both accuracies, mean ledger tokens, the problems one
solves and the other does not, and the one-sided exact McNemar p-value of "the spec solves more".
The default seeds 14-43 (3 000 problems) are the confirmatory test of the lab README; it takes
about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lab_model"))

from lab_fixtures import accuracy, problems, run_all, tokens  # noqa: E402

from ponder import Engine  # noqa: E402
from _args import positive_int, run, seed_range  # noqa: E402  (benchmarks/_args.py)


def mcnemar_one_sided(won: int, lost: int) -> float:
    """P(at least ``won`` wins among ``won + lost`` discordant problems if each were a coin flip)."""
    n = won + lost
    return sum(math.comb(n, k) for k in range(won, n + 1)) / 2 ** n if n else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=seed_range, default="14-43", help="problem seeds, e.g. 14-43 (100 problems each)")
    ap.add_argument("--spec", default="backtrack(n=32)")
    ap.add_argument("--difficulty", type=positive_int, default=7)
    args = ap.parse_args()
    engine = Engine.from_spec("embedded")
    sets = [problems(f"arith?difficulty={args.difficulty}", 100, seed=s) for s in args.seeds]
    runs = {}
    for spec in ("cot", args.spec):
        t0 = time.perf_counter()
        # run_all seeds each problem's strategy by its position in its set: one call per set
        runs[spec] = [r for probs in sets for r in run_all(engine, spec, probs)]
        print(f"{spec}: {accuracy(runs[spec]):.1%} of {len(runs[spec])} at {tokens(runs[spec]):.0f} ledger tokens "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    greedy, other = ([bool(r.correct) for r in runs[k]] for k in ("cot", args.spec))
    won = sum(o and not g for g, o in zip(greedy, other))
    lost = sum(g and not o for g, o in zip(greedy, other))
    print(f"{args.spec} against greedy: won {won}, lost {lost}, one-sided exact McNemar p = "
          f"{mcnemar_one_sided(won, lost):.4f}")


if __name__ == "__main__":
    run(main)
