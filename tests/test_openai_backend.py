"""The openai backend against real HTTP servers: `transformers serve` and a flaky upstream."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers import free_port
from servers import transformers_serve, wait_http
from ponder import BackendError, Budget, CapabilityError, Engine, GenerationRequest, ModelSpecError
from ponder.backends import load_backend
from ponder.backends.openai import parse_spec

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    with transformers_serve(tiny_model_dir) as url:
        yield url, tiny_model_dir


@pytest.fixture()
def flaky():
    def start(failures: int):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(HERE / "flaky_upstream.py"), str(port), str(failures)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        return f"http://127.0.0.1:{port}"

    procs: list[subprocess.Popen] = []
    yield start
    for p in procs:
        p.kill()
        p.wait()


def msgs(text="What is 2+2?"):
    return [{"role": "user", "content": text}]


async def test_n_falls_back_to_concurrent_calls_with_exact_usage(served):
    url, model_dir = served
    engine = Engine(load_backend(f"openai:{model_dir}@{url}", cache=False))
    samples = await engine.generate(GenerationRequest(messages=msgs(), n=3, max_tokens=6, temperature=1.0))
    assert len(samples) == 3
    # transformers serve returns one choice whatever n is: the backend noticed and filled the rest
    assert engine.backend._native_n[url] is False
    # three calls, each of which paid for its prompt: an entry each in the ledger
    entries = engine.ledger.entries
    assert [e.n for e in entries] == [1, 1, 1]
    assert entries[0].prompt_tokens and all(e.prompt_tokens == entries[0].prompt_tokens for e in entries)
    assert [e.completion_tokens for e in entries] == [6, 6, 6]  # all cut by length
    assert all(e.wall_seconds > 0 for e in entries)
    assert engine.ledger.totals()["calls"] == 3
    assert all(s.finish_reason == "length" for s in samples)


async def test_a_call_budget_counts_each_call_of_a_fan_out(served):
    """A server that ignores n makes a call a sample: the budget counted one call for all of them."""
    from ponder import BudgetExhausted

    url, model_dir = served
    backend = load_backend(f"openai:{model_dir}@{url}", cache=False)
    request = GenerationRequest(messages=msgs(), n=3, max_tokens=4, temperature=1.0)
    first = Engine(backend, budget=Budget(max_calls=5))
    await first.generate(request)  # one call, then two more once the server is seen to ignore n
    assert first.budget.calls_used == 3 == first.ledger.calls
    # now the backend knows: a request of 3 samples is 3 calls; with 2 left it draws 2 (it drew
    # none: the request was refused whole), the third not drawn; with none left it is refused
    samples = await first.generate(request)
    assert [s.finish_reason == "budget" for s in samples] == [False, False, True] and first.ledger.calls == 5
    with pytest.raises(BudgetExhausted, match="call budget of 5 spent"):
        await first.generate(request)
    assert first.ledger.calls == 5
    again = Engine(backend, budget=Budget(max_calls=3))
    assert len(await again.generate(request)) == 3 and again.budget.calls_used == 3 == again.ledger.calls


async def test_a_token_budget_holds_where_the_prompt_cannot_be_counted(served):
    """Without ?tokenizer= the prompt was taken as 4 characters a token: a server's chat template
    and tokenizer made it longer, and the calls that shared the budget's end spent past it."""
    url, model_dir = served
    backend = load_backend(f"openai:{model_dir}@{url}", cache=False)
    request = GenerationRequest(messages=msgs("Compute left to right: 567-227-134*4+24"), max_tokens=64,
                                temperature=1.0)
    for limit in (60, 150, 200, 150):  # the first without a reported prompt count yet, the rest with
        engine = Engine(backend, budget=Budget(max_tokens=limit))
        await asyncio.gather(*(engine.generate(request) for _ in range(4)), return_exceptions=True)
        assert engine.ledger.total_tokens <= limit, (limit, engine.ledger.totals())
        assert engine.ledger.calls or limit == 60  # 60 holds no call while the prompt is taken at its bound


async def test_continuation_through_completions_with_client_side_template(served):
    url, model_dir = served
    backend = load_backend(f"openai:{model_dir}@{url}?tokenizer={model_dir}", cache=False)
    assert backend.capabilities().prefix_continuation
    engine = Engine(backend)
    [s] = await engine.generate(GenerationRequest(messages=msgs(), prefix="<think> 2+2=", max_tokens=5))
    assert engine.ledger.entries[0].completion_tokens == 5
    # the server saw the rendered prompt plus the prefix: more prompt tokens than the bare chat turn
    [_] = await engine.generate(GenerationRequest(messages=msgs(), max_tokens=5))
    assert engine.ledger.entries[0].prompt_tokens > engine.ledger.entries[1].prompt_tokens


