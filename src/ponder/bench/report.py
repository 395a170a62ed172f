"""``ponder report RUN``: tables (terminal and JSON), PNG plots and one self-contained HTML file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .format import POINT_COLUMNS, fmt_cell
from .stats import aggregate, failures_by_problem, matched_budgets
from .store import RunStoreError, Store
from .subsample import is_model_call


def load_report(run: str | Path) -> dict[str, Any]:
    """Everything the tables need, read from a run's store (read-only; safe while a bench writes)."""
    store = Store.for_run(run, readonly=True)
    try:
        manifest, rows, units, calls = store.manifest(), store.results(), store.units(), store.calls()
    except sqlite3.DatabaseError as exc:
        raise RunStoreError(f"{str(run)!r} is not a bench run ({exc}); "
                            "give the --out directory of ponder bench") from None
    finally:
        store.close()
    if not manifest.get("model"):
        raise RunStoreError(f"{str(run)!r} holds no results: its bench stopped before it started")
    points = aggregate(rows)
    done = [u for u in units if u["status"] in ("done", "failed")]
    latest = {u["unit"]: u["attempt"] for u in units}
    abandoned = sum(1 for c in calls if c["attempt"] < latest.get(c["unit"], 0))
    summary = {
        "problems": len({u["problem_id"] for u in units}), "units": len(units), "units_done": len(done),
        "units_failed": sum(1 for u in units if u["status"] == "failed"),
        "calls": sum(1 for c in calls if is_model_call(c)),
        "calls_of_abandoned_attempts": abandoned,
        "retries": sum(int(c["retries"] or 0) for c in calls),
        "tokens": sum((c["prompt_tokens"] or 0) + (c["completion_tokens"] or 0) for c in calls),
        "elapsed_seconds": manifest.get("elapsed_seconds"),
    }
    return {"run": str(run), "manifest": manifest, "summary": summary, "points": points,
            "matched": matched_budgets(points), "failures": failures_by_problem(units, calls)}


def write_report(run: str | Path, out_dir: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Plots (PNG) and ``report.html`` in the run directory; returns the HTML path and the report."""
    from .html import write_html
    from .plots import plot_all

    report = load_report(run)
    out = Path(out_dir) if out_dir is not None else (Path(run) if Path(run).is_dir() else Path(run).parent)
    m = report["manifest"]
    plots = plot_all(report["points"], out, title=f"{m.get('model')} · {m.get('task')}")
    report["plots"] = {k: str(v) for k, v in plots.items()}
    path = write_html(report, plots, out / "report.html")
    report["html"] = str(path)
    return path, report


def print_tables(report: dict[str, Any], console: Any = None) -> None:
    """The terminal tables: one row per strategy and budget, then the matched-budget winners."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # specs and task names are text, never markup ('[/b]' in a prompt)

    console = console or Console()
    if not console.is_terminal and console.width < 200:  # piped: do not squeeze the table to 80 columns
        console = Console(width=200, file=console.file)
    m, s = report["manifest"], report["summary"]
    t = Table(title=Text(f"{m.get('model')} on {m.get('task')} · {s['problems']} problems × {m.get('seeds')} seed(s)"),
              caption="accuracy: mean over problems (seeds averaged); CI95 Wilson score over problems; "
                      "tokens are means per problem", caption_justify="left")
    for i, (_, title) in enumerate(POINT_COLUMNS):
        t.add_column(title, justify="left" if i == 0 else "right", overflow="fold", min_width=24 if i == 0 else None)
    for p in report["points"]:
        t.add_row(*(Text(fmt_cell(k, p)) for k, _ in POINT_COLUMNS))
    console.print(t)
    if report["matched"]:
        mt = Table(title="matched budgets: best strategy within each token budget")
        for title in ("tokens ≤", "best strategy", "accuracy", "CI95", "mean tokens"):
            mt.add_column(title, justify="right" if title != "best strategy" else "left")
        for r in report["matched"]:
            mt.add_row(fmt_cell("up_to", r), Text(r["spec"]), fmt_cell("accuracy", r), fmt_cell("ci", r),
                       fmt_cell("tokens", r))
        console.print(mt)
    if s["units_failed"] or s["retries"]:
        console.print(f"[yellow]{s['retries']} retried call(s), {s['units_failed']} failed unit(s); "
                      f"see the HTML report for the problems affected[/yellow]")
