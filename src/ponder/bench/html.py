"""One self-contained HTML report: the plots as base64 PNG data URIs and the tables, no server needed."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .format import MATCHED_NOTE, fmt_cell, point_columns
from .report import uncounted_note, unfinished_note, unmatched_note

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right} th{background:#f4f4f4}
td.l,th.l{text-align:left} .plots img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
.note{color:#666;font-size:.85rem} .warn{color:#a15c00;font-weight:600}
pre{background:#f7f7f7;padding:.5rem;overflow:auto;font-size:.8rem}
"""


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], *, table_id: str = "") -> str:
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{html.escape(title)}</th>'
                   for i, (_, title) in enumerate(columns))
    body = []
    for r in rows:
        cells = "".join(f'<td class="{"l" if i == 0 else ""}">{html.escape(fmt_cell(key, r))}</td>'
                        for i, (key, _) in enumerate(columns))
        body.append(f"<tr>{cells}</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(report: dict[str, Any], plots: dict[str, Path]) -> str:
    m = report["manifest"]
    title = f"ponder bench — {m.get('model')} on {m.get('task')}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='note'>{report['summary']['problems']} problems × {m.get('seeds')} seed(s); "
             f"{report['summary']['units_done']}/{report['summary']['units']} units done; "
             f"{report['summary']['calls']} model calls. CI95: Wilson score interval over problems (seeds averaged within "
             f"a problem). Pool strategies: smaller k from the largest pool by unbiased subsampling; compute at k "
             f"counts the shared prompt once and k/N of the completions, and a scorer that scores a repeated "
             f"text once (prm, orm) by the distinct texts a k-subset holds.</p>"]
    note = unfinished_note(report)
    if note:
        parts.append(f"<p class='warn' id='unfinished'>{html.escape(note)}</p>")
    parts.append("<h2>Accuracy against compute</h2><div class='plots'>")
    for metric, path in plots.items():
        parts.append(f"<img alt='accuracy against {html.escape(metric)}' data-metric='{html.escape(metric)}' "
                     f"src='{data_uri(path)}'>")
    parts.append("</div>")
    parts.append("<h2>Every strategy and budget</h2>")
    parts.append(table(report["points"], point_columns(report["points"], report["summary"].get("problems")),
                       table_id="points"))
    note = uncounted_note(report)
    if note:
        parts.append(f"<p class='note' id='uncounted'>{html.escape(note)}</p>")
    parts.append("<h2>Matched budgets: the best strategy within each token budget</h2>")
    failed = [("errors", "failed")] if any(r.get("errors") for r in report["matched"]) else []
    parts.append(table(report["matched"], [("budget", "tokens from"), ("up_to", "up to"), ("spec", "best"),
                                           ("accuracy", "accuracy"), ("ci", "CI95"), ("tokens", "mean tokens"),
                                           *failed, ("versus", "against the runner-up")], table_id="matched"))
    parts.append(f"<p class='note'>{html.escape(MATCHED_NOTE)}</p>")
    note = unmatched_note(report)
    if note:
        parts.append(f"<p class='warn' id='unmatched'>{html.escape(note)}</p>")
    if report.get("failures"):
        parts.append("<h2>Retries and failures per problem</h2>")
        parts.append(table(report["failures"], [("problem_id", "problem"), ("retries", "retries"),
                                                ("failed_units", "failed units"), ("error", "last error")]))
    parts.append("<h2>Manifest</h2><pre>" + html.escape(json.dumps(m, indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: dict[str, Any], plots: dict[str, Path], path: Path) -> Path:
    path.write_text(render(report, plots), encoding="utf-8")
    return path