async def test_prefix_without_continuation_support_is_a_clear_error(served):
    url, model_dir = served
    engine = Engine(load_backend(f"openai:{model_dir}@{url}", cache=False))
    with pytest.raises(CapabilityError, match="tokenizer=PATH"):
        await engine.generate(GenerationRequest(messages=msgs(), prefix="<think>", max_tokens=4))
    with pytest.raises(CapabilityError, match="logits"):
        await engine.generate(GenerationRequest(messages=msgs(), logits_processors=[lambda i, s: s]))
    assert engine.ledger.calls == 0


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_retries_are_counted_and_usage_details_read(flaky, http):
    url = flaky(2)
    backend = load_backend(f"openai:m@{url}/v1?http={http}", cache=False)
    engine = Engine(backend)
    [s] = await engine.generate(GenerationRequest(messages=msgs(), max_tokens=8))
    assert s.text == "<think>6*7=42</think>Answer: 42"
    [e] = engine.ledger.entries
    assert (e.retries, e.prompt_tokens, e.cached_prompt_tokens, e.completion_tokens, e.reasoning_tokens) == (2, 11, 8, 7, 4)
    assert httpx.get(f"{url}/calls").json()["calls"] == 3
    await backend.aclose()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_thinking_under_either_field_name_is_kept(flaky, http, stream):
    # vLLM used to name the thinking text reasoning_content and now names it reasoning
    url = flaky(0)
    backend = load_backend(f"openai:reasoning-field@{url}/v1?http={http}", cache=False)
    engine = Engine(backend)
    if stream:
        engine.on_token = lambda piece: None
    [s] = await engine.generate(GenerationRequest(messages=msgs(), max_tokens=8))
    assert s.text == "<think>6*7=42</think>Answer: 42"
    await backend.aclose()


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_best_of_n_by_logprob_on_a_server_that_returns_them(flaky, http):
    # bon over cot asks for the candidates' log-probabilities in the sampling call and scores by
    # their mean: choice 1 (mean -0.2) wins over -1.1, -0.5 and -1.05
    from ponder import Problem, build_strategy
    from ponder.strategies import run_strategy

    url = flaky(0)
    backend = load_backend(f"openai:m@{url}/v1?http={http}", cache=False)
    problem = Problem.from_question("What is 2+2?")
    result = await run_strategy(build_strategy("bon(n=4, scorer=logprob)"), problem, Engine(backend))
    assert result.answer == "4" and result.trace["chosen"] == 1
    assert [round(s, 3) for s in result.trace["scores"]] == [-1.1, -0.2, -0.5, -1.05]
    assert result.ledger.totals()["calls"] == 1  # the scores came with the samples
    with pytest.raises(CapabilityError, match="logprob"):  # of=sc: its candidates carry none
        await run_strategy(build_strategy("bon(n=2, scorer=logprob, of=sc(n=1))"), problem, Engine(backend))
    quiet = load_backend(f"openai:no-logprobs@{url}/v1?http={http}", cache=False)
    with pytest.raises(CapabilityError, match="came without token log-probabilities"):
        await run_strategy(build_strategy("bon(n=2, scorer=logprob)"), problem, Engine(quiet))
    await backend.aclose()
    await quiet.aclose()


@pytest.mark.parametrize("http", ["httpx", "aiohttp", "direct"])
async def test_streamed_calls_deliver_the_text_as_it_comes_with_usage_and_retries(flaky, http):
    url = flaky(1)
    backend = load_backend(f"openai:m@{url}/v1?http={http}", cache=False)
    engine = Engine(backend)
    pieces: list[str] = []
    engine.on_token = pieces.append
    [s] = await engine.generate(GenerationRequest(messages=msgs(), max_tokens=8))
    await asyncio.sleep(0)  # the engine hands deltas to the loop; the last ones run now
    assert pieces == ["<think>6*7", "=42", "</think>Answer: 42"] and s.text == "".join(pieces)
    [e] = engine.ledger.entries
    assert (e.retries, e.prompt_tokens, e.completion_tokens) == (1, 11, 7)
    await backend.aclose()


@pytest.fixture(scope="module")
def served_lab():
    from ponder.backends import embedded_path

    model_dir = embedded_path("policy")
    with transformers_serve(model_dir) as url:
        yield url, model_dir


