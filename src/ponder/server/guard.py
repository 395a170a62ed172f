"""What stands in front of the endpoints: the bearer key, the body size limit, the concurrency
ceiling, and noticing a client that left."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import APIError

OPEN_PATHS = frozenset({"/health"})


class Guard:
    """Pure ASGI middleware: 401 without ``Authorization: Bearer KEY`` (when a key is set) on every
    path but /health, and 413 for a body over ``max_body`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.expected is not None and scope.get("path") not in OPEN_PATHS:
            given = b""
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    given = value
                    break
            if not hmac.compare_digest(given, self.expected):
                err = APIError(401, "a valid API key is required: send the header Authorization: Bearer KEY",
                               code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
                await err.response()(scope, receive, send)
                return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_body:
                    await self._too_large(scope, receive, send)
                    return
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # the client left already
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        err = APIError(413, f"the request body is larger than this server's limit of {self.max_body} bytes",
                       code="request_too_large", headers={"Connection": "close"})
        await err.response()(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``messages`` first, then waits on the real one (for a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class Slots:
    """The concurrency ceiling: requests in progress at once; one more is answered 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def acquire(self) -> None:
        if self.used >= self.limit:
            raise APIError(429, f"this server is busy: {self.limit} requests are in progress; retry shortly",
                           code="too_many_requests", headers={"Retry-After": "1"})
        self.used += 1

    def release(self) -> None:
        self.used = max(0, self.used - 1)


async def wait_disconnect(receive: Any) -> None:
    """Returns when the client has disconnected (call once the request body has been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
