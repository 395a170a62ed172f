"""Concurrent runs under a short token budget: how many problems get an answer, and the tokens spent.

    python benchmarks/tight_budget.py [--limit 20] [--budgets 300,400,600,800]

``sc(n=8, of=budget(think=64, ...))`` starts eight budget-forced runs at once, each two calls
(thinking, then the answer). Under a ``max_tokens`` budget smaller than eight runs' worth, the
calls share it (each claims its prompt and completion before it starts, the earliest runs are
served first, and a run starts only while the runs before it keep enough to finish): this
prints, per budget, the problems answered and solved, the mean ledger tokens and how many
problems went over the budget (which should be none), on the first ``--limit`` ``arith``
problems with the embedded lab model. ``--spec "sc(n=8, seed=3)"`` shows one call for eight
samples under the same budgets (drawn in waves), ``--spec "bon(n=8, seed=3)"`` best-of-N drawing
and scoring a wave at a time. ``--calls`` reads the budgets as ``max_calls`` instead: runs of
several calls each under a call budget (``answered`` counts problems with an answer).
"""

from __future__ import annotations

import argparse
from _args import positive_int, positive_ints, run  # noqa: E402  (benchmarks/_args.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=positive_int, default=20, help="arith problems")
    ap.add_argument("--budgets", type=positive_ints, default="300,400,600,800", help="comma-separated max_tokens")
    ap.add_argument("--spec", default="sc(n=8, of=budget(think=64, answer_prompt='Answer:', temperature=0.7, seed=3))")
    ap.add_argument("--calls", action="store_true", help="the budgets are max_calls, not max_tokens")
    args = ap.parse_args()
    kind = "max_calls" if args.calls else "max_tokens"

    import ponder
    from ponder import Budget, Engine
    from ponder.tasks import load_task

    engine = Engine.from_spec("embedded")
    probs = load_task("arith").problems(args.limit, 0)
    print(f"{args.spec} on {len(probs)} arith problems")
    print(f"{kind:>10} {'answered':>9} {'solved':>7} {'mean ' + kind[4:]:>12} {'over budget':>12}")
    for budget in args.budgets:
        results = [ponder.solve(p, model=engine, strategy=args.spec, budget=Budget(**{kind: budget}))
                   for p in probs]
        spent = [(r.ledger.calls if args.calls else r.ledger.total_tokens) or 0 for r in results]
        print(f"{budget:>10} {sum(r.answer is not None for r in results):>9} "
              f"{sum(bool(r.correct) for r in results):>7} {sum(spent) / len(spent):>12.0f} "
              f"{sum(s > budget for s in spent):>12}")


if __name__ == "__main__":
    run(main)
