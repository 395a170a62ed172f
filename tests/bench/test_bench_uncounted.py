"""Tokens a backend did not count are unknown in the bench, never 0: against a real server that sends
no ``usage`` (``quirky_upstream.py``), the report said 0 tokens for every strategy, the matched-budget
table and the token plot dropped them without a word, and the planner priced them at $0."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from bench_fixtures import qa_jsonl  # noqa: F401  (fixture)
from rich.console import Console
from servers import free_port, stop, wait_http
from typer.testing import CliRunner

from ponder.bench.cli import make_app
from ponder.bench.format import fmt_cell
from ponder.bench.planner import PriceSpec, plan
from ponder.bench.report import load_report, print_tables, write_report
from ponder.bench.runner import BenchConfig, run_bench
from ponder.bench.stats import aggregate, matched_budgets
from ponder.bench.store import Store, open_for_write
from ponder.bench.subsample import compute_at
from ponder.ledger import LedgerEntry

QUIRKY = Path(__file__).resolve().parent.parent / "quirky_upstream.py"


@pytest.fixture(scope="module")
def no_usage_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(QUIRKY), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        httpx.post(f"http://127.0.0.1:{port}/_cfg", json={"usage": "omit", "answer": "Answer: 42"}).raise_for_status()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


@pytest.fixture
async def uncounted_run(tmp_path, qa_jsonl, no_usage_server):
    out = tmp_path / "run"
    cfg = BenchConfig(model=f"openai:m@{no_usage_server}", task=f"jsonl:{qa_jsonl}", strategies="sc(n=1..4); cot",
                      limit=3, out=str(out), progress=False)
    await run_bench(cfg)
    return out


def test_a_run_against_a_server_without_usage_reports_unknown_tokens_not_zero(uncounted_run):
    path, report = write_report(uncounted_run)
    assert report["summary"]["uncounted_calls"] == report["summary"]["calls"] > 0
    assert {p["spec"] for p in report["points"]} == {"cot", "sc(n=1)", "sc(n=2)", "sc(n=4)"}
    for p in report["points"]:
        assert p["accuracy"] is not None and p["uncounted_calls"] == pytest.approx(1)
        assert p["tokens"] is None and p["policy_tokens"] is None and p["flops"] is None, p
        assert fmt_cell("policy_tokens", p) == "unknown" and fmt_cell("verifier_tokens", p) == "0"
    # no strategy is in a token budget, and the report says which and why
    assert report["matched"] == [] and {p["spec"] for p in report["left_out"]} == {"cot", "sc(n=1)", "sc(n=2)",
                                                                                    "sc(n=4)"}
    text = io.StringIO()
    print_tables(report, Console(file=text, width=240))
    table = text.getvalue()
    assert "unknown" in table and "reported no token usage for" in table and "Left out of the matched" in table
    [sc4] = [line for line in table.splitlines() if "│ sc(n=4)" in line]
    assert sc4.split("│")[7].strip() == "unknown"  # the policy tokens cell, which said 0
    html = path.read_text()
    assert "id='uncounted'" in html and ">unknown<" in html
    assert not (uncounted_run / "accuracy_vs_tokens.png").exists()  # no point to draw, and the note says so


def test_the_planner_refuses_to_price_uncounted_tokens(uncounted_run):
    report = load_report(uncounted_run)
    out = plan([report, report], [PriceSpec.parse("in=1,out=2")])
    assert all(p["cost_per_problem"] is None and "did not count the tokens" in p["unpriced"]
               for r in out["runs"] for p in r["points"])
    assert out["comparison"] is None and "cost is unknown" in out["not_compared"]
    res = CliRunner().invoke(make_app(), ["report", str(uncounted_run), "--price", "gpu=2"])
    assert res.exit_code == 0, res.output
    assert "not priced: sc(n=4)" in res.output and "$0" not in res.output


def entry(role, prompt, completion, n=1):
    return LedgerEntry(role=role, model="m", n=n, prompt_tokens=prompt, cached_prompt_tokens=None,
                       completion_tokens=completion, reasoning_tokens=None, wall_seconds=1.0, retries=0,
                       finish_reasons=["stop"] * n, num_parameters=100)


def test_partly_counted_calls_give_a_lower_bound_said_as_such():
    """A pool drawn by 4 one-sample calls, one of which was not counted; the PRM counted its own."""
    entries = [entry("policy", 10, 5), entry("policy", None, None), entry("policy", 10, 5), entry("policy", 10, 5),
               entry("prm", 40, 0)]
    c = compute_at(entries, 2, 4)
    assert c["uncounted_calls"] == pytest.approx(0.5) and c["uncounted_verifier_calls"] == 0
    assert c["policy_tokens"] == pytest.approx(3 * 15 / 2) and c["verifier_tokens"] == pytest.approx(20)
    assert c["flops"] is None
    none = compute_at([entry("policy", None, None, n=4)], 2, 4)
    assert none["policy_tokens"] is None and none["prompt_tokens"] is None and none["uncounted_calls"] == 1
    row = {"family": "sc", "spec": "sc(n=2)", "point": 2, "problem_id": "q", "seed": 0, "correct": 1.0, **c}
    [point] = aggregate([row, {**row, "problem_id": "r", **compute_at(entries[2:], 2, 4)}])
    assert point["uncounted_calls"] == pytest.approx(0.25)
    assert fmt_cell("policy_tokens", point).startswith("≥ ") and fmt_cell("verifier_tokens", point) == "20"
    assert fmt_cell("tokens", point).startswith("≥ ") and matched_budgets([point]) == []


OLD_RESULTS = """CREATE TABLE results (
    unit TEXT NOT NULL, problem_id TEXT NOT NULL, family TEXT NOT NULL, spec TEXT NOT NULL,
    point REAL, seed INTEGER NOT NULL, correct REAL, parsed REAL, pass_at_k REAL, answer TEXT,
    policy_tokens REAL, verifier_tokens REAL, prompt_tokens REAL, completion_tokens REAL, calls REAL,
    wall_seconds REAL, flops REAL, retries INTEGER, budget_exhausted INTEGER, error TEXT,
    pool_size INTEGER, subsets INTEGER, PRIMARY KEY (problem_id, family, spec, seed));"""


def test_a_run_stored_before_loads_reports_its_uncounted_tokens_and_resumes(tmp_path, uncounted_run):
    """A store whose results table has no uncounted columns (and 0 for uncounted tokens, as the bench
    wrote them) still reports, now as unknown from its calls, and a resumed run can write to it."""
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / "bench.sqlite")
    src = sqlite3.connect(uncounted_run / "bench.sqlite")
    for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL "
                              "AND name NOT LIKE 'sqlite_%'"):
        db.execute(OLD_RESULTS if sql.startswith("CREATE TABLE results") else sql)
    for table in ("manifest", "units", "calls"):
        rows = src.execute(f"SELECT * FROM {table}").fetchall()
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    cols = [r[1] for r in db.execute("PRAGMA table_info(results)")]
    src.row_factory = sqlite3.Row
    for r in src.execute("SELECT * FROM results"):
        legacy = {c: r[c] for c in cols}
        legacy.update({k: 0.0 for k in ("policy_tokens", "prompt_tokens", "completion_tokens")})  # as written
        db.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(cols))})", [legacy[c] for c in cols])
    db.commit()
    db.close()
    src.close()
    report = load_report(old)
    assert report["points"] and all(p["policy_tokens"] is None and p["uncounted_calls"] > 0
                                    for p in report["points"])
    assert all(fmt_cell("policy_tokens", p) == "unknown" for p in report["points"])
    store, lock = open_for_write(old)  # --resume: the new columns are added, the old rows kept
    try:
        unit = store.units()[0]["unit"]
        row = {"unit": unit, "problem_id": "q-new", "family": "cot", "spec": "cot", "seed": 0, "correct": 1.0,
               "parsed": 1.0, "calls": 1.0, "policy_tokens": None, "uncounted_calls": 1.0}
        store.finish_unit(unit, [row])
    finally:
        store.close()
        lock.release()
    reread = Store.for_run(old, readonly=True)
    try:
        assert any(r["uncounted_calls"] == 1.0 for r in reread.results())
    finally:
        reread.close()
    assert json.dumps(load_report(old)["summary"])


def test_the_progress_bar_says_its_token_total_is_a_lower_bound_when_calls_went_uncounted():
    from ponder.bench.progress import BenchProgress

    prog = BenchProgress(total=2, enabled=False)
    prog.add_tokens(120)
    assert prog._describe() == "acc – · 120 tokens"
    prog.add_tokens(0, counted=False)  # a server that sent no usage
    assert prog._describe() == "acc – · ≥ 120 tokens"
