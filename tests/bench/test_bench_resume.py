"""Kill a real bench subprocess with SIGKILL, resume it: the results equal an uninterrupted run with the same
seeds, nothing written is lost, and no finished unit was computed twice (the ledger in the store proves it)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench_fixtures import qa_jsonl  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

STRATEGIES = "cot(max_tokens=12); sc(n=1..8, of=cot(max_tokens=12, temperature=1.0))"
COMPARED = ("correct", "parsed", "answer", "policy_tokens", "prompt_tokens", "completion_tokens", "calls", "pass_at_k")


def bench_args(model_dir: Path, task: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ponder.bench", "bench", "--model", f"hf:{model_dir}", "--task", task,
            "--strategies", STRATEGIES, "--limit", "12", "--seeds", "2", "--concurrency", "2", "--out", str(out),
            "--no-report", "--no-progress", *extra]


def env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def query(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def done_units(db: Path) -> int:
    try:
        return query(db, "SELECT COUNT(*) FROM units WHERE status = 'done'")[0][0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def results_of(db: Path) -> dict[tuple, tuple]:
    cols = ", ".join(COMPARED)
    rows = query(db, f"SELECT problem_id, family, spec, seed, {cols} FROM results")
    return {r[:4]: tuple(round(v, 9) if isinstance(v, float) else v for v in r[4:]) for r in rows}


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_model_dir, qa_jsonl):
    task = f"jsonl:{qa_jsonl}"
    full = tmp_path / "full"
    subprocess.run(bench_args(tiny_model_dir, task, full), check=True, env=env(), timeout=240,
                   stdout=subprocess.DEVNULL)
    full_db = full / "bench.sqlite"
    total = query(full_db, "SELECT COUNT(*) FROM units")[0][0]
    assert total == 12 * 2 * 2

    killed = tmp_path / "killed"
    db = killed / "bench.sqlite"
    proc = subprocess.Popen(bench_args(tiny_model_dir, task, killed), env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while done_units(db) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    before = results_of(db)
    done_before = {u for (u,) in query(db, "SELECT unit FROM units WHERE status = 'done'")}
    assert 6 <= len(done_before) < total, "the bench finished before it could be killed; nothing was tested"
    calls_before = query(db, "SELECT id, unit, attempt, prompt_tokens, completion_tokens FROM calls ORDER BY id")

    # the killed run holds no lock any more; a resume without --resume is refused, with it completes
    refused = subprocess.run(bench_args(tiny_model_dir, task, killed), env=env(), capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    subprocess.run([sys.executable, "-m", "ponder.bench", "bench", "--out", str(killed), "--resume", "--no-report",
                    "--no-progress"], check=True, env=env(), timeout=240, stdout=subprocess.DEVNULL)

    after, expected = results_of(db), results_of(full_db)
    assert after == expected  # the same results as the uninterrupted run
    assert all(after[k] == v for k, v in before.items())  # nothing written before the kill changed or was lost
    # the ledger: every call recorded before the kill is still there, unchanged
    assert query(db, "SELECT id, unit, attempt, prompt_tokens, completion_tokens FROM calls "
                     f"WHERE id <= {calls_before[-1][0] if calls_before else 0} ORDER BY id") == calls_before
    # units finished before the kill ran once (attempt 1) and got no new calls; the final attempts of all units
    # made exactly the calls of the uninterrupted run
    attempts = dict(query(db, "SELECT unit, attempt FROM units"))
    assert all(attempts[u] == 1 for u in done_before)
    new_calls = {u for (u,) in query(db, f"SELECT DISTINCT unit FROM calls WHERE id > "
                                         f"{calls_before[-1][0] if calls_before else 0}")}
    assert not (new_calls & done_before)
    final_calls = "SELECT c.unit, COUNT(*), SUM(c.prompt_tokens), SUM(c.completion_tokens) FROM calls c " \
                  "JOIN units u ON u.unit = c.unit AND u.attempt = c.attempt GROUP BY c.unit ORDER BY c.unit"
    assert query(db, final_calls) == query(full_db, final_calls)
    assert all(s == "done" for (s,) in query(db, "SELECT status FROM units"))
