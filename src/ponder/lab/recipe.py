"""The exact recipe that produced the shipped lab models (fixed seeds).

    python -m ponder.lab.recipe policy --out src/ponder/lab/models/policy
    python -m ponder.lab.recipe prm --out src/ponder/lab/models/prm \\
        --policy src/ponder/lab/models/policy

Each command trains on CPU (``train.DEFAULT_THREADS`` intra-op threads: 1 unless
``PONDER_LAB_THREADS`` says otherwise) and exports a Hugging Face directory loadable
with ``AutoModelForCausalLM``/``AutoTokenizer``.
"""

from __future__ import annotations

import argparse
import functools
import json

# The shipped policy was trained in five stages (each continues from the previous
# checkpoint with fresh examples and a fresh warmup + cosine schedule).
POLICY_STAGES = [
    {"task": "mix", "steps": 600, "batch_size": 32, "lr": 3e-3, "warmup": 40, "seed": 0,
     "mix": {"arith": 0.7, "countdown": 0.3}, "data_seed": 1},
    {"task": "mix", "steps": 1000, "batch_size": 32, "lr": 2e-3, "warmup": 20, "seed": 0,
     "mix": {"arith": 0.8, "countdown": 0.2}, "data_seed": 2},
    {"task": "mix", "steps": 2500, "batch_size": 32, "lr": 2e-3, "warmup": 20, "seed": 0,
     "mix": {"arith": 0.85, "countdown": 0.15}, "data_seed": 3},
    {"task": "mix", "steps": 2500, "batch_size": 32, "lr": 1.5e-3, "warmup": 20, "seed": 0,
     "mix": {"arith": 0.85, "countdown": 0.15}, "data_seed": 4},
    # Stage 5: "recompute until two attempts agree" (the vote style) replaces the single
    # re-check after "Wait,"; the policy votes inside its own trace.
    {"task": "mix", "steps": 1200, "batch_size": 32, "lr": 1e-3, "warmup": 20, "seed": 0,
     "mix": {"arith": 0.85, "countdown": 0.15}, "data_seed": 5,
     "trace_styles": {"full": 0.4, "vote": 0.3, "switch": 0.14, "backtrack": 0.16}},
]
POLICY_RECIPE = POLICY_STAGES[0]
PRM_STAGES = [
    # Stage 1: the step check alone.  The policy with two identity-initialised layers on top
    # (room to compare each result digit with its own prediction and carry the verdict to the
    # tag), trained on drills of unrelated steps with every tag and result digit labelled.
    {"steps": 800, "batch_size": 32, "lr": 7e-4, "warmup": 30, "seed": 0, "n_onpolicy": 0,
     "n_synthetic": 0, "n_drill": 16000, "extra_layers": 2, "digit_labels": True},
    # Stage 2: traces (synthetic with every kind of slip, and samples of the policy), drills
    # kept in the mix, and a language-model loss on correct traces that keeps the arithmetic
    # the PRM checks steps with.
    {"steps": 1500, "batch_size": 32, "lr": 7e-4, "warmup": 30, "seed": 2, "n_onpolicy": 1500,
     "samples_per_problem": 4, "n_synthetic": 8000, "n_drill": 8000, "lm_weight": 0.5,
     "digit_labels": True},
    # Stage 3: the same kinds of data on fresh problems and samples, at a lower rate.
    {"steps": 1000, "batch_size": 32, "lr": 5e-4, "warmup": 30, "seed": 6, "n_onpolicy": 1500,
     "samples_per_problem": 4, "n_synthetic": 8000, "n_drill": 6000, "lm_weight": 0.5,
     "digit_labels": True},
    # Stage 4: half countdown (the drills are arith steps; a countdown step's label is mostly
    # whether the target is still reachable), at a low rate.
    {"steps": 600, "batch_size": 32, "lr": 3e-4, "warmup": 30, "seed": 8, "n_onpolicy": 1500,
     "samples_per_problem": 4, "n_synthetic": 6000, "n_drill": 3000, "lm_weight": 0.5,
     "digit_labels": True, "task_mix": {"arith": 0.5, "countdown": 0.5}},
]


def problem_seed(data_seed: int) -> int:
    """The task-generator seed of the problems that ``data.training_problems(n, data_seed)`` draws."""
    return data_seed * 7919 + 101


@functools.cache  # every lab task load asks
def training_generator_seeds() -> frozenset[int]:
    """The task-generator seeds (``generate(n, seed, ...)``) of every problem the shipped models were
    trained on: each policy stage's examples (its ``data_seed``), and each PRM stage's synthetic
    traces (data seed = stage seed + 7, ``train.train_prm``) and on-policy samples (that + 1,
    ``prm_data.build_prm_dataset``). A model trained with other seeds drew other problems."""
    seeds = {problem_seed(st["data_seed"]) for st in POLICY_STAGES}
    for st in PRM_STAGES:
        if st["n_synthetic"]:
            seeds.add(problem_seed(st["seed"] + 7))
        if st["n_onpolicy"]:
            seeds.add(problem_seed(st["seed"] + 8))
    return frozenset(seeds)


