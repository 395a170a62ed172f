"""The openai backend against a real server with the quirks of real ones (``quirky_upstream.py``):
errors about ``n`` and others, servers that ignore ``n`` under a budget, deadlines, retries,
reasoning parsers, cut streams, malformed answers. Each test goes through ``ponder.solve`` /
``Engine`` as a user would."""

from __future__ import annotations

import asyncio
import email.utils
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import ponder
from helpers import free_port
from ponder import BackendError, Budget, Engine, GenerationRequest
from ponder.backends import load_backend
from servers import stop, wait_http

HERE = Path(__file__).resolve().parent


class Quirky:
    def __init__(self, port: int) -> None:
        self.root = f"http://127.0.0.1:{port}"
        self.url = f"{self.root}/v1"

    def cfg(self, **settings) -> None:
        httpx.post(f"{self.root}/_cfg", json=settings).raise_for_status()

    def log(self) -> list[dict]:
        return httpx.get(f"{self.root}/_log").json()

    def sent(self, key: str) -> list:
        return [e["body"].get(key) for e in self.log()]


@pytest.fixture(scope="module")
def quirky_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "quirky_upstream.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield Quirky(port)
    finally:
        stop(proc)


@pytest.fixture()
def quirky(quirky_server):
    httpx.post(f"{quirky_server.root}/_reset").raise_for_status()
    return quirky_server


def engine(spec: str, **kwargs) -> Engine:
    """An engine on a backend of its own (nothing learned by another test)."""
    return Engine(load_backend(spec, cache=False), **kwargs)


def ask(text: str = "Compute 2+3") -> list[dict]:
    return [{"role": "user", "content": text}]


def error(status: int, message: str, headers: dict | None = None, **fields) -> dict:
    """An OpenAI error answer for the server to give (``errors``)."""
    return {"status": status, "body": json.dumps({"error": {"message": message, **fields}}), "headers": headers or {}}


# -- 1. only an error about n turns n off ---------------------------------------------------------
def test_a_400_about_something_else_is_raised_once_and_n_stays_on(quirky):
    """Any 400 (or any error with "400" in its text) on an n > 1 call was taken for "this server
    refuses n": n single calls followed, and n stayed off for the backend's life."""
    quirky.cfg(errors=[error(400, "logprobs is not supported with this model", param="logprobs")])
    model = engine(f"openai:m@{quirky.url}")
    with pytest.raises(BackendError, match="answered 400: logprobs is not supported"):
        ponder.solve("Compute 2+3", model=model, strategy="sc(n=4)")
    assert quirky.sent("n") == [4]
    r = ponder.solve("Compute 2+3", model=model, strategy="sc(n=4)")
    assert r.answer == "5" and quirky.sent("n") == [4, 4] and r.ledger.calls == 1


@pytest.mark.parametrize("status", [401, 500])
def test_an_error_on_a_url_holding_4000_is_not_taken_for_a_refusal_of_n(quirky, status):
    url = f"{quirky.root}/litellm4000/v1"  # LiteLLM's port 4000 put "400" in every error's text
    quirky.cfg(errors=[error(status, "Incorrect API key provided" if status == 401 else "internal")] * 4)
    model = engine(f"openai:m@{url}?retries=1")
    with pytest.raises(BackendError, match=str(status)):
        ponder.solve("Compute 2+3", model=model, strategy="sc(n=4)")
    assert quirky.sent("n") == [4] * (1 if status == 401 else 2)
    assert model.backend.calls_for(GenerationRequest(messages=ask(), n=4)) == 1


