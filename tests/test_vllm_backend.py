"""The ``vllm`` backend against a stand-in for vLLM's offline API (``tests/fake_vllm``: vLLM's
interface and output objects, the lab model's real generation): what the backend reads from vLLM
is what step search, self-backtracking and the logprob scorer need, on vLLM's V1 engine; on its V0
engine, Ponder's logits processors (tip's penalty, budget's min-thinking mask) called as V0 calls
them, per sequence per step on one logits row, shape sampling as on the local model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import ponder
from ponder import CapabilityError, ContextLengthError, Engine, GenerationRequest
from ponder.backends import embedded_path

Q = "Compute left to right: 567-227-134*4+24"


@pytest.fixture(scope="module")
def vllm_spec():
    sys.path.insert(0, str(Path(__file__).parent / "fake_vllm"))
    try:
        yield f"vllm:{embedded_path('policy')}"
    finally:
        sys.path.remove(str(Path(__file__).parent / "fake_vllm"))
        sys.modules.pop("vllm", None)


def steps(r):
    return [n["step"] for n in r.trace["nodes"]]


def test_step_search_and_backtracking_read_which_stop_ended_a_sample(vllm_spec):
    spec = "beam(n=4, width=2, max_steps=6, temperature=0)"
    local, on_vllm = ponder.solve(Q, strategy=spec), ponder.solve(Q, strategy=spec, model=vllm_spec)
    assert on_vllm.trace.get("note") is None and steps(on_vllm) == steps(local) and len(steps(local)) > 4
    assert on_vllm.answer == local.answer and on_vllm.ledger.prompt_tokens == local.ledger.prompt_tokens
    back = ponder.solve(Q, strategy="backtrack(n=4)", model=vllm_spec)
    assert back.trace.get("note") is None and all(c.score > -1e9 for c in back.candidates)
    # the logprob scorer reads the sampled tokens' log-probabilities, as on the local model
    spec = "bon(n=2, scorer=logprob, temperature=0)"
    here, there = ponder.solve(Q, strategy=spec), ponder.solve(Q, strategy=spec, model=vllm_spec)
    assert there.trace["scores"] == pytest.approx(here.trace["scores"], abs=1e-4)
    assert [e.role for e in there.ledger.entries] == ["policy"]


def test_a_partial_assistant_turn_is_continued_and_a_long_prompt_is_a_context_length_error(vllm_spec):
    import asyncio

    from ponder.backends import load_backend

    partial = [{"role": "user", "content": Q}, {"role": "assistant", "content": "<think> 567-227=340;"}]
    request = GenerationRequest(messages=partial, temperature=0.0, max_tokens=20, stop=[";"])
    [mine] = asyncio.run(load_backend("embedded").generate(request)).samples
    [theirs] = asyncio.run(load_backend(vllm_spec).generate(request)).samples
    assert theirs.text == mine.text and theirs.matched_stop == ";" and theirs.text.startswith(" 340-134=")
    with pytest.raises(ContextLengthError, match="maximum model length of 512"):
        ponder.solve("1+" * 2000 + "1", strategy="cot", model=vllm_spec)


def test_v1_has_no_per_request_logits_processors(vllm_spec):
    """tip is refused before any model call; budget's minimum thinking falls back to "Wait"."""
    engine = Engine.from_spec(vllm_spec)
    llm = engine.backend.llm
    before = llm.calls
    with pytest.raises(CapabilityError, match="needs logits"):
        ponder.solve(Q, strategy="tip(alpha=3, of=cot)", model=engine)
    assert llm.calls == before
    r = ponder.solve(Q, strategy="budget(min_think=120, think=200)", model=vllm_spec)
    assert r.trace["thinking_tokens"] >= 120 and "Wait" in r.text
    # a request that brings logits processors anyway is refused by the backend, before vLLM sees it
    import asyncio

    request = GenerationRequest(messages=[{"role": "user", "content": Q}], logits_processors=[lambda i, s: s])
    before = llm.calls
    with pytest.raises(CapabilityError, match="takes no per-request logits processors"):
        asyncio.run(engine.backend.generate(request))
    assert llm.calls == before


