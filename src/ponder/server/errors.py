"""Errors as OpenAI error objects: ``{"error": {"message", "type", "param", "code"}}``.

Ponder's typed errors map onto statuses: a strategy, budget or capability problem is the client's
(400), a failing upstream is 502, a request past its time is 504. Secrets (the upstream key) and
upstream URLs are scrubbed from every message that leaves the server.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse

from ..errors import (BackendError, BudgetError, CapabilityError, ContextLengthError, ModelSpecError, PonderError,
                      StrategySpecError)

TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
         405: "invalid_request_error", 413: "invalid_request_error", 422: "invalid_request_error",
         429: "rate_limit_error", 499: "invalid_request_error", 500: "server_error", 502: "upstream_error",
         503: "server_error", 504: "timeout_error"}


class APIError(Exception):
    """An error answered to the client with ``status`` and an OpenAI error object."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or TYPES.get(status, "invalid_request_error")
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class Redactor:
    """Replaces secrets with ``[redacted]`` and upstream URLs with ``upstream``, with the path
    that follows a URL (``upstream answered 404``, ``upstream: no answer within ...``, not
    ``upstream/chat/completions: ...``)."""

    def __init__(self, secrets: list[str] | None = None, urls: list[str] | None = None) -> None:
        self.secrets = sorted({s for s in (secrets or []) if s and len(s) >= 4}, key=len, reverse=True)
        # the URLs, and their host:port and host alone, as client libraries name them in errors
        # ("Cannot connect to host vllm-internal:8000")
        parts = {u for u in (urls or []) if u}
        for u in list(parts):
            split = urlsplit(u if "//" in u else f"//{u}")
            parts |= {x for x in (split.netloc.rpartition("@")[2], split.hostname) if x and len(x) >= 4}
        self.urls = sorted(parts, key=len, reverse=True)
        path = r"(?:/[\w.~%-]*)*"  # the segments that follow a URL
        self._urls = re.compile("|".join(re.escape(u) + path for u in self.urls)) if self.urls else None

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "[redacted]")
        return text if self._urls is None else self._urls.sub("upstream", text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record passing a handler."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redact.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to the handler
            return True
        clean = self.redact(message)
        if clean != message or (record.exc_info and record.exc_info[1] is not None):
            record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                record.msg = clean + " | " + self.redact(repr(record.exc_info[1]))
                record.exc_info, record.exc_text = None, None
        return True


def install_log_redaction(redact: Redactor) -> None:
    """Attach the filter to every handler of the root and uvicorn loggers (idempotent)."""
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "ponder", "ponder.server"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter(redact))


def from_ponder(exc: PonderError, redact: Redactor, prompt_param: str = "messages") -> APIError:
    """``prompt_param``: the request field that holds the prompt (``prompt`` on /v1/completions)."""
    message = redact(str(exc))
    if isinstance(exc, StrategySpecError):
        return APIError(400, message, param="strategy", code="invalid_strategy")
    if isinstance(exc, CapabilityError):
        return APIError(400, message, param="strategy", code="unsupported_by_model")
    if isinstance(exc, ContextLengthError):
        return APIError(400, message, param=prompt_param, code="context_length_exceeded")
    if isinstance(exc, BudgetError):
        return APIError(400, message, param="budget", code="invalid_budget")
    if isinstance(exc, BackendError):
        return APIError(502, f"the model server failed: {message}", code="upstream_error")
    if isinstance(exc, ModelSpecError):  # a model the strategy needs (a PRM, a judge) is missing
        return APIError(400, message, param="strategy", code="model_unavailable")
    return APIError(400, message, code="invalid_request")
