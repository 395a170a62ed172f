"""An upstream that fails 20 % of calls (503, hangs past the client timeout, malformed JSON) never hangs the
bench: failures are retried, counted, and reported per problem; an endpoint pool is used for the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench_fixtures import qa_jsonl  # noqa: F401  (fixture)
from servers import free_port, wait_http

from ponder.bench.report import load_report
from ponder.bench.runner import BenchConfig, run_bench

pytestmark = pytest.mark.slow


def start(port: int, seed: int) -> subprocess.Popen:
    script = Path(__file__).with_name("flaky20.py")
    return subprocess.Popen([sys.executable, str(script), str(port), "0.2", str(seed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def flaky_pool():
    ports = [free_port(), free_port()]
    procs = [start(p, seed) for seed, p in enumerate(ports)]
    try:
        for p, proc in zip(ports, procs):
            wait_http(f"http://127.0.0.1:{p}/health", proc)
        yield [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


async def test_twenty_percent_failures_are_retried_counted_and_reported(tmp_path, qa_jsonl, flaky_pool):
    urls = ",".join(f"{u}/v1" for u in flaky_pool)
    cfg = BenchConfig(model=f"openai:m@{urls}?timeout=1&retries=8", task=f"jsonl:{qa_jsonl}",
                      strategies="cot; sc(n=1..4)", seeds=2, concurrency=6, out=str(tmp_path / "run"),
                      progress=False, unit_timeout=120)
    await run_bench(cfg)
    counts = [httpx.get(f"{u}/calls").json() for u in flaky_pool]
    injected = sum(c["503"] + c["hang"] + c["malformed"] for c in counts)
    assert all(c["calls"] > 0 for c in counts)  # both endpoints of the pool served calls
    assert injected > 0 and {k for c in counts for k in ("503", "hang", "malformed") if c[k]} == {
        "503", "hang", "malformed"}
    report = load_report(tmp_path / "run")
    s = report["summary"]
    assert s["units_done"] == s["units"] == 12 * 2 * 2
    # every injected failure was retried and counted (or, past the retries, failed its unit and was reported)
    assert s["retries"] + s["units_failed"] >= injected * 0.9
    assert report["failures"] and all(f["retries"] or f["failed_units"] for f in report["failures"])
    cot = next(p for p in report["points"] if p["spec"] == "cot")
    assert cot["retries"] > 0
    # questions 0, 3, 6, 9 have the answer 42, which the upstream always gives
    assert cot["accuracy"] == pytest.approx(4 / 12, abs=0.1)
