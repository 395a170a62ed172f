"""The CLI boundary: one-line errors with exit code 2, JSON output, the strategy listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PONDER = [str(Path(sys.executable).with_name("ponder"))]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(PONDER + list(args), capture_output=True, text=True, timeout=timeout,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200"})


@pytest.mark.parametrize("args, needle", [
    (["solve", "q", "--model", "nope:x"], "accepted forms"),
    (["solve", "q", "--model", "hf:/definitely/not/here"], "does not exist"),
    (["solve", "q", "--strategy", "warp(n=2)"], "available: "),
    (["solve", "q", "--strategy", "sc(k=2)"], "Keys of sc"),
    (["solve", "q", "--strategy", "sc(n=-1)"], "greater than 0"),
    (["lab", "train", "--kind", "prm", "--policy", "/definitely/not/here", "--out", "/tmp/never-written"],
     "is not a model directory"),
    (["solve", "q", "--model", "openai:m@http://127.0.0.1:9/v1?timeout=1&retries=0"], "127.0.0.1:9"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "--unit-timeout", "0", "--out", "/tmp/never-written"],
     "unit-timeout must be a positive number of seconds"),  # 0 meant "no limit"
    (["serve", "--timeout", "nan"], "timeout must be a positive number of seconds, got nan"),
    (["solve", "q", "--strategy", ""], "empty strategy spec"),
    (["solve", "q", "--strategy", "sc(n=2, n=3)"], "n= is given twice"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot; cot", "--out", "OUT"], "listed twice"),
    (["bench", "-m", "embedded", "-t", "arith?difficulty=0", "-s", "cot", "--out", "OUT"],
     "difficulty must be from 1 to 50, got 0"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "--out", __file__], "is a file; give a directory"),
    (["report", __file__], "is not a bench run"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    p = run(*(str(tmp_path / "run") if a == "OUT" else a for a in args))  # a run made by mistake stays here
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, needle", [
    (["solve"], "Missing argument 'QUESTION'"),
    (["solve", "q", "--max-tokens", "many"], "Invalid value for '--max-tokens'"),
    (["solve", "q", "--max-tokens", "0"], "Invalid value for '--max-tokens'"),
    (["solve", "q", "--max-seconds", "nan"], "Invalid value for '--max-seconds': nan is not a positive number"),
    (["warp"], "No such command 'warp'"),
    (["serve", "--port", "eighty"], "Invalid value for '--port'"),
    (["lab", "train", "--out", "/tmp/never-written", "--steps", "0"], "Invalid value for '--steps'"),
    (["lab", "quick-eval", "--task", "chess"], "Invalid value for '--task'"),
    (["lab", "eval", "--max-n", "0"], "Invalid value for '--max-n'"),
    (["lab", "eval", "--max-tokens", "0"], "Invalid value for '--max-tokens'"),
    (["serve", "--port", "70000"], "Invalid value for '--port'"),
    (["serve", "--log-level", "loud"], "Invalid value for '--log-level'"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "--seeds", "0"], "Invalid value for '--seeds'"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "-c", "0"], "Invalid value for '--concurrency'"),
])
def test_usage_errors_show_the_usage_and_exit_2(args, needle):
    # the command-line library's own errors: not "internal error", not exit 1
    p = run(*args)
    assert p.returncode == 2 and needle in p.stderr, p.stderr
    assert "Usage: ponder" in p.stderr and "internal error" not in p.stderr and "Traceback" not in p.stderr


def test_help_shows_flags_without_a_value():
    p = run("bench", "--help")
    assert p.returncode == 0 and "--resume" in p.stdout and "<int range>" in p.stdout, p.stdout
    assert "<bool>" not in p.stdout  # typer >= 0.29 would write `--resume <bool>`, as if it took a value


def test_the_other_entry_points_share_the_error_handling():
    for module in ("ponder.server", "ponder.bench"):
        p = subprocess.run([sys.executable, "-m", module, "--port" if module == "ponder.server" else "warp",
                            "eighty"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "Usage:" in p.stderr and "internal error" not in p.stderr, p.stderr


def test_thinking_on_demand_chooses_the_strategy(tmp_path):
    ask = ["solve", "Compute left to right: 12+30*2", "--json"]
    r = json.loads(run(*ask, "--reasoning-effort", "medium").stdout)
    assert r["strategy"] == "sc(n=4)"  # the default map
    r = json.loads(run(*ask, "--thinking-budget", "16").stdout)
    assert r["strategy"] == "think(mode=budget, tokens=16)"
    assert r["ledger"]["totals"]["reasoning_tokens"] <= 16  # the budget holds
    mapping = tmp_path / "effort.json"
    mapping.write_text(json.dumps({"high": "sc(n=3)"}))
    r = json.loads(run(*ask, "-e", "high", "--effort-map", str(mapping)).stdout)
    assert r["strategy"] == "sc(n=3)" and r["ledger"]["totals"]["calls"] == 1


@pytest.mark.parametrize("args, needle", [
    (["-e", "high", "-s", "cot"], "--strategy and --reasoning-effort both choose the strategy"),
    (["--effort-map", "MAP"], "give --reasoning-effort too"),
    (["-e", "high", "--effort-map", "MAP"], "high: unknown strategy 'warp'; available: "),
])
def test_thinking_on_demand_bad_input(tmp_path, args, needle):
    mapping = tmp_path / "effort.json"
    mapping.write_text(json.dumps({"high": "warp(n=2)"}))
    p = run("solve", "q", *[str(mapping) if a == "MAP" else a for a in args])
    assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_serve_refuses_a_bad_effort_map_in_one_line(tmp_path):
    mapping = tmp_path / "effort.json"
    mapping.write_text(json.dumps({"extreme": "cot"}))
    p = run("serve", "--effort-map", str(mapping))
    assert p.returncode == 2 and "extreme: not a reasoning effort; the keys are none, low, medium, high" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_an_empty_question_is_refused_before_any_model_loads():
    p = run("solve", "  ", "--model", "hf:/definitely/not/here")
    assert p.returncode == 2 and "the question is empty" in p.stderr and "Traceback" not in p.stderr


def test_solve_json_on_a_local_model(tiny_model_dir):
    p = run("solve", "What is 2+2?", "--model", f"hf:{tiny_model_dir}", "--strategy", "sc(n=3, temperature=1.0)",
            "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["strategy"] == "sc(n=3, temperature=1.0)"
    assert len(data["candidates"]) == 3
    totals = data["ledger"]["totals"]
    assert totals["calls"] == 1 and totals["completion_tokens"] > 0 and totals["prompt_tokens"] > 0
    assert totals["flops"]["total"] > 0


def test_solve_prints_answer_and_ledger_line(tiny_model_dir):
    p = run("solve", "2+2?", "--model", f"hf:{tiny_model_dir}", "--strategy", "cot(max_tokens=8)")
    assert p.returncode == 0, p.stderr
    assert "1 call, tokens in" in p.stdout
    p = run("solve", "2+2?", "--model", f"hf:{tiny_model_dir}", "--strategy", "cot(max_tokens=8)", "--trace")
    assert p.returncode == 0 and "(no trace: cot(max_tokens=8) records none)" in p.stdout, p.stdout


def test_strategies_lists_names_defaults_and_papers():
    p = run("strategies")
    assert p.returncode == 0
    for text in ("cot", "sc", "2203.11171", "n=16", "words=['Alternatively']", "stop=[]"):
        assert text in p.stdout
    assert "Undefined" not in p.stdout
