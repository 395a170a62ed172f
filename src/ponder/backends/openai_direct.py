"""OpenAI-API calls straight over an ``aiohttp`` session (``http=direct``).

A proxy's pass-through request is one JSON body in and one JSON body out. The openai SDK's generic
``post`` still builds its request options, merges headers and parses the URL three times per call:
most of the CPU a proxy spends on a call (``benchmarks/openai_client_cpu.py`` prints both, the
``direct`` row against ``aiohttp json``). This poster sends the same body with the same
``Authorization`` header and reads the answer as JSON; it treats statuses as the SDK does
(408, 409, 429 and 5xx are retried, other errors are not) and raises the errors the backend's retry
loop knows. Streams are read the same way: server-sent events, each decoded as it arrives (the SDK
builds a model object per chunk, most of a streamed token's CPU: ``benchmarks/openai_client_cpu.py
--stream``). As with the SDK, ``timeout`` bounds connecting and each wait for data, not a whole
generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, AsyncIterator, Iterator

RETRIED_STATUSES = frozenset({408, 409, 429})


class UpstreamStatus(Exception):
    """The server answered an error status (retried as the SDK would retry it), or sent an error
    event in a stream (not retried, as by the SDK)."""

    def __init__(self, status: int, message: str, retryable: bool | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.retryable = (status in RETRIED_STATUSES or status >= 500) if retryable is None else retryable


class UpstreamUnreachable(Exception):
    """No answer: the connection failed or the call ran past its timeout (retried)."""


class DirectPoster:
    """One ``aiohttp.ClientSession`` per endpoint, made for the running event loop."""

    def __init__(self, base_url: str, api_key: str, timeout: float, user_agent: str) -> None:
        import aiohttp

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
                        "Accept": "application/json", "User-Agent": user_agent}
        self.stream_headers = {**self.headers, "Accept": "text/event-stream"}
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
            connector=aiohttp.TCPConnector(limit=0))
        self._client_error = aiohttp.ClientError

    @contextlib.contextmanager
    def _unreachable(self, waiting_for: str) -> Iterator[None]:
        """A timeout or a connection failure inside becomes UpstreamUnreachable (retried)."""
        try:
            yield
        except asyncio.TimeoutError as exc:
            raise UpstreamUnreachable(f"no {waiting_for} within {self.timeout:g}s") from exc
        except self._client_error as exc:
            raise UpstreamUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON of the answer; UpstreamStatus / UpstreamUnreachable / ValueError."""
        data = json.dumps(body, ensure_ascii=False).encode()
        with self._unreachable("answer"):
            async with self.session.post(self.base_url + path, data=data, headers=self.headers) as resp:
                raw = await resp.read()
                status = resp.status
        if status >= 400:
            raise UpstreamStatus(status, _error_message(raw, status))
        return json.loads(raw)  # a ValueError for a malformed body, retried by the caller

    async def stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The decoded ``data:`` events of a streamed call, up to ``[DONE]``. An error status
        raises UpstreamStatus before any event; an error event (``{"error": ...}``) mid-stream
        raises it then; a broken connection raises UpstreamUnreachable."""
        data = json.dumps(body, ensure_ascii=False).encode()
        with self._unreachable("answer"):
            resp = await self.session.post(self.base_url + path, data=data, headers=self.stream_headers)
        try:
            with self._unreachable("data"):
                if resp.status >= 400:
                    raise UpstreamStatus(resp.status, _error_message(await resp.read(), resp.status))
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue  # blank separators, comments, event names
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        return
                    event = json.loads(payload)
                    if isinstance(event, dict) and event.get("error"):
                        raise UpstreamStatus(502, _error_message(payload, 502), retryable=False)
                    yield event
        finally:
            resp.release()

    async def close(self) -> None:
        await self.session.close()


def _error_message(raw: bytes, status: int) -> str:
    """The ``error.message`` of an OpenAI error body, else the start of the body."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        if isinstance(err, str):
            return err
    text = raw[:300].decode("utf-8", "replace").strip()
    return text or f"HTTP {status}"