@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_a_refusal_of_n_turns_it_off_and_each_call_after_it_is_claimed(quirky, http):
    """Groq-style "'n' : number must be at most 1": the samples come a call each, and a call
    budget counts the refused call and each of the others (it counted one call for all five)."""
    quirky.cfg(n="refuse")
    model = engine(f"openai:m@{quirky.url}?http={http}")
    r = ponder.solve("Compute 2+3", model=model, strategy="sc(n=4)", budget={"max_calls": 3})
    assert quirky.sent("n") == [4, None, None] and r.ledger.calls == 3
    assert r.answer == "5" and r.budget_exhausted and r.stop_reason == "call budget of 3 spent"
    assert [c.finish_reason for c in r.candidates].count("budget") == 2


# -- 2. a server that ignores n: every call claimed -----------------------------------------------
def test_a_server_that_ignores_n_keeps_to_the_call_budget_the_first_time_and_after(quirky):
    """The first call, with n=8, brought one sample; the 7 calls that filled the rest were not
    claimed (8 calls under max_calls=2, the budget said not spent); once learned, a request of 8
    samples under 2 calls drew nothing."""
    quirky.cfg(n="ignore")
    model = engine(f"openai:m@{quirky.url}")
    for sent in ([8, None], [None, None]):  # the first meeting, then known
        before = len(quirky.log())
        r = ponder.solve("Compute 2+3", model=model, strategy="sc(n=8)", budget={"max_calls": 2})
        assert quirky.sent("n")[before:] == sent and r.ledger.calls == 2
        assert r.answer == "5" and r.budget_exhausted and r.stop_reason == "call budget of 2 spent"
        assert sum(c.finish_reason != "budget" for c in r.candidates) == 2


def test_a_server_that_ignores_n_keeps_to_the_token_budget_with_a_long_prompt(quirky):
    """The first call claimed its prompt once; the calls that filled the rest each paid for it
    unclaimed (6,720 tokens under 6,000)."""
    quirky.cfg(n="ignore", prompt_tokens=800, completion_tokens=40)
    question = "Compute 2+3. Background: " + "lorem ipsum " * 250
    for limit in (6000, 12000):
        r = ponder.solve(question, model=engine(f"openai:m@{quirky.url}"), strategy="sc(n=8)",
                         budget={"max_tokens": limit})
        assert r.ledger.total_tokens <= limit and r.answer == "5", (limit, r.ledger.totals())
    assert r.ledger.calls == 8 and [e.n for e in r.ledger.entries] == [1] * 8


async def test_each_call_of_a_fan_out_is_charged_and_timed_on_its_own(quirky):
    """Calls of a fan-out that a deadline cut before their usage were charged nothing (their
    usage summed with the others' as 0), and the first call's ledger time was the whole request's."""
    quirky.cfg(n="ignore", chunk_delay=0.1, slow_seeds=[12], answer="a b c d e f g h i j k l m n o p q r s t Answer: 5")
    model = engine(f"openai:m@{quirky.url}").for_problem(Budget(max_tokens=100_000, max_seconds=1.2))
    model.prepare()
    model.budget.start_clock()
    samples = await model.generate(GenerationRequest(messages=ask(), n=3, seed=10, max_tokens=200))
    assert [s.finish_reason for s in samples] == ["stop", "stop", "budget"]
    entries = model.ledger.entries
    assert [e.completion_tokens for e in entries] == [11, 11, None]
    assert model.budget.tokens_used >= model.ledger.total_tokens + 17 + len(samples[2].text) // 4
    assert entries[0].wall_seconds < 0.8 < entries[2].wall_seconds  # each call its own time


# -- 3. a deadline holds before the first token and between retries -----------------------------
@pytest.mark.parametrize("http", ["httpx", "direct"])
@pytest.mark.parametrize("wait", ["queue", "retry-after"])
def test_a_time_budget_leaves_a_call_that_has_no_answer_yet(quirky, http, wait):
    """A server slow to start its answer (a queue) was waited for past the deadline, and retries
    slept past it (and ignored Retry-After)."""
    if wait == "queue":
        quirky.cfg(delay=4)
    else:
        quirky.cfg(errors=[error(429, "rate limited", headers={"Retry-After": "2"})] * 3)
    start = time.monotonic()
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http={http}"), strategy="cot",
                     budget={"max_seconds": 0.6})
    assert time.monotonic() - start < 2.5  # the time budget, and the client's set-up before it
    assert r.answer is None and r.budget_exhausted and r.stop_reason == "time budget of 0.6s spent"
    assert r.ledger.wall_seconds < 0.9


