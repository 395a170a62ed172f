"""The CLI boundary: one-line errors with exit code 2, JSON output, the strategy listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PONDER = [str(Path(sys.executable).with_name("ponder"))]
ENV = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "200",
       **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(PONDER + list(args), capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.mark.parametrize("args, needle", [
    (["solve", "q", "--model", "nope:x"], "accepted forms"),
    (["solve", "q", "--model", "hf:/definitely/not/here"], "does not exist"),
    (["solve", "q", "--strategy", "warp(n=2)"], "available: "),
    (["solve", "q", "--model", "embedded-prm"], "is a process reward model"),  # it wrote '199'
    (["solve", "q", "--strategy", "bon(n=2, scorer=judge(model=embedded-prm))"], "is a process reward model"),
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
    # a directory that cannot be made was an internal error (NotADirectoryError, FileNotFoundError)
    (["bench", "-t", "arith", "-s", "cot", "--out", f"{__file__}/sub"], f"--out {__file__ + '/sub'!r}: cannot "
     "create the run directory (Not a directory)"),
    (["bench", "-t", "arith", "-s", "cot", "--out", "/proc/ponder-none"], "--out '/proc/ponder-none': cannot create "
     "the run directory (No such file or directory)"),
    (["report", __file__], "is not a bench run"),
    # a malformed server URL or option value is the spec's fault, named with the accepted form
    (["solve", "q", "--model", "openai:x@http://[::1"], "bad server URL 'http://[::1'"),
    (["solve", "q", "--model", "openai:x@http://127.0.0.1:abc/v1"], "http[s]://HOST[:PORT][/PATH]"),
    (["solve", "q", "--model", "openai:x@http://127.0.0.1:99999/v1"], "port 99999 is not a number from 1 to 65535"),
    (["solve", "q", "--model", "openai:x@http://127.0.0.1:9/v1?timeout=nan&retries=0"],
     "timeout must be a positive number of seconds, got 'nan'"),
    (["solve", "q", "--model", "openai:x@http://127.0.0.1:9/v1?params=inf"], "params must be a positive number"),
    # every point of a sweep is checked before any call (beam(n=1) failed in its units, "--resume retries them")
    # (and --model defaults to embedded, as DESIGN names it: "bench needs --model" before)
    (["bench", "-t", "arith", "-s", "beam(n=1..4)", "--limit", "1", "--out", "OUT"], "width=4 is larger than n=1"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "sc(n=1..4, of=budget(think=1..4))", "--out", "OUT"],
     "not one inside of= or scorer="),
    # (lab eval's progress bar wrote a blank line before these)
    (["lab", "eval", "--model", "nonexist"], "unknown model spec 'nonexist'"),
    (["lab", "eval", "--task", "nope"], "unknown task 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    p = run(*(str(tmp_path / "run") if a == "OUT" else a for a in args))  # a run made by mistake stays here
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.splitlines()) == 1 and p.stderr.startswith("error: ")


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
    (["lab", "eval", "--max-n", "100000"], "Invalid value for '--max-n': Input should be less than or equal to 1024"),
    (["lab", "eval", "--max-tokens", "0"], "Invalid value for '--max-tokens'"),
    (["serve", "--port", "70000"], "Invalid value for '--port'"),
    (["serve", "--log-level", "loud"], "Invalid value for '--log-level'"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "--seeds", "0"], "Invalid value for '--seeds'"),
    (["bench", "-m", "embedded", "-t", "arith", "-s", "cot", "-c", "0"], "Invalid value for '--concurrency'"),
    (["bench", "-t", "arith", "-s", "cot", "--limit", "0"], "Invalid value for '--limit'"),
    (["serve", "--max-n", "0"], "Invalid value for '--max-n'"),
    (["serve", "--max-concurrency", "0"], "Invalid value for '--max-concurrency'"),
    (["report", "runs/none", "--pick", "cot"], "Invalid value for --pick: --pick chooses the strategy the cost"),  # was ignored
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
    assert "[default: cot]" in run("solve", "--help").stdout  # rich read it as a style tag and dropped it


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
    (["-e", "high", "-s", "cot", "--thinking-budget", "8"],
     "--strategy, --reasoning-effort and --thinking-budget each choose the strategy"),
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


def test_a_model_directory_hf_cannot_use_is_one_line_and_exit_2(tiny_model_dir, tmp_path):
    import shutil

    from transformers import Qwen2Config, Qwen2ForTokenClassification

    bare = shutil.copytree(tiny_model_dir, tmp_path / "bare")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (bare / name).unlink()
    scorer = tmp_path / "scorer"  # a PRM-style token classifier: transformers also logged a table of its weights
    Qwen2ForTokenClassification(Qwen2Config(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                            num_attention_heads=2, num_key_value_heads=1)).save_pretrained(scorer)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, scorer / name)
    for spec, needle in [(f"hf:{bare}", "has no tokenizer files (accepted: tokenizer.json"),
                         (f"hf:{scorer}", "says Qwen2ForTokenClassification (model_type qwen2); loaded as one it "
                                          "lacks the weights lm_head.weight"),
                         (f"hf:{tiny_model_dir}?dtype=float64", "dtype= accepts auto, float32, bfloat16, float16"),
                         (f"hf:{tiny_model_dir}?gpu=1", "unknown option(s) ['gpu']")]:
        p = run("solve", "2+2?", "--model", spec)
        assert p.returncode == 2 and needle in p.stderr, p.stderr
        assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("error: ")
    p = run("solve", "2+2?", "--model", f"hf:{tiny_model_dir}?dtype=bfloat16&device=cpu", "--strategy",
            "cot(max_tokens=4)")
    assert p.returncode == 0 and "1 call, tokens in" in p.stdout, p.stderr


def test_solve_prints_answer_and_ledger_line(tiny_model_dir):
    p = run("solve", "2+2?", "--model", f"hf:{tiny_model_dir}", "--strategy", "cot(max_tokens=8)")
    assert p.returncode == 0, p.stderr
    assert "1 call, tokens in" in p.stdout
    p = run("solve", "2+2?", "--model", f"hf:{tiny_model_dir}", "--strategy", "cot(max_tokens=8)", "--trace")
    assert p.returncode == 0 and "(no trace: cot(max_tokens=8) records none)" in p.stdout, p.stdout


def test_strategies_lists_names_defaults_and_papers():
    p = run("strategies")
    assert p.returncode == 0
    for text in ("cot", "sc", "2203.11171", "n=16", "words=[Alternatively]", "stop=[]"):
        assert text in p.stdout
    assert "Undefined" not in p.stdout
    # the same command as a module, for an environment whose scripts are not on PATH
    m = subprocess.run([sys.executable, "-m", "ponder", "strategies"], capture_output=True, text=True, timeout=120,
                       env=ENV)
    assert m.returncode == 0 and m.stdout == p.stdout


# -- model and user text is printed as it is, never read as markup -----------------------------------------
def test_solve_prints_answers_specs_and_trees_verbatim(monkeypatch, capsys):
    """An answer, a spec or a step holding ``[/]`` made rich raise MarkupError after the work was done,
    and ``[red]`` or ``:smile:`` were swallowed or replaced; the tree's ``[end]`` marker vanished."""
    import ponder.api
    from ponder.cli import main
    from ponder.ledger import Ledger
    from ponder.types import Result

    answer = "[/] [red]x[/red] [/x] :smile: C:\\\\"
    spec = "budget(think=8, answer_prompt='[/b] Answer:')"
    nodes = [{"id": 0, "parent": None, "step": "", "chosen": True, "score": None, "visits": 0, "terminal": False},
             {"id": 1, "parent": 0, "step": "[bold]1+1=2[/]", "chosen": True, "score": 0.5, "visits": 1,
              "terminal": True}]
    result = Result(answer=answer, text=answer, strategy=spec, ledger=Ledger(), trace={"nodes": nodes})
    monkeypatch.setattr(ponder.api, "solve", lambda *a, **k: result)
    main(["solve", "q", "--model", "openai:[m]@http://127.0.0.1:9/v1", "--strategy", spec, "--trace"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == answer
    assert lines[1] == "* [bold]1+1=2[/]  score=0.500  visits=1  [end]"
    assert lines[2].startswith(f"{spec} on openai:[m]@http://127.0.0.1:9/v1: ")


# -- Ctrl-C --------------------------------------------------------------------------------------------------
def _done_units(run_dir: Path) -> tuple[int, int]:
    """(done, all) units of a run being written; (0, 0) before its tables exist."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{run_dir / 'bench.sqlite'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT status FROM units").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return 0, 0
    return sum(1 for (status,) in rows if status == "done"), len(rows)


def test_ctrl_c_aborts_with_130_and_the_run_resumes(tmp_path):
    """typer turns KeyboardInterrupt into exit code 130 and returns it (standalone_mode=False): the
    code was dropped, so an interrupted bench exited 0, as if it had finished."""
    import signal
    import time

    out = tmp_path / "run"
    args = ["bench", "-m", "embedded", "-t", "arith", "-s", "sc(n=16)", "--limit", "12", "-c", "1",
            "--out", str(out), "--no-report", "--no-progress"]
    proc = subprocess.Popen(PONDER + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 120
    while _done_units(out)[0] < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    last = stderr.strip().splitlines()[-1]
    done, total = _done_units(out)
    # it says what was kept and how to go on
    assert proc.returncode == 130 and last == (f"aborted: {done} of 12 units done and kept in the run; ponder bench "
                                               f"--out {out} --resume runs the rest without redoing them"), stderr
    assert 1 <= done < total == 12
    p = run("bench", "--out", str(out), "--resume", "--no-report", "--no-progress")
    assert p.returncode == 0 and "sc(n=16)" in p.stdout, p.stderr
    assert _done_units(out) == (12, 12)


# -- failed units -----------------------------------------------------------------------------------------
def test_a_bench_whose_every_unit_failed_ends_with_the_cause_and_exit_2(tmp_path):
    """An unreachable server made a table of 0 % accuracy and 100 % parse failures, and exit 0."""
    p = run("bench", "--model", "openai:x@http://127.0.0.1:9/v1?retries=0", "--task", "arith", "--strategies", "cot",
            "--limit", "2", "--out", str(tmp_path / "run"), "--no-progress")
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert line.startswith("error: all 2 units failed; the first: BackendError: http://127.0.0.1:9/v1 failed"), line
    assert "parse" not in p.stdout and "0.0%" not in p.stdout and "100.0%" not in p.stdout, p.stdout


@pytest.fixture()
def flaky():
    """``flaky(failures)``: the URL of a server whose first FAILURES calls get 503, then answers 42."""
    from helpers import free_port
    from servers import stop, wait_http

    procs: list[subprocess.Popen] = []

    def start(failures: int) -> str:
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, str(Path(__file__).with_name("flaky_upstream.py")), str(port),
                                       str(failures)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{port}/health", procs[-1])
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        stop(proc)


@pytest.mark.parametrize("http", ["direct", "aiohttp"])
def test_a_bench_with_failed_units_says_so_and_resume_retries_them(tmp_path, flaky, http):
    """Failed units are left out of the accuracy (they were counted as wrong and unparsed), the run
    exits 2 saying how many failed, and ``--resume`` retries them; no aiohttp session is left open."""
    url = flaky(1)  # the first call gets 503: with retries=0 its unit fails
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"{a}+{a}?", "answer": "42"}) + "\n" for a in (21, 20, 19)))
    out = str(tmp_path / "run")
    p = run("bench", "-m", f"openai:m@{url}/v1?retries=0&http={http}", "-t", f"jsonl:{data}", "-s", "cot",
            "-c", "1", "--out", out, "--no-progress", "--no-report")
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert line.startswith("error: 1 of 3 units failed (the first: BackendError: ") and \
        line.endswith(f"accuracy and compute leave them out; ponder bench --out {out} --resume retries them"), line
    row = next(r for r in p.stdout.splitlines() if r.startswith("│ cot"))
    # strategy, accuracy, CI95, problems (graded: 2 of the run's 3), wrong, parse fail, ..., failed
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert (cells[1], cells[3], cells[4], cells[5], cells[-1]) == ("100.0%", "2", "0.0%", "0.0%", "1"), row
    p = run("bench", "--out", out, "--resume", "--no-progress", "--no-report")
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_an_unreachable_server_leaves_no_session_open_and_a_refusal_is_a_connection_error():
    for http in ("direct", "aiohttp"):
        p = run("solve", "q", "--model", f"openai:x@http://127.0.0.1:9/v1?retries=0&http={http}")
        assert p.returncode == 2, p.stderr
        [line] = p.stderr.strip().splitlines()  # no "Unclosed client session" after it
        assert "Cannot connect to host 127.0.0.1:9" in line and "timed out" not in line, line


# -- the run store ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["text", "truncated"])
def test_bench_refuses_a_damaged_store_in_one_line_and_leaves_it_as_it_is(tmp_path, damage):
    from ponder.bench.store import Store

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    db = run_dir / "bench.sqlite"
    if damage == "text":
        db.write_text("these are my notes, not a database\n")
    else:
        store = Store(db)
        store.set_manifest({"model": "embedded", "task": "arith", "strategies": "cot", "seeds": 1, "limit": 500})
        store.add_units({"unit": f"0|cot|p{i}|0", "problem_id": f"p{i}", "family": "cot", "spec": "cot" * 20,
                         "seed": 0, "gen_seed": i} for i in range(500))
        store.close()
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    before = db.read_bytes()
    for extra in ([], ["--resume"]):
        p = run("bench", "-m", "embedded", "-t", "arith", "-s", "cot", "--out", str(run_dir), *extra)
        assert p.returncode == 2, p.stderr
        [line] = p.stderr.strip().splitlines()
        assert line.startswith(f"error: {str(run_dir)!r} holds a bench.sqlite that is not a readable bench run ("), line
        assert db.read_bytes() == before
    p = run("report", str(run_dir))
    assert p.returncode == 2 and "is not a bench run" in p.stderr


# -- task files -------------------------------------------------------------------------------------------
def test_an_empty_task_file_and_an_unknown_task_option_are_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"q": "1+1?", "b": "2"}) + "\n")
    for task, needle in [(f"jsonl:{empty}", f"{empty}: no records; the task reads one JSON object per line "
                                          "with the fields 'question', 'answer'"),
                         (f"jsonl:{data}?question=q&answr=b", "unknown option(s) ['answr'] of task jsonl; "
                                                              "accepted: question, answer, kind"),
                         (f"jsonl:{data}?question=q&answer=b&kind=maths", "kind= accepts auto, math, "),
                         (f"gsm8k:{data}?split=test", "task gsm8k takes no options")]:
        p = run("bench", "-m", "embedded", "-t", task, "-s", "cot", "--out", str(tmp_path / "run"))
        assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("damage", ["truncated", "plain"])
def test_a_damaged_task_file_is_an_error_not_an_abort(tmp_path, datasets_dir, damage):
    """A .jsonl.gz cut short raised EOFError, which the command-line library turns into Abort: the
    bench printed "aborted" and exited 130, as if the user had pressed Ctrl-C."""
    path = tmp_path / "he.jsonl.gz"
    if damage == "truncated":
        path.write_bytes((datasets_dir / "HumanEval.jsonl.gz").read_bytes()[:20000])
    else:
        path.write_text('{"task_id": "x"}\n')
    p = run("bench", "-t", f"humaneval:{path}", "-s", "cot", "--out", str(tmp_path / "run"), "--no-progress")
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: not readable as gzip ("), line


def test_an_eof_error_is_not_taken_for_ctrl_c(monkeypatch, capsys):
    """The command-line library raises Abort from an EOFError as from Ctrl-C; one from inside a
    command is not the user's interrupt, and reads as the error it is (exit 1), not "aborted"."""
    import typer

    from ponder import cli_run

    def aborted() -> None:
        raise SystemExit(130)

    monkeypatch.setattr(cli_run, "_abort", aborted)  # the real one ends the process
    monkeypatch.delenv("PONDER_DEBUG", raising=False)
    app = typer.Typer()

    @app.command()
    def read(what: str) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    with pytest.raises(SystemExit) as end:
        cli_run.run_app(app, ["x"])
    err = capsys.readouterr().err
    assert end.value.code == 1 and "aborted" not in err, err
    assert "internal error: EOFError: Compressed file ended before the end-of-stream marker" in err, err
