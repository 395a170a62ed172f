"""The hf backend on a real (tiny, random) model: shared prefill, sampling controls, exact counts."""

from __future__ import annotations

import asyncio
import time

import pytest

from ponder import Engine, GenerationRequest
from ponder.backends.hf import HFBackend


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(tiny_model_dir)


def req(**kw):
    base = dict(messages=[{"role": "user", "content": "2+2?"}], max_tokens=12, temperature=1.0, seed=3)
    base.update(kw)
    return GenerationRequest(**base)


def test_n_samples_share_one_prefill(backend):
    shapes = []
    handle = backend.model.register_forward_pre_hook(lambda m, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                                     with_kwargs=True)
    try:
        gen = backend.generate_sync(req(n=8, max_tokens=5))
    finally:
        handle.remove()
    prompt_len = gen.usage.prompt_tokens
    assert shapes[0] == (1, prompt_len)  # the prompt is encoded once, not 8 times
    assert all(s[1] == 1 and s[0] <= 8 for s in shapes[1:])  # then one batched decode
    assert len(shapes) == 5  # prefill + 4 decode steps for 5 tokens


def test_seeded_sampling_is_reproducible_and_counts_are_exact(backend):
    a = backend.generate_sync(req(n=4, logprobs=True))
    b = backend.generate_sync(req(n=4, logprobs=True))
    assert [s.token_ids for s in a.samples] == [s.token_ids for s in b.samples]
    assert a.usage.completion_tokens == sum(len(s.token_ids) for s in a.samples)
    assert all(len(s.logprobs) == len(s.token_ids) for s in a.samples)
    assert all(lp <= 0 for s in a.samples for lp in s.logprobs)
    assert a.usage.prompt_tokens == len(backend.encode(backend.render(req())))


def test_max_tokens_min_tokens_and_greedy(backend):
    eos = next(iter(backend.eos_ids))

    def force_eos(ids, scores):  # a logits processor that always prefers EOS
        scores[:, eos] = 1e9
        return scores

    gen = backend.generate_sync(req(n=3, min_tokens=4, logits_processors=[force_eos]))
    assert all(len(s.token_ids) == 5 and s.token_ids[-1] == eos for s in gen.samples)
    assert all(s.finish_reason == "stop" for s in gen.samples)
    greedy = [backend.generate_sync(req(temperature=0.0, seed=i)).samples[0].token_ids for i in range(2)]
    assert greedy[0] == greedy[1] and len(greedy[0]) <= 12
    # A temperature that is valid but tiny (a fuzzer sent 3e-132) samples the greedy tokens
    # instead of failing on a NaN distribution; the suppressed EOS of min_tokens stays suppressed.
    tiny = backend.generate_sync(req(temperature=3e-132, seed=5, min_tokens=2)).samples[0].token_ids
    assert tiny == backend.generate_sync(req(temperature=0.0, min_tokens=2)).samples[0].token_ids


def test_stop_strings_cut_the_text(backend):
    gen = backend.generate_sync(req(n=6, max_tokens=40))
    text = gen.samples[0].text
    assert len(text) > 3
    stop = text[2:4]
    cut = backend.generate_sync(req(n=6, max_tokens=40, stop=[stop])).samples[0]
    assert stop not in cut.text and cut.finish_reason == "stop"
    assert text.startswith(cut.text)