# -- 4. continuing open thinking through a reasoning parser --------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_budget_forcing_through_a_reasoning_parser_opens_no_second_think(quirky, stream):
    """vLLM with --reasoning-parser deepseek_r1 gives the continuation of an open <think> as
    reasoning_content: it was wrapped in a new <think>, and the next call's prefix carried two."""
    quirky.cfg(reasoning="r1_parser", answer="2 plus 3 is 5", completion_tokens=6, hit_stop=True)
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?continue=vllm"),
                     strategy="budget(think=64, wait=1)", budget={"max_seconds": 60} if stream else None)
    prefixes = [e["body"]["messages"][-1]["content"] for e in quirky.log()]
    assert prefixes[1] == "<think>2 plus 3 is 5 Wait" and all(p.count("<think>") == 1 for p in prefixes)
    # the answer after the closed thought, all reasoning to the parser, is not made a thought either
    # (the model ended its thinking itself, so no "Final Answer:" is put in its mouth)
    assert r.text == "<think>2 plus 3 is 5 Wait2 plus 3 is 5 </think>2 plus 3 is 5", r.text


async def test_a_prefix_after_a_partial_assistant_turn_joins_it(quirky):
    """continue=vllm sent the prefix as a second assistant message."""
    model = engine(f"openai:m@{quirky.url}?continue=vllm")
    await model.generate(GenerationRequest(messages=[*ask(), {"role": "assistant", "content": "Let me see."}],
                                           prefix=" <think>", max_tokens=20))
    [sent] = quirky.log()
    assert sent["body"]["messages"][1:] == [{"role": "assistant", "content": "Let me see. <think>"}]
    assert sent["body"]["continue_final_message"] is True


# -- 5. a choice the answer did not finish was cut ------------------------------------------------
@pytest.mark.parametrize("http", ["httpx", "aiohttp", "direct"])
def test_a_stream_that_ends_before_its_finish_is_a_cut_sample(quirky, http):
    quirky.cfg(answer="First 600*2 = 1200. Then 17*2 = 34. Total 1234. Answer: 1234", truncate_after=4)
    r = ponder.solve("Compute 617*2", model=engine(f"openai:m@{quirky.url}?http={http}"), strategy="cot",
                     budget={"max_seconds": 30})
    assert r.ledger.entries[0].finish_reasons == ["length"]
    assert r.text == "First 600*2 = 1200. " and r.answer is None  # not 1200: it did not finish


def test_a_null_finish_reason_is_a_cut_sample(quirky):
    quirky.cfg(finish="null", answer="First 600*2 = 1200")
    r = ponder.solve("Compute 617*2", model=engine(f"openai:m@{quirky.url}"), strategy="cot")
    assert r.ledger.entries[0].finish_reasons == ["length"] and r.answer is None


# -- 6. retries: Retry-After, and a generation longer than the timeout ---------------------------
@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_retry_after_is_honoured_and_its_waits_are_not_model_time(quirky, http):
    soon = email.utils.formatdate(time.time() + 3, usegmt=True)  # an HTTP date (whole seconds: 2 to 3 s from now)
    quirky.cfg(errors=[error(429, "slow down", headers={"Retry-After": soon}),
                       error(503, "busy", headers={"Retry-After": "9", "retry-after-ms": "700"})])
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http={http}"), strategy="cot")
    times = [e["t"] for e in quirky.log()]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert r.answer == "5" and len(times) == 3 and r.ledger.retries == 2
    assert gaps[0] >= 0.9 and 0.65 <= gaps[1] < 2, gaps
    assert r.ledger.wall_seconds < 0.5  # the model's time, not the waits


