"""Comparisons on the same problems: an unfinished run is flagged and its points are compared only
where graded on the same problems (tables, JSON, HTML, planner); each matched budget's best gets a
paired test against the runner-up; a spec listed twice across a sweep is refused; Ctrl-C says how to
go on."""

from __future__ import annotations

import io
import json
import os
import random
import sqlite3

import pytest
from bench_fixtures import cycling, qa_jsonl  # noqa: F401  (fixtures)
from rich.console import Console
from typer.testing import CliRunner

from ponder.bench.cli import make_app
from ponder.bench.planner import PriceSpec, plan
from ponder.bench.report import load_report, print_tables, write_report
from ponder.bench.runner import BenchConfig, families, run_bench
from ponder.bench.stats import aggregate, matched_budgets
from ponder.engine import Engine
from ponder.errors import StrategySpecError

KEPT = ("q0", "q3", "q6")  # sums whose answer is 42, which the scripted model always says


@pytest.fixture
async def unfinished_run(tmp_path, qa_jsonl, cycling):
    """cot done on all 12 problems, sc on 3 of them (the rest as a killed bench leaves them: pending,
    no rows). sc's 3 are problems it gets right, so in-sample it looks best."""
    out = tmp_path / "run"
    await run_bench(BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}", strategies="cot; sc(n=1..8)",
                                out=str(out), progress=False), engine=Engine(cycling))
    db = sqlite3.connect(out / "bench.sqlite")
    marks = ",".join("?" * len(KEPT))
    with db:
        db.execute(f"DELETE FROM results WHERE family = 'sc(n=1..8)' AND problem_id NOT IN ({marks})", KEPT)
        db.execute(f"UPDATE units SET status = 'pending' WHERE family = 'sc(n=1..8)' AND problem_id NOT IN ({marks})",
                   KEPT)
    db.close()
    return out


def test_an_unfinished_run_is_flagged_and_compares_like_with_like(unfinished_run):
    """A killed run's report compared sc(n=8) at 100 % on 3 problems with cot at 33 % on 12, named sc
    the best, and said "12 problems x 1 seed(s)" with no sign that the run was unfinished."""
    report = load_report(unfinished_run)
    s = report["summary"]
    assert (s["complete"], s["units_done"], s["units"]) == (False, 15, 24)
    sc8 = next(p for p in report["points"] if p["spec"] == "sc(n=8)")
    assert (sc8["problems_graded"], sc8["accuracy"]) == (3, 1.0)  # any 8 samples of the cycle vote 42
    assert [m["spec"] for m in report["matched"]] == ["cot"]  # sc, on 3 of the 12, is not compared
    assert {(u["spec"], u["problems"], u["of"]) for u in report["unmatched"]} == {
        ("sc(n=1)", 3, 12), ("sc(n=2)", 3, 12), ("sc(n=4)", 3, 12), ("sc(n=8)", 3, 12)}
    text = io.StringIO()
    print_tables(report, Console(file=text, width=300))
    [head] = [line for line in text.getvalue().splitlines() if "strategy" in line and "wrong" in line]
    assert "problems" in head  # the column of the problems each accuracy is over
    out = " ".join(text.getvalue().split())
    assert "UNFINISHED: 15/24 units done" in out and "--resume finishes it" in out
    assert "Not in the matched budgets" in out and "sc(n=8) (3 of 12)" in out
    res = CliRunner().invoke(make_app(), ["report", str(unfinished_run), "--json"])
    data = json.loads(res.output)
    assert res.exit_code == 0 and data["summary"]["complete"] is False
    assert {p["spec"]: p["problems_graded"] for p in data["points"]}["sc(n=8)"] == 3
    assert not any("per_problem" in p for p in data["points"])  # counts, not every problem's score
    path, _ = write_report(unfinished_run)
    page = path.read_text()
    assert "id='unfinished'" in page and "15 of 24 units done" in page and "id='unmatched'" in page


