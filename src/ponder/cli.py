"""The ``ponder`` command line: a thin shell over the library.

Every error Ponder raises on purpose becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import PonderError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ponder: inference-time scaling for any LLM, with an honest compute ledger.")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@app.command()
def solve(
    question: str = typer.Argument(..., help="The question to answer."),
    model: str = typer.Option("embedded", "--model", "-m", help="embedded | hf:PATH | openai:MODEL@URL | vllm:PATH"),
    strategy: str = typer.Option("cot", "--strategy", "-s", help="e.g. cot, sc(n=16); see `ponder strategies`"),
    as_json: bool = typer.Option(False, "--json", help="Print the whole Result as JSON."),
    trace: bool = typer.Option(False, "--trace", help="Print the strategy's trace."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Budget: total tokens."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", help="Budget: model calls."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Budget: wall seconds."),
) -> None:
    """Answer QUESTION with a strategy; print the answer and a one-line ledger summary."""
    from .api import solve as run_solve
    from .budget import Budget

    budget = Budget(max_tokens=max_tokens, max_calls=max_calls, max_seconds=max_seconds)
    result = run_solve(question, model=model, strategy=strategy, budget=budget)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    out.print(f"[bold]{result.answer if result.answer is not None else '(no answer extracted)'}[/bold]")
    if trace and result.trace:
        out.print_json(data=result.trace)
    flag = " [yellow](budget exhausted)[/yellow]" if result.budget_exhausted else ""
    out.print(f"[dim]{result.strategy} on {model}: {result.ledger.summary()}[/dim]{flag}")


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


def _mount_lab() -> None:
    try:
        from .lab.cli import lab_app
    except ImportError:
        return
    app.add_typer(lab_app, name="lab")


_mount_lab()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning Ponder's errors into one line and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except PonderError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
