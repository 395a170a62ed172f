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


def forcing(ids, prompt_len):
    """A logits processor that makes the model write ``ids``, then "a" forever."""
    import torch

    def force(input_ids, scores):
        out = torch.full_like(scores, float("-inf"))
        k = input_ids.shape[1] - prompt_len
        out[:, ids[k] if k < len(ids) else ids[0]] = 0.0
        return out

    return force


@pytest.mark.parametrize("stop", ["😀", "中文"])
def test_a_stop_string_of_more_tokens_than_characters_stops_the_sample(backend, stop):
    """Before: the stop string was looked for in the last len(stop) + 2 tokens, where a byte-level
    tokenizer writes an emoji in 4 tokens: the sample ran to max_tokens and said "length" beside a
    matched stop string."""
    ids = backend.encode(f"ab{stop}cd 1+2=3; 3*4=12 Answer: 42.")
    head = len(backend.encode("ab"))
    end = next(k for k in range(len(ids)) if stop in backend.decode(ids[:k + 1]))  # the token that completes it
    assert end - head + 1 > len(stop) + 2  # the byte-level tokens of the stop string
    prompt_len = len(backend.encode(backend.render(req())))
    sample = backend.generate_sync(req(max_tokens=len(ids), temperature=0.0, stop=[stop],
                                       logits_processors=[forcing(ids, prompt_len)])).samples[0]
    assert (sample.finish_reason, sample.matched_stop, sample.text) == ("stop", stop, "ab")
    assert sample.token_ids == ids[:end + 1]  # it stopped at the token that completed the stop string


def test_a_sample_never_says_length_beside_a_matched_stop_string(backend):
    x = backend.encode("ab")
    sample = backend._sample("", x + backend.encode("cd"), None, "length", ["b"])
    assert (sample.finish_reason, sample.matched_stop, sample.text) == ("stop", "b", "a")


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


# -- model directories that do not load, chat templates without a system role --------------------

# Gemma-2's chat template refuses a system message this way; the rest is the lab policy's template.
NO_SYSTEM_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
    "'<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


@pytest.fixture
def policy_copy(tmp_path):
    """A copy of the shipped lab policy, to spoil."""
    import shutil

    from ponder.lab import POLICY_DIR

    return shutil.copytree(POLICY_DIR, tmp_path / "policy")


def test_a_template_without_a_system_role_gets_the_instruction_in_the_user_turn(policy_copy):
    from ponder import Problem, solve
    from ponder.prompts import COT_INSTRUCTION
    from ponder.strategies.cot import Cot

    (policy_copy / "chat_template.jinja").write_text(NO_SYSTEM_TEMPLATE)
    backend = HFBackend(policy_copy)
    problem = Problem.from_question("Compute left to right: 12+7*3")
    prompt = backend.render(Cot().request(problem))
    assert "<|system|>" not in prompt
    assert f"<|user|>\n{COT_INSTRUCTION}\n\nCompute left to right: 12+7*3<|end|>" in prompt
    result = solve(problem, model=Engine(backend), strategy="cot")  # the default strategy runs
    assert result.ledger.calls == 1 and result.text


def test_a_template_that_refuses_the_messages_is_a_model_spec_error(policy_copy):
    from ponder import ModelSpecError

    (policy_copy / "chat_template.jinja").write_text("{{ raise_exception('Conversation roles must alternate') }}")
    backend = HFBackend(policy_copy)
    with pytest.raises(ModelSpecError, match="chat template of .*policy.*Conversation roles must alternate"):
        backend.generate_sync(req(messages=[{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "2+2?"}]))


def spoil_config(model_dir):
    import json

    config = json.loads((model_dir / "config.json").read_text())
    config["hidden_size"] = 64  # the weights no longer have the sizes the config gives
    (model_dir / "config.json").write_text(json.dumps(config))


def truncate_weights(model_dir):
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


@pytest.mark.parametrize("spoil, needle", [(spoil_config, "do not match its config.json"),
                                           (truncate_weights, "SafetensorError")])
def test_model_files_that_do_not_load_are_model_spec_errors(policy_copy, spoil, needle):
    from ponder import ModelSpecError

    spoil(policy_copy)
    with pytest.raises(ModelSpecError, match=f"cannot load a causal LM from .*policy.*{needle}"):
        Engine.from_spec(f"hf:{policy_copy}")


def test_a_tokenizer_directory_without_tokenizer_files_is_a_model_spec_error(policy_copy):
    """openai:...?tokenizer=DIR loads its tokenizer when a prompt is first rendered with it, before
    any call (no server is reached here)."""
    from ponder import ModelSpecError

    for name in ("tokenizer.json", "tokenizer_config.json"):
        (policy_copy / name).unlink()
    engine = Engine.from_spec(f"openai:m@http://127.0.0.1:9/v1?tokenizer={policy_copy}&retries=0&timeout=1")
    with pytest.raises(ModelSpecError, match=r"tokenizer=.*policy.*cannot load a tokenizer"):
        asyncio.run(engine.generate(req(prefix="<think>", max_tokens=5)))
