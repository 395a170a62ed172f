"""``ponder lab`` sub-commands (a typer sub-application mounted by the main CLI).

    ponder lab train --task mix --out DIR [--steps N] [--seed S] [--kind policy|prm]
    ponder lab quick-eval [--model DIR] [--n 300] [--k 16] [--prm DIR]

torch is imported only inside the commands.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

lab_app = typer.Typer(help="Train and evaluate Ponder's tiny lab models.", no_args_is_help=True)


class TaskChoice(str, Enum):
    arith = "arith"
    countdown = "countdown"
    mix = "mix"


class EvalTask(str, Enum):
    arith = "arith"
    countdown = "countdown"


class KindChoice(str, Enum):
    policy = "policy"
    prm = "prm"


@lab_app.command("train")
def train(
    out: str = typer.Option(..., "--out", help="output directory (Hugging Face format)"),
    task: TaskChoice = typer.Option(TaskChoice.mix, "--task", help="training task(s)"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="optimizer steps"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default: the recipe's)"),
    kind: KindChoice = typer.Option(KindChoice.policy, "--kind", help="policy or prm"),
    policy: Optional[str] = typer.Option(None, "--policy",
                                         help="policy dir to initialise/sample the PRM from"),
) -> None:
    """Train a lab policy (the recipe's first stage) or a PRM (all its stages, from a policy) and export it.

    --steps sets the steps of the (last) stage.
    """
    if kind == KindChoice.policy:
        from .recipe import POLICY_RECIPE
        from .train import train_policy

        cfg = {**POLICY_RECIPE, "task": task.value, "seed": seed or 0}
        if steps is not None:
            cfg["steps"] = steps
        res = train_policy(out, **cfg)
    else:
        from pathlib import Path

        from ..errors import ModelSpecError
        from . import POLICY_DIR
        from .recipe import run_prm

        if policy is not None and not (Path(policy) / "config.json").is_file():
            raise ModelSpecError(f"--policy {policy!r} is not a model directory (no config.json); give a lab "
                                 "policy saved by ponder lab train, or leave it out for the shipped one")
        over = {k: v for k, v in (("steps", steps), ("seed", seed)) if v is not None}
        res = run_prm(out, policy or str(POLICY_DIR), **over)
    typer.echo(json.dumps(res, indent=2))


@lab_app.command("quick-eval")
def quick_eval(
    model: Optional[str] = typer.Option(None, "--model", help="policy dir (default: shipped)"),
    task: EvalTask = typer.Option(EvalTask.arith, "--task"),
    n: int = typer.Option(300, "--n", min=1, help="problems"),
    k: int = typer.Option(16, "--k", min=1, help="samples per problem"),
    seed: int = typer.Option(12345, "--seed"),
    temperature: float = typer.Option(1.0, "--temperature", min=0.0),
    prm: Optional[str] = typer.Option(None, "--prm", help="also score samples with this PRM"),
) -> None:
    """Greedy / one-sample / maj@k / any@k (and PRM best-of-k) with raw transformers.

    (ponder lab eval, registered by the main CLI, evaluates through the Engine.)
    """
    import tempfile
    from pathlib import Path

    from . import POLICY_DIR
    from .evaluate import evaluate_policy, evaluate_prm

    with tempfile.TemporaryDirectory() as tmp:
        samples = str(Path(tmp) / "samples.json")
        res = evaluate_policy(model or str(POLICY_DIR), task.value, n, k, seed,
                              temperature=temperature, samples_out=samples)
        if prm:
            res["prm"] = evaluate_prm(prm, samples)
    typer.echo(json.dumps(res, indent=2))
