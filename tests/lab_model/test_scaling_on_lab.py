"""Part-1 strategies doing their job on the shipped lab models (fixed seeds, small samples).

Targets the lab models do not reach yet are measured by benchmarks/lab_targets.py instead.

These are checks of behaviour on a real model, not timings; the figures with larger samples come
from `ponder lab eval` and the scripts under benchmarks/.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from lab_fixtures import accuracy, lab_engine, problems, run_all, tokens  # noqa: F401  (fixture)
from ponder import StrategySpecError
from ponder.lab.engine_eval import evaluate
from ponder.strategies import build_strategy, run_strategy


def test_voting_beats_one_sample_by_eight_points():
    report = asyncio.run(evaluate("embedded", "arith", limit=48, seed=0, max_n=16, scorer=None))
    at16 = report.by_n[16]
    assert at16["majority"] >= at16["one_sample"] + 0.08, at16
    assert at16["any_correct"] >= 0.8, at16


def test_budget_forcing_never_exceeds_the_thinking_budget(lab_engine):
    probs = problems("arith?difficulty=6", 12)
    for think in (24, 64):
        for r in run_all(lab_engine, f"budget(think={think}, wait=2, answer_prompt='Answer:')", probs):
            meta = r.candidates[0].meta
            assert meta["thinking_tokens"] <= think
            assert meta["forced_end"] or meta["waits"] == 2


def test_the_answer_prompt_is_written_only_after_a_forced_end(lab_engine):
    """budget's default "Final Answer:" was written after every thought, also one the model ended
    itself: the lab model, which answers after "Answer:", then wrote a wrong number every time
    (0 of 8 here, where cot had 8). Now a thought ended by the model is followed by its own answer,
    and only a cut one gets the prompt."""
    probs = problems("arith", 8)
    plain = run_all(lab_engine, "cot", probs)
    natural = run_all(lab_engine, "budget(think=256)", probs)
    assert [r.answer for r in natural] == [r.answer for r in plain]
    assert all(not r.trace["forced_end"] and "Final Answer:" not in r.text for r in natural)
    cut = run_all(lab_engine, "budget(think=4)", probs)
    assert all(r.trace["forced_end"] and "</think> Final Answer:" in r.text for r in cut)


def test_min_think_masks_the_end_of_thinking_in_one_call(lab_engine):
    """On a backend with logits, min_think is s1's suppression: the end-of-thinking token is masked
    until min_think tokens, in the same call (one thinking call, one answer call), not a new call
    with "Wait" each time the model ends (18 calls for min_think=440 before)."""
    for r in run_all(lab_engine, "budget(think=200, min_think=100, answer_prompt='Answer:')", problems("arith", 4)):
        meta = r.candidates[0].meta
        assert 100 <= meta["thinking_tokens"] <= 200 and meta["waits"] == 0
        assert r.ledger.calls == 2, [(e.prompt_tokens, e.completion_tokens) for e in r.ledger.entries]


def test_forced_waits_keep_the_answers(lab_engine):
    """The policy recomputes after a forced "Wait" and stops when two attempts agree: two forced
    waits (greedy, as in s1) keep the accuracy of no forcing. The policy before the vote stage
    answered 0 of 40 with wait=2 (it invented steps after a second "Wait")."""
    probs = problems("arith", 30)
    plain = run_all(lab_engine, "budget(think=256, wait=0, answer_prompt='Answer:')", probs)
    forced = run_all(lab_engine, "budget(think=256, wait=2, answer_prompt='Answer:')", probs)
    assert all(r.candidates[0].meta["waits"] == 2 for r in forced)
    assert accuracy(forced) >= accuracy(plain) - 0.1, (accuracy(forced), accuracy(plain))


def test_thought_switching_penalty_lowers_switches(lab_engine):
    probs = problems("countdown", 16)

    def switches(results):
        return sum(len(re.findall(r"Alternatively", c.text)) for r in results for c in r.candidates)

    free = run_all(lab_engine, "tip(alpha=0, of=sc(n=8, temperature=1.0))", probs)
    penalised = run_all(lab_engine, "tip(alpha=3, of=sc(n=8, temperature=1.0))", probs)
    assert switches(free) > 0
    assert switches(penalised) < switches(free), (switches(penalised), switches(free))
    # tip's seed seeds the strategy it penalises (the proxy's seed reaches it)
    texts = [asyncio.run(run_strategy(build_strategy(f"tip(seed={s}, of=cot(temperature=1.0))"), probs[0],
                                      lab_engine.for_problem())).text for s in (3, 3, 4)]
    assert texts[0] == texts[1] != texts[2]
    # a switch word this tokenizer has no token of its own for would be penalised nowhere: an error
    # before any call (before, tip(words=[Hmm]) ran as the strategy without any penalty)
    with pytest.raises(StrategySpecError, match=r"^tip: no token .* switch word\(s\) 'Hmm'"):
        build_strategy("tip(words=[Alternatively, Hmm])").check(lab_engine)
    build_strategy("tip(words=[Alternatively])").check(lab_engine)


def test_the_thought_a_continuation_goes_on_counts_toward_beta(lab_engine):
    """A call that continues a partial message (budget forcing's "Wait", a search step) is inside
    a thought that began in the message: the penalty ends beta tokens after that start, not after
    the call's (every continuation began a new window of beta tokens of penalty)."""
    import torch

    from ponder.strategies.tip import SwitchPenalty
    from ponder.types import GenerationRequest

    penalised = build_strategy("tip(beta=20)").penalised(lab_engine)
    [factory] = penalised.processor_factories
    backend = lab_engine.backend
    ask = [{"role": "user", "content": "Compute left to right: 12+30*2"}]
    thought = "<think> 12+30=42; 42*2=84; 84-4=80;"
    assert factory(GenerationRequest(messages=ask)).carried == 0
    assert factory(GenerationRequest(messages=ask, prefix=thought)).carried == len(backend.encode(thought))
    # the same partial turn as a final assistant message (the proxy's continuations)
    turn = [*ask, {"role": "assistant", "content": thought}]
    assert factory(GenerationRequest(messages=turn)).carried == len(backend.encode(thought))
    after = " Alternatively, 30*2=60;"
    assert factory(GenerationRequest(messages=ask, prefix=thought + after)).carried == len(
        backend.encode(thought + after)) - len(backend.encode(thought + " Alternatively"))
    # the window: penalised while fewer than beta tokens of the thought have passed
    switch = factory(GenerationRequest(messages=ask)).token_ids
    for carried, penalised_now in ((0, True), (17, True), (18, False)):
        proc = SwitchPenalty(switch, alpha=3, beta=20, carried=carried)
        proc(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 516))  # the prompt: 5 tokens
        scores = proc(torch.zeros(1, 7, dtype=torch.long), torch.zeros(1, 516))  # 2 new tokens
        assert bool((scores[0, switch] < 0).all()) == penalised_now, carried