@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_a_429_that_names_no_wait_backs_off_for_a_rate_limit(quirky, http):
    """A rate limit's window is seconds to a minute: the first wait is at least half a second (it
    was at most 0.375 s), and the 4 default retries wait 7.5 to 22.5 s in all (they waited 1.9 to 5.6 s)."""
    from ponder.backends.openai_retry import backoff

    quirky.cfg(errors=[error(429, "rate limited")])
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http={http}"), strategy="cot")
    times = [e["t"] for e in quirky.log()]
    assert r.answer == "5" and r.ledger.retries == 1 and times[1] - times[0] >= 0.5, times
    assert sum(min(backoff(a, rate_limited=True) for _ in range(200)) for a in range(4)) >= 7.5
    assert max(backoff(a, rate_limited=True) for a in range(12) for _ in range(50)) <= 45
    assert max(backoff(a) for a in range(4) for _ in range(50)) < 3  # other failures: as before


@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_a_generation_longer_than_the_timeout_is_not_started_over(quirky, http):
    quirky.cfg(delay=0.8)
    with pytest.raises(BackendError, match=r"no answer within the timeout of 0.3s.*\?timeout="):
        ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http={http}&timeout=0.3"), strategy="cot")
    assert len(quirky.log()) == 1


# -- 7. OpenAI's reasoning models ------------------------------------------------------------------
def test_a_server_that_wants_max_completion_tokens_gets_it(quirky):
    quirky.cfg(o_series=True)
    model = engine(f"openai:o4-mini@{quirky.url}")
    r = ponder.solve("Compute 2+3", model=model, strategy="sc(n=4, temperature=1)")
    assert r.answer == "5" and r.ledger.retries == 1
    assert [("max_tokens" in b, "max_completion_tokens" in b) for b in (e["body"] for e in quirky.log())] == [
        (True, False), (False, True)]
    with pytest.raises(BackendError, match="only at its default temperature: give the strategy temperature=1"):
        ponder.solve("Compute 2+3", model=model, strategy="cot")
    spec = engine(f"openai:o4-mini@{quirky.url}?token_limit=max_completion_tokens")
    before = len(quirky.log())
    assert ponder.solve("Compute 2+3", model=spec, strategy="cot(temperature=1)").answer == "5"
    assert len(quirky.log()) == before + 1


def test_the_token_limit_field_is_a_spec_option():
    from ponder import ModelSpecError
    from ponder.backends.openai_spec import parse_spec

    assert parse_spec("openai:o3@http://a/v1?token_limit=max_completion_tokens").token_limit == "max_completion_tokens"
    with pytest.raises(ModelSpecError, match="token_limit= accepts max_tokens or max_completion_tokens"):
        parse_spec("openai:o3@http://a/v1?token_limit=max_output_tokens")