def v0_engine(monkeypatch, version: str = "0.10.2") -> Engine:
    """An engine on a vLLM that runs its V0 engine (before 0.8, or VLLM_USE_V1=0 before 0.11)."""
    import vllm

    from ponder.backends import load_backend

    monkeypatch.setattr(vllm, "__version__", version)
    monkeypatch.setenv("VLLM_USE_V1", "0")
    engine = Engine(load_backend(f"vllm:{embedded_path('policy')}", cache=False))
    assert engine.capabilities().logits and engine.backend.llm.v0
    return engine


def test_a_processor_is_called_as_vllm_v0_calls_it_one_sequence_and_one_logits_row_at_a_time():
    """vLLM V0 calls a per-request processor with token ids (tuples on recent versions, no prompt
    before 0.4.3) and one 1-D row of logits; Ponder's are written for Hugging Face's batches (before,
    the switch penalty raised AttributeError on vLLM's ids)."""
    import inspect

    import torch

    from ponder.backends.vllm import V0LogitsProcessor
    from ponder.strategies.budget import _masked_for
    from ponder.strategies.tip import SwitchPenalty

    tip = V0LogitsProcessor(SwitchPenalty([7], alpha=3, beta=2))
    assert len(inspect.signature(tip).parameters) == 3  # what makes vLLM pass the prompt
    prompt = (1, 2, 3)
    assert tip(prompt, (), torch.zeros(10)).tolist() == [0] * 7 + [-3, 0, 0]
    # each sequence of a request is its own row: one two tokens into its thought, one that switched just now
    assert tip(prompt, (4, 5), torch.zeros(10))[7] == 0 and tip(prompt, (4, 5, 7), torch.zeros(10))[7] == -3
    assert tip(prompt, [4, 5, 7, 6, 6], torch.zeros(10))[7] == 0  # lists as well as tuples
    mask = V0LogitsProcessor(_masked_for(9, 2))
    assert [float(mask(prompt, out, torch.zeros(10))[9]) for out in ((), (4,), (4, 5))] == [float("-inf")] * 2 + [0]
    # a vLLM before 0.4.3: (output_ids, logits), no prompt
    old = V0LogitsProcessor(SwitchPenalty([7], alpha=3, beta=2))
    assert old((), torch.zeros(10))[7] == -3 and old((4, 5), torch.zeros(10))[7] == 0
    assert old((4, 7), torch.zeros(10))[7] == -3


def test_on_v0_tips_penalty_shapes_vllms_sampling_as_the_local_models(vllm_spec, monkeypatch):
    """The switch word the lab model writes unpenalised is not written with the penalty, on every
    sequence of a request of n=4 as on one, and vLLM samples what the local model samples."""
    from ponder.tasks import load_task

    engine = v0_engine(monkeypatch)
    llm = engine.backend.llm
    problem = load_task("countdown").problems(1, 0)[0]
    # seed 3: a sample that writes the switch word unpenalised (sample 3 of sc(n=4, seed=0) below)
    free = ponder.solve(problem, strategy="tip(alpha=0, seed=3, of=cot(temperature=1.0))", model=engine)
    assert "Alternatively" in free.text
    spec = "tip(alpha=3, seed=3, of=cot(temperature=1.0))"
    penalised, local = ponder.solve(problem, strategy=spec, model=engine), ponder.solve(problem, strategy=spec)
    assert "Alternatively" not in penalised.text and penalised.text == local.text
    free = ponder.solve(problem, strategy="tip(alpha=0, of=sc(n=4, temperature=1.0, seed=0))", model=engine)
    assert any("Alternatively" in c.text for c in free.candidates)
    spec = "tip(alpha=3, of=sc(n=4, temperature=1.0, seed=0))"
    before = llm.processor_calls
    penalised, local = ponder.solve(problem, strategy=spec, model=engine), ponder.solve(problem, strategy=spec)
    assert [c.text for c in penalised.candidates] == [c.text for c in local.candidates]
    assert not any("Alternatively" in c.text for c in penalised.candidates)
    # one vLLM call of n=4, its processor called once per sequence per step
    assert [e.n for e in penalised.ledger.entries] == [4]
    assert llm.processor_calls - before == penalised.ledger.completion_tokens


