"""`ponder serve` in front of real upstreams: `transformers serve` hosting the model, and a fake
OpenAI-compatible server that echoes the API key in its errors (the key must never come back)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import openai
import pytest
from openai import OpenAI

from serve_helpers import fake_upstream, model_dir, ponder_serve, transformers_serve  # noqa: F401

SECRET = "sk-upstream-SECRET-0123456789"
MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 6*7?"}]


@pytest.fixture(scope="module")
def hf_server(model_dir):
    """`transformers serve` hosting the lab policy."""
    with transformers_serve(model_dir) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def proxied(model_dir, hf_server, tmp_path_factory):
    with ponder_serve(f"openai:{model_dir}@{hf_server}?concurrency=8", log_dir=tmp_path_factory.mktemp("up")) as s:
        yield s


def test_step_search_over_transformers_serve_goes_as_on_the_local_model(hf_server, model_dir):
    """transformers serve keeps the stop string in the text and has no stop_reason: once a step was
    seen cut at the delimiter, a sample it did not cut is known to have ended at its end of turn,
    so the search is not told the server hides its stops, and it takes the local model's steps."""
    import ponder

    spec = "beam(n=4, width=2, max_steps=6, temperature=0)"
    q = "Compute left to right: 567-227-134*4+24"
    local = ponder.solve(q, strategy=spec)
    served = ponder.solve(q, strategy=spec, model=f"openai:{model_dir}@{hf_server}?tokenizer={model_dir}&retries=0")
    steps = lambda r: [n["step"] for n in r.trace["nodes"]]  # noqa: E731
    assert served.trace.get("note") is None and steps(served) == steps(local) and len(steps(local)) > 4
    assert served.answer == local.answer


def test_sdk_through_the_proxy_to_transformers_serve(proxied):
    served = proxied
    client = OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    [card] = client.models.list().data
    r = client.chat.completions.create(model=card.id, messages=MSGS, max_tokens=6, temperature=0)
    assert r.usage.prompt_tokens > 0 and 1 <= r.usage.completion_tokens <= 6
    assert r.model_extra["ponder"]["strategy"] == "none(temperature=0.0, max_tokens=6)"
    # streaming: the upstream is called with stream=True, its deltas forwarded, usage from its last chunk
    # (the tiny random model decodes to special tokens that transformers serve drops: its text may be empty)
    chunks = list(client.chat.completions.create(model=card.id, messages=MSGS, max_tokens=6, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == (r.choices[0].message.content or "")
    assert chunks[-1].usage.prompt_tokens == r.usage.prompt_tokens
    assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        r.choices[0].finish_reason]
    # a multi-sample strategy over the upstream: every call counted
    r = client.chat.completions.create(model=card.id, messages=MSGS, extra_body={"strategy": "sc(n=2, of=cot(max_tokens=4))"})
    assert r.model_extra["ponder"]["ledger"]["totals"]["completion_tokens"] == r.usage.completion_tokens <= 8


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    with fake_upstream(SECRET) as upstream:
        with ponder_serve(f"openai:gpt-x@{upstream}/v1?retries=1", "--log-level", "debug",
                          env={"OPENAI_API_KEY": SECRET}, log_dir=tmp_path_factory.mktemp("leak")) as s:
            yield s, upstream


def test_usage_and_reasoning_from_an_upstream_are_passed_on(leaky):
    served, _ = leaky
    client = OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    r = client.chat.completions.create(model="gpt-x", messages=MSGS)
    assert r.choices[0].message.content == "Answer: 42"
    assert r.choices[0].message.model_extra["reasoning_content"] == "6*7=42"
    u = r.usage
    assert (u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details.cached_tokens,
            u.completion_tokens_details.reasoning_tokens) == (11, 7, 8, 4)
    chunks = list(client.chat.completions.create(model="gpt-x", messages=MSGS, stream=True,
                                                 stream_options={"include_usage": True}))
    reasoning = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or "" for c in chunks if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == ("6*7=42", "Answer: 42")
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 4


def test_the_upstream_key_is_sent_but_never_logged_echoed_or_returned(leaky):
    served, upstream = leaky
    client = OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    bodies = []
    for trigger in ("LEAK_401", "LEAK_500"):
        for stream in (False, True):
            r = httpx.post(f"{served.url}/chat/completions", timeout=30, json={
                "model": "gpt-x", "stream": stream, "messages": [{"role": "user", "content": trigger}]})
            assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"
            bodies.append(r.text)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "LEAK_401"}])
    assert err.value.status_code == 502
    bodies += [httpx.get(f"{served.root}{p}").text for p in ("/v1/models", "/openapi.json", "/health")]
    bodies.append(client.chat.completions.create(model="gpt-x", messages=MSGS).model_dump_json())
    assert httpx.get(f"{upstream}/seen").json()["auth"][-1] == f"Bearer {SECRET}"  # it was sent upstream
    for text in bodies + [served.logs()]:
        assert SECRET not in text and SECRET[8:] not in text
    assert "[redacted]" in served.logs()  # the upstream's echo was scrubbed from the debug log


