"""The ``ponder bench`` and ``ponder report`` commands (mounted with ``app.command("bench")(bench_command)``)."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.text import Text

from ..errors import PonderError

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class BenchFailed(PonderError):
    """Units of the run failed (their errors are in the run's store): the command exits 2, as a run
    whose results are incomplete is not a success to a script."""


def bench_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="embedded | hf:PATH | openai:MODEL@URL1,URL2 | "
                                        "vllm:PATH (default: embedded; a resumed run's own)"),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Required (but to resume): arith, countdown, "
                                       "gsm8k:PATH, math500:PATH, game24:PATH, humaneval:PATH, code:PATH, "
                                       "jsonl:PATH?question=..&answer=..&kind=.."),
    strategies: Optional[str] = typer.Option(None, "--strategies", "-s",
                                             help='Required (but to resume): ";"-separated specs; ranges sweep '
                                                  'powers of two, e.g. '
                                                  '"cot; sc(n=1..16); bon(n=1..16, scorer=prm)"'),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Number of problems (default: all of a file or "
                                        "dataset; a lab task makes ?n= of them, 300 by default)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, help="Run seeds (default 1)."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, help="Problems run at once."),
    out_dir: str = typer.Option("runs/bench", "--out", "-o", help="Run directory (one SQLite file per run)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run without recomputing finished work."),
    subsets: int = typer.Option(64, "--subsets", min=1, help="Random k-subsets per pool point when not enumerable."),
    unit_timeout: Optional[float] = typer.Option(None, "--unit-timeout", help="Seconds before one unit is failed."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip plots and HTML at the end."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Accuracy against compute for strategies at matched budgets; crash-safe and resumable."""
    from .runner import BenchConfig, run_bench

    cfg = BenchConfig(model=model, task=task, strategies=strategies, limit=limit, seeds=seeds,
                      concurrency=concurrency, out=out_dir, resume=resume, max_subsets=subsets,
                      unit_timeout=unit_timeout, progress=not no_progress)
    try:
        run_dir = asyncio.run(run_bench(cfg))
    except KeyboardInterrupt:
        from ..cli_run import set_abort_note

        set_abort_note(interrupted_note(out_dir))
        raise
    failed, total, first = failed_units(run_dir)
    if total and failed == total:  # nothing to show: no table of dashes, one line with the cause
        what = "the run's only unit failed" if total == 1 else f"all {total} units failed; the first"
        raise BenchFailed(f"{what}: {first}")
    finish(run_dir, html=not no_report)
    if failed:
        raise BenchFailed(f"{failed} of {total} units failed (the first: {first}); accuracy and compute leave them out; "
                          f"ponder bench --out {shlex.quote(str(run_dir))} --resume retries them")


def interrupted_note(run_dir: str | Path) -> str:
    """What a bench stopped by Ctrl-C left: its finished units, kept in the run's store, and the
    command that goes on from them (the run's settings are in its store)."""
    from .store import Store

    resume = f"ponder bench --out {shlex.quote(str(run_dir))} --resume"
    try:
        store = Store.for_run(run_dir, readonly=True)
        try:
            started, units = bool(store.manifest()), store.units()
        finally:
            store.close()
    except Exception:  # nothing stored yet (stopped while loading the model), or not readable
        started, units = False, []
    if not started:
        return "the run had not started; nothing was stored (run the same command again)"
    done = sum(1 for u in units if u["status"] == "done")
    return (f"{done} of {len(units)} units done and kept in the run; {resume} runs the rest without redoing them")


def failed_units(run_dir: str | Path) -> tuple[int, int, str | None]:
    """(failed units, all units, the error of the unit that failed first, on one line) of a run."""
    from .store import Store

    store = Store.for_run(run_dir, readonly=True)
    try:
        units = store.units()
    finally:
        store.close()
    failed = sorted((u for u in units if u["status"] == "failed"), key=lambda u: u["finished"] or 0.0)
    first = " ".join(str(failed[0]["error"] or "no error recorded").split()) if failed else None
    return len(failed), len(units), first


def finish(run_dir: Path, html: bool = True) -> Path | None:
    """Print the tables and (unless told not to) write the plots and HTML; returns the HTML path."""
    from .report import load_report, print_tables, write_report

    if html:
        path, report = write_report(run_dir)
    else:
        path, report = None, load_report(run_dir)
    print_tables(report, out)
    if path is not None:
        out.print(Text(f"report: {path}"))  # a path is printed as it is, never read as markup
    return path


def report_command(
    runs: List[str] = typer.Argument(..., metavar="RUN",
                                     help="Run directories (runs/NAME); two with --price to compare."),
    as_json: bool = typer.Option(False, "--json", help="Print the tables as one JSON object."),
    price: Optional[List[str]] = typer.Option(None, "--price", help="in=$/M,out=$/M or gpu=$/h[,tps=N][,train=$]; "
                                              "one per run, in order, or one for all."),
    pick: Optional[List[str]] = typer.Option(None, "--pick", help="Strategy spec to compare: one per run, in "
                                             "order, or one for all (default: each run's most accurate)."),
    no_html: bool = typer.Option(False, "--no-html", help="Tables only; no plots or HTML."),
) -> None:
    """Tables, plots and a self-contained HTML report of a run; with --price, the cost planner."""
    from .report import for_json, load_report, print_tables, write_report

    if pick and not price:  # it chooses what the planner compares: alone it would be ignored
        raise typer.BadParameter("--pick chooses the strategy the cost planner compares; give --price with it "
                                 "(e.g. --price in=0.15,out=0.60)", param_hint="--pick")
    reports = []
    for run in runs:
        if no_html or as_json or price:
            reports.append(load_report(run))
        else:
            _, rep = write_report(run)
            reports.append(rep)
    if price:
        from .planner import PriceSpec, plan, print_plan

        picks = list(pick) if pick else None
        if picks is not None and len(picks) == 1:
            picks = picks * len(reports)
        result = plan(reports, [PriceSpec.parse(p) for p in price], picks)
        if as_json:
            print(_json(result))
        else:
            print_plan(result, out)
        return
    if as_json:
        payload = for_json(reports[0]) if len(reports) == 1 else {"runs": [for_json(r) for r in reports]}
        print(_json(payload))
        return
    for rep in reports:
        print_tables(rep, out)
        if rep.get("html"):
            out.print(Text(f"report: {rep['html']}"))


def _json(value: object) -> str:
    """``value`` as standard JSON: a number that is not finite is written ``null`` (Python writes
    ``Infinity`` and ``NaN``, which JSON has not and strict readers refuse)."""
    import math

    def finite(v: object) -> object:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    return json.dumps(finite(value), indent=2, default=str, allow_nan=False)


def make_app() -> typer.Typer:
    """A stand-alone app with both commands (``python -m ponder.bench``)."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, help="ponder bench and report")
    app.command("bench")(bench_command)
    app.command("report")(report_command)
    return app