@pytest.mark.parametrize("version", ["0.10.2", "0.4.2"])  # V0 with the prompt passed; before 0.4.3, without
def test_on_v0_budgets_min_thinking_masks_the_end_of_thinking_in_the_same_call(vllm_spec, monkeypatch, version):
    """The end-of-thinking token is forbidden until min_think tokens were written, in the thinking
    call itself (before, the backend had no ``encode`` for budget to find that token, and its
    processors failed on vLLM's arguments): one thinking call and the answer call, as on the local
    model, where on V1 the model's end of thinking is replaced by "Wait" call after call."""
    engine = v0_engine(monkeypatch, version)
    llm = engine.backend.llm
    spec = "budget(min_think=120, think=200)"
    before = llm.processor_calls
    r, local = ponder.solve(Q, strategy=spec, model=engine), ponder.solve(Q, strategy=spec)
    assert r.trace == local.trace and r.trace["thinking_tokens"] >= 120 and r.text == local.text
    thinking, answer = r.ledger.entries
    assert llm.processor_calls - before == thinking.completion_tokens == r.trace["thinking_tokens"]
    assert [e.completion_tokens for e in r.ledger.entries] == [e.completion_tokens for e in local.ledger.entries]



def test_near_a_budgets_end_a_prompt_is_counted_with_the_models_tokenizer(vllm_spec):
    """What a call claims of a token budget near its end is its prompt counted exactly, as on the
    local backend (before, about 4 characters a token)."""
    request = GenerationRequest(messages=[{"role": "user", "content": Q}], max_tokens=40)
    local, on_vllm = Engine.from_spec("embedded"), Engine.from_spec(vllm_spec)
    assert on_vllm.count_tokens(Q) == local.count_tokens(Q) == len(on_vllm.backend.tokenizer(Q)["input_ids"])
    assert on_vllm._prompt_estimate(request, room=0) == local._prompt_estimate(request, room=0) == 29
    spec, budget = "sc(n=4, temperature=0)", {"max_tokens": 150}
    a, b = ponder.solve(Q, strategy=spec, budget=budget), ponder.solve(Q, strategy=spec, budget=budget, model=vllm_spec)
    assert b.stop_reason == a.stop_reason and b.ledger.total_tokens == a.ledger.total_tokens <= 150


@pytest.mark.parametrize("version, env, expected", [("0.6.3", None, True), ("0.9.2", None, False),
                                                    ("0.9.2", "0", True), ("0.11.0", "0", False)])
def test_which_vllm_takes_per_request_logits_processors(version, env, expected, monkeypatch):
    from types import SimpleNamespace

    from ponder.backends.vllm import per_request_logits_processors

    if env is None:
        monkeypatch.delenv("VLLM_USE_V1", raising=False)
    else:
        monkeypatch.setenv("VLLM_USE_V1", env)
    assert per_request_logits_processors(SimpleNamespace(__version__=version)) is expected


def test_thinking_tokens_are_counted_as_on_the_local_model(vllm_spec):
    """The ledger's reasoning tokens on vLLM (they were None there, counted on hf), for a whole
    answer and for budget forcing's continuations."""
    for spec in ("cot(temperature=0)", "budget(think=24, wait=1)"):
        local, on_vllm = ponder.solve(Q, strategy=spec), ponder.solve(Q, strategy=spec, model=vllm_spec)
        assert on_vllm.text == local.text
        assert on_vllm.ledger.reasoning_tokens == local.ledger.reasoning_tokens > 0, spec
