"""Engine, ledger and budget: totals, FLOPs, cost, budget clamping and exhaustion."""

from __future__ import annotations

import re

import pytest

import ponder
from ponder import Budget, BudgetError, Engine, GenerationRequest, Ledger, Price, Usage
from ponder.types import Capabilities, Generation, Sample


class Scripted:
    """A scripted backend for control flow: returns fixed samples and reported usage."""

    name = "scripted"

    def __init__(self, text="Answer: 4", completion=5, prompt=10):
        self.text, self.completion, self.prompt = text, completion, prompt
        self.requests: list[GenerationRequest] = []

    def capabilities(self):
        return Capabilities(num_parameters=1000)

    def count_tokens(self, text):
        return self.prompt  # every prompt is `prompt` tokens long (what a call claims of a budget)

    async def generate(self, request):
        self.requests.append(request)
        k = min(self.completion, request.max_tokens)
        finish = "length" if k < self.completion else "stop"
        samples = [Sample(text=self.text, finish_reason=finish, token_ids=list(range(k))) for _ in range(request.n)]
        return Generation(samples, Usage(prompt_tokens=self.prompt, completion_tokens=k * request.n))


def test_ledger_totals_flops_cost_and_unknowns():
    led = Ledger()
    led.record(role="policy", model="a", n=2, usage=Usage(prompt_tokens=100, cached_prompt_tokens=40,
               completion_tokens=50, reasoning_tokens=20), wall_seconds=1.0, finish_reasons=["stop"] * 2,
               num_parameters=10)
    led.record(role="prm", model="b", n=1, usage=Usage(prompt_tokens=30), wall_seconds=0.5, finish_reasons=[],
               num_parameters=None)
    assert (led.calls, led.prompt_tokens, led.completion_tokens, led.cached_prompt_tokens) == (2, 130, 50, 40)
    assert led.flops()["total"] is None  # model b's size is unknown: no guess
    assert led.by_role()["policy"].flops() == {"prefill": 2 * 10 * 60, "decode": 2 * 10 * 50, "total": 2200}
    assert led.cost({"a": Price(1.0, 2.0, 0.5)}) is None  # b is not priced
    only_a = led.by_role()["policy"]
    assert only_a.cost({"a": Price(1.0, 2.0, 0.5)}) == pytest.approx((60 * 1 + 40 * 0.5 + 50 * 2) / 1e6)
    assert "unknown" not in only_a.summary() and "2 calls" in led.summary()
    # b's call reported no completion tokens: the totals leave it out and say they are a lower bound
    assert led.uncounted_calls == led.totals()["uncounted_calls"] == 1 and only_a.uncounted_calls == 0
    assert "tokens in at least 130, out at least 50" in led.summary() and "1 call not counted" in led.summary()
    assert "at least" not in only_a.summary()
    empty = Ledger()  # no call at all: nothing spent, which is known
    assert (empty.prompt_tokens, empty.completion_tokens, empty.total_tokens) == (0, 0, 0)
    empty.record(role="execution", model="sandbox", n=1, usage=Usage(), wall_seconds=0.1, finish_reasons=["passed"],
                 model_call=False)
    assert empty.total_tokens == 0 and "unknown" not in empty.summary()  # a sandbox run spends no tokens
    empty.record(role="policy", model="x", n=1, usage=Usage(), wall_seconds=0.1, finish_reasons=["stop"])
    assert empty.completion_tokens is None and "unknown" in empty.summary()
    # sandbox runs (S*) are in the ledger but are no model's work: they neither hide the FLOPs nor
    # the cost of the model calls beside them
    only_a.record(role="execution", model="sandbox", n=3, usage=Usage(), wall_seconds=0.2,
                  finish_reasons=["passed"] * 3, model_call=False)
    assert only_a.flops()["total"] == 2200 and only_a.cost({"a": Price(1.0, 2.0, 0.5)}) is not None
    assert only_a.summary().startswith("1 call,") and only_a.calls == 1 and only_a.other_runs == 3
    assert "1.00s model time, 0.20s other work (3 sandbox runs)" in only_a.summary()
    # model time is the model calls' (the totals, and the bench's 'model s', counted the sandbox too)
    assert only_a.totals()["wall_seconds"] == 1.0 and only_a.totals()["other_seconds"] == 0.2


