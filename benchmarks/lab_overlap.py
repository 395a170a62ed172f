"""How many lab evaluation problems are among the policy recipe's training problems.

    python benchmarks/lab_overlap.py

Prints, for the first 100 problems of each evaluation task (the seeds the tests and the lab README
use), how many questions the policy stages of ``recipe.POLICY_STAGES`` trained on, and how many
distinct questions the set holds. ``arith`` is held out; ``countdown`` cannot be (its space is small).
"""

from __future__ import annotations

import argparse

from ponder.lab.data import training_problems
from ponder.lab.recipe import POLICY_STAGES
from ponder.tasks.base import load_task


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # no options; --help works
    seen: dict[str, set[str]] = {}
    for stage in POLICY_STAGES:
        for p in training_problems(stage["steps"] * stage["batch_size"], stage["data_seed"], stage["mix"]):
            seen.setdefault(p.meta["task"], set()).add(p.question)
    print("distinct training questions: " + ", ".join(f"{t} {len(q):,}" for t, q in sorted(seen.items())))
    for spec, seed in (("arith", 0), ("countdown", 0), ("countdown", 1), ("countdown?difficulty=4", 0),
                       ("countdown?difficulty=3", 0)):
        problems = load_task(spec).problems(100, seed)
        train = seen[spec.split("?")[0]]
        print(f"{spec} (seed {seed}): {sum(p.question in train for p in problems)} of {len(problems)} "
              f"in training; {len({p.question for p in problems})} distinct")


if __name__ == "__main__":
    main()
