"""Weighted voting and diverse verifier tree search doing their job on the lab policy, with the
task's exact checker as the verifier (so that what is tested is the strategy, not the lab PRM):
on `countdown`, where different right expressions split a plain vote."""

from __future__ import annotations

from lab_fixtures import accuracy, lab_engine, problems, run_all, tokens  # noqa: F401  (fixture)


def test_weighted_voting_takes_a_right_answer_whenever_a_sample_has_one(lab_engine):
    probs = problems("countdown", 20)
    weighted = run_all(lab_engine, "wbon(n=8, scorer=exact)", probs)
    voted = run_all(lab_engine, "sc(n=8)", probs)  # the same 8 samples per problem (same seeds)
    for r, p in zip(weighted, probs):
        right = [c for c in r.candidates if c.answer is not None and p.checker(c.answer)]
        assert bool(r.correct) == bool(right), (p.question, r.answer, [c.answer for c in r.candidates])
    # a vote counts each expression apart; the weights count every right one
    assert accuracy(weighted) >= accuracy(voted) + 0.15, (accuracy(weighted), accuracy(voted))
    assert tokens(weighted) == tokens(voted)  # the checker calls no model


def test_dvts_with_an_exact_value_solves_more_than_voting_at_no_more_tokens(lab_engine):
    probs = problems("countdown", 20)
    dvts = run_all(lab_engine, "dvts(n=8, width=4, scorer=exact)", probs)
    voted = run_all(lab_engine, "sc(n=16)", probs)
    assert tokens(dvts) <= tokens(voted), (tokens(dvts), tokens(voted))
    assert accuracy(dvts) >= accuracy(voted) + 0.15, (accuracy(dvts), accuracy(voted))  # 70 % against 30 %
    for r in dvts:  # n/width = 2 independent subtrees, each choosing its first step of 4 too
        assert sum(node["depth"] == 1 for node in r.trace["nodes"]) == 8 and r.trace["finished"] <= 2


def test_the_prm_scores_an_unfinished_path_once_a_step_as_the_finished_one(lab_engine):
    """A step search scores paths that end with the step delimiter: each step gets one score, the
    one it gets in the finished path (a second tag at the end was a score of an empty step, read
    where no training text has one, and the default `agg=last` took it)."""
    import asyncio

    from ponder.scorers import build_scorer

    [problem] = problems("arith?difficulty=5", 1)
    [greedy] = run_all(lab_engine, "cot", [problem])
    text = greedy.candidates[0].text
    cut = text.index(";", text.index(";") + 1) + 1  # the path after its first two steps
    scorer = build_scorer("prm(cache=false)")
    partial = asyncio.run(scorer.step_scores(problem, text[:cut], lab_engine.for_problem()))
    whole = asyncio.run(scorer.step_scores(problem, text, lab_engine.for_problem()))
    assert len(partial) == 2 and len(whole) == text.count(";") + 1
    assert partial == whole[:2]
