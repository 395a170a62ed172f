"""``ponder report RUN``: tables (terminal and JSON), PNG plots and one self-contained HTML file."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path
from typing import Any

from .format import MATCHED_NOTE, fmt_cell, point_columns
from .stats import aggregate, failures_by_problem, left_out, matched_budgets, unmatched
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
    counted_before(rows, units, calls)
    points = aggregate(rows)
    done = [u for u in units if u["status"] in ("done", "failed")]
    latest = {u["unit"]: u["attempt"] for u in units}
    abandoned = sum(1 for c in calls if c["attempt"] < latest.get(c["unit"], 0))
    summary = {
        "problems": len({u["problem_id"] for u in units}), "units": len(units), "units_done": len(done),
        # an unfinished run (killed, or still running): its points may cover different problems
        "complete": len(done) == len(units),
        "units_failed": sum(1 for u in units if u["status"] == "failed"),
        "calls": sum(1 for c in calls if is_model_call(c)),
        "calls_of_abandoned_attempts": abandoned,
        "retries": sum(int(c["retries"] or 0) for c in calls),
        # the counted calls' tokens: a lower bound while uncounted_calls > 0
        "tokens": sum((c["prompt_tokens"] or 0) + (c["completion_tokens"] or 0) for c in calls),
        "uncounted_calls": sum(1 for c in calls if is_model_call(c) and _uncounted(c)),
        "elapsed_seconds": manifest.get("elapsed_seconds"),
    }
    return {"run": str(run), "manifest": manifest, "summary": summary, "points": points,
            "matched": matched_budgets(points), "unmatched": unmatched(points), "left_out": left_out(points),
            "failures": failures_by_problem(units, calls)}


def for_json(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as ``--json`` prints it: each point with the number of problems it was graded on,
    not every problem's score (those are in the run's store)."""
    return {**report, "points": [{k: v for k, v in p.items() if k != "per_problem"} for p in report["points"]]}


def unfinished_note(report: dict[str, Any]) -> str | None:
    """What an unfinished run's tables show and how to finish it (None when every unit ran)."""
    s = report["summary"]
    if s.get("complete", True):
        return None
    run = Path(report["run"])
    run = run.parent if run.is_file() else run  # the store's file was given: --out is its directory
    return (f"Unfinished run: {s['units_done']} of {s['units']} units done (the bench was stopped, or is still "
            "running). Its strategies may be graded on different problems (the problems column); the matched "
            "budgets compare only those graded on the same ones. "
            f"ponder bench --out {shlex.quote(str(run))} --resume finishes it.")


def unmatched_note(report: dict[str, Any]) -> str | None:
    """The points the matched budgets leave out for being graded on fewer problems (None if none)."""
    out = report.get("unmatched") or []
    if not out:
        return None
    names = ", ".join(f"{p['spec']} ({p['problems']} of {p['of']})" for p in out[:8])
    names += f" and {len(out) - 8} more" if len(out) > 8 else ""
    return (f"Not in the matched budgets, graded on fewer problems than the others (units unfinished or "
            f"failed; --resume runs them): {names}.")


def _uncounted(call: dict[str, Any]) -> bool:
    return call["prompt_tokens"] is None or call["completion_tokens"] is None