def test_the_planner_compares_the_problems_its_points_were_graded_on(unfinished_run, tmp_path):
    """The planner compared a point right on 3 of 3 problems with one on 12 as like with like: it
    compared the runs' numbers of problems (the same 12), not what the points were graded on."""
    res = CliRunner().invoke(make_app(), ["report", str(unfinished_run), str(unfinished_run), "--price", "in=1,out=2",
                                          "--pick", "sc(n=8)", "--pick", "cot", "--json"])
    assert res.exit_code == 0, res.output
    caveat = json.loads(res.output)["comparison"]["caveat"]
    assert caveat and "graded on different problems" in caveat and "sc(n=8) on 3, cot on 12, 3 in common" in caveat
    # unpicked, each run's most accurate point of those graded on all its problems: cot, not sc on 3
    out = plan([load_report(unfinished_run)] * 2, [PriceSpec.parse("in=1,out=2")])
    assert [r["chosen"]["spec"] for r in out["runs"]] == ["cot", "cot"] and out["comparison"]["caveat"] is None


def _rows(spec, scores, tokens, seed=0):
    return [{"family": spec, "spec": spec, "point": None, "problem_id": pid, "seed": seed, "correct": float(c),
             "parsed": 1.0, "policy_tokens": tokens, "verifier_tokens": 0.0, "error": None, "flops": 1.0,
             "calls": 1.0} for pid, c in scores.items()]


def test_sign_test_is_the_exact_binomial():
    from ponder.bench.stats import sign_test

    assert sign_test(0, 0) == 1.0 and sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == sign_test(0, 10) == pytest.approx(2 / 1024)
    assert sign_test(6, 4) == pytest.approx(2 * (1 + 10 + 45 + 120 + 210) / 1024)  # 0.754
    assert sign_test(139, 97) == pytest.approx(0.0075, abs=5e-4)  # the README's backtracking test, two-sided


def test_each_matched_budget_winner_gets_a_paired_test_against_the_runner_up():
    """The best within a budget was shown with its in-sample accuracy and CI95 only: no test said
    whether it beat the next best or was level with it."""
    ids = [f"p{i}" for i in range(20)]
    a = dict.fromkeys(ids, 1)                                    # right on all 20
    b = {pid: int(i >= 10) for i, pid in enumerate(ids)}         # right on 10: a wins 10, loses 0
    c = {pid: int(i < 6 or i >= 10) for i, pid in enumerate(ids)}  # right on 16: against a 4 won, 0 lost
    pts = aggregate(_rows("a", a, 300.0) + _rows("b", b, 100.0))
    [cheap, dear] = matched_budgets(pts)
    assert (cheap["spec"], cheap.get("runner_up")) == ("b", None)
    assert (dear["spec"], dear["runner_up"], dear["won"], dear["lost"]) == ("a", "b", 10, 0)
    assert dear["paired_problems"] == 20
    assert dear["p_value"] == pytest.approx(2 / 1024) and dear["significant"]
    pts = aggregate(_rows("a", a, 300.0) + _rows("c", c, 290.0))
    [row] = [m for m in matched_budgets(pts) if m["spec"] == "a"]
    assert (row["won"], row["lost"], row["significant"]) == (4, 0, False)  # p = 0.125
    text = io.StringIO()
    print_tables({"manifest": {"model": "m", "task": "t", "seeds": 1}, "summary": {"problems": 20, "units_failed": 0,
                  "retries": 0}, "points": pts, "matched": [row]}, Console(file=text, width=400))
    out = " ".join(text.getvalue().split())
    assert "level with c (80.0%): won 4, lost 0 of 20, p = 0.12" in out and "in-sample" in out