def test_a_result_as_json_has_no_nan_or_infinity():
    """A candidate's score of -inf (logprob of an empty sample) made ponder solve --json print
    -Infinity, which strict JSON parsers refuse."""
    import json

    from ponder.types import Candidate, Result

    r = Result(answer="7", text="7", strategy="bon", candidates=[Candidate(text="", answer=None, score=float("-inf")),
                                                                  Candidate(text="7", answer="7", score=-0.1)],
               trace={"scores": [float("nan"), -0.1]})
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert [c["score"] for c in d["candidates"]] == [None, -0.1] and d["trace"]["scores"] == [None, -0.1]


def test_a_time_budget_counts_from_the_start_of_the_strategy_not_from_its_making():
    import asyncio
    import time

    from ponder.strategies import build_strategy, run_strategy

    engine = Engine(Scripted(), budget=Budget(max_seconds=0.2))
    time.sleep(0.3)  # loading models, say: not the strategy's time
    result = asyncio.run(run_strategy(build_strategy("cot"), ponder.Problem.from_question("2+2?"), engine))
    assert result.answer == "4" and engine.ledger.calls == 1

    class SlowToConnect(Scripted):
        """As the openai backend: its client is made at the first call (about half a second in a
        fresh process), and a call is left, empty, when its deadline (the time budget) has passed."""
        connected = False

        def prepare(self):
            if not self.connected:
                time.sleep(0.3)
                self.connected = True

        async def generate(self, request):
            self.prepare()
            if request.deadline is not None and time.monotonic() > request.deadline:
                return Generation([Sample(text="", finish_reason="budget")], Usage(prompt_tokens=self.prompt))
            return await super().generate(request)

    engine = Engine(SlowToConnect(), budget=Budget(max_seconds=0.2))
    result = asyncio.run(run_strategy(build_strategy("cot"), ponder.Problem.from_question("2+2?"), engine))
    assert result.answer == "4" and not result.budget_exhausted  # before: the time was up at the first call