def test_chain_of_draft_uses_fewer_tokens_than_chain_of_thought(lab_engine):
    probs = problems("arith", 24)
    cot = run_all(lab_engine, "cot", probs)
    cod = run_all(lab_engine, "cod", probs)
    assert tokens(cod) < tokens(cot), (tokens(cod), tokens(cot))
    # fewer tokens because the drafts are short, not because they were cut: the drafts end on their
    # own and answer (all 24 when written; their answers are often wrong, which the lab documents)
    finishes = [c.finish_reason for r in cod for c in r.candidates]
    assert len(finishes) == len(probs) and finishes.count("stop") >= 0.9 * len(probs), finishes
    assert sum(r.answer is not None for r in cod) >= 0.9 * len(probs), [r.text[-60:] for r in cod]


def test_adaptive_consistency_stops_early_at_about_the_same_accuracy(lab_engine):
    probs = problems("arith", 40)
    sc = run_all(lab_engine, "sc(n=16)", probs)
    asc = run_all(lab_engine, "asc(max_n=16)", probs)
    drawn = sum(len(r.candidates) for r in asc) / len(asc)
    assert drawn <= 0.6 * 16, drawn
    assert tokens(asc) < 0.8 * tokens(sc), (tokens(asc), tokens(sc))
    assert accuracy(asc) >= accuracy(sc) - 0.05, (accuracy(asc), accuracy(sc))


def test_refine_and_feedback_edit_run_end_to_end(lab_engine):
    probs = problems("arith", 2)
    for spec, roles in (("refine(rounds=2, max_tokens=96, feedback_tokens=48)", {"policy", "critic"}),
                        ("feedback_edit(n=2, feedbacks=1, edits=1, max_tokens=96)", {"policy", "feedback", "editor"})):
        for r in run_all(lab_engine, spec, probs):
            assert roles <= set(r.ledger.by_role()), (spec, r.ledger.by_role().keys())
            assert r.ledger.completion_tokens and r.ledger.completion_tokens > 0
            assert r.candidates