def test_a_paired_test_of_fractional_scores_counts_problems_won_and_lost():
    """Seeds (and pool subsets) give fractional scores per problem: a problem is won where the mean
    over seeds is higher, lost where lower, and left out where equal."""
    from ponder.bench.stats import paired

    a = aggregate(_rows("a", {"x": 1, "y": 1, "z": 0}, 10.0) + _rows("a", {"x": 1, "y": 0, "z": 0}, 10.0, seed=1))
    b = aggregate(_rows("b", {"x": 0, "y": 1, "z": 1}, 10.0) + _rows("b", {"x": 0, "y": 0, "z": 0}, 10.0, seed=1))
    vs = paired(a[0], b[0])  # x: 1 against 0, won; y: 0.5 against 0.5, equal; z: 0 against 0.5, lost
    assert (vs["won"], vs["lost"], vs["paired_problems"], vs["p_value"]) == (1, 1, 3, 1.0)


def test_equal_strategies_are_level_in_the_paired_test():
    """8 strategies of true accuracy 0.5 on 50 problems: the best's in-sample accuracy is biased
    upward (about 0.6), but the paired test rarely calls it better than the runner-up."""
    rng = random.Random(0)
    beats = 0
    for _ in range(200):
        rows = []
        for s in range(8):
            rows += _rows(f"s{s}", {f"p{i}": rng.random() < 0.5 for i in range(50)}, 100.0 + s)
        beats += matched_budgets(aggregate(rows))[-1]["significant"]
    assert beats / 200 <= 0.05


@pytest.mark.parametrize("strategies, named", [
    ("sc(n=4); sc(n=1..8)", "sc(n=4) is listed twice: in 'sc(n=4)' and in 'sc(n=1..8)'"),
    ("sc(n=1..4); sc(n=4..8)", "sc(n=4) is listed twice: in 'sc(n=1..4)' and in 'sc(n=4..8)'"),
    ("bon(n=1..4, scorer=vote); bon(n=2, scorer=vote)", "bon(n=2, scorer=vote) is listed twice"),
])
async def test_a_spec_run_by_two_families_is_refused_before_any_work(strategies, named, tmp_path, qa_jsonl, cycling):
    """"sc(n=4); sc(n=1..8)" ran sc(n=4) twice: the report showed two rows of that name with
    different numbers, and --pick took the first."""
    with pytest.raises(StrategySpecError, match="list it once"):
        families(strategies)
    with pytest.raises(StrategySpecError) as err:
        await run_bench(BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}", strategies=strategies,
                                    out=str(tmp_path / "run"), progress=False), engine=Engine(cycling))
    assert named in str(err.value) and cycling.requests == []
    assert [f.label for f in families("sc(n=4, seed=1); sc(n=1..8)")] == ["sc(n=4, seed=1)", "sc(n=1..8)"]


def test_ctrl_c_says_the_finished_units_are_kept_and_how_to_go_on(tmp_path, monkeypatch, capsys):
    """Ctrl-C on a bench printed only "aborted"."""
    from ponder import cli_run
    from ponder.bench import runner
    from ponder.bench.store import open_for_write

    out = tmp_path / "my run"

    async def interrupted(cfg, *, engine=None):
        store, lock = open_for_write(cfg.out)
        store.set_manifest({"model": "embedded", "task": "arith"})
        store.add_units({"unit": f"u{i}", "problem_id": f"p{i}", "family": "cot", "spec": "cot", "seed": 0,
                         "gen_seed": i} for i in range(3))
        store.finish_unit("u0", [])
        store.close()
        lock.release()
        raise KeyboardInterrupt

    def ended(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(runner, "run_bench", interrupted)
    monkeypatch.setattr(cli_run, "_abort_note", None, raising=False)
    monkeypatch.setattr(os, "_exit", ended)  # the real one ends the test process
    with pytest.raises(SystemExit) as end:
        cli_run.run_app(make_app(), ["bench", "-t", "arith", "-s", "cot", "--out", str(out), "--no-progress"])
    err = " ".join(capsys.readouterr().err.split())
    assert end.value.code == 130
    assert err == (f"aborted: 1 of 3 units done and kept in the run; ponder bench --out '{out}' --resume runs the "
                   "rest without redoing them"), err
