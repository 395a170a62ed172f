"""The lab tasks (``arith``, ``countdown``) as Ponder tasks: generated, seeded, graded exactly."""

from __future__ import annotations

from ..types import Problem
from .base import Task, TaskSpecError, register_task
from .datasets import _from_lab


def _lab_task(name: str):
    def loader(path: str | None, options: dict[str, str]) -> Task:
        from ..lab.tasks import TASKS

        module = TASKS[name]
        unknown = set(options) - {"difficulty", "n"}
        if unknown or path:
            raise TaskSpecError(f"task {name} takes ?difficulty=K (and ?n=COUNT), not {sorted(unknown) or path!r}")
        try:
            difficulty = int(options["difficulty"]) if "difficulty" in options else None
            count = int(options.get("n", 300))  # without ?n= a limit alone sets the number
            given_n = "n" in options
        except ValueError:
            raise TaskSpecError(f"task {name}: difficulty and n must be integers") from None
        low, high = module.DIFFICULTY_RANGE
        if difficulty is not None and not low <= difficulty <= high:
            raise TaskSpecError(f"task {name}: difficulty must be from {low} to {high}, got {difficulty}")
        if count <= 0:
            raise TaskSpecError(f"task {name}: n must be positive, got {count}")

        def load(limit: int | None, seed: int) -> list[Problem]:
            from ..lab.recipe import training_seed_note

            if limit is not None and limit <= 0:
                raise TaskSpecError(f"limit must be positive, got {limit}")
            # evaluation seed s draws the problems of generator seed 10_000 + s; the shipped models were
            # trained on those of a few generator seeds (recipe.training_generator_seeds(), some above
            # 10_000), and an s that maps onto one is refused, so arith problems are held out; countdown's
            # space is small, so its problems recur across seeds and are among the training problems
            # (benchmarks/lab_overlap.py)
            note = training_seed_note(10_000 + seed)
            if note:
                raise TaskSpecError(f"task {name}, seed {seed}: {note}")
            want = count if limit is None else min(limit, count) if given_n else limit
            problems = module.generate(want, seed=10_000 + seed, difficulty=difficulty)
            return [_from_lab(p, module) for p in problems]

        return Task(name, load)

    return loader


register_task("arith")(_lab_task("arith"))
register_task("countdown")(_lab_task("countdown"))
