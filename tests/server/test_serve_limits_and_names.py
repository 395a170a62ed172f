"""The proxy's ceilings, names and words, in process: a tree search counts the samples of its steps,
a model id with '/' is found, upstream hosts never reach a client, seeds keep their 64 bits, and a
result with no answer from cut samples says 'length'."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ponder.server import ServerConfig, create_app
from ponder.server.errors import Redactor
from ponder.server.runner import _finish_reason, seed31
from ponder.types import Candidate, Result
from serve_helpers import model_dir, model_spec  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def http(model_spec):
    app = create_app(ServerConfig(model=model_spec, served_model_name="org/lab-model", max_tokens=12, timeout=30))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_tot_counts_the_samples_of_a_step_against_the_runs_ceiling(http):
    """tot(breadth=100000, proposals=100000) was one run: accepted, it stalled every other client."""
    body = {"model": "org/lab-model", "messages": [{"role": "user", "content": "1+1"}],
            "strategy": "tot(breadth=100, proposals=100)"}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "above_ceiling", r.text
    assert "10,000 runs" in r.json()["error"]["message"]
    r = http.post("/v1/chat/completions", json={**body, "strategy": "tot(breadth=100000, proposals=2)"})
    assert r.status_code == 400 and "less than or equal to 1024" in r.json()["error"]["message"]


def test_a_model_id_with_a_slash_is_found(http):
    assert "org/lab-model" in [m["id"] for m in http.get("/v1/models").json()["data"]]
    r = http.get("/v1/models/org/lab-model")
    assert r.status_code == 200 and r.json()["id"] == "org/lab-model"  # before: 404
    assert http.get("/v1/models/org/other").status_code == 404


def test_upstream_hosts_are_redacted_as_client_libraries_name_them():
    redact = Redactor(["sk-secret-1"], ["http://vllm-internal.corp.example:8000/v1"])
    said = "Cannot connect to host vllm-internal.corp.example:8000 ssl:default; key sk-secret-1"
    assert redact(said) == "Cannot connect to host upstream ssl:default; key [redacted]"
    assert redact("resolving vllm-internal.corp.example failed") == "resolving upstream failed"


def test_seeds_keep_their_64_bits():
    assert seed31(4) == 4 and seed31(2**31 - 1) == 2**31 - 1  # as before below 2**31
    assert len({seed31(s) for s in (4, 4 + 2**40, 2**31 + 4, -4)}) == 4  # before: 4 % 2**31 for the first three
    assert all(0 <= seed31(s) < 2**31 for s in (2**63 - 1, -(2**63)))


def test_no_answer_from_samples_a_limit_cut_is_length():
    cut = [Candidate(text="1+1=", answer=None, finish_reason="length")] * 2
    assert _finish_reason(None, "", Result(answer=None, text="", strategy="asc", candidates=cut)) == "length"
    done = [Candidate(text="Answer: 2", answer="2", finish_reason="stop")]
    assert _finish_reason(None, "2", Result(answer="2", text="2", strategy="sc", candidates=done)) == "stop"


def test_max_completion_tokens_counts_the_thinking(http):
    """Before, thinking of 64 tokens under max_completion_tokens=12 answered with 57 tokens (the
    OpenAI API counts reasoning in the limit; Anthropic's asks budget_tokens below max_tokens)."""
    body = {"model": "org/lab-model", "messages": [{"role": "user", "content": "Compute left to right: 5+7*2"}],
            "thinking": {"type": "enabled", "budget_tokens": 10}, "max_completion_tokens": 8}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["param"] == "max_completion_tokens", r.text
    r = http.post("/v1/chat/completions", json={**body, "thinking": {"type": "enabled", "budget_tokens": 4},
                                                "max_completion_tokens": 11})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] <= 11, r.text
