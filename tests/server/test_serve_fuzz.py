"""Fuzzing the proxy in process: schemathesis against /openapi.json, and hand-made malformed
bodies. Whatever a client sends, the answer is never a 500."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import Unsatisfiable
from starlette.testclient import TestClient

from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from ponder.server import ServerConfig, create_app
from ponder.thinking import EffortMap
from serve_helpers import model_dir, model_spec  # noqa: F401  (fixtures)

# every response documented and matching its schema; "positive_data_acceptance" is left out: a
# strategy spec or model name can be well-formed JSON and still name nothing that exists (400 / 404)
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# PONDER_FUZZ_EXAMPLES=500 for a deeper run than the suite's (a 3e-132 temperature was found so)
EXAMPLES = int(os.environ.get("PONDER_FUZZ_EXAMPLES", "30"))
EFFORTS = EffortMap(none="cot(max_tokens=3)", low="cot(max_tokens=4)", medium="sc(n=2, of=cot(max_tokens=3))",
                    high="sc(n=3, of=cot(max_tokens=3))")


@pytest.fixture(scope="module")
def app(model_spec):
    # a small token budget per request keeps every fuzzed request short on a loaded 2-core machine
    config = ServerConfig(model=model_spec, max_n=3, max_tokens=12, max_request_tokens=120, timeout=30,
                          effort_map=EFFORTS, max_body_bytes=4096)
    return create_app(config)


@pytest.fixture(scope="module")
def http(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_server_error(app, mode):
    from hypothesis import given

    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    served = "embedded" if app.state.config.model == "embedded" else "model"
    seen: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        chat = operation.path in ("/v1/chat/completions", "/v1/completions")

        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(max_examples=EXAMPLES if chat else 5, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            if chat and isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
                if hash(json.dumps(case.body, sort_keys=True, default=str)) % 4:  # mostly the served model
                    case.body["model"] = served
                    if operation.path == "/v1/completions":  # and mostly what it can run
                        case.body.pop("strategy", None), case.body.pop("echo", None)
            response = case.call()
            assert response.status_code < 500, (case.body, response.text[:300])
            seen[f"{operation.path} {response.status_code}"] = seen.get(f"{operation.path} {response.status_code}", 0) + 1
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid in an operation without parameters
            assert mode == "negative"
    for path in ("/v1/chat/completions", "/v1/completions"):
        assert f"{path} 200" in seen or mode == "negative", seen


def chat(**fields):
    return {"model": "model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **fields}


MALFORMED = [
    b"", b"null", b"[]", b"42", b'"text"', b"{", b"{not json}", b"[" * 50_000, b"\xff\xfe\x00", b'{"model": 1}',
    json.dumps({"model": "model"}).encode(), json.dumps({"messages": []}).encode(),
    json.dumps(chat(messages=[])).encode(), json.dumps(chat(messages="hi")).encode(),
    json.dumps(chat(messages=[{"role": "tool", "content": "x"}])).encode(),
    json.dumps(chat(messages=[{"role": "user"}])).encode(),
    json.dumps(chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])).encode(),
    json.dumps(chat(messages=[{"role": "user", "content": None}])).encode(),
    json.dumps(chat(temperature=-1)).encode(), json.dumps(chat(temperature="hot")).encode(),
    json.dumps(chat(top_p=0)).encode(), json.dumps(chat(n=0)).encode(), json.dumps(chat(n=10**30)).encode(),
    json.dumps(chat(max_tokens=0)).encode(), json.dumps(chat(max_tokens=10**12)).encode(),
    json.dumps(chat(min_tokens=10**9)).encode(),
    json.dumps(chat(stop=["a"] * 9)).encode(), json.dumps(chat(stop=["x" * 300])).encode(), json.dumps(chat(stop=7)).encode(),
    json.dumps(chat(seed=-5)).encode(), json.dumps(chat(seed=2**70)).encode(), json.dumps(chat(seed=1.5)).encode(),
    json.dumps(chat(strategy="")).encode(), json.dumps(chat(strategy="sc(n=")).encode(),
    json.dumps(chat(strategy="sc(" * 300 + ")" * 300)).encode(), json.dumps(chat(strategy="cot\x00")).encode(),
    # parsed by Python's parser (under its 200 levels), too deep to build or print
    json.dumps(chat(strategy="sc(of=" * 195 + "cot" + ")" * 195)).encode(),
    json.dumps(chat(strategy="__import__('os').system('true')")).encode(), json.dumps(chat(strategy="sc(n=-3)")).encode(),
    json.dumps(chat(strategy="sc(n=1..4)")).encode(), json.dumps(chat(strategy="cot(temperature=9)")).encode(),
    json.dumps(chat(strategy="sc(n=2, of=sc(n=2, of=cot(max_tokens=2)))")).encode(),
    json.dumps(chat(strategy="none(n=9)")).encode(), json.dumps(chat(strategy="bon(n=2, scorer=prm)")).encode(),
    json.dumps(chat(strategy="tip")).encode(), json.dumps(chat(strategy=["cot"])).encode(),
    json.dumps(chat(reasoning_effort="ultra")).encode(), json.dumps(chat(thinking={"type": "enabled"})).encode(),
    json.dumps(chat(thinking={"type": "enabled", "budget_tokens": 0})).encode(),
    json.dumps(chat(thinking={"type": "enabled", "budget_tokens": 10**9})).encode(),
    json.dumps(chat(thinking={"type": "maybe"})).encode(), json.dumps(chat(thinking="yes")).encode(),
    json.dumps(chat(budget={"max_tokens": 10**9})).encode(), json.dumps(chat(budget={"max_seconds": -1})).encode(),
    json.dumps(chat(budget={"max_calls": 1, "max_tokens": 1})).encode(), json.dumps(chat(budget={"colour": 1})).encode(),
    json.dumps(chat(stream="yes")).encode(), json.dumps(chat(stream_options={"include_usage": "x"})).encode(),
    json.dumps(chat(tools=[{"type": "function", "function": {"name": "f"}}])).encode(),
    json.dumps(chat(response_format={"type": "json_object"})).encode(), json.dumps(chat(logprobs=True)).encode(),
    b'{"model": "model", "messages": [{"role": "user", "content": "\\ud800 lone surrogate"}], "max_tokens": 2}',
    b'{"model": "model", "messages": [{"role": "user", "content": "\\u0000\\u0000"}], "max_tokens": 2, "stop": ["\\udfff"]}',
    json.dumps(chat(messages=[{"role": "user", "content": "x" * 5_000}])).encode(),
]


def test_other_methods_and_paths_are_error_objects(http):
    for method, path in [("GET", "/v1/chat/completions"), ("DELETE", "/v1/models"), ("GET", "/v1/models/other"),
                         ("GET", "/v1/completions"), ("POST", "/v1/embeddings"), ("GET", "/")]:
        r = http.request(method, path)
        assert r.status_code in (404, 405) and "error" in r.json(), (method, path)


def text(**fields):
    return {"model": "model", "prompt": "1+1=", "max_tokens": 2, **fields}


MALFORMED_TEXT = [
    b"", b"null", b"{", json.dumps(text(prompt=None)).encode(), json.dumps(text(prompt=[])).encode(),
    json.dumps(text(prompt=["a", "b"])).encode(), json.dumps(text(prompt=[[1, 2]])).encode(),
    json.dumps(text(prompt=[1, 2])).encode(), json.dumps(text(prompt={"text": "a"})).encode(),
    json.dumps(text(prompt="")).encode(), json.dumps(text(prompt="x" * 5_000)).encode(),
    json.dumps(text(logprobs=-1)).encode(), json.dumps(text(logprobs=True)).encode(), json.dumps(text(logprobs=5)).encode(),
    json.dumps(text(echo=True)).encode(), json.dumps(text(strategy="sc(n=2)")).encode(),
    json.dumps(text(strategy="sc(n=")).encode(), json.dumps(text(strategy="none(n=9)")).encode(),
    json.dumps(text(n=10**30)).encode(), json.dumps(text(max_tokens=0)).encode(), json.dumps(text(stop=7)).encode(),
    json.dumps(text(suffix="x", best_of=3)).encode(), json.dumps(text(messages=[{"role": "user", "content": "x"}])).encode(), json.dumps(text(budget={"max_calls": 1, "max_tokens": 1})).encode(),
    b'{"model": "model", "prompt": "\\ud800 lone surrogate", "max_tokens": 2}',
    # chat fields /v1/completions also takes, checked when the prompt becomes a chat request
    json.dumps(text(reasoning_effort="extreme")).encode(), json.dumps(text(thinking={"type": "maybe"})).encode(),
    json.dumps(text(top_logprobs=50)).encode(), json.dumps(text(max_completion_tokens="ten")).encode(),
    json.dumps(text(continue_final_message="perhaps")).encode(),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path, bodies", [("/v1/chat/completions", MALFORMED), ("/v1/completions", MALFORMED_TEXT)])
def test_malformed_bodies_get_openai_errors_never_a_500(http, app, path, bodies, stream):
    model = "embedded" if app.state.config.model == "embedded" else "model"
    for raw in bodies:
        raw = raw.replace(b'"model": "model"', f'"model": "{model}"'.encode())
        if stream and raw.startswith(b"{") and raw.endswith(b"}"):
            raw = raw[:-1] + b', "stream": true}'
        r = http.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code < 500, (raw[:120], r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}, raw[:120]
        elif stream:
            assert r.text.rstrip().endswith("data: [DONE]")


def test_an_unexpected_error_is_still_an_error_object(http, app, monkeypatch):
    """A defect that escapes every handler answers a 500 error object, not a text/plain page."""
    import ponder.server.app as server_app

    def broken(*_a, **_k):
        raise RuntimeError("a defect")

    monkeypatch.setattr(server_app, "plan", broken)
    model = app.state.config.model if app.state.config.model == "embedded" else "model"
    r = http.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "1+1"}]})
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "internal_error" and "RuntimeError" in r.json()["error"]["message"]
