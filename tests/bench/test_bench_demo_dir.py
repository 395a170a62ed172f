"""``ponder demo --out DIR`` replaces only an earlier demo run there: the user's other files stay, a run
of another benchmark is refused, not deleted, and so is a run another process is writing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.bench.demo import (DEMO_CONCURRENCY, DEMO_LIMIT, DEMO_MODEL, DEMO_SEEDS, DEMO_TASK, clear_demo_run,
                               demo_strategies)
from ponder.bench.store import RunLock, RunLockedError, RunStoreError, Store

PONDER = str(Path(sys.executable).with_name("ponder"))
README_STRATEGIES = "cot; sc(n=1..16); asc; bon(n=1..16, scorer=prm)"  # the README's first bench example


def _run_store(out: Path, **manifest) -> None:
    out.mkdir(parents=True, exist_ok=True)
    store = Store.for_run(out)
    store.set_manifest(manifest)
    store.close()


def _demo_manifest() -> dict:
    """What a demo run's manifest says of its settings."""
    return {"model": DEMO_MODEL, "task": DEMO_TASK, "strategies": "; ".join(demo_strategies()), "limit": DEMO_LIMIT,
            "seeds": DEMO_SEEDS, "concurrency": DEMO_CONCURRENCY}


def test_an_earlier_demo_run_is_replaced_and_nothing_else(tmp_path):
    out = tmp_path / "demo"
    _run_store(out, **_demo_manifest())
    for name in ("report.html", "accuracy_vs_tokens.png", "notes.txt", "sub/mydata.csv"):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_text("x")
    clear_demo_run(out)
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == ["notes.txt", "sub/mydata.csv"]


def test_a_run_of_another_benchmark_is_refused_and_kept(tmp_path):
    out = tmp_path / "mine"
    _run_store(out, model="openai:big@http://127.0.0.1:9/v1", task="gsm8k", strategies="cot")
    (out / "notes.txt").write_text("mine")
    proc = subprocess.run([PONDER, "demo", "--out", str(out)], capture_output=True, text=True, timeout=60,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200",
                               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}})
    assert proc.returncode == 2, proc.stderr
    assert "holds a benchmark run of model 'openai:big@http://127.0.0.1:9/v1'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "bench.sqlite").is_file() and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("mine, differs", [
    # the README's first example: the demo's model and task, which alone made it the demo's (and deleted it)
    (dict(strategies=README_STRATEGIES, limit=50, concurrency=4), f"strategies {README_STRATEGIES!r} where the demo"),
    (dict(strategies=README_STRATEGIES), f"strategies {README_STRATEGIES!r} where the demo runs "),
    (dict(seeds=3), "seeds 3 where the demo runs 1"),
])
def test_a_run_of_the_demos_model_and_task_but_not_the_demo_is_refused(tmp_path, mine, differs):
    out = tmp_path / "arith"
    _run_store(out, **{**_demo_manifest(), **mine})
    before = (out / "bench.sqlite").read_bytes()
    with pytest.raises(RunStoreError) as err:
        clear_demo_run(out)
    assert f"holds a benchmark run of model 'embedded' on task 'arith' that is not the demo's ({differs}" \
        in str(err.value), str(err.value)
    assert "give it another directory with --out" in str(err.value)
    assert (out / "bench.sqlite").read_bytes() == before


def test_a_demo_run_of_another_limit_is_the_demos_and_replaced(tmp_path):
    """``ponder demo --limit 20`` then ``ponder demo``: the second replaces the first's run."""
    out = tmp_path / "demo"
    _run_store(out, **{**_demo_manifest(), "limit": 20, "concurrency": 1})
    clear_demo_run(out)
    assert not (out / "bench.sqlite").exists()


def test_a_demo_run_another_process_is_writing_is_refused_and_kept(tmp_path):
    """Two ``ponder demo --out D`` at once: the second unlinked the first's database and lock."""
    out = tmp_path / "demo"
    _run_store(out, **_demo_manifest())
    with RunLock(out):  # the first demo, running
        with pytest.raises(RunLockedError, match=r"is being written by another ponder bench \(pid \d+\)"):
            clear_demo_run(out)
        assert (out / "bench.sqlite").is_file() and (out / "bench.lock").is_file()
    clear_demo_run(out)  # once it has finished, a later demo replaces it
    assert not (out / "bench.sqlite").exists()


def test_a_demo_directory_that_cannot_be_written_is_a_clear_error(tmp_path):
    out = tmp_path / "demo"
    _run_store(out, **_demo_manifest())
    (out / "bench.lock").mkdir()  # the lock cannot be opened
    with pytest.raises(RunStoreError, match=r"cannot write in the run directory \(Is a directory: .*bench.lock'\)"):
        clear_demo_run(out)
    assert (out / "bench.sqlite").is_file()