# -- 8. a stream that breaks after its first token; events past aiohttp's line limit -------------
@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_a_stream_broken_after_its_first_token_is_an_error_not_a_retry(quirky, http):
    quirky.cfg(answer="The answer is 5. Answer: 5", bad_event_at=3)
    deltas: list[str] = []
    model = engine(f"openai:m@{quirky.url}?http={http}", on_token=deltas.append)
    with pytest.raises(BackendError, match="sent a malformed response in the middle of a stream"):
        await model.generate(GenerationRequest(messages=ask(), max_tokens=50))
    await asyncio.sleep(0)
    assert "".join(deltas) == "The answer is " and len(quirky.log()) == 1


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_a_stream_cut_in_its_middle_is_in_the_ledger_and_charged(quirky, http):
    """A stream whose connection broke after its first words was an error and nothing more: no
    ledger entry, nothing charged, though its text had reached the client; and the error read
    "ContentLengthError: 400" (aiohttp's code for a short body, not the server's). Now the call is
    an entry whose tokens are unknown, finish reason error, and the budget is charged its prompt's
    claim and the text passed on; the error says the connection closed."""
    quirky.cfg(answer="The answer is 5. Answer: 5", drop=3)
    deltas: list[str] = []
    model = engine(f"openai:m@{quirky.url}?http={http}", on_token=deltas.append, budget=Budget(max_tokens=10_000))
    with pytest.raises(BackendError, match="failed in the middle of a stream: the connection closed") as err:
        await model.generate(GenerationRequest(messages=ask(), max_tokens=50))
    await asyncio.sleep(0)
    # not aiohttp's "ContentLengthError: 400" (the bare 400 would also match the server's port)
    assert "".join(deltas) == "The answer is " and "ContentLengthError" not in str(err.value)
    assert ": 400" not in str(err.value)
    [e] = model.ledger.entries
    assert e.finish_reasons == ["error"] and (e.prompt_tokens, e.completion_tokens) == (None, None)
    assert model.ledger.uncounted_calls == 1 and model.budget.calls_used == 1
    assert model.budget.tokens_used >= len("Compute 2+3") + -(-len("The answer is ") // 4)


@pytest.mark.parametrize("http", ["httpx", "direct"])
async def test_a_call_that_fails_after_its_retries_is_in_the_ledger_with_them(quirky, http):
    """Three attempts reached the server and nothing recorded them: now one call, two retries, its
    time without the waits between them (at least 0.375 s)."""
    quirky.cfg(drop=0)  # every answer breaks in its middle
    model = engine(f"openai:m@{quirky.url}?http={http}&retries=2")
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"failed after 3 attempt\(s\): the connection closed before the whole "
                                           "answer came"):
        await model.generate(GenerationRequest(messages=ask(), max_tokens=8))
    [e] = model.ledger.entries
    assert len(quirky.log()) == 3 and e.retries == 2 and e.finish_reasons == ["error"]
    assert model.ledger.uncounted_calls == 1 and model.budget.calls_used == 1
    assert e.wall_seconds <= time.monotonic() - start - 0.3


@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_a_stream_cut_after_its_choices_finished_keeps_them(quirky, http):
    """A stream that broke after every choice's finish, before its usage and [DONE], was thrown
    away (an error) though the same answer not streamed was kept: the choices are kept, the
    call's tokens unknown."""
    quirky.cfg(drop="finish")
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http={http}"), strategy="sc(n=2)",
                     budget={"max_seconds": 30})
    [e] = r.ledger.entries
    assert r.answer == "5" and e.finish_reasons == ["stop", "stop"] and r.ledger.uncounted_calls == 1


@pytest.mark.parametrize("stream", [False, True])
def test_usage_of_all_zeros_beside_a_text_is_not_a_count(quirky, stream):
    """A server that answers usage as zeros counts nothing: taken as true, the token budget was
    never charged and all 16 samples were drawn under a budget of 120 tokens. Now the counts are
    unknown and the budget is charged the prompt's claim and the text, as for no usage."""
    quirky.cfg(usage="zeros")
    budget = {"max_tokens": 120, **({"max_seconds": 60} if stream else {})}
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}"), strategy="sc(n=16, of=cot(max_tokens=16))",
                     budget=budget)
    assert r.ledger.calls >= 1 and r.ledger.uncounted_calls == r.ledger.calls and r.ledger.completion_tokens is None
    assert r.budget_exhausted and len([c for c in r.candidates if c.text]) < 16


def test_a_stream_event_past_aiohttps_line_limit_is_read(quirky):
    quirky.cfg(one_chunk=True, answer="word " * 120_000 + "Answer: 5")  # 600 kB in one event
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?http=direct"), strategy="cot",
                     budget={"max_seconds": 60})
    assert r.answer == "5"


