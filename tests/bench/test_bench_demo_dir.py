"""``ponder demo --out DIR`` replaces only an earlier demo run there: the user's other files stay, and a
run of another benchmark is refused, not deleted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ponder.bench.demo import DEMO_MODEL, DEMO_TASK, clear_demo_run
from ponder.bench.store import Store

PONDER = str(Path(sys.executable).with_name("ponder"))


def _run_store(out: Path, model: str, task: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    store = Store.for_run(out)
    store.set_manifest({"model": model, "task": task, "strategies": "cot"})
    store.close()


def test_an_earlier_demo_run_is_replaced_and_nothing_else(tmp_path):
    out = tmp_path / "demo"
    _run_store(out, DEMO_MODEL, DEMO_TASK)
    for name in ("report.html", "accuracy_vs_tokens.png", "notes.txt", "sub/mydata.csv"):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("x")
    clear_demo_run(out)
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == ["notes.txt", "sub/mydata.csv"]


def test_a_run_of_another_benchmark_is_refused_and_kept(tmp_path):
    out = tmp_path / "mine"
    _run_store(out, "openai:big@http://127.0.0.1:9/v1", "gsm8k")
    (out / "notes.txt").write_text("mine")
    proc = subprocess.run([PONDER, "demo", "--out", str(out)], capture_output=True, text=True, timeout=60,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200",
                               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}})
    assert proc.returncode == 2, proc.stderr
    assert "holds a benchmark run of model 'openai:big@http://127.0.0.1:9/v1'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "bench.sqlite").is_file() and (out / "notes.txt").read_text() == "mine"