def test_scoring_calls_stay_within_a_token_budget_and_are_seen_by_on_call():
    """A PRM call claims the tokens it reads: one that does not fit is not made (they used to go
    over the budget), and the scores finished before it are kept. Under a short token budget bon
    draws and scores a wave at a time: before, the samples took all of it and the answers went
    unscored (under 200 and 300 tokens the spec below answered nothing, under 400 scored none of
    its 4 answers, under 600 one of 5)."""
    question = "Compute left to right: 549-524-12*9"
    for limit in (150, 200, 300, 400, 600, 1000):
        r = ponder.solve(question, strategy="bon(n=8, scorer=orm, seed=1)", budget={"max_tokens": limit})
        assert r.ledger.total_tokens <= limit, (limit, r.ledger.total_tokens)
        answered = [c for c in r.candidates if c.answer is not None]
        scored = [c for c in answered if c.score is not None]
        assert answered and r.budget_exhausted, limit
        # every answer is scored but the last wave's, whose score the budget may refuse when its
        # sample came out longer than those before it (300 tokens: 41 tokens, then 52); where one
        # sample and its score do not fit (150 tokens), none is
        drawn = [c for c in r.candidates if c.text]
        assert len(answered) - len(scored) <= 1 or (limit == 150 and not scored), limit
        assert all(c.score is not None for c in drawn[:-1] if c.answer is not None), limit
        assert all(c.meta["unscored"] == "no answer to score" for c in r.candidates if c.answer is None and c.text)
        assert all(c.finish_reason == "budget" for c in r.candidates if not c.text)  # not drawn
    # 1000 tokens: every answer scored, a score call for each text (the scorer reads equal texts once)
    assert len(scored) >= 4 and r.ledger.by_role()["orm"].calls == len({c.text for c in scored})
    import asyncio

    from ponder.scorers import build_scorer

    problem = ponder.Problem.from_question(question)
    texts = [f"<think> 549-524=25; 25-12=13; 13*9={x} </think> Answer: {x}" for x in (117, 107, 127, 137)]
    cands = [ponder.Candidate(text=t, answer=t[-3:]) for t in texts]
    orm = build_scorer("orm")
    engine = Engine.from_spec("embedded", budget=Budget(max_tokens=10_000))
    reads = len(orm.input_ids(problem, texts[0]))
    short = engine.for_problem(Budget(max_tokens=2 * reads + reads // 2))  # two reads fit, not three
    scores = asyncio.run(orm.score(problem, cands, short))
    assert [s is not None for s in scores] == [True, True, False, False] and short.budget.tokens_used <= 2.5 * reads
    import asyncio

    from ponder.strategies import build_strategy, run_strategy

    seen = []  # what ponder bench writes to a run's calls table
    engine = Engine.from_spec("embedded", on_call=lambda entry, samples: seen.append(entry.role))
    asyncio.run(run_strategy(build_strategy("bon(n=2, seed=1)"), ponder.Problem.from_question(question), engine))
    assert seen.count("prm") == 2 and "policy" in seen


def test_an_engine_with_logits_processors_is_the_same_engine_with_them():
    class Tagged(Engine):
        pass

    def factory(request):
        return None

    parent = Tagged(Scripted(), budget=Budget(max_tokens=100))
    child = parent.with_logits_processors(factory)
    assert type(child) is Tagged and child.processor_factories == [factory] and parent.processor_factories == []
    assert child.ledger is parent.ledger and child.budget is parent.budget and child._sem() is parent._sem()


@pytest.mark.parametrize("field", ["max_tokens", "max_calls", "max_seconds"])
@pytest.mark.parametrize("value", [0, -3, float("nan"), "100", True])
def test_budget_must_be_positive(field, value):
    with pytest.raises(BudgetError, match=f"budget {field} must be a positive number"):
        Budget(**{field: value})


@pytest.mark.parametrize("field", ["max_tokens", "max_calls"])
def test_tokens_and_calls_are_whole_numbers(field):
    for value in (1.5, 100.7, float("inf")):  # 1.5 calls was one call; 100.7 tokens left "18.7000..."
        with pytest.raises(BudgetError, match=f"budget {field} must be a whole number, got {value}"):
            Budget(**{field: value})
    limit = getattr(Budget(**{field: 1e3}), field)  # 1e3 from a JSON body or a spec is a thousand
    assert limit == 1000 and isinstance(limit, int)


def test_budget_dict_with_an_unknown_key_names_the_accepted_ones():
    with pytest.raises(BudgetError, match=r"unknown budget key\(s\) 'max_tokenz'; accepted: max_tokens, max_calls, max_seconds"):
        ponder.solve("2+2?", model=Engine(Scripted()), budget={"max_tokenz": 5})
    assert Budget.from_dict({"max_tokens": 10, "max_seconds": 1.5}).max_seconds == 1.5


async def test_budget_clamps_then_stops_and_strategy_returns_best_so_far():
    backend = Scripted(text="Answer: 4\nBecause 2 and 2", completion=50)
    result = await ponder.asolve("2+2?", model=Engine(backend), strategy="sc(n=4)", budget=Budget(max_tokens=130))
    # 130 tokens cannot pay for 4 samples of up to 1024: they are drawn in turn, the first given all
    # 120 tokens after its prompt, the next the 60 it left; the last two would not fit a prompt
    assert [(r.n, r.max_tokens) for r in backend.requests] == [(1, 120), (1, 60)]
    assert result.budget_exhausted and result.answer == "4" and result.ledger.total_tokens == 120
    assert [c.finish_reason for c in result.candidates] == ["stop", "stop", "budget", "budget"]
    assert [c.text for c in result.candidates[2:]] == ["", ""]
    # a sample cut while it wrote its answer has not answered (it may have gone on: 4 -> 42)
    cut = await ponder.asolve("2+2?", model=Engine(Scripted(completion=200)), strategy="sc(n=4)",
                              budget=Budget(max_tokens=130))
    assert cut.answer is None and cut.budget_exhausted
    assert [(c.text, c.finish_reason) for c in cut.candidates] == [("Answer: 4", "budget")] + [("", "budget")] * 3


async def test_a_many_sample_call_short_of_budget_is_drawn_in_waves():
    """An even split of what is left would cut every sample: 8 samples of 50 tokens under 400 got
    ~48 each and none finished. Drawn in waves, the first sample shows how long they run and the
    next call draws as many as fit twice that; samples are seeded seed + i, as a fan-out."""
    backend = Scripted(text="Answer: 4", completion=50, prompt=10)
    engine = Engine(backend, budget=Budget(max_tokens=400))
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], n=8, max_tokens=1024, seed=7)
    samples = await engine.generate(request)
    # 1 sample given all 390 (60 spent), then (340 - 10) // 100 = 3 given 110 each (one prompt and
    # 150: 160), then one at a time in what is left (60 each); the 8th finds no room for a prompt
    assert [(r.n, r.seed, r.max_tokens) for r in backend.requests] == [
        (1, 7, 390), (3, 8, 110), (1, 11, 170), (1, 12, 110), (1, 13, 50)]
    assert [s.finish_reason for s in samples] == ["stop"] * 7 + ["budget"]
    assert samples[-1].text == "" and engine.budget.tokens_used == 400 and engine.ledger.calls == 5
    # a budget that pays for the whole request: one call, as before
    whole = Scripted(completion=50, prompt=10)
    await Engine(whole, budget=Budget(max_tokens=8 * 1024 + 10)).generate(request)
    assert [(r.n, r.max_tokens) for r in whole.requests] == [(8, 1024)]
    # with a call budget of one call, the samples share it evenly (as before)
    one = Scripted(completion=50, prompt=10)
    out = await Engine(one, budget=Budget(max_tokens=400, max_calls=1)).generate(request)
    assert [(r.n, r.max_tokens) for r in one.requests] == [(8, 48)] and len(out) == 8
    # fewer tokens left than samples: a token each for as many as they pay, the rest empty (each of
    # the 8 got a token of 5, and the call spent 8: the budget was exceeded by 3)
    tight = Scripted(completion=50, prompt=10)
    engine = Engine(tight, budget=Budget(max_tokens=15, max_calls=1))
    out = await engine.generate(request)
    assert [(r.n, r.max_tokens) for r in tight.requests] == [(5, 1)] and len(out) == 8
    assert [s.finish_reason for s in out[5:]] == ["budget"] * 3 and engine.budget.tokens_used <= 15


