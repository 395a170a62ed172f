"""``ponder lab`` sub-commands (a typer sub-application mounted by the main CLI).

    ponder lab train --out DIR [--kind policy|prm] [--steps N] [--seed S] [--task mix (policy)] [--policy DIR (prm)]
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
    out: str = typer.Option(..., "--out", help="output directory (Hugging Face format): new, empty, or an "
                            "earlier lab training's, whose model is replaced"),
    task: Optional[TaskChoice] = typer.Option(None, "--task",
                                              help="training task(s) of the policy (default mix); --kind policy only"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="optimizer steps"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default: the recipe's)"),
    kind: KindChoice = typer.Option(KindChoice.policy, "--kind", help="policy or prm"),
    policy: Optional[str] = typer.Option(None, "--policy",
                                         help="policy dir to initialise/sample the PRM from; --kind prm only"),
) -> None:
    """Train a lab policy (the recipe's first stage) or a PRM (all its stages, from a policy) and export it.

    --steps sets the steps of the (last) stage. --seed sets the training seed and, for the policy,
    the examples (data seed = seed + 1, as the recipe's seed 0 and data seed 1); without it the
    recipe's data is used. --task is the policy's (the PRM trains on the recipe's task mix) and
    --policy the PRM's: given to the other kind, either is refused rather than ignored.
    """
    # what was given is checked before any work (a model is exported only at the end)
    from .train import LabError, check_out_dir, check_policy_dir

    if kind == KindChoice.prm and task is not None:
        raise LabError(f"--task {task.value}: --task applies to --kind policy only (the PRM is trained on the "
                       "recipe's fixed task mix); leave it out with --kind prm")
    if kind == KindChoice.policy and policy is not None:
        raise LabError("--policy: --policy applies to --kind prm only (the policy the PRM starts from and "
                       "samples); leave it out with --kind policy")

    if kind == KindChoice.prm and policy is not None:
        check_policy_dir(policy)
    check_out_dir(out)
    if kind == KindChoice.policy:
        from .recipe import POLICY_RECIPE
        from .train import train_policy

        cfg = {**POLICY_RECIPE, "task": (task or TaskChoice.mix).value, "seed": seed or 0}
        if seed is not None:  # the examples follow the seed (the recipe's own pair is seed 0, data seed 1)
            cfg["data_seed"] = seed + 1
        if steps is not None:
            cfg["steps"] = steps
        res = train_policy(out, **cfg)
    else:
        from . import POLICY_DIR
        from .recipe import run_prm

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
    temperature: float = typer.Option(1.0, "--temperature", min=0.0,
                                      help="sampling temperature of the k samples (0: greedy)"),
    prm: Optional[str] = typer.Option(None, "--prm", help="also score samples with this PRM"),
) -> None:
    """Greedy / one-sample / maj@k / any@k (and PRM best-of-k) with raw transformers.

    (ponder lab eval, registered by the main CLI, evaluates through the Engine.)
    """
    import math
    import tempfile
    from pathlib import Path

    from ..types import finite
    from . import POLICY_DIR
    from .evaluate import check_policy_model, check_prm_dir, evaluate_policy, evaluate_prm
    from .train import LabError

    if not math.isfinite(temperature):
        raise LabError(f"--temperature must be a finite number >= 0 (0: greedy), got {temperature}")
    # the model directories are checked before any sampling (the PRM is read only at the end)
    policy = Path(model).expanduser() if model else POLICY_DIR
    check_policy_model(policy, "--model")  # a PRM writes no answers: refused, as ponder lab eval does
    if prm:
        check_prm_dir(prm, "--prm")

    with tempfile.TemporaryDirectory() as tmp:
        samples = str(Path(tmp) / "samples.json")
        res = evaluate_policy(str(policy), task.value, n, k, seed,
                              temperature=temperature, samples_out=samples)
        if prm:
            res["prm"] = evaluate_prm(prm, samples)
    typer.echo(json.dumps(finite(res), indent=2, allow_nan=False))  # an AUROC without both classes: null