async def test_direct_streams_match_the_sdks_on_a_real_server(served_lab):
    """The lab policy's greedy answer from transformers serve, streamed through the SDK and read
    straight off the connection: the same text, delivered in pieces, and the same usage."""
    url, model_dir = served_lab
    texts, usages = {}, {}
    for http in ("httpx", "direct"):
        backend = load_backend(f"openai:{model_dir}@{url}?http={http}", cache=False)
        engine = Engine(backend)
        pieces: list[str] = []
        engine.on_token = pieces.append
        question = msgs("Compute left to right: 396-353+209*2")
        [s] = await engine.generate(GenerationRequest(messages=question, max_tokens=96, temperature=0.0))
        await asyncio.sleep(0)
        assert len(pieces) > 5 and "".join(pieces) == s.text and "Answer:" in s.text
        texts[http], usages[http] = s.text, engine.ledger.entries[0].completion_tokens
        await backend.aclose()
    assert texts["httpx"] == texts["direct"] and usages["httpx"] == usages["direct"] > 5


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_persistent_failure_names_the_url(flaky, http):
    url = flaky(100)
    backend = load_backend(f"openai:m@{url}/v1?retries=2&http={http}", cache=False)
    engine = Engine(backend)
    with pytest.raises(BackendError, match=f"{url}/v1.*3 attempt"):
        await engine.generate(GenerationRequest(messages=msgs(), max_tokens=8))
    assert httpx.get(f"{url}/calls").json()["calls"] == 3
    await backend.aclose()


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_client_errors_are_not_retried(flaky, http, tiny_model_dir):
    """A 4xx other than 408/409/429 is the request's fault: one call, an error with the status and
    the endpoint; a missing /completions (what tokenizer= continues through) says so."""
    url = flaky(0)
    backend = load_backend(f"openai:m@{url}/nowhere?retries=3&http={http}", cache=False)
    with pytest.raises(BackendError, match=f"{url}/nowhere/chat/completions answered 404"):
        await Engine(backend).generate(GenerationRequest(messages=msgs(), max_tokens=8))
    assert httpx.get(f"{url}/calls").json()["calls"] == 0
    await backend.aclose()
    backend = load_backend(f"openai:m@{url}/nowhere?retries=3&http={http}&tokenizer={tiny_model_dir}", cache=False)
    with pytest.raises(BackendError, match="/nowhere/completions answered 404.*no /completions endpoint"):
        await Engine(backend).generate(GenerationRequest(messages=msgs(), prefix="<think>", max_tokens=8))
    await backend.aclose()


@pytest.mark.parametrize("http", ["httpx", "aiohttp", "direct"])
def test_one_backend_serves_successive_event_loops(served, http):
    """Clients, pools and semaphores belong to one loop: each ``asyncio.run`` gets its own, and
    what the backend learned (here: the server ignores ``n``) carries over.  An aiohttp session
    is closed with ``aclose`` before its loop ends (as ``ponder serve`` does at shutdown)."""
    import asyncio

    url, model_dir = served
    backend = load_backend(f"openai:{model_dir}@{url}?http={http}", cache=False)

    async def once():
        engine = Engine(backend)
        samples = await engine.generate(GenerationRequest(messages=msgs(), n=2, max_tokens=4, temperature=1.0))
        ep = backend._endpoints[0]
        transport = type(ep.client._client).__name__ if ep.client is not None else type(ep.poster.session).__module__
        assert (ep.poster is not None) == (http == "direct")
        if http != "httpx":
            await backend.aclose()
        return samples, sum(e.completion_tokens for e in engine.ledger.entries), transport

    for _ in range(2):
        samples, tokens, transport = asyncio.run(once())
        assert len(samples) == 2 and tokens == 8
        assert ("aiohttp" in transport.lower()) == (http != "httpx"), transport
    assert all(not native for native in backend._native_n.values())


async def test_unreachable_server_fails_within_its_timeout():
    port = free_port()  # nothing listens here
    backend = load_backend(f"openai:m@http://127.0.0.1:{port}/v1?timeout=2&retries=1", cache=False)
    start = time.monotonic()
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}"):
        await Engine(backend).generate(GenerationRequest(messages=msgs(), max_tokens=4))
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("http", ["httpx", "aiohttp", "direct"])
def test_a_refused_connection_is_a_connection_error_and_no_client_is_left_open(http):
    """The SDK's aiohttp transport reported a refused connection as a timeout; and the aiohttp
    sessions of a loop whose run ended without ``aclose`` were never closed (aiohttp printed
    ``Unclosed client session`` at exit), on an error as on success."""
    import asyncio

    backend = load_backend(f"openai:m@http://127.0.0.1:{free_port()}/v1?retries=0&http={http}", cache=False)

    async def once():
        with pytest.raises(BackendError, match="failed after 1 attempt") as caught:
            await Engine(backend).generate(GenerationRequest(messages=msgs(), max_tokens=4))
        return str(caught.value), backend._endpoints[0]

    said, ep = asyncio.run(once())
    assert ("Connection error" in said or "Cannot connect" in said) and "Timeout" not in said, said
    if http == "direct":
        assert ep.poster.session.closed
    else:
        assert ep.client.is_closed()


