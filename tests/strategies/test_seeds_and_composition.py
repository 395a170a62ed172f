"""Seeds through composed strategies, and the strategies that draw from another one (``of=``)."""

from __future__ import annotations

import itertools

import pytest

from ponder import Engine, Problem, StrategySpecError
from ponder.strategies import build_strategy, run_strategy
from scripted import ScriptedBackend


def problem():
    return Problem.from_question("What is 3+4?", answer="7")


async def run(spec, backend):
    return await run_strategy(build_strategy(spec), problem(), Engine(backend))


def sample_seeds(backend):
    """The seed of every sample, by the convention of a server without ``n``: the call's seed + i."""
    return [q.seed + i for q in backend.requests for i in range(q.n)]


async def test_the_runs_of_a_strategy_without_its_own_sampler_get_distinct_seeds():
    # sc over sc: the inner sc has no sampler of its own, so the outer runs it n times; before,
    # each run was unseeded whatever the outer seed (not reproducible), or all took the inner
    # seed (n copies of one run, counted as n votes)
    for spec in ("sc(n=3, seed=7, of=sc(n=2))", "sc(n=3, of=sc(n=2, seed=7))"):
        backend = ScriptedBackend(lambda req, i: "Answer: 7")
        await run(spec, backend)
        seeds = [q.seed for q in backend.requests]
        assert len(seeds) == 3 and seeds[0] == 7 and len(set(seeds)) == 3, spec
        assert len(set(sample_seeds(backend))) == 6, spec  # no sample repeats another's seed
        again = ScriptedBackend(lambda req, i: "Answer: 7")
        await run(spec, again)
        assert [q.seed for q in again.requests] == seeds, spec  # reproducible
    unseeded = ScriptedBackend(lambda req, i: "Answer: 7")
    await run("sc(n=3, of=sc(n=2))", unseeded)
    assert [q.seed for q in unseeded.requests] == [None, None, None]


async def test_asc_rounds_never_reuse_a_seed():
    drawn = itertools.count()
    backend = ScriptedBackend(lambda req, i: f"Answer: {next(drawn) % 2}")  # split: all rounds run
    r = await run("asc(max_n=8, batch=2, seed=100)", backend)
    assert r.trace["samples"] == 8 and [q.n for q in backend.requests] == [4, 2, 2]
    # before, round r had seed 100 + r: a server without n repeated samples 1-3 of the first round
    assert sorted(sample_seeds(backend)) == list(range(100, 108))
    # the window rule draws a whole window a round (ESC's windows do not overlap), the last one cut
    # to max_n; the seeds still follow the samples drawn before each round
    window = ScriptedBackend(lambda req, i: f"Answer: {next(drawn) % 2}")
    w = await run("asc(rule=window, window=3, max_n=8, seed=100)", window)
    assert [(q.n, q.seed) for q in window.requests] == [(3, 100), (3, 103), (2, 106)] and w.trace["samples"] == 8
    assert sorted(sample_seeds(window)) == list(range(100, 108))


async def test_asc_draws_from_another_strategy():
    backend = ScriptedBackend(lambda req, i: "Answer: 7")
    r = await run("asc(max_n=8, of=budget(think=16, answer_prompt='Answer:'))", backend)
    assert r.answer == "7" and r.trace["samples"] == 4
    assert [c.score for c in r.candidates] == [1.0] * 4  # each sample's share of the vote, as in sc
    # budget's calls (a thinking call, then the answer) are the ones made, not a plain chain of thought
    assert all(q.max_tokens <= 32 for q in backend.requests)


async def test_refine_drafts_with_another_strategy():
    def reply(req, i):
        last = req.messages[-1]["content"]
        if last.startswith("Review"):
            return "NO ISSUES"
        return ["Answer: 7", "Answer: 7", "Answer: 8"][i]

    backend = ScriptedBackend(reply)
    r = await run("refine(of=sc(n=3))", backend)
    assert backend.requests[0].n == 3  # the draft is sc's vote over three samples
    assert r.candidates[0].answer == "7" and r.answer == "7" and r.trace["rounds"][0]["clean"]
    assert [e.role for e in r.ledger.entries] == ["policy", "critic"]


def test_a_key_a_strategy_does_not_have_is_named_as_unknown():
    with pytest.raises(StrategySpecError, match=r"^cot: unknown key 'of'\. Keys of cot: "):
        build_strategy("cot(of=sc(n=2))")
    with pytest.raises(StrategySpecError, match=r"^bon: temperature= does not take a strategy$"):
        build_strategy("bon(temperature=sc(n=2))")


@pytest.mark.parametrize("spec, temperatures", [
    # before, a pool drawn from another strategy was drawn at that strategy's own default (budget
    # and cot: greedy), so sc(n=3, of=budget(...)) voted over three copies of one greedy run
    ("sc(n=3, of=budget(think=8, answer_prompt='Answer:'))", {0.7}),
    ("sc(n=3, temperature=1.0, of=cot(max_tokens=8))", {1.0}),
    ("asc(max_n=4, of=cot(max_tokens=8))", {0.7}),
    ("bon(n=2, scorer=judge, of=cod)", {0.7, 0.0}),  # the samples at bon's 0.7, the judge greedy
    # an inner strategy whose spec sets its own temperature keeps it
    ("sc(n=3, temperature=1.0, of=cot(max_tokens=8, temperature=0.2))", {0.2}),
    # a strategy sampled by plain runs (refine) takes the outer temperature too: before, its draft,
    # critique and revision stayed greedy and sc voted over copies of one run
    ("sc(n=2, of=refine(rounds=1))", {0.7}),
    ("sc(n=2, of=refine(rounds=1, temperature=0.3))", {0.3}),
])
async def test_a_pool_drawn_from_another_strategy_is_drawn_at_the_outer_temperature(spec, temperatures):
    backend = ScriptedBackend(lambda req, i: "3+4=7" if req.stop else "Answer: 7")
    await run(spec, backend)
    assert {q.temperature for q in backend.requests} == temperatures


def test_a_temperature_set_under_a_modifier_is_kept():
    """tip has no temperature of its own: the one its inner strategy sets is the spec's (before, sc
    and bon drew tip(of=cot(temperature=0.2)) at their own 0.7)."""
    assert build_strategy("sc(n=2, of=tip(of=cot(temperature=0.2)))").pool_temperature() is None
    assert build_strategy("bon(n=2, of=tip(of=tip(of=cot(temperature=0.0))))").pool_temperature() is None
    assert build_strategy("sc(n=2, of=tip)").pool_temperature() == 0.7
    assert build_strategy("sc(n=2, temperature=0.4, of=tip(of=cot))").pool_temperature() == 0.4
