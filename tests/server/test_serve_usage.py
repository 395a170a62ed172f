"""`ponder serve` in front of an upstream with the quirks of real ones (``quirky_upstream.py``):
the OpenAI ``usage`` where a call was not counted, and the errors it passes on, read through the
official SDK."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from openai import OpenAI

from serve_helpers import HERE, free_port, ponder_serve, stop, wait_http

MSGS = [{"role": "user", "content": "Compute 2+3"}]


@pytest.fixture(scope="module")
def quirky_root():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE.parent / "quirky_upstream.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def served(quirky_root, tmp_path_factory):
    with ponder_serve(f"openai:m@{quirky_root}/v1?timeout=1&retries=0", log_dir=tmp_path_factory.mktemp("usage")) as s:
        yield s


@pytest.fixture()
def quirky(quirky_root):
    httpx.post(f"{quirky_root}/_reset").raise_for_status()

    def cfg(**settings) -> None:
        httpx.post(f"{quirky_root}/_cfg", json=settings).raise_for_status()

    return cfg


def test_usage_with_a_call_not_counted_is_null_not_a_lower_bound(served, quirky):
    """An upstream that reports no usage, under a strategy whose PRM counts its own tokens: usage
    gave the PRM's tokens as the request's (completion_tokens 0 for three samples); only the ponder
    ledger said a call was not counted. Now the counts a call did not report are null, streamed
    or not, and the ledger gives the lower bound as one."""
    quirky(usage="omit")
    client = OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    body = dict(model="m", messages=MSGS, extra_body={"strategy": "bon(n=3, scorer=prm)"})
    r = client.chat.completions.create(**body)
    ledger = r.model_extra["ponder"]["ledger"]
    assert r.choices[0].message.content.endswith("Answer: 5")
    assert ledger["totals"]["uncounted_calls"] == 1 and ledger["totals"]["prompt_tokens"] > 0  # the PRM's
    assert "at least" in ledger["summary"]
    u = r.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (None, None, None)
    assert u.prompt_tokens_details.cached_tokens is None and u.completion_tokens_details.reasoning_tokens is None
    chunks = list(client.chat.completions.create(**body, stream=True, stream_options={"include_usage": True}))
    last = chunks[-1].usage
    assert (last.prompt_tokens, last.completion_tokens, last.total_tokens) == (None, None, None)
    quirky(usage="normal")  # every call counted: the counts as before
    u = client.chat.completions.create(**body).usage
    assert u.prompt_tokens > 17 and u.completion_tokens >= 3 * 11
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_an_upstream_that_does_not_answer_in_time_is_said_plainly(served, quirky):
    """The URL redaction left the path after it: "upstream/chat/completions: no answer ..."."""
    quirky(delay=3)
    r = httpx.post(f"{served.url}/chat/completions", json={"model": "m", "messages": MSGS}, timeout=30)
    message = r.json()["error"]["message"]
    assert r.status_code == 502, r.text
    assert message.startswith("the model server failed: upstream: no answer within the timeout of 1s"), message
    assert "upstream/" not in message and "127.0.0.1" not in message