class Interleaved(Scripted):
    """Yields to the event loop inside each call, so that concurrent calls overlap as on a server."""

    async def generate(self, request):
        import asyncio

        for _ in range(3):
            await asyncio.sleep(0)
        return await super().generate(request)


async def test_concurrent_runs_share_the_budget_and_the_first_finish_first():
    """sc(of=...) runs its inner strategy n times at once. Each call claims its prompt and completion
    tokens before it starts: the others wait for what it gives back, the earlier runs first, and no
    run starts a call the budget cannot pay for (before, all 4 runs passed the check at once and
    spent 4 calls of a budget of 2, or twice a token budget)."""
    spec = "sc(n=4, of=sc(n=1, of=cot(max_tokens=20)))"  # a call: 10 prompt tokens, 5 written, claims 30
    backend = Interleaved(text="Answer: 4\n", completion=5, prompt=10)
    r = await ponder.asolve("2+2?", model=Engine(backend), strategy=spec, budget={"max_calls": 2})
    assert r.ledger.calls == 2 and len(backend.requests) == 2
    assert r.budget_exhausted and r.answer == "4" and r.stop_reason == "call budget of 2 spent"
    assert [c.finish_reason for c in r.candidates].count("budget") == 2  # the runs it could not pay for
    # 50 tokens: run 0 claims 30; run 1 waits for it (20 left), then claims 30; run 2 waits, then gets
    # the 20 left, 10 of them for its completion; run 3 finds 5 left, fewer than its prompt
    backend = Interleaved(text="Answer: 4\n", completion=5, prompt=10)
    r = await ponder.asolve("2+2?", model=Engine(backend), strategy=spec, budget={"max_tokens": 50})
    assert [q.max_tokens for q in backend.requests] == [20, 20, 10]
    assert r.ledger.calls == 3 and r.ledger.total_tokens == 45 and r.budget_exhausted and r.answer == "4"
    assert r.stop_reason == "token budget of 50 nearly spent: 5 left, no more than the next call's prompt of about 10 (a call needs room to write a token)"
    # a budget large enough for all: all four run at once, nothing clamped or waiting
    backend = Interleaved(text="Answer: 4\n", completion=5, prompt=10)
    r = await ponder.asolve("2+2?", model=Engine(backend), strategy=spec, budget={"max_tokens": 120})
    assert [q.max_tokens for q in backend.requests] == [20] * 4 and not r.budget_exhausted