def counted_before(rows: list[dict[str, Any]], units: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    """Mark, in place, the rows of a run stored before uncounted calls were kept apart
    (``uncounted_calls`` NULL), which wrote an uncounted call's tokens as 0: from the calls of their
    unit's last attempt, a row whose unit has uncounted calls gets their share of its calls as its
    ``uncounted_calls`` (an estimate; ``uncounted_verifier_calls`` those not of the policy), and
    each of its token totals that no call of its unit counted, stored as 0, becomes unknown."""
    latest = {u["unit"]: u["attempt"] for u in units}
    per_unit: dict[str, dict[str, list[int]]] = {}  # unit -> side -> [model calls, uncounted ones]
    for c in calls:
        if c["attempt"] == latest.get(c["unit"]) and is_model_call(c):
            sides = per_unit.setdefault(c["unit"], {"policy_tokens": [0, 0], "verifier_tokens": [0, 0]})
            tally = sides["policy_tokens" if c["role"] == "policy" else "verifier_tokens"]
            tally[0] += 1
            tally[1] += _uncounted(c)
    for r in rows:
        sides = per_unit.get(r.get("unit"))
        if r.get("uncounted_calls") is not None or not sides:
            continue
        made = sum(t[0] for t in sides.values())
        missed = sum(t[1] for t in sides.values())
        if not missed:
            continue
        share = float(r.get("calls") or 0) / made
        r["uncounted_calls"] = share * missed
        r["uncounted_verifier_calls"] = share * sides["verifier_tokens"][1]
        unknown = [side for side, (n, m) in sides.items() if n and m == n]
        if missed == made:
            unknown += ["prompt_tokens", "completion_tokens"]
        r.update({key: None for key in unknown})


def uncounted_note(report: dict[str, Any]) -> str | None:
    """Why some token totals read "≥" or "unknown" and which points the matched budgets and the
    token plots leave out (None when every call was counted)."""
    s = report["summary"]
    if not s.get("uncounted_calls") and not any(p.get("uncounted_calls") for p in report["points"]):
        return None
    out = report.get("left_out") or []
    names = ", ".join(p["spec"] for p in out[:8]) + (f" and {len(out) - 8} more" if len(out) > 8 else "")
    return (f"Token counts unknown: the backend reported no token usage for {s.get('uncounted_calls') or 'some'} "
            f"of the run's {s.get('calls')} model calls (a server that sends no usage, or a stream cut "
            "before it). A token total with such calls is the counted calls' sum, a lower bound, shown "
            "as ≥, or unknown where no call was counted; their FLOPs are unknown, and no price is put "
            "on them." + (f" Left out of the matched budgets and the token and FLOPs plots: {names}."
                          if out else ""))


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
    unfinished = "" if s.get("complete", True) else f" · UNFINISHED: {s['units_done']}/{s['units']} units done"
    t = Table(title=Text(f"{m.get('model')} on {m.get('task')} · {s['problems']} problems × {m.get('seeds')} seed(s)"
                         + unfinished),
              caption="accuracy: mean over problems (seeds averaged); CI95 Wilson score over problems; "
                      "tokens are means per problem", caption_justify="left")
    columns = point_columns(report["points"], s.get("problems"))
    for i, (_, title) in enumerate(columns):
        t.add_column(title, justify="left" if i == 0 else "right", overflow="fold", min_width=24 if i == 0 else None)
    for p in report["points"]:
        t.add_row(*(Text(fmt_cell(k, p)) for k, _ in columns))
    console.print(t)
    for note in (unfinished_note(report), uncounted_note(report)):
        if note:
            console.print(Text(note, style="yellow"))
    if report["matched"]:
        mt = Table(title="matched budgets: best strategy within each token budget", caption=MATCHED_NOTE,
                   caption_justify="left")
        failed = any(r.get("errors") for r in report["matched"])  # accuracy over the units that finished
        for title in ("tokens ≤", "best strategy", "accuracy", "CI95", "mean tokens") + (("failed",) if failed else ()):
            mt.add_column(title, justify="right" if title != "best strategy" else "left")
        mt.add_column("against the runner-up", justify="left")
        for r in report["matched"]:
            mt.add_row(fmt_cell("up_to", r), Text(r["spec"]), fmt_cell("accuracy", r), fmt_cell("ci", r),
                       fmt_cell("tokens", r), *((fmt_cell("errors", r),) if failed else ()),
                       Text(fmt_cell("versus", r)))
        console.print(mt)
    note = unmatched_note(report)
    if note:
        console.print(Text(note, style="yellow"))
    if s["units_failed"] or s["retries"]:
        console.print(f"[yellow]{s['retries']} retried call(s), {s['units_failed']} failed unit(s); "
                      f"see the HTML report for the problems affected[/yellow]")
