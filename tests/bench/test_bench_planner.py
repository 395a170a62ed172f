"""The cost planner: cost per correct answer from prices, GPU-hour pricing, and the crossover volume."""

from __future__ import annotations

import pytest

from ponder.bench.planner import PriceError, PriceSpec, plan


def report(name, accuracy, prompt, completion, tokens_per_s=None, task="t", problems=10):
    tokens = prompt + completion
    elapsed = None if tokens_per_s is None else 10 * tokens / tokens_per_s
    return {"run": name, "manifest": {"model": name, "task": task},
            "summary": {"tokens": 10 * tokens, "elapsed_seconds": elapsed, "problems": problems},
            "points": [{"spec": "x", "accuracy": accuracy, "prompt_tokens": prompt, "completion_tokens": completion,
                        "tokens": tokens}]}


def test_price_parsing():
    p = PriceSpec.parse("in=0.15, out=0.6, train=$5000")
    assert (p.input, p.output, p.train, p.gpu_hour) == (0.15, 0.6, 5000, None)
    assert PriceSpec.parse("gpu=2.5,tps=1000").gpu_hour == 2.5
    with pytest.raises(PriceError, match="needs in= and out="):
        PriceSpec.parse("in=1")
    with pytest.raises(PriceError, match="cannot read"):
        PriceSpec.parse("bogus=1")
    for bad, needle in (("in=-1,out=1", "in must be a non-negative"), ("in=1,out=nan", "out must be a non-negative"),
                        ("gpu=2,tps=0", "tps must be a positive")):
        with pytest.raises(PriceError, match=needle):
            PriceSpec.parse(bad)
    assert PriceSpec.parse("in=0,out=0").input == 0  # free is a price


def test_cost_per_correct_and_crossover():
    small = report("small", 0.8, prompt=2000, completion=8000)  # heavy scaling on a small model
    big = report("big", 0.9, prompt=200, completion=800)  # one pass on a big model
    out = plan([small, big], [PriceSpec.parse("in=0.1,out=0.4,train=1000"), PriceSpec.parse("in=5,out=20")])
    a, b = out["runs"]
    assert a["chosen"]["cost_per_problem"] == pytest.approx((2000 * 0.1 + 8000 * 0.4) / 1e6)
    assert a["chosen"]["cost_per_correct"] == pytest.approx(0.0034 / 0.8)
    assert b["chosen"]["cost_per_correct"] == pytest.approx((200 * 5 + 800 * 20) / 1e6 / 0.9)
    cmp = out["comparison"]
    assert cmp["cheaper_per_correct"] == "small"
    v = 1000 / (b["chosen"]["cost_per_correct"] - a["chosen"]["cost_per_correct"])
    assert cmp["crossover_correct_answers"] == pytest.approx(v)
    assert "overtakes big" in cmp["sentence"] and cmp["caveat"] is None


@pytest.mark.parametrize("other, says", [
    (dict(task="gsm8k"), "the runs solved different tasks (t and gsm8k)"),
    (dict(problems=50), "different numbers of problems of t (10 and 50)"),
])
def test_a_comparison_of_runs_on_different_problems_says_so(other, says):
    out = plan([report("small", 0.8, 2000, 8000), report("big", 0.9, 200, 800, **other)],
               [PriceSpec.parse("in=1,out=1")])
    assert says in out["comparison"]["caveat"]


def test_a_comparison_with_failed_units_says_so():
    failing = report("big", 0.9, 200, 800)
    failing["points"][0]["errors"] = 3
    out = plan([report("small", 0.8, 2000, 8000), failing], [PriceSpec.parse("in=1,out=1")])
    assert "units failed and are left out of accuracy and cost (big: 3)" in out["comparison"]["caveat"]


def test_picks_are_one_per_run():
    runs = [report("a", 0.8, 2000, 8000), report("b", 0.9, 200, 800), report("c", 0.5, 10, 10)]
    with pytest.raises(PriceError, match=r"give one --pick per run \(3\), in the order of the runs, or one for all, "
                                         "not 2"):
        plan(runs, [PriceSpec.parse("in=1,out=1")], ["x", "x"])
    assert len(plan(runs, [PriceSpec.parse("in=1,out=1")], ["x", "x", "x"])["runs"]) == 3


def test_gpu_hour_pricing_uses_measured_throughput():
    r = report("local", 0.5, prompt=100, completion=900, tokens_per_s=1000)  # 1000 tokens at 1000 tok/s
    out = plan([r], [PriceSpec.parse("gpu=3.6")])
    assert out["runs"][0]["throughput_tps"] == pytest.approx(1000)
    assert out["runs"][0]["chosen"]["cost_per_problem"] == pytest.approx(1 / 3600 * 3.6)
    assert out["runs"][0]["chosen"]["cost_per_correct"] == pytest.approx(0.002)


def test_an_unpriced_point_does_not_win_a_tie_of_accuracy():
    """A point whose cost is unknown (its backend counted no tokens) was taken as costing 0 and
    won a tie with a priced point, leaving the runs uncompared."""
    from ponder.bench.planner import _choose

    unpriced = {"spec": "sc(n=4)", "accuracy": 0.8, "cost_per_problem": None}
    priced = {"spec": "sc(n=8)", "accuracy": 0.8, "cost_per_problem": 0.02}
    assert _choose([unpriced, priced], None, "r")["spec"] == "sc(n=8)"
    assert _choose([priced, unpriced], None, "r")["spec"] == "sc(n=8)"
    assert _choose([{**unpriced, "accuracy": 0.9}, priced], None, "r")["spec"] == "sc(n=4)"  # more accurate


def test_a_free_run_has_no_ratio():
    """A cost of 0 per correct answer made the ratio infinite (and invalid JSON)."""
    runs = [report("free", 0.8, 2000, 8000), report("paid", 0.9, 200, 800)]
    cmp = plan(runs, [PriceSpec.parse("in=0,out=0"), PriceSpec.parse("in=1,out=1")])["comparison"]
    assert cmp["ratio"] is None and cmp["cheaper_per_correct"] == "free"
    assert cmp["sentence"].startswith("free costs nothing per correct answer at its price (against $0.00111111 "
                                      "for paid) at every volume"), cmp["sentence"]
    cmp = plan(runs, [PriceSpec.parse("in=0,out=0")])["comparison"]
    assert cmp["ratio"] is None and cmp["cheaper_per_correct"] is None
    assert cmp["sentence"] == "both cost nothing per correct answer at these prices", cmp["sentence"]
    cmp = plan(runs, [PriceSpec.parse("in=1,out=1")])["comparison"]
    assert cmp["ratio"] == pytest.approx((10000 / 0.8) / (1000 / 0.9))


@pytest.mark.parametrize("accuracy, says", [
    (None, "no comparison: broken: no graded point (every unit failed;"),
    (0.0, "no comparison: broken x: no correct answer, so no cost per correct answer"),
])
def test_no_comparison_says_why(accuracy, says):
    """A run without a graded point (every unit failed), or with no correct answer, left the two runs
    uncompared without a word."""
    out = plan([report("ok", 0.8, 2000, 8000), report("broken", accuracy, 200, 800)], [PriceSpec.parse("in=1,out=1")])
    assert out["comparison"] is None and out["not_compared"].startswith(says), out["not_compared"]
