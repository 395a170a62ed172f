"""Synthetic reasoning tasks with seeded generators and exact graders (no torch needed).

Every task module offers ``generate(n, seed, difficulty=None)``,
``check(problem, answer)``, ``trace(problem, rng, style=...)`` and
``step_labels(problem, assistant_text)``; ``TASKS`` maps names to modules.
"""

from . import arith, countdown
from .base import (
    BACKTRACK,
    STEP_DELIMITER,
    STYLES,
    SWITCH,
    THINK_CLOSE,
    THINK_OPEN,
    WAIT,
    LabProblem,
    extract_answer,
    insert_step_tags,
    split_steps,
)

TASKS = {"arith": arith, "countdown": countdown}


def task_of(problem: LabProblem):
    """The task module a problem belongs to."""
    return TASKS[problem.meta["task"]]


__all__ = [
    "TASKS", "LabProblem", "arith", "countdown", "extract_answer", "insert_step_tags",
    "split_steps", "task_of", "STYLES", "STEP_DELIMITER", "THINK_OPEN", "THINK_CLOSE",
    "BACKTRACK", "WAIT", "SWITCH",
]