def test_a_request_cannot_make_the_proxy_load_or_call_a_model_of_its_choosing(tmp_path):
    """A strategy spec names models (a judge, a PRM, an editor): from a request, only those the
    server allows, or a client could have the server send its upstream key to any URL."""
    with fake_upstream(SECRET) as upstream, fake_upstream("") as elsewhere:
        judge = f"openai:judge@{elsewhere}/v1?retries=1"
        asked = f"bon(n=2, scorer=judge(model='{judge}'))"
        served_model = f"openai:gpt-x@{upstream}/v1?retries=1"
        with ponder_serve(served_model, env={"OPENAI_API_KEY": SECRET}, log_dir=tmp_path) as served:
            for spec, stream in [(asked, False), (asked, True), (f"feedback_edit(n=1, editor='{judge}')", False),
                                 (f"s_star(n=2, judge='{judge}')", False),
                                 ("bon(n=2, scorer=prm(model='hf:/etc'))", False),
                                 (f'bon(n=2, scorer="judge(model=\'{judge}\')")', False)]:
                r = httpx.post(f"{served.url}/chat/completions", timeout=30, json={
                    "model": "gpt-x", "messages": MSGS, "strategy": spec, "stream": stream})
                assert r.status_code == 400, (spec, r.text)
                error = r.json()["error"]
                assert error["code"] == "model_unavailable" and "--allow-model" in error["message"], error
            # the served model and the shipped PRM stay available to a request
            r = httpx.post(f"{served.url}/chat/completions", timeout=30, json={
                "model": "gpt-x", "messages": MSGS, "strategy": f"bon(n=2, scorer=judge(model='{served_model}'))"})
            assert r.status_code == 200, r.text
            assert r.json()["ponder"]["ledger"]["by_role"]["judge"]["calls"] == 2
        assert httpx.get(f"{elsewhere}/seen").json()["auth"] == []  # nothing reached it
        with ponder_serve(served_model, "--allow-model", judge, env={"OPENAI_API_KEY": SECRET},
                          log_dir=tmp_path) as served:
            r = httpx.post(f"{served.url}/chat/completions", timeout=30, json={
                "model": "gpt-x", "messages": MSGS, "strategy": asked})
            assert r.status_code == 200, r.text
        assert len(httpx.get(f"{elsewhere}/seen").json()["auth"]) == 2  # the operator allowed it


def test_workers_serve_an_upstream_in_several_processes(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with fake_upstream(SECRET) as upstream:
        with ponder_serve(f"openai:gpt-x@{upstream}/v1", "--workers", "2", "--max-concurrency", "8",
                          env={"OPENAI_API_KEY": SECRET}, log_dir=tmp_path) as served:
            # /health answers once one worker is up; on a busy machine the second starts later
            deadline = time.monotonic() + 120
            while len(re.findall(r"Application startup complete", served.logs())) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            client = OpenAI(base_url=served.url, api_key="unused", max_retries=0)
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: client.chat.completions.create(model="gpt-x", messages=MSGS), range(16)))
            chunks = list(client.chat.completions.create(model="gpt-x", messages=MSGS, stream=True))
            logs = served.logs()
    started = set(re.findall(r"Started server process \[(\d+)\]", logs))
    assert len(started) == 2 and str(served.proc.pid) not in started, logs  # two worker processes
    assert SECRET not in logs
    assert {a.choices[0].message.content for a in answers} == {"Answer: 42"}
    assert all(a.usage.completion_tokens == 7 for a in answers)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Answer: 42"


