"""The model spec of the OpenAI-compatible backend: ``openai:MODEL@URL[,URL2][?key=value&...]``
read into an ``OpenAIConfig``, every part checked, each mistake named with the form accepted."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ModelSpecError

SPEC_OPTIONS = ("tokenizer", "continue", "params", "concurrency", "timeout", "retries", "api_key_env", "http",
                "token_limit")
HTTP_CLIENTS = ("httpx", "aiohttp", "direct")
TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")  # the field that carries a call's token limit


@dataclass
class OpenAIConfig:
    model: str
    urls: list[str]
    tokenizer: str | None = None
    continuation: str | None = None  # "completions" | "vllm" | None
    num_parameters: int | None = None
    concurrency: int = 16
    timeout: float = 60.0
    retries: int = 4
    api_key_env: str = "OPENAI_API_KEY"
    http: str | None = None  # "httpx" | "aiohttp" | "direct" | None: httpx, unless a long-lived server chooses
    # max_completion_tokens for OpenAI's reasoning models, which refuse max_tokens (learned from their
    # error where the spec does not say)
    token_limit: str = "max_tokens"
    extra: dict[str, Any] = field(default_factory=dict)


def parse_spec(spec: str) -> OpenAIConfig:
    """``openai:MODEL@URL[,URL2][?key=value&...]`` → OpenAIConfig (with clear errors)."""
    body = spec[len("openai:"):]
    options: dict[str, str] = {}
    if "?" in body:
        body, query = body.split("?", 1)
        options = dict(parse_qsl(query, keep_blank_values=True))
    at = max(body.rfind("@http://"), body.rfind("@https://"))
    if at <= 0:
        raise ModelSpecError(
            f"model spec {spec!r} needs the form openai:MODEL@URL, e.g. "
            "openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1 (the URL starts with http)"
        )
    model, urls = body[:at], [u.strip().rstrip("/") for u in body[at + 1:].split(",") if u.strip()]
    for url in urls:
        _check_url(url, spec)
    unknown = set(options) - set(SPEC_OPTIONS)
    if unknown:
        raise ModelSpecError(f"unknown option(s) {sorted(unknown)} in {spec!r}; accepted: {', '.join(SPEC_OPTIONS)}")
    cfg = OpenAIConfig(model=model, urls=urls)
    try:
        if "tokenizer" in options:
            cfg.tokenizer = options["tokenizer"]
            cfg.continuation = "completions"
        if "continue" in options:
            if options["continue"] not in ("vllm", "completions"):
                raise ModelSpecError(f"continue= accepts vllm or completions, got {options['continue']!r}")
            cfg.continuation = options["continue"]
        if "params" in options:
            params = _positive(options["params"], "params must be a positive number of parameters (e.g. 7e9)")
            cfg.num_parameters = int(params)
        if "concurrency" in options:
            cfg.concurrency = int(options["concurrency"])
        if "timeout" in options:
            cfg.timeout = _positive(options["timeout"], "timeout must be a positive number of seconds")
        if "retries" in options:
            cfg.retries = int(options["retries"])
        if "api_key_env" in options:
            cfg.api_key_env = options["api_key_env"]
        if "http" in options:
            if options["http"] not in HTTP_CLIENTS:
                raise ModelSpecError(f"http= accepts {' or '.join(HTTP_CLIENTS)}, got {options['http']!r}")
            cfg.http = options["http"]
        if "token_limit" in options:
            if options["token_limit"] not in TOKEN_LIMITS:
                raise ModelSpecError(f"token_limit= accepts {' or '.join(TOKEN_LIMITS)} (the field that carries "
                                     f"a call's token limit), got {options['token_limit']!r}")
            cfg.token_limit = options["token_limit"]
    except ValueError as exc:
        raise ModelSpecError(f"bad option value in {spec!r}: {exc}") from exc
    if cfg.continuation == "completions" and not cfg.tokenizer:
        raise ModelSpecError("continue=completions needs tokenizer=PATH (a local tokenizer directory "
                             "whose chat template matches the served model)")
    if cfg.concurrency <= 0 or cfg.timeout <= 0 or cfg.retries < 0:
        raise ModelSpecError(f"concurrency and timeout must be positive and retries ≥ 0 in {spec!r}")
    return cfg


URL_FORM = "http[s]://HOST[:PORT][/PATH], e.g. http://127.0.0.1:8000/v1"


def _check_url(url: str, spec: str) -> None:
    """Refuse a server URL that no call could reach (a bracket left open, a port that is not a
    number from 1 to 65535, no host), naming it and the form accepted: left to the HTTP client,
    it failed at the first call as an internal error that named neither."""
    from urllib.parse import urlsplit

    def bad(why: str) -> ModelSpecError:
        return ModelSpecError(f"bad server URL {url!r} in {spec!r}: {why}; a URL is {URL_FORM}")

    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": a "[" without its "]"
        raise bad(str(exc)) from None
    if parts.scheme not in ("http", "https"):
        raise bad("it does not start with http:// or https://")
    if not parts.hostname:
        raise bad("it names no host")
    port_text = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]  # after the host
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        port = None
    if port_text and not (port is not None and 1 <= port <= 65535):
        raise bad(f"port {port_text} is not a number from 1 to 65535")


def _positive(text: str, what: str) -> float:
    """A finite number above 0 (``float`` also reads ``nan`` and ``inf``, and NaN passes ``<= 0``)."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ModelSpecError(f"{what}, got {text!r}")
    return value
