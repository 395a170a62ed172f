"""The ``vllm`` backend against a stand-in for vLLM's offline API (``tests/fake_vllm``: vLLM's
interface and output objects, the lab model's real generation): what the backend reads from vLLM
is what step search, self-backtracking and the logprob scorer need, on vLLM's V1 engine."""

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