def test_prefix_continuation_and_partial_assistant_turn(backend):
    r = req(prefix="<think> 1+1=")
    assert backend.render(r).endswith("<|assistant|><think> 1+1=")
    as_turn = req(messages=[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think> 1+1="}])
    assert backend.render(as_turn) == backend.render(r)
    gen = backend.generate_sync(r)
    # generation started inside an open thinking span: every token up to </think> is reasoning
    s = gen.samples[0]
    think_end = backend.think_ids[1]
    expected = s.token_ids.index(think_end) + 1 if think_end in s.token_ids else len(s.token_ids)
    assert s.reasoning_tokens == expected
    # a model that closes a span it never opened: the text before the close is thinking, in the count
    # as in the proxy's reasoning_content
    start, end = backend.think_ids
    x = backend.encode("x")[0]
    assert backend._sample(backend.render(req()), [x, x, end, x], None, "stop", []).reasoning_tokens == 3
    assert backend._sample(backend.render(req()), [x, start, x, end, x], None, "stop", []).reasoning_tokens == 3
    assert backend._sample(backend.render(req()), [x, x], None, "stop", []).reasoning_tokens == 0
    # after thinking was closed in the prompt (a forced end of thinking), a second close is the answer's
    closed = backend.render(req(prefix="<think> 1+1=2 </think>"))
    assert backend._sample(closed, [x, x, end, x], None, "stop", []).reasoning_tokens == 0


def test_an_empty_stop_string_stops_nothing(backend):
    a = backend.generate_sync(req(stop=["", "\x00"]))
    assert a.samples[0].token_ids == backend.generate_sync(req()).samples[0].token_ids


def test_streaming_callback_matches_final_text(backend):
    pieces: list[str] = []
    gen = backend.generate_sync(req(max_tokens=30), on_token=lambda i, t: pieces.append(t))
    assert "".join(pieces) == gen.samples[0].text and len(pieces) > 1


async def test_generation_runs_off_the_event_loop(backend):
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    hb = asyncio.create_task(heartbeat())
    start = time.perf_counter()
    engine = Engine(backend)
    await asyncio.gather(*(engine.generate(req(n=4, max_tokens=60)) for _ in range(2)))
    elapsed = time.perf_counter() - start
    hb.cancel()
    assert engine.ledger.calls == 2
    assert ticks >= min(5, int(elapsed / 0.005) // 4)  # the loop kept turning while the model ran


def test_common_prefix_is_reused_and_reported_as_cached(tiny_model_dir):
    backend = HFBackend(tiny_model_dir)
    first = backend.generate_sync(req(prefix="<think> 1+2=3; 3*4=12; 12-5=7; 7+1=8;", temperature=0.0, max_tokens=6))
    assert first.usage.cached_prompt_tokens == 0
    longer = req(prefix="<think> 1+2=3; 3*4=12; 12-5=7; 7+1=8; 8*2=16;", temperature=0.0, max_tokens=6)
    again = backend.generate_sync(longer)
    assert 16 <= again.usage.cached_prompt_tokens < again.usage.prompt_tokens
    # reusing the cache changes nothing in what is generated
    fresh = HFBackend(tiny_model_dir).generate_sync(longer)
    assert fresh.usage.cached_prompt_tokens == 0
    assert [s.token_ids for s in again.samples] == [s.token_ids for s in fresh.samples]
    same = backend.generate_sync(longer)
    assert same.usage.cached_prompt_tokens == same.usage.prompt_tokens
    assert [s.token_ids for s in same.samples] == [s.token_ids for s in fresh.samples]


def test_a_lone_partial_assistant_turn_is_continued(backend):
    r = GenerationRequest(messages=[{"role": "assistant", "content": "<think> 1+1="}], max_tokens=3, seed=0)
    assert backend.render(r) == (backend.tokenizer.bos_token or "") + "<think> 1+1="
    assert len(backend.generate_sync(r).samples[0].token_ids) <= 3


def test_the_context_window_is_kept(backend):
    from ponder import ContextLengthError

    assert backend.context_length == 512  # the tiny model's max_position_embeddings
    with pytest.raises(ContextLengthError, match="at most 512"):
        backend.generate_sync(req(messages=[{"role": "user", "content": "x " * 2000}]))
    with pytest.raises(ContextLengthError, match="at most 512"):
        backend.forward_logits_sync([1] * 513)
    # a prompt that nearly fills the window: the samples stop at its end, "length", however many asked
    filler = next(k for k in range(100, 600) if len(backend.encode(backend.render(
        req(messages=[{"role": "user", "content": "x " * k}])))) >= 505)
    gen = backend.generate_sync(req(messages=[{"role": "user", "content": "x " * filler}], n=2, max_tokens=64,
                                    min_tokens=64))
    assert all(s.finish_reason == "length" for s in gen.samples)
    assert all(gen.usage.prompt_tokens + len(s.token_ids) == 512 for s in gen.samples)


def test_the_context_window_is_read_from_common_configs():
    from transformers import Gemma3Config, GPT2Config, LlamaConfig

    from ponder.backends.hf import _context_length

    assert _context_length(LlamaConfig(max_position_embeddings=777)) == 777
    assert _context_length(GPT2Config(n_positions=333)) == 333  # learned positions: n_positions
    assert _context_length(Gemma3Config(text_config={"max_position_embeddings": 4096})) == 4096  # nested