# -- 9. answers of other shapes ---------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_content_as_typed_parts_is_read(quirky, stream):
    quirky.cfg(reasoning="parts")
    r = ponder.solve("Compute 2+3", model=engine(f"openai:magistral@{quirky.url}"), strategy="cot",
                     budget={"max_seconds": 60} if stream else None)
    assert r.answer == "5" and r.text == "<think>Add 2 and 3.</think>The sum is 5.\nAnswer: 5"


@pytest.mark.parametrize("http", ["httpx", "direct"])
def test_error_bodies_are_read_and_said_briefly(quirky, http):
    spec = f"openai:m@{quirky.url}?http={http}&retries=2"
    page = "<html><head><title>Open WebUI</title></head><body>" + "<!-- padding -->" * 200 + "</body></html>"
    cases = [
        ({"status": 200, "body": json.dumps({"error": {"message": "model overloaded", "code": 400}})},
         "model overloaded", 1),
        ({"status": 200, "body": page, "ctype": "text/html"}, "HTML page.*Open WebUI.*is the URL the API's base", 1),
        ({"status": 404, "body": page.replace("Open WebUI", "404 Not Found"), "ctype": "text/html"},
         "answered 404", 1),
        ({"status": 200, "body": json.dumps({"id": "x", "choices": [], "prompt_filter_results": [{}]})},
         "answered with no choices .*content filter", 1),
    ]
    for answer, said, calls in cases:
        httpx.post(f"{quirky.root}/_reset")
        quirky.cfg(errors=[answer] * 3)
        with pytest.raises(BackendError, match=said) as caught:
            ponder.solve("Compute 2+3", model=engine(spec), strategy="sc(n=4)")
        assert len(quirky.log()) == calls, (answer, quirky.sent("n"))
        assert "<html" not in str(caught.value) and len(str(caught.value)) < 300


def test_choices_are_read_in_the_order_of_their_index_and_deepseek_cache_counts(quirky):
    quirky.cfg(n="reverse", usage="deepseek")
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}"), strategy="sc(n=3, seed=1)")
    assert [c.text.rsplit(" ", 1)[-1] for c in r.candidates] == ["5", "#1", "#2"]
    assert r.ledger.entries[0].cached_prompt_tokens == 9


# -- 10. a client-side chat template that starts with the BOS ---------------------------------------
def test_a_rendered_prompt_with_its_bos_asks_the_server_to_add_none(quirky):
    from ponder.backends import embedded_path

    tokenizer = embedded_path("policy")  # its chat template starts with <s>
    r = ponder.solve("Compute 2+3", model=engine(f"openai:m@{quirky.url}?tokenizer={tokenizer}"),
                     strategy="budget(think=32)")
    [first, *_] = quirky.log()
    assert first["path"] == "/v1/completions" and first["body"]["prompt"].startswith("<s>")
    assert first["body"]["add_special_tokens"] is False and r.ledger.calls >= 1
    # a server that does not take the field (transformers serve answers 422) is called without it
    httpx.post(f"{quirky.root}/_reset")
    quirky.cfg(unexpected=["add_special_tokens"])
    model = engine(f"openai:m@{quirky.url}?tokenizer={tokenizer}")
    assert ponder.solve("Compute 2+3", model=model, strategy="budget(think=32)").ledger.calls >= 1
    assert ["add_special_tokens" in e["body"] for e in quirky.log()][:2] == [True, False]


def test_a_key_the_server_echoes_is_not_in_the_error(quirky, monkeypatch):
    """OpenAI answers a wrong key with "Incorrect API key provided: sk-..."; that text reaches logs
    and terminals, so the key in it is replaced."""
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("PONDER_TEST_KEY", secret)
    quirky.cfg(errors=[error(401, f"Incorrect API key provided: {secret}. You can find your key at ...")])
    model = engine(f"openai:m@{quirky.url}?api_key_env=PONDER_TEST_KEY&retries=0")
    with pytest.raises(BackendError) as caught:
        ponder.solve("Compute 2+3", model=model, strategy="cot")
    assert "401" in str(caught.value) and "Incorrect API key provided: [redacted]" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)
