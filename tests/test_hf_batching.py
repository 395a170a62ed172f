"""Continuous batching in the hf backend, on the shipped lab policy: concurrent requests share decode
steps, sample exactly what they sample alone, join a running batch, and leave it when cancelled."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ponder import GenerationRequest
from ponder.backends.hf import HFBackend
from ponder.lab import POLICY_DIR
from ponder.lab.tasks import TASKS


@pytest.fixture(scope="module")
def backend():
    return HFBackend(POLICY_DIR)


@pytest.fixture(scope="module")
def questions():
    # different lengths, so that stacking their caches needs left padding
    return [p.question for p in TASKS["arith"].generate(12, seed=7)] + ["Use the numbers 3 5 7 to make 22."]


def req(question: str, **kw) -> GenerationRequest:
    base = dict(messages=[{"role": "user", "content": question}], max_tokens=160, temperature=0.0)
    base.update(kw)
    return GenerationRequest(**base)


def decode_batches(backend: HFBackend):
    """Record the batch size of every one-token decode step while the context is open."""
    sizes: list[int] = []
    handle = backend.model.register_forward_pre_hook(
        lambda m, a, kw: sizes.append(kw["input_ids"].shape[0]) if kw["input_ids"].shape[1] == 1 else None,
        with_kwargs=True)
    return sizes, handle


@pytest.mark.parametrize("temperature,n", [(0.0, 1), (1.0, 2)])
def test_concurrent_requests_share_steps_and_sample_what_they_sample_alone(backend, questions, temperature, n):
    requests = [req(q, temperature=temperature, n=n, seed=i) for i, q in enumerate(questions)]
    alone = [backend.generate_sync(r) for r in requests]

    async def together():
        return await asyncio.gather(*(backend.generate(r) for r in requests))

    sizes, handle = decode_batches(backend)
    try:
        batched = asyncio.run(together())
    finally:
        handle.remove()
    assert max(sizes) > 2 * n  # rows of several requests were decoded in one step
    assert len(sizes) < sum(len(s.token_ids) for g in alone for s in g.samples) / 2
    for a, b in zip(alone, batched):
        assert [s.token_ids for s in a.samples] == [s.token_ids for s in b.samples]
        assert [s.text for s in a.samples] == [s.text for s in b.samples]
        assert (a.usage.prompt_tokens, a.usage.completion_tokens) == (b.usage.prompt_tokens, b.usage.completion_tokens)


def test_a_request_joins_a_running_batch(backend, questions):
    long_req = req(questions[0], max_tokens=200, min_tokens=200, temperature=1.0, seed=1)
    short_req = req(questions[-1])
    short_alone = backend.generate_sync(short_req)
    started = threading.Event()
    long_job = backend._decoder.submit(long_req, on_token=lambda i, t: started.set())
    assert started.wait(30)
    short = backend.generate_sync(short_req)  # arrives while the long request decodes
    assert not long_job.future.done()  # it did not wait for the long one to finish
    assert [s.token_ids for s in short.samples] == [s.token_ids for s in short_alone.samples]
    assert long_job.future.result(60).usage.completion_tokens == 200


def test_a_cancelled_request_stops_decoding(backend, questions):
    streamed: list[str] = []
    sizes, handle = decode_batches(backend)

    async def run():
        task = asyncio.create_task(backend.generate(
            req(questions[1], max_tokens=2000, min_tokens=2000, temperature=1.0, seed=2),
            on_token=lambda i, t: streamed.append(t)))
        while len(streamed) < 20:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        steps_at_cancel = len(sizes)
        await asyncio.sleep(0.3)
        return steps_at_cancel

    try:
        steps_at_cancel = asyncio.run(run())
        after = len(sizes)
    finally:
        handle.remove()
    assert after - steps_at_cancel <= 2  # at most the step in flight and the one that saw the flag
    assert after < 1000
    assert backend.generate_sync(req(questions[2], max_tokens=8)).usage.completion_tokens >= 1


def test_a_failing_request_does_not_take_its_batch_down(backend, questions):
    calls = 0

    def broken(ids, scores):
        nonlocal calls
        calls += 1
        if calls > 3:
            raise ValueError("processor broke")
        return scores

    async def both():
        return await asyncio.gather(backend.generate(req(questions[3], logits_processors=[broken])),
                                    backend.generate(req(questions[4])), return_exceptions=True)

    bad, good = asyncio.run(both())
    assert isinstance(bad, ValueError) and "processor broke" in str(bad)
    assert good.samples[0].text == backend.generate_sync(req(questions[4])).samples[0].text


def test_a_stop_string_does_not_end_a_sample_before_min_tokens(backend):
    """As in vLLM: a stop string that ends within the first min_tokens tokens neither ends the sample
    nor cuts its text (the lab policy writes "=" within its first 8 tokens here); one that ends
    later still does, cut there, in the sample and in what is streamed."""
    question = "Compute left to right: 12+7*3"
    pieces: list[str] = []
    long = backend.generate_sync(req(question, max_tokens=60, min_tokens=20, stop=["="], seed=1, temperature=1.0),
                                 on_token=lambda i, t: pieces.append(t)).samples[0]
    assert long.completion_tokens >= 20
    assert "=" in long.text and "".join(pieces) == long.text
    pieces.clear()
    cut = backend.generate_sync(req(question, max_tokens=60, min_tokens=12, stop=["="], seed=1, temperature=1.0),
                                on_token=lambda i, t: pieces.append(t)).samples[0]
    assert cut.finish_reason == "stop" and cut.matched_stop == "=" and cut.completion_tokens >= 12
    assert "=" in cut.text and long.text.startswith(cut.text + "=")  # the same tokens, cut at a later "="
    assert "".join(pieces) == cut.text


def test_the_decoder_thread_ends_when_idle_and_comes_back(backend, questions, monkeypatch):
    from ponder.backends import hf_batch

    monkeypatch.setattr(hf_batch, "IDLE_SECONDS", 0.05)
    backend.generate_sync(req(questions[5], max_tokens=4))
    deadline = time.monotonic() + 5
    while backend._decoder._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend._decoder._thread is None
    assert backend.generate_sync(req(questions[5], max_tokens=4)).usage.completion_tokens >= 1


def test_a_script_that_exits_during_a_call_exits_cleanly(tmp_path):
    """The decoder thread was a daemon inside a torch call when the interpreter finalized: the
    process aborted (exit code 134, "terminate called without an active exception") every time a
    script ended or was interrupted during a call. The step finishes and the exit waits for it."""
    import subprocess
    import sys

    script = tmp_path / "exit_mid_call.py"
    script.write_text(
        "import asyncio, sys, threading, time\n"
        "from ponder import Engine, GenerationRequest\n"
        "engine = Engine.from_spec('embedded')\n"
        "req = GenerationRequest(messages=[{'role': 'user', 'content': 'Compute left to right: 1+2+3'}],\n"
        "                        max_tokens=400, min_tokens=400, n=16)\n"
        "threading.Thread(target=lambda: asyncio.run(engine.generate(req)), daemon=True).start()\n"
        "time.sleep(2)\n"
        "sys.exit(0)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]


def test_a_seeded_sample_does_not_depend_on_how_it_was_drawn(backend, questions):
    """Sample i of a call seeded s is seeded s + i: one call of 6 samples draws what 6 calls of one
    (seeded s, s + 1, ...) draw, and a call of 3 seeded s + 3 draws its samples 3 to 5 (the
    Engine's waves under a token budget, a server's fan-out). Before, a call's samples came from one
    generator, so the same seeded run drew other samples under a budget than without one."""
    whole = backend.generate_sync(req(questions[0], temperature=1.0, n=6, seed=11)).samples
    ones = [backend.generate_sync(req(questions[0], temperature=1.0, seed=11 + i)).samples[0] for i in range(6)]
    wave = backend.generate_sync(req(questions[0], temperature=1.0, n=3, seed=14)).samples
    assert [s.token_ids for s in whole] == [s.token_ids for s in ones]
    assert [s.token_ids for s in whole[3:]] == [s.token_ids for s in wave]
    assert len({tuple(s.token_ids) for s in whole}) > 1  # sampled, not one greedy text


def test_a_budget_that_is_not_reached_does_not_change_a_seeded_run():
    """Under a token budget below n x max_tokens the Engine draws a call's samples in waves; the
    samples, the answer and the tokens written are those of the run without a budget (before, a budget of
    five times what the run spent changed sc(n=4, of=cod)'s samples and its answer)."""
    import ponder

    question = "Compute left to right: 305-129+368-375"
    for spec in ("sc(n=4, seed=3, of=cod)", "bon(n=4, seed=3)"):
        free = ponder.solve(question, strategy=spec)
        spent = free.ledger.total_tokens
        capped = ponder.solve(question, strategy=spec, budget={"max_tokens": 5 * spent + 100})
        assert [c.text for c in capped.candidates] == [c.text for c in free.candidates], spec
        # the same tokens written; the prompt is read once more per wave
        completion = [r.ledger.totals()["completion_tokens"] for r in (free, capped)]
        assert capped.answer == free.answer and completion[0] == completion[1], spec