async def test_runs_of_several_calls_start_only_while_the_call_budget_has_their_worth():
    """Each run here makes 3 calls one after another (as budget forcing does: think, go on after
    "Wait", answer). A run used to start while the calls left gave each earlier run one more, so
    under 3 calls all runs started and none finished. A run now starts while the calls left are a
    run's worth for it and each run before it (2 until one has ended, then as many as that made)."""
    from ponder.strategies import Strategy, run_strategy
    from ponder.strategies.sc import ScParams, SelfConsistency
    from ponder.types import Result

    class ThreeCalls(Strategy):
        summary = "three calls in turn"

        async def run(self, problem, engine):
            for _ in range(3):
                [s] = await engine.generate(GenerationRequest(messages=problem.messages, max_tokens=20))
            return Result(answer="4", text=s.text, strategy=self.spec)

    vote = SelfConsistency(ScParams(n=4, of=ThreeCalls(spec="three")))
    for calls, finished in ((3, 1), (5, 1), (6, 2), (9, 3)):
        engine = Engine(Interleaved(text="Answer: 4\n", completion=5, prompt=10), budget=Budget(max_calls=calls))
        r = await run_strategy(vote, ponder.Problem.from_question("2+2?"), engine)
        assert r.answer == "4" and r.budget_exhausted
        assert [c.finish_reason for c in r.candidates] == ["stop"] * finished + ["budget"] * (4 - finished), calls


async def test_call_budget_exhaustion_is_not_an_exception():
    backend = Scripted()
    engine = Engine(backend)
    r1 = await ponder.asolve("2+2?", model=engine, strategy="cot", budget={"max_calls": 1})
    assert r1.answer == "4" and not r1.budget_exhausted and r1.ledger.calls == 1
    eng = engine.for_problem(Budget(max_calls=1))
    await eng.generate(GenerationRequest(messages=[{"role": "user", "content": "x"}]))
    from ponder.strategies import build_strategy, run_strategy

    r2 = await run_strategy(build_strategy("cot"), ponder.Problem.from_question("2+2?"), eng)
    assert r2.budget_exhausted and r2.answer is None


async def test_an_engine_given_as_the_model_keeps_its_budget_and_hooks():
    """solve(model=engine) ran with no budget at all and streamed nothing to the engine's hooks."""
    seen = []
    engine = Engine(Scripted(completion=30), budget=Budget(max_tokens=100), on_call=lambda e, s: seen.append(e))
    r = await ponder.asolve("2+2?", model=engine, strategy="sc(n=8)")
    assert r.budget_exhausted and r.ledger.total_tokens <= 100 and seen == r.ledger.entries
    assert engine.budget.tokens_used == 0  # the limits apply afresh to each problem
    r = await ponder.asolve("2+2?", model=engine, strategy="sc(n=8)", budget={"max_tokens": 1000})
    assert not r.budget_exhausted and r.ledger.total_tokens > 8 * 30  # a budget given replaces it


async def test_with_backend_shares_ledger_and_budget():
    engine = Engine(Scripted()).for_problem(Budget(max_calls=3))
    other = engine.with_backend(Scripted(text="x"))
    await engine.generate(GenerationRequest(messages=[{"role": "user", "content": "q"}]))
    await other.generate(GenerationRequest(messages=[{"role": "user", "content": "q"}]), role="judge")
    assert [e.role for e in engine.ledger.entries] == ["policy", "judge"]
    assert engine.budget.calls_used == 2


