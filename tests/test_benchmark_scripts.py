"""The scripts under benchmarks/ start: each answers --help (``prm_cache.py`` named its own
function ``run`` after the shared entry point it imported, and failed however it was called), and
a bad argument is one line and exit code 2, as the shared ``_args.py`` promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in (Path(__file__).parents[1] / "benchmarks").glob("*.py") if not p.name.startswith("_"))
ENV = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=ENV)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_script_answers_help(path):
    p = script(str(path), "--help")
    assert p.returncode == 0 and "usage:" in p.stdout, p.stderr[-600:]


@pytest.mark.parametrize("args, needle", [
    (["lab_train_step.py", "--threads", "0"], "0 is not a positive whole number"),
    (["engine_throughput.py", "--model", "openai:x@http://127.0.0.1:9/v1"], "compares decoding on the hf backend"),
])
def test_a_bad_benchmark_argument_is_one_line_and_exit_2(args, needle):
    p = script(str(SCRIPTS[0].parent / args[0]), *args[1:])
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr, p.stderr[-600:]