def test_best_of_n_by_likelihood_reads_the_sampling_calls_logprobs(lab_engine):
    """bon(scorer=logprob) asks for the candidates' log-probabilities in the sampling call: one
    call, and the same scores as a forward pass over each candidate would give."""
    from ponder.scorers.logprob import LogprobScorer
    from ponder.strategies import build_strategy, run_strategy

    [problem] = problems("arith", 1)
    engine = lab_engine.for_problem()
    result = asyncio.run(run_strategy(build_strategy("bon(n=6, scorer=logprob, seed=3)"), problem, engine))
    assert result.ledger.totals()["calls"] == 1 and "logprob" not in result.ledger.by_role()
    forward = LogprobScorer()  # scores by a forward pass, as for candidates without logprobs
    for cand in result.candidates:
        cand.meta.pop("logprobs")
    again = asyncio.run(forward.score(problem, result.candidates, lab_engine.for_problem()))
    assert max(abs(a - b) for a, b in zip(result.trace["scores"], again)) < 1e-3
    assert result.trace["chosen"] == max(range(6), key=lambda i: (again[i], -i))


def test_best_of_n_by_vote_is_majority_voting_over_the_same_samples(lab_engine):
    """scorer=vote scores each sample by the share of samples that agree with it: bon picks what sc
    votes for, from the same samples, and calls no model to score."""
    probs = problems("arith", 12)
    by_vote = run_all(lab_engine, "bon(n=8, scorer=vote)", probs)
    voted = run_all(lab_engine, "sc(n=8)", probs)
    assert [r.answer for r in by_vote] == [r.answer for r in voted]
    for r in by_vote:
        assert set(r.ledger.by_role()) == {"policy"}
        answers = [c.answer for c in r.candidates]
        assert r.trace["scores"][r.trace["chosen"]] == max(r.trace["scores"])
        assert max(r.trace["scores"]) == answers.count(r.answer) / len(answers)
    assert len({r.answer for r in by_vote}) > 1  # not one constant answer


def test_composed_sampling_keeps_the_inner_rules_and_is_reproducible(lab_engine):
    probs = problems("arith?difficulty=6", 6)
    for r in run_all(lab_engine, "asc(max_n=8, of=budget(think=24, answer_prompt='Answer:'))", probs):
        assert len(r.candidates) >= 4 and all(c.meta["thinking_tokens"] <= 24 for c in r.candidates)
    spec = "sc(n=4, of=bon(n=2, temperature=1.0))"  # bon has no sampler of its own: sc runs it 4 times
    first, again = (run_all(lab_engine, spec, probs[:3], seed=1) for _ in range(2))
    texts = [[c.text for c in r.candidates] for r in first]
    assert texts == [[c.text for c in r.candidates] for r in again]  # seeded through the nesting
    assert max(len(set(t)) for t in texts) > 1  # and the 4 runs are not one run counted 4 times


def test_a_short_budget_holds_and_is_spent_on_finishing_the_first_runs(lab_engine):
    """Eight budget-forced samples at once (each a thinking call, then an answer call) under 400
    tokens, about four samples' worth. The calls share the budget (each claims its prompt and
    completion before it starts), the first runs are served first, and a run starts only while
    the runs before it keep enough to finish: no problem goes over the budget and every one gets
    a voted answer. Before, all eight thinking calls started at once, each given the whole budget,
    and the first answer call the budget refused threw the finished samples away: on the first 20
    problems under 400 tokens, 1 got an answer and they spent 620 tokens on average; with shared
    claims but every run started while the budget lasted, 12 got one (`benchmarks/tight_budget.py`)."""
    import ponder
    from ponder import Budget

    spec = "sc(n=8, of=budget(think=64, answer_prompt='Answer:', temperature=0.7, seed=3))"
    results = [ponder.solve(p, model=lab_engine, strategy=spec, budget=Budget(max_tokens=400))
               for p in problems("arith", 8)]
    assert all(r.ledger.total_tokens <= 400 and r.budget_exhausted for r in results)
    assert all(r.answer is not None for r in results)
    for r in results:
        assert all(c.meta["thinking_tokens"] <= 64 for c in r.candidates if c.answer is not None)
    # a call budget of 8, four runs' worth: a run starts only while each run before it that has
    # not ended keeps a call for its answer, so four runs finish (before, eight thinking calls
    # started and none answered)
    r = ponder.solve(problems("arith", 1)[0], model=lab_engine, strategy=spec, budget=Budget(max_calls=8))
    assert r.ledger.calls == 8 and r.answer is not None and r.stop_reason == "call budget of 8 spent"
    assert [c.finish_reason for c in r.candidates] == ["stop"] * 4 + ["budget"] * 4