@pytest.mark.parametrize("question, kwargs, error, message", [
    ("  ", {}, ValueError, "the question is empty"),
    (None, {}, TypeError, "question must be a string or a ponder.Problem, got NoneType"),
    ("2+2?", {"strategy": 123}, ponder.StrategySpecError, "a strategy is a spec string such as 'sc\\(n=16\\)' or a Strategy, got int 123"),
])
def test_solve_refuses_bad_arguments_before_any_model_call(question, kwargs, error, message):
    backend = Scripted()
    with pytest.raises(error, match=message):
        ponder.solve(question, model=Engine(backend), **kwargs)
    assert backend.requests == []


def test_a_full_context_window_stops_the_strategy_and_keeps_its_work(tiny_model_dir):
    from ponder.backends.hf import HFBackend

    engine = Engine(HFBackend(tiny_model_dir))  # 512 positions
    with pytest.raises(ponder.ContextLengthError, match="holds at most 512"):  # nothing done yet: an error
        ponder.solve("x " * 2000, model=engine, strategy="cot")
    # the draft and the critique fit; the revision's prompt (question, draft, critique) does not
    r = ponder.solve("2+2?", model=engine, strategy="refine(rounds=3, max_tokens=150, feedback_tokens=300)")
    assert r.budget_exhausted and r.stop_reason.startswith("the prompt is ") and "holds at most 512" in r.stop_reason
    assert len(r.candidates) == 1 and r.text == r.candidates[0].text  # the draft is kept
    assert [e.role for e in r.ledger.entries] == ["policy", "critic"] and r.to_dict()["stop_reason"] == r.stop_reason
    assert r.ledger.entries[0].completion_tokens <= 150  # refine's max_tokens holds for the draft too
    # a budget that runs out says so too ("spent", or "nearly spent" when what is left cannot pay for
    # the next call's prompt: which one depends on the sampled lengths)
    r = ponder.solve("2+2?", model=engine, strategy="sc(n=4, seed=0, of=cot(max_tokens=50))", budget={"max_tokens": 60})
    assert r.budget_exhausted and re.fullmatch(r"token budget of 60 (spent|nearly spent: .*)", r.stop_reason)


def test_a_long_lived_engine_is_not_spoiled_by_one_prompt_too_long(tiny_model_dir):
    """A direct caller of one Engine: a prompt too long after earlier calls is a ContextLengthError
    it can catch (ContextWindowFull, which strategies take as a budget run out), and the calls
    after it still run."""
    import asyncio

    from ponder.backends.hf import HFBackend

    async def go() -> None:
        engine = Engine(HFBackend(tiny_model_dir))
        short = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], max_tokens=4)
        await engine.generate(short)
        with pytest.raises(ponder.ContextLengthError):
            await engine.generate(short.replace(messages=[{"role": "user", "content": "x " * 2000}]))
        assert len(await engine.generate(short)) == 1

    asyncio.run(go())


def test_one_engine_shares_its_budget_across_event_loops():
    """An Engine kept between ``asyncio.run`` calls (a notebook, a script): calls that wait for the
    budget in the second loop do not trip over the first loop's bookkeeping."""
    import asyncio

    backend = Interleaved(text="Answer: 4\n", completion=5, prompt=10)  # 15 tokens a call, claims 50
    engine = Engine(backend, budget=Budget(max_tokens=100))
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], max_tokens=40)

    async def three() -> None:
        await asyncio.gather(*(engine.generate(request) for _ in range(3)))

    asyncio.run(three())  # two claim 50 each, the third waits for both
    asyncio.run(three())  # 55 left: one at a time, the second gets 40 - 10, the third 25 - 10
    assert [q.max_tokens for q in backend.requests] == [40] * 4 + [30, 15]
    assert engine.budget.tokens_used == 90 and engine.budget.calls_in_flight == 0


class Judged(Interleaved):
    """The policy's four samples answer 5, 4, 5, 5; as judge it rates a solution that answers 4 a
    9 and any other a 2."""

    async def generate(self, request):
        gen = await super().generate(request)
        prompt = request.messages[-1]["content"]
        if "grading" in prompt:
            rating = "9" if "Answer: 4" in prompt else "2"
            gen.samples = [Sample(text=rating, finish_reason="stop", token_ids=[0]) for _ in gen.samples]
        else:
            gen.samples = [Sample(text=f"Answer: {a}\n", finish_reason="stop", token_ids=[0] * self.completion)
                           for a in (5, 4, 5, 5)[: request.n]]
        return gen


