"""The ``ponder`` command line: a thin shell over the library.

Every error Ponder raises on purpose becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .thinking import EFFORTS


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ponder: inference-time scaling for any LLM, with an honest compute ledger.")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


Effort = Enum("Effort", {e: e for e in EFFORTS}, type=str)  # --reasoning-effort's choices


@app.command()
def solve(
    question: str = typer.Argument(..., metavar="QUESTION", help="The question to answer."),
    model: str = typer.Option("embedded", "--model", "-m", help="embedded | hf:PATH | openai:MODEL@URL | vllm:PATH"),
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s",
                                           help="e.g. cot, sc(n=16); see `ponder strategies` \\[default: cot]"),
    effort: Optional[Effort] = typer.Option(None, "--reasoning-effort", "-e",
                                            help="Thinking on demand: the strategy this effort maps to."),
    thinking_budget: Optional[int] = typer.Option(None, "--thinking-budget", min=1,
                                                  help="Thinking on demand: at most N thinking tokens (s1 budget)."),
    effort_map: Optional[str] = typer.Option(None, "--effort-map",
                                             help='JSON file {"none": SPEC, "low": SPEC, "medium": SPEC, "high": SPEC}.'),
    as_json: bool = typer.Option(False, "--json", help="Print the whole Result as JSON."),
    trace: bool = typer.Option(False, "--trace", help="Print the strategy's trace."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1, help="Budget: total tokens."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=1, help="Budget: model calls."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Budget: wall seconds."),
) -> None:
    """Answer QUESTION with a strategy; print the answer and a one-line ledger summary."""
    from .api import solve as run_solve
    from .budget import Budget

    if max_seconds is not None and not max_seconds > 0:  # NaN too
        raise typer.BadParameter(f"{max_seconds} is not a positive number of seconds", param_hint="'--max-seconds'")
    strategy = _choose_strategy(strategy, effort, thinking_budget, effort_map)
    budget = Budget(max_tokens=max_tokens, max_calls=max_calls, max_seconds=max_seconds)
    result = run_solve(question, model=model, strategy=strategy, budget=budget)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str, allow_nan=False))
        return
    # The answer, the trace, the strategy and the model are the model's and the user's text: printed
    # as Text, never read as markup (a "[/]" in an answer raised after the work was done, "[red]"
    # vanished) or emoji codes.
    out.print(Text(result.answer if result.answer is not None else "(no answer extracted)", style="bold"))
    if trace and result.trace:
        if "nodes" in result.trace:
            out.print(Text(format_tree(result.trace)))
        else:
            out.print_json(data=result.trace)
    elif trace:
        out.print(Text(f"(no trace: {result.strategy} records none)", style="dim"))
    line = Text(f"{result.strategy} on {model}: {result.ledger.summary()}", style="dim")
    if result.budget_exhausted:
        line.append(f" (stopped early: {result.stop_reason or 'budget spent'})", style="yellow")
    out.print(line)


def _choose_strategy(strategy: Optional[str], effort: Optional["Effort"], thinking_budget: Optional[int],
                     effort_map: Optional[str]) -> str:
    """``--strategy``, or the strategy thinking on demand maps ``--reasoning-effort`` or
    ``--thinking-budget`` to (``ponder.thinking``; the proxy maps its requests the same way)."""
    from .errors import StrategySpecError
    from .thinking import EffortMap, strategy_for_thinking_budget

    given = [name for name, v in (("--strategy", strategy), ("--reasoning-effort", effort),
                                  ("--thinking-budget", thinking_budget)) if v is not None]
    if len(given) > 1:
        named = f"{given[0]} and {given[1]} both" if len(given) == 2 else f"{', '.join(given[:-1])} and {given[-1]} each"
        raise StrategySpecError(f"{named} choose the strategy; give one of them")
    if effort_map is not None and effort is None:
        raise StrategySpecError("--effort-map maps --reasoning-effort to strategies; give --reasoning-effort too")
    if effort is not None:
        mapping = EffortMap.from_file(effort_map) if effort_map else EffortMap()
        return mapping.strategy_for(effort.value)
    if thinking_budget is not None:
        return strategy_for_thinking_budget(thinking_budget)
    return "cot" if strategy is None else strategy  # an empty --strategy is refused by the parser, not cot


def format_tree(trace: dict) -> str:
    """A search tree as indented lines: step text, score, visits; the chosen path marked with *,
    down to the rollout that gave the answer where the answer came from one (mcts)."""
    nodes = {n["id"]: n for n in trace["nodes"]}
    kids: dict[int | None, list[int]] = {}
    for n in trace["nodes"]:
        kids.setdefault(n["parent"], []).append(n["id"])
    lines: list[str] = []

    def walk(i: int, depth: int) -> None:
        n = nodes[i]
        if n["parent"] is not None:
            mark = "*" if n["chosen"] else " "
            score = "" if n["score"] is None else f"  score={n['score']:.3f}"
            visits = f"  visits={n['visits']}" if n["visits"] else ""
            end = "  [end]" if n["terminal"] else ""
            step = n["step"].strip().replace("\n", " ")
            lines.append(f"{mark} {'  ' * (depth - 1)}{step[:100]}{score}{visits}{end}")
            if n["chosen"] and n.get("rollout") and not any(nodes[k]["chosen"] for k in kids.get(i, [])):
                # the chosen answer is this node's simulation (mcts), not a node of the tree
                said = "" if n.get("rollout_score") is None else f"  score={n['rollout_score']:.3f}"
                lines.append(f"* {'  ' * depth}(rollout) {n['rollout'].strip().replace(chr(10), ' ')[:100]}{said}")
        for k in kids.get(i, []):
            walk(k, depth + 1)

    walk(0, 0)
    if trace.get("note"):
        lines.append(f"note: {trace['note']}")
    return "\n".join(lines)


@app.command()
def strategies() -> None:
    """List every strategy with its summary, parameters, defaults and paper."""
    from .strategies import REGISTRY, describe_params

    table = Table(title="strategies")
    for col in ("name", "summary", "parameters (defaults)", "paper"):
        table.add_column(col, overflow="fold")
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        table.add_row(name, cls.summary, describe_params(cls), cls.paper)
    out.print(table)


def lab_eval(
    model: str = typer.Option("embedded", "--model", "-m", help="Model spec."),
    task: str = typer.Option("arith", "--task", "-t", help="Task spec, e.g. arith, countdown, gsm8k:PATH."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="Number of problems."),
    seed: int = typer.Option(0, "--seed", help="Seed of the problems and the samples."),
    max_n: int = typer.Option(16, "--max-n", min=1, max=1024,  # lab.engine_eval.MAX_N, the strategies' bound on n
                              help="Largest N (pool size per problem; at most 1024, as the strategies' n)."),
    scorer: str = typer.Option("prm", "--scorer", help="Scorer for best-of-N ('none' to skip)."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Max tokens per sample."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Accuracy at N = 1, 2, 4, ..., 16: greedy, one sample, majority, any-correct, best-of-N."""
    import asyncio

    from rich.progress import Progress

    from .lab.engine_eval import evaluate

    with Progress(console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        job = bar.add_task("problems", total=limit)
        report = asyncio.run(evaluate(model, task, limit=limit, seed=seed, max_n=max_n,
                                      scorer=None if scorer == "none" else scorer, max_tokens=max_tokens,
                                      progress=lambda: bar.advance(job)))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title=Text(f"{model} on {task}: {report.problems} problems, greedy {report.greedy:.1%}"))
    cols = ["N", "one sample", "majority", "any correct"] + ([f"best-of-N ({scorer})"] if scorer != "none" else [])
    for c in cols:
        table.add_column(c, justify="right")
    for n, row in report.by_n.items():
        vals = [row["one_sample"], row["majority"], row["any_correct"]] + (
            [row["best_of_n"]] if "best_of_n" in row else [])
        table.add_row(str(n), *(f"{v:.1%}" for v in vals))
    out.print(table)
    out.print(f"[dim]{report.mean_tokens_per_problem:,.0f} tokens per problem (greedy + pool + scorer)[/dim]")


def _mount_lab() -> None:
    try:
        from .lab.cli import lab_app
    except ImportError:
        lab_app = typer.Typer(help="The lab: synthetic tasks and small models.")
    lab_app.command("eval")(lab_eval)
    app.add_typer(lab_app, name="lab")


_mount_lab()


def _mount_shells() -> None:
    """The benchmark and the proxy: thin shells over the library, mounted as subcommands."""
    from .bench.cli import bench_command, report_command

    app.command("bench")(bench_command)
    app.command("report")(report_command)
    try:
        from .server.cli import serve_command
    except ImportError:  # the proxy's dependencies (fastapi, uvicorn) are an extra
        return
    app.command("serve")(serve_command)


@app.command()
def demo(out_dir: str = typer.Option(
    "runs/demo", "--out", help="Run directory: an earlier demo run there is replaced, other files are kept.",
)) -> None:
    """The main job: the default benchmark on the embedded lab model (lab arith)."""
    from .bench.demo import run_default_demo

    run_default_demo(out_dir)


_mount_shells()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning Ponder's errors into one line and exit code 2."""
    from .cli_run import run_app

    run_app(app, argv)


if __name__ == "__main__":
    main()
