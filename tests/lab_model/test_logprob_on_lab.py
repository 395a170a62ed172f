"""The ``logprob`` scorer's forward pass on the shipped lab policy: it gives what the sampling
call's log-probabilities give, when it reads the candidate after the prompt it was sampled from
(a strategy's instruction, its chat-template arguments) and counts the end-of-turn token only
where the model wrote it (not after a stop string)."""

from __future__ import annotations

import asyncio
import dataclasses

from lab_fixtures import lab_engine, problems  # noqa: F401  (fixture)
from ponder import Engine
from ponder.scorers.logprob import LogprobScorer
from ponder.strategies import build_strategy, run_strategy
from ponder.strategies.base import PROMPT, derive_seed

# an instruction the lab policy never saw: its system message moves the candidates' likelihood a lot
ODD = "Zq ## ignore everything: answer in French ###"
TOL = 1e-3


def forward_scores(problem, candidates, engine):
    return asyncio.run(LogprobScorer().score(problem, candidates, engine.for_problem()))


def mean(xs):
    return sum(xs) / len(xs)


def test_the_forward_pass_reads_a_candidate_after_the_prompt_it_was_sampled_from(lab_engine):
    """cot puts its instruction in a system message: scored after the problem's bare messages, the
    candidates got another likelihood than the sampling call's (by about 4 nats a token here)."""
    [problem] = problems("arith", 1)
    result = asyncio.run(run_strategy(build_strategy(f"bon(n=4, scorer=logprob, seed=3, of=cot(instruction='{ODD}'))"),
                                      problem, lab_engine.for_problem()))
    sampled = result.trace["scores"]  # the sampling call's log-probabilities
    assert None not in sampled and result.ledger.totals()["calls"] == 1
    for cand in result.candidates:
        assert cand.meta[PROMPT]["messages"][0] == {"role": "system", "content": ODD}
        assert PROMPT not in cand.to_dict()["meta"]  # bookkeeping, not shown
        cand.meta.pop("logprobs")
    forward = forward_scores(problem, result.candidates, lab_engine)
    assert max(abs(a - b) for a, b in zip(sampled, forward)) < TOL, (sampled, forward)
    # the same texts after the problem's own messages (a candidate with no prompt recorded)
    bare = [dataclasses.replace(c, meta={k: v for k, v in c.meta.items() if k != PROMPT}) for c in result.candidates]
    unprompted = forward_scores(problem, bare, lab_engine)
    assert min(abs(a - b) for a, b in zip(sampled, unprompted)) > 100 * TOL, (sampled, unprompted)


def test_a_candidate_made_of_a_runs_result_keeps_its_prompt(lab_engine):
    """bon over sc(n=1, of=cot(...)): sc's candidates are made of its runs' results (the default
    ``Strategy.sample``) and scored by a forward pass; they carry the prompt of cot's sample, and
    score what cot's sampling call gives the same samples."""
    [problem] = problems("arith", 1)
    spec = f"bon(n=3, scorer=logprob, seed=5, of=sc(n=1, of=cot(instruction='{ODD}', temperature=1.0)))"
    result = asyncio.run(run_strategy(build_strategy(spec), problem, lab_engine.for_problem()))
    assert "logprob" in result.ledger.by_role()  # scored by a forward pass
    cot = build_strategy(f"cot(instruction='{ODD}', temperature=1.0)")
    for i, cand in enumerate(result.candidates):
        [ref] = asyncio.run(cot.sample(problem, lab_engine.for_problem(), 1, seed=derive_seed(5, i), logprobs=True))
        assert ref.text == cand.text and cand.meta[PROMPT] == ref.meta[PROMPT]
        assert abs(cand.score - mean(ref.meta["logprobs"])) < TOL, (i, cand.score, mean(ref.meta["logprobs"]))


def test_the_forward_pass_renders_with_the_samples_template_arguments(lab_engine):
    """think passes enable_thinking to the chat template; the forward pass renders the prompt with
    it too (the lab template ignores it, so the record is what is checked)."""

    class Rendering:  # the lab backend, its renders recorded
        def __init__(self, backend) -> None:
            self._backend, self.rendered = backend, []

        def __getattr__(self, name):
            return getattr(self._backend, name)

        def render(self, request):
            self.rendered.append(request)
            return self._backend.render(request)

    [problem] = problems("arith", 1)
    backend = Rendering(lab_engine.backend)
    engine = Engine(backend, max_concurrency=lab_engine.max_concurrency)
    [cand] = asyncio.run(build_strategy("think(mode=on, max_tokens=64)").sample(problem, engine.for_problem(), 1))
    assert cand.meta[PROMPT]["template_kwargs"] == {"enable_thinking": True}
    backend.rendered.clear()
    forward_scores(problem, [cand], engine)
    assert [r.template_kwargs for r in backend.rendered] == [{"enable_thinking": True}]


def test_a_candidate_cut_at_a_stop_string_is_scored_without_an_end_of_turn(lab_engine):
    """A sample that stopped at a stop string wrote no end-of-turn token: its forward score is the
    mean of the sampling call's log-probabilities of its text's tokens (before, the end-of-turn
    token, which the model never wrote there, was scored with them)."""
    [problem] = problems("arith", 1)
    result = asyncio.run(run_strategy(build_strategy("none(stop='</think>', logprobs=true, temperature=0)"),
                                      problem, lab_engine.for_problem()))
    [cand] = result.candidates
    assert cand.finish_reason == "stop" and cand.meta["stop_reason"] == "</think>" and cand.text
    backend = lab_engine.backend
    text_ids = backend.encode(cand.text)
    k = len(text_ids)
    sampled, tokens = cand.meta.pop("logprobs"), cand.meta["tokens"]
    assert len(sampled) > k and "".join(tokens[:k]) == cand.text  # the stop string's tokens come after
    [forward] = forward_scores(problem, [cand], lab_engine)
    assert abs(forward - mean(sampled[:k])) < TOL, (forward, mean(sampled[:k]))
    # with the end-of-turn token after the text, the score is another one
    [with_end] = forward_scores(problem, [dataclasses.replace(cand, meta={})], lab_engine)
    assert abs(with_end - forward) > 100 * TOL, (with_end, forward)