async def test_the_judge_keeps_the_ratings_it_finished_when_the_budget_stops_the_others():
    """bon(scorer=judge) rates its candidates at once. Under a budget of 3 calls (one to sample,
    two to rate) the ratings of candidates 0 and 1 finish, and bon picks the better of them; before,
    the stopped ratings threw away the finished ones too and bon took the first answer, 5."""
    backend = Judged(completion=5, prompt=10)
    r = await ponder.asolve("2+2?", model=Engine(backend), strategy="bon(n=4, scorer=judge)", budget={"max_calls": 3})
    assert [c.score for c in r.candidates] == [0.2, 0.9, None, None]
    assert r.answer == "4" and r.budget_exhausted and r.stop_reason == "call budget of 3 spent"
    # a budget that stops every rating: no scores, the first answer, and the result says why
    r = await ponder.asolve("2+2?", model=Engine(Judged()), strategy="bon(n=4, scorer=judge)", budget={"max_calls": 1})
    assert [c.score for c in r.candidates] == [None] * 4 and r.answer == "5" and r.budget_exhausted


def test_a_time_budget_stops_a_local_call_while_it_decodes(tiny_model_dir):
    """max_seconds is checked during a call on a local backend, not only between calls: a call
    that would decode for 6 s (400 tokens at 15 ms each, the end of the turn banned) stops when
    the budget's 0.5 s are up, keeps what it wrote, and the result says why."""
    import asyncio
    import time

    from ponder.backends.hf import HFBackend

    backend = HFBackend(tiny_model_dir)
    eos = backend.tokenizer.convert_tokens_to_ids("<|end|>")

    def slow(input_ids, scores):
        time.sleep(0.015)
        scores[:, eos] = float("-inf")
        return scores

    engine = Engine(backend).for_problem(Budget(max_seconds=0.5))
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], max_tokens=400,
                                logits_processors=[slow])
    start = time.monotonic()
    [sample] = asyncio.run(engine.generate(request))
    took = time.monotonic() - start
    assert sample.finish_reason == "budget" and 0 < len(sample.token_ids) < 100 and took < 2.0
    assert engine.ledger.completion_tokens == len(sample.token_ids)
    assert engine.budget.exhausted_reason() == "time budget of 0.5s spent"
    # through a strategy: the answer is only what was finished (nothing here), and the result says why
    from ponder.strategies import build_strategy, run_strategy
    from ponder.types import Problem

    slowed = Engine(backend).for_problem(Budget(max_seconds=0.5)).with_logits_processors(lambda request: slow)
    problem = Problem(id="p", messages=[{"role": "user", "content": "2+2?"}])
    r = asyncio.run(run_strategy(build_strategy("cot(max_tokens=400)"), problem, slowed))
    assert r.budget_exhausted and r.answer is None and r.stop_reason == "time budget of 0.5s spent"
    assert r.ledger.wall_seconds < 2.0


def test_a_sample_cut_by_the_context_window_is_not_cut_by_the_budget(tmp_path):
    """A token budget far from spent clamps a call's max_tokens; the model's 64 positions cut its
    sample sooner. Before: that sample's "length" was relabelled "budget", the run said the budget
    was spent, and sc(n=4) drew 1 of its 4 samples."""
    from ponder.backends.hf import HFBackend
    from tiny_model import save_tiny_model

    backend = HFBackend(save_tiny_model(tmp_path / "short", positions=64))
    engine = Engine(backend).for_problem(Budget(max_tokens=400))
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], n=4, max_tokens=1000,
                                min_tokens=1000, temperature=1.0, seed=0)
    samples = await_(engine.generate(request))
    prompt = engine.ledger.entries[0].prompt_tokens
    assert [s.finish_reason for s in samples] == ["length"] * 4
    assert all(s.completion_tokens == 64 - prompt for s in samples)  # each drawn, to the window's end
    assert all(r == "length" for e in engine.ledger.entries for r in e.finish_reasons)
    assert engine.budget.tokens_used <= 400


def await_(coro):
    import asyncio

    return asyncio.run(coro)