def test_spec_parsing_and_errors():
    cfg = parse_spec("openai:org/model-7b@http://a:1/v1,http://b:2/v1?params=7e9&concurrency=4")
    assert (cfg.model, cfg.urls, cfg.num_parameters, cfg.concurrency) == (
        "org/model-7b", ["http://a:1/v1", "http://b:2/v1"], 7_000_000_000, 4)
    for bad, why in [("openai:model", "openai:MODEL@URL"), ("openai:m@http://a/v1?colour=red", "unknown option"),
                     ("openai:m@http://a/v1?continue=maybe", "continue="),
                     ("openai:m@http://a/v1?http=curl", "http= accepts httpx or aiohttp"), ("openai:m@http://a/v1?timeout=-1", "positive")]:
        with pytest.raises(ModelSpecError, match=why):
            parse_spec(bad)


@pytest.mark.parametrize("bad, why", [
    # a URL no call could reach was an internal error at the first call (InvalidURL, an ExceptionGroup)
    ("openai:m@http://[::1", r"bad server URL 'http://\[::1' .*Invalid IPv6 URL"),
    ("openai:m@http://127.0.0.1:abc/v1", "port abc is not a number from 1 to 65535"),
    ("openai:m@http://127.0.0.1:99999/v1", "port 99999 is not a number from 1 to 65535"),
    ("openai:m@http://127.0.0.1:0/v1", "port 0 is not"),
    ("openai:m@http://:8000/v1", "names no host"),
    ("openai:m@http://a:1/v1,b:2/v1", "bad server URL 'b:2/v1'.*does not start with http"),
    # NaN passed the check `<= 0`, and infinite parameters overflowed
    ("openai:m@http://a/v1?timeout=nan", "timeout must be a positive number of seconds, got 'nan'"),
    ("openai:m@http://a/v1?timeout=inf", "got 'inf'"),
    ("openai:m@http://a/v1?params=inf", "params must be a positive number"),
    ("openai:m@http://a/v1?params=nan", "params must be a positive number"),
])
def test_malformed_urls_and_non_finite_numbers_are_spec_errors(bad, why):
    with pytest.raises(ModelSpecError, match=why) as caught:
        parse_spec(bad)
    if "URL" in why:
        assert "a URL is http[s]://HOST[:PORT][/PATH]" in str(caught.value)


def test_well_formed_urls_pass():
    for url in ("http://[::1]:8000/v1", "https://api.example.com/v1", "http://localhost/v1"):
        assert parse_spec(f"openai:m@{url}").urls == [url]


async def test_a_time_budget_stops_reading_a_stream_and_charges_what_it_saw(flaky):
    """A remote call under ``max_seconds`` is streamed and read until the time is up: the text so
    far is kept (finish reason budget), the server sees the client leave, and as the stream ended
    before its usage the budget is charged the prompt's claim and the tokens the text holds (here
    about 4 characters a token: the model's tokenizer is not known), not nothing."""
    import ponder
    from ponder import Budget

    url = flaky(0)
    backend = load_backend(f"openai:slow@{url}/v1", cache=False)
    await backend.generate(GenerationRequest(messages=msgs(), max_tokens=5))  # the client is set up (not streamed)
    engine = Engine(backend).for_problem(Budget(max_seconds=0.5))
    start = time.monotonic()
    [s] = await engine.generate(GenerationRequest(messages=msgs(), max_tokens=100))
    took = time.monotonic() - start
    assert s.finish_reason == "budget" and 3 < s.text.count("1 ") < 30 and took < 1.5
    [entry] = engine.ledger.entries
    assert entry.completion_tokens is None  # the server never said: the ledger does not make it up
    assert engine.budget.tokens_used >= -(-len(s.text) // 4) > 0
    assert engine.budget.exhausted_reason() == "time budget of 0.5s spent"
    for _ in range(50):  # the server noticed the client leave
        if httpx.get(f"{url}/calls").json()["left"] == 1:
            break
        await asyncio.sleep(0.05)
    assert httpx.get(f"{url}/calls").json()["left"] == 1
    # through a strategy: no answer was finished, and the result says why
    r = await ponder.asolve("2+2?", model=f"openai:slow@{url}/v1", strategy="cot(max_tokens=100)",
                            budget={"max_seconds": 0.5})
    assert r.budget_exhausted and r.answer is None and r.stop_reason == "time budget of 0.5s spent"