def training_seed_note(generator_seed: int) -> str | None:
    """Why evaluating on the problems of ``generator_seed`` would not be held out (None where it is
    not a training seed): the generators are seeded per ``(seed, difficulty)``, so such a seed
    repeats training problems at the training difficulties and is refused whatever the difficulty."""
    if generator_seed not in training_generator_seeds():
        return None
    return (f"its problems are those of task-generator seed {generator_seed}, which the shipped models "
            "were trained on; give another seed (evaluation problems must be held out)")


def _run_stages(stages: list[dict], out: str, train, start_stage: int, init_from: str | None,
                overrides: dict, seed_per_stage: bool) -> dict:
    """Run ``stages[start_stage-1:]``, each continuing from the previous checkpoint.

    Intermediate checkpoints go to a temporary directory, the last one to ``out``.
    ``steps`` overrides only the last stage; ``seed`` every stage (plus the stage
    index when ``seed_per_stage``).
    """
    import tempfile
    from pathlib import Path

    if not 1 <= start_stage <= len(stages):
        raise ValueError(f"start stage {start_stage} is out of range: the recipe has stages 1-{len(stages)}")
    with tempfile.TemporaryDirectory() as tmp:
        prev = init_from
        for i in range(start_stage - 1, len(stages)):
            cfg = dict(stages[i])
            last = i == len(stages) - 1
            if "seed" in overrides:
                cfg["seed"] = overrides["seed"] + (i if seed_per_stage else 0)
            if last and "steps" in overrides:
                cfg["steps"] = overrides["steps"]
            dest = out if last else str(Path(tmp) / f"stage{i + 1}")
            res = train(dest, init_from=prev, **cfg)
            prev = dest
    return res


def run_policy(out: str, start_stage: int = 1, init_from: str | None = None, **overrides) -> dict:
    """All policy stages (``start_stage=k`` with ``init_from``, the checkpoint of stage k-1,
    runs stages k.. only); ``steps`` overrides the last stage, ``seed`` every stage."""
    from .train import train_policy

    return _run_stages(POLICY_STAGES, out, train_policy, start_stage, init_from, overrides,
                       seed_per_stage=False)


def run_prm(out: str, policy: str, start_stage: int = 1, init_from: str | None = None,
            **overrides) -> dict:
    """All PRM stages (the first starts from the policy weights, the next from the PRM);
    ``start_stage=k`` with ``init_from`` (the PRM of stage k-1) runs stages k.. only."""
    from functools import partial

    from .train import train_prm

    return _run_stages(PRM_STAGES, out, partial(train_prm, policy_dir=policy), start_stage, init_from,
                       overrides, seed_per_stage=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ponder.lab.recipe", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["policy", "prm"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--policy", default=None, help="policy directory (prm only)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--start-stage", type=int, default=1,
                    help="begin at this stage (needs --init, the previous stage's output)")
    ap.add_argument("--init", default=None, help="checkpoint to continue from (with --start-stage)")
    args = ap.parse_args(argv)
    stages = POLICY_STAGES if args.kind == "policy" else PRM_STAGES
    if not 1 <= args.start_stage <= len(stages):
        ap.error(f"--start-stage {args.start_stage}: the {args.kind} recipe has stages 1-{len(stages)}")
    if args.start_stage > 1 and not args.init:
        ap.error("--start-stage > 1 needs --init DIR (the checkpoint of the stage before)")
    if args.kind == "prm" and not args.policy:
        ap.error("--policy is required for prm")
    from ..errors import PonderError

    try:  # every stage runs for minutes: what was given is checked before the first
        check_args(args)
    except PonderError as exc:
        ap.exit(2, f"error: {exc}\n")
    over = {k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None}
    if args.kind == "policy":
        res = run_policy(args.out, start_stage=args.start_stage, init_from=args.init, **over)
    else:
        res = run_prm(args.out, args.policy, start_stage=args.start_stage, init_from=args.init, **over)
    print(json.dumps(res, indent=2))


def check_args(args: argparse.Namespace) -> None:
    """Refuse what ``main`` cannot use (``LabError``/``ModelSpecError``, one line): ``--steps`` below 1
    (no step: a NaN loss), an ``--out`` ``train.check_out_dir`` refuses, a ``--policy`` that is not a
    lab policy, an ``--init`` that is not the checkpoint a stage continues from (a policy for the
    policy stages, a PRM for the PRM's)."""
    from .evaluate import check_prm_dir
    from .train import LabError, check_out_dir, check_policy_dir

    if args.steps is not None and args.steps < 1:
        raise LabError(f"--steps must be at least 1 (the last stage's optimizer steps), got {args.steps}")
    if args.policy and args.kind == "policy":
        raise LabError("--policy applies to prm only (the policy the PRM starts from and samples); leave it out")
    if args.kind == "prm":
        check_policy_dir(args.policy, "--policy", optional=False)
    if args.init and args.kind == "policy":
        check_policy_dir(args.init, "--init", optional=False)
    elif args.init:
        check_prm_dir(args.init, "--init")
    check_out_dir(args.out)


if __name__ == "__main__":
    main()
