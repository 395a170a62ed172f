"""The report: PNG plots, a self-contained HTML file with the plots and tables, JSON output, the planner CLI,
and a headless Chromium screenshot of the HTML (skipped where Chromium is absent)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from bench_fixtures import cycling, qa_jsonl  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from ponder.bench.cli import make_app
from ponder.bench.report import write_report
from ponder.bench.runner import BenchConfig, run_bench
from ponder.engine import Engine


@pytest.fixture
async def finished_run(tmp_path, qa_jsonl, cycling):
    out = tmp_path / "run"
    cfg = BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}", strategies="cot; sc(n=1..8)", seeds=2,
                      out=str(out), progress=False)
    await run_bench(cfg, engine=Engine(cycling))
    return out


def test_html_report_holds_the_plots_and_the_tables(finished_run):
    path, report = write_report(finished_run)
    html = path.read_text()
    for metric in ("tokens", "flops", "wall_seconds"):
        assert (finished_run / f"accuracy_vs_{metric}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == 3 and all(len(i) > 1000 for i in images)
    assert 'id="points"' in html and 'id="matched"' in html
    for spec in ("cot", "sc(n=1)", "sc(n=8)"):
        assert f">{spec}<" in html
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    assert {p["spec"] for p in report["points"]} == {"cot", "sc(n=1)", "sc(n=2)", "sc(n=4)", "sc(n=8)"}


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson score interval (95 %) of k successes out of n, from its formula:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.975)
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_report_json_and_terminal_tables(finished_run):
    runner = CliRunner()
    res = runner.invoke(make_app(), ["report", str(finished_run), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"manifest", "summary", "points", "matched", "failures"} <= set(data)
    sc8 = next(p for p in data["points"] if p["spec"] == "sc(n=8)")
    # any 8 samples in a row of the cycle 42, 42, 7 vote 42: sc(n=8) answers 42 on every problem and
    # seed, which is right on the 4 of the 12 problems whose answer is 42
    assert (sc8["problems"], sc8["seeds"]) == (12, 2) and sc8["accuracy"] == pytest.approx(4 / 12)
    lo, hi = wilson(4, 12)
    assert (sc8["ci_low"], sc8["ci_high"]) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
    assert (round(lo, 4), round(hi, 4)) == (0.1381, 0.6094)  # the Wilson interval of 4 out of 12
    res = runner.invoke(make_app(), ["report", str(finished_run), "--no-html"])
    assert res.exit_code == 0 and "matched budgets" in res.output and "CI95" in res.output


def test_planner_compares_two_runs(finished_run):
    res = CliRunner().invoke(make_app(), ["report", str(finished_run), str(finished_run), "--price",
                                          "in=0.1,out=0.4,train=10", "--price", "in=1,out=4", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["comparison"]["crossover_correct_answers"] > 0


def _strict_json(text: str):
    """JSON as the standard has it: no Infinity or NaN, which ``json.loads`` takes and most readers refuse."""
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("prices, sentence", [
    (["in=0,out=0", "in=0.15,out=0.6"], "costs nothing per correct answer at its price"),
    (["in=0,out=0"], "both cost nothing per correct answer at these prices"),
])
def test_planner_json_of_a_free_run_is_valid_json(finished_run, prices, sentence):
    """A free run made the ratio Infinity (``"ratio": Infinity``, not JSON), also beside "both cost the same"."""
    args = ["report", str(finished_run), str(finished_run), "--json"]
    for price in prices:
        args += ["--price", price]
    res = CliRunner().invoke(make_app(), args)
    assert res.exit_code == 0, res.output
    comparison = _strict_json(res.output)["comparison"]
    assert comparison["ratio"] is None and sentence in comparison["sentence"], comparison


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.chromium
@pytest.mark.skipif(chromium() is None, reason="needs a headless Chromium (chromium not on PATH)")
def test_html_report_renders_in_headless_chromium(finished_run, tmp_path):
    path, _ = write_report(finished_run)
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2400", path.resolve().as_uri()],
                   check=True, timeout=120, capture_output=True)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # the plots drawn, not a blank page
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          path.resolve().as_uri()], check=True, timeout=120, capture_output=True, text=True).stdout
    assert dom.count("<img") == 3 and "matched" in dom


def test_tables_print_specs_and_task_names_as_text_not_markup():
    """A spec holding '[/b]' made rich raise MarkupError after the run was done, and '[red]' in a
    task name was swallowed."""
    import io

    from rich.console import Console

    from ponder.bench.planner import print_plan
    from ponder.bench.report import print_tables

    spec, task = "budget(think=8, answer_prompt='[/b] Answer:')", "jsonl:/d/[red]x.jsonl"
    point = {"spec": spec, "accuracy": 0.5, "tokens": 10}
    out = io.StringIO()
    console = Console(file=out, width=400)
    print_tables({"manifest": {"model": "m", "task": task, "seeds": 1},
                  "summary": {"problems": 2, "units_failed": 0, "retries": 0},
                  "points": [point], "matched": [{**point, "up_to": 10}]}, console)
    print_plan({"runs": [{"run": "r", "model": "m", "task": task, "throughput_tps": None, "chosen": point,
                          "points": [{**point, "cost_per_problem": None, "cost_per_correct": None}]}],
                "comparison": {"caveat": f"{task} against gsm8k", "sentence": f"{spec} costs less"}}, console)
    text = out.getvalue()
    assert text.count(spec) >= 3 and text.count("[red]x.jsonl") >= 3


def test_plots_draw_specs_with_dollar_signs(tmp_path):
    """Two '$' in a spec made matplotlib read the legend as math and fail after the run was done."""
    from ponder.bench.plots import plot_curves

    point = {"family": "budget(answer_prompt='Write it as $x^$. Answer:')", "accuracy": 0.5, "ci_low": 0.4,
             "ci_high": 0.6, "tokens": 10.0}
    path = plot_curves([point, {**point, "tokens": 20.0}], "tokens", tmp_path / "a.png", title="$1 on $x")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