def test_workers_refuse_a_local_model():
    r = subprocess.run([sys.executable, "-m", "ponder.server", "--model", "embedded", "--workers", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "needs an upstream model (openai:MODEL@URL)" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def ponder_upstream(tmp_path_factory):
    """Ponder's own server hosting the lab model, as another Ponder's upstream."""
    with ponder_serve("embedded", log_dir=tmp_path_factory.mktemp("ponder-up")) as served:
        yield served


def test_ponder_serve_says_which_stop_string_ended_a_choice(ponder_upstream):
    """As vLLM does (``stop_reason``), streamed and not; Ponder's openai backend reads it either
    way, through the SDK and straight off the connection."""
    import asyncio

    from ponder import GenerationRequest
    from ponder.backends import load_backend

    client = OpenAI(base_url=ponder_upstream.url, api_key="unused", max_retries=0)
    q = [{"role": "user", "content": "Compute left to right: 12+7*3"}]
    for stop, said in (([";", "zzz"], ";"), (["zzz"], None)):  # the lab model writes "12+7=19; ..."
        r = client.chat.completions.create(model="embedded", messages=q, temperature=0, max_tokens=80, stop=stop)
        assert (r.choices[0].finish_reason, r.choices[0].model_extra["stop_reason"]) == ("stop", said), r
        chunks = list(client.chat.completions.create(model="embedded", messages=q, temperature=0, max_tokens=80,
                                                     stop=stop, stream=True))
        [last] = [c.choices[0] for c in chunks if c.choices and c.choices[0].finish_reason]
        assert (last.finish_reason, last.model_extra["stop_reason"]) == ("stop", said)

    async def sample(spec: str, streamed: bool):
        backend = load_backend(spec, cache=False)
        try:
            request = GenerationRequest(messages=q, temperature=0.0, max_tokens=80, stop=[";"])
            gen = await backend.generate(request, on_token=(lambda i, d: None) if streamed else None)
            return gen.samples[0]
        finally:
            await backend.aclose()

    for http in ("httpx", "direct"):
        for streamed in (False, True):
            s = asyncio.run(sample(f"openai:embedded@{ponder_upstream.url}?http={http}&retries=0", streamed))
            # the step as the model wrote it: the proxy's reasoning_content, its thinking not closed
            assert (s.matched_stop, s.stop_unknown) == (";", False) and s.text.startswith("<think> 12+7="), s
            assert "</think>" not in s.text and ";" not in s.text, (http, streamed, s)


def test_ponder_serve_returns_token_logprobs_with_strategy_none(ponder_upstream):
    """logprobs=true gives each generated token's log-probability, as the local model computes
    them, streamed (with the finish) and not; Ponder's strategies that read them (bon with the
    logprob scorer, backtrack) then run over ponder serve as they do over vLLM."""
    import asyncio

    import ponder
    from ponder import GenerationRequest
    from ponder.backends import load_backend

    q = [{"role": "user", "content": "Compute left to right: 567-227-134*4+24"}]
    local = load_backend("embedded")
    [mine] = asyncio.run(local.generate(GenerationRequest(messages=q, temperature=0.0, max_tokens=80,
                                                          logprobs=True))).samples
    client = OpenAI(base_url=ponder_upstream.url, api_key="unused", max_retries=0)
    r = client.chat.completions.create(model="embedded", messages=q, temperature=0, max_tokens=80, logprobs=True)
    content = r.choices[0].logprobs.content
    assert [t.token for t in content] == mine.tokens and len(content) == r.usage.completion_tokens
    assert [t.logprob for t in content] == pytest.approx(mine.logprobs, abs=1e-3)
    assert "".join(mine.tokens).startswith("<think>") and all(t.bytes == list(t.token.encode()) for t in content)
    chunks = list(client.chat.completions.create(model="embedded", messages=q, temperature=0, max_tokens=80,
                                                 logprobs=True, stream=True))
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert [(t.token, t.logprob) for t in streamed] == [(t.token, t.logprob) for t in content]
    for extra, says in (({"extra_body": {"strategy": "sc(n=2)"}}, "they come with strategy none"),
                        ({"top_logprobs": 2}, "top_logprobs above 0 is not supported")):
        with pytest.raises(openai.BadRequestError, match=says):
            client.chat.completions.create(model="embedded", messages=q, logprobs=True, **extra)
    # the logprob scorer reads them from the sampling call, over HTTP as locally
    spec = "bon(n=2, scorer=logprob, temperature=0)"
    served = ponder.solve(q[0]["content"], strategy=spec, model=f"openai:embedded@{ponder_upstream.url}?retries=0")
    here = ponder.solve(q[0]["content"], strategy=spec)
    assert [e.role for e in served.ledger.entries] == ["policy"]  # no forward pass of its own
    assert served.trace["scores"] == pytest.approx(here.trace["scores"], abs=1e-3) and served.answer == here.answer
    back = ponder.solve(q[0]["content"], strategy="backtrack(n=4)",
                        model=f"openai:embedded@{ponder_upstream.url}?continue=vllm&retries=0")
    assert back.candidates and all(c.score > -1e9 for c in back.candidates)  # each weighed by its likelihood
    assert sum(back.trace["answer_mass"].values()) > 0


def test_ponder_serve_continues_raw_text_through_v1_completions(ponder_upstream, model_dir):
    """/v1/completions: the model continues the prompt's text (its BOS put before it once), with
    the stop string that ended it, token log-probabilities in the completions API's form, and the
    same text streamed; what it cannot do is a clear error."""
    from transformers import AutoTokenizer

    client = OpenAI(base_url=ponder_upstream.url, api_key="unused", max_retries=0)
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    chat = tok.apply_chat_template([{"role": "user", "content": "Compute left to right: 567-227-134*4+24"}],
                                   add_generation_prompt=True, tokenize=False) + "<think>"
    assert chat.startswith("<s>")
    args = dict(model="embedded", max_tokens=40, temperature=0, stop=[";"])
    r = client.completions.create(prompt=chat, logprobs=1, **args)
    [c] = r.choices
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert (c.finish_reason, c.model_extra["stop_reason"]) == ("stop", ";") and c.text.startswith(" 567-227=")
    assert r.usage.prompt_tokens == len(tok(chat, add_special_tokens=False)["input_ids"])  # one BOS
    assert client.completions.create(prompt=chat[3:], **args).usage.prompt_tokens == r.usage.prompt_tokens
    lp = c.logprobs
    assert "".join(lp.tokens) == c.text + ";" and len(lp.token_logprobs) == r.usage.completion_tokens
    assert lp.text_offset[0] == 0 and all(x <= 0 for x in lp.token_logprobs) and lp.top_logprobs is None
    chunks = list(client.completions.create(prompt=chat, logprobs=1, stream=True, **args))
    assert "".join(ch.choices[0].text for ch in chunks) == c.text
    assert [ch.choices[0].finish_reason for ch in chunks][-1] == "stop" and chunks[-1].choices[0].logprobs.tokens == lp.tokens
    assert client.completions.create(model="embedded", prompt="1+1").choices[0].finish_reason in ("stop", "length")
    for bad, status, says in ((dict(prompt=["a", "b"]), 400, "one prompt per request, got a list of 2"),
                              (dict(prompt=[1, 2]), 400, "prompts of token ids are not supported"),
                              (dict(prompt="a", echo=True), 400, "echo is not supported"),
                              (dict(prompt="a", extra_body={"strategy": "sc(n=2)"}), 400, "runs only strategy none"),
                              (dict(prompt="a", logprobs=3), 400, "logprobs"),
                              (dict(prompt="a", model="other"), 404, "is not served here")):
        with pytest.raises(openai.APIStatusError) as err:
            client.completions.create(**{"model": "embedded", **bad})
        assert err.value.status_code == status and says in err.value.message, (bad, err.value.message)


@pytest.fixture(scope="module")
def chained(ponder_upstream, model_dir, tmp_path_factory):
    """A Ponder in front of another (which hosts the lab model)."""
    spec = f"openai:embedded@{ponder_upstream.url}?tokenizer={model_dir}&retries=0"
    with ponder_serve(spec, log_dir=tmp_path_factory.mktemp("chained")) as served:
        yield served


def test_a_streamed_multi_call_strategy_over_an_upstream_keeps_its_text_in_order(chained):
    """budget forcing streamed through a Ponder in front of another: each call's last deltas reach
    the client before the text the strategy writes next ("Wait", "Final Answer:"), so the stream
    reads as the non-streamed answer. Before, the deltas of a call streamed from an upstream were
    still queued when the next call began, and "Final Answer:" landed among them or in the thinking."""
    client = OpenAI(base_url=chained.url, api_key="unused", max_retries=0)
    q = [{"role": "user", "content": "Compute left to right: 567-227-134*4+24"}]
    body = dict(model="embedded", messages=q, extra_body={"strategy": "budget(think=64, wait=1)"})
    whole = client.chat.completions.create(**body).choices[0].message
    assert whole.content.startswith("Final Answer:") and "Wait" in whole.model_extra["reasoning_content"]
    for _ in range(6):
        chunks = [c.choices[0].delta for c in client.chat.completions.create(stream=True, **body) if c.choices]
        content = "".join(d.content or "" for d in chunks)
        reasoning = "".join(d.model_extra.get("reasoning_content") or "" for d in chunks)
        assert (content, reasoning) == (whole.content, whole.model_extra["reasoning_content"])


def test_the_choices_of_one_upstream_call_stream_side_by_side(chained):
    """n choices streamed by the upstream are passed on as they arrive, each under its index, not
    whole at the end; the same seed gives the non-streamed choices and usage."""
    client = OpenAI(base_url=chained.url, api_key="unused", max_retries=0)
    q = [{"role": "user", "content": "Compute left to right: 567-227-134*4+24"}]
    body = dict(model="embedded", messages=q, n=3, temperature=1, seed=5, max_tokens=80)
    whole = client.chat.completions.create(**body)
    text, pieces, usage = {i: ["", ""] for i in range(3)}, {i: 0 for i in range(3)}, None
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **body):
        usage = chunk.usage or usage
        for ch in chunk.choices:
            delta = (ch.delta.content or "", ch.delta.model_extra.get("reasoning_content") or "")
            text[ch.index] = [text[ch.index][0] + delta[0], text[ch.index][1] + delta[1]]
            pieces[ch.index] += any(delta)
    for i, c in enumerate(whole.choices):
        assert text[i] == [c.message.content, c.message.model_extra.get("reasoning_content") or ""]
    assert min(pieces.values()) >= 5 and usage.completion_tokens == whole.usage.completion_tokens, pieces


def test_step_search_over_ponder_serve_and_over_a_server_that_hides_which_stop_ended_a_step(ponder_upstream,
                                                                                          model_dir):
    """Ponder's own server says which stop string ended each step, so step search over it goes as
    on the local model. An upstream that drops stop strings without saying (as the OpenAI API
    does; here the fake server) cannot tell a step that ended at the delimiter from a finished
    answer: the search takes such steps as answers and says so in its note."""
    import ponder

    spec = "beam(n=4, width=2, max_steps=6, temperature=0)"
    q = "Compute left to right: 567-227-134*4+24"
    local = ponder.solve(q, strategy=spec)
    steps = lambda r: [n["step"] for n in r.trace["nodes"]]  # noqa: E731
    assert local.trace.get("note") is None and len(steps(local)) > 4
    # partial answers continued as chat messages (vLLM's continue_final_message) or as raw text
    # rendered with the model's own tokenizer through /v1/completions
    for how in ("continue=vllm", f"tokenizer={model_dir}"):
        served = ponder.solve(q, strategy=spec, model=f"openai:embedded@{ponder_upstream.url}?{how}&retries=0")
        assert served.trace.get("note") is None and steps(served) == steps(local), how
        assert served.answer == local.answer and served.ledger.prompt_tokens == local.ledger.prompt_tokens, how
    with fake_upstream(SECRET) as upstream:
        hidden = ponder.solve(q, strategy=spec, model=f"openai:gpt-x@{upstream}/v1?continue=vllm&retries=0")
    assert "drops stop strings without saying which one ended a sample" in hidden.trace["note"], hidden.trace
    # it returns no log-probabilities either: self-backtracking's likelihood weighing becomes a vote, and says so
    with fake_upstream(SECRET) as upstream:
        voted = ponder.solve(q, strategy="backtrack(n=2)", model=f"openai:gpt-x@{upstream}/v1?continue=vllm&retries=0")
    assert voted.answer == "42" and "a plain majority vote chose the answer" in voted.trace["note"]
    assert voted.trace["answer_mass"] == {"42": 2.0}


def test_a_prompt_too_long_for_the_upstream_model(ponder_upstream):
    """Ponder's own server hosting the lab model as the upstream: its 400 for a prompt past the
    model's 512 positions is a ContextLengthError on the client, whose strategies then stop and
    keep their work as on a local model."""
    import asyncio

    import ponder
    from ponder import ContextLengthError, Engine, GenerationRequest
    from ponder.backends import load_backend

    async def check(spec: str) -> None:
        backend = load_backend(spec, cache=False)
        try:
            long = [{"role": "user", "content": "1+" * 2000 + "1"}]
            with pytest.raises(ContextLengthError, match="holds at most 512"):
                await Engine(backend).generate(GenerationRequest(messages=long))
            r = await ponder.asolve("What is 2+2?", model=Engine(backend), strategy="refine(rounds=16)")
            assert r.budget_exhausted and "holds at most 512" in r.stop_reason, r.stop_reason
            assert r.candidates and r.answer is not None and len(r.ledger.entries) > 3
        finally:
            await backend.aclose()

    for http in ("httpx", "direct"):
        asyncio.run(check(f"openai:embedded@{ponder_upstream.url}?http={http}&retries=0"))


def test_choices_from_an_upstream_without_n_stream_side_by_side_too(tmp_path):
    """An upstream that refuses n (here Ponder with --max-n 1) gets one call per choice, each
    streamed under its choice's index; the seeds are those of the choices (seed + i) whether or
    not the client has yet learned that the upstream refuses n."""
    q = [{"role": "user", "content": "Compute left to right: 567-227-134*4+24"}]
    body = dict(model="embedded", messages=q, n=3, temperature=1, seed=5, max_tokens=80)
    with ponder_serve("embedded", "--max-n", "1", log_dir=tmp_path) as upstream:
        with ponder_serve(f"openai:embedded@{upstream.url}?retries=0", log_dir=tmp_path) as front:
            client = OpenAI(base_url=front.url, api_key="unused", max_retries=0)
            text, pieces = {i: ["", ""] for i in range(3)}, {i: 0 for i in range(3)}
            for chunk in client.chat.completions.create(stream=True, **body):  # the first call learns it
                for ch in chunk.choices:
                    delta = (ch.delta.content or "", ch.delta.model_extra.get("reasoning_content") or "")
                    text[ch.index] = [text[ch.index][0] + delta[0], text[ch.index][1] + delta[1]]
                    pieces[ch.index] += any(delta)
            whole = client.chat.completions.create(**body).choices  # now known: one call per choice at once
    for i, c in enumerate(whole):
        assert text[i] == [c.message.content, c.message.model_extra.get("reasoning_content") or ""], i
    assert min(pieces.values()) >= 5, pieces


def test_streamed_choices_of_one_call_stay_apart_on_every_transport(ponder_upstream):
    """A time budget makes the openai backend stream; with n > 1 the SDK transports filed every
    choice's pieces under choice 0 (one garbled sample, then a fan-out for the rest, remembered as
    'this server ignores n')."""
    import asyncio

    from ponder import Budget, Engine, GenerationRequest
    from ponder.backends import load_backend

    q = [{"role": "user", "content": "Compute left to right: 12+7*3"}]
    request = GenerationRequest(messages=q, n=3, max_tokens=40, temperature=1.0, seed=1)

    async def texts(http: str, streamed: bool) -> list[str]:
        backend = load_backend(f"openai:embedded@{ponder_upstream.url}?http={http}&retries=0", cache=False)
        engine = Engine(backend, budget=Budget(max_seconds=120) if streamed else None)
        try:
            samples = await engine.generate(request)
        finally:
            await backend.aclose()
        assert [e.n for e in engine.ledger.entries] == [3], http  # one call: no fan-out
        assert engine.ledger.entries[0].completion_tokens <= 3 * 40, (http, samples)
        return [s.text for s in samples]

    whole = asyncio.run(texts("direct", streamed=False))
    assert len(set(whole)) > 1 and all(t.startswith("<think>") for t in whole)
    for http in ("httpx", "aiohttp", "direct"):
        assert asyncio.run(texts(http, streamed=True)) == whole, http
