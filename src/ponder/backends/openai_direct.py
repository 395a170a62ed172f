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
generation. An event may be up to ``MAX_EVENT`` bytes long (aiohttp's own line limit is 512 KiB,
less than one chunk carrying a long text or a whole choice's log-probabilities).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import re
from typing import Any, AsyncIterator, Iterator

from ..errors import BackendError

RETRIED_STATUSES = frozenset({408, 409, 429})
MAX_EVENT = 64 * 2**20  # bytes of one server-sent event line


class UpstreamStatus(Exception):
    """The server answered an error status (retried as the SDK would retry it), or sent an error
    event in a stream (not retried, as by the SDK). ``param``: the request field its error body
    names; ``headers``: those of the answer (``Retry-After``)."""

    def __init__(self, status: int, message: str, retryable: bool | None = None, param: str | None = None,
                 headers: Any = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.param = param
        self.headers = headers or {}
        self.retryable = (status in RETRIED_STATUSES or status >= 500) if retryable is None else retryable


class UpstreamUnreachable(Exception):
    """No answer: the connection failed (retried), or no data came within the timeout once the
    request was sent (``read_timeout``: a generation longer than the timeout, not retried)."""

    def __init__(self, message: str, read_timeout: bool = False) -> None:
        super().__init__(message)
        self.read_timeout = read_timeout


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
        self._connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", ())
        self._line_error = aiohttp.http_exceptions.HttpProcessingError
        # aiohttp takes a longer line limit since 3.12; before that its own 128 KiB stands
        self._line_limit = ({"max_line_length": MAX_EVENT} if "max_line_length" in
                            inspect.signature(aiohttp.StreamReader.readline).parameters else {})

    @contextlib.contextmanager
    def _unreachable(self, waiting_for: str) -> Iterator[None]:
        """A timeout or a connection failure inside becomes UpstreamUnreachable (retried)."""
        try:
            yield
        except asyncio.TimeoutError as exc:
            if isinstance(exc, self._connect_timeout):
                raise UpstreamUnreachable(f"no connection within {self.timeout:g}s") from exc
            raise UpstreamUnreachable(f"no {waiting_for} within {self.timeout:g}s", read_timeout=True) from exc
        except self._client_error as exc:
            raise UpstreamUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON of the answer; UpstreamStatus / UpstreamUnreachable / ValueError."""
        data = json.dumps(body, ensure_ascii=False).encode()
        with self._unreachable("answer"):
            async with self.session.post(self.base_url + path, data=data, headers=self.headers) as resp:
                raw = await resp.read()
                status, headers, kind = resp.status, resp.headers, resp.content_type
        if status >= 400:
            message, param = _error_body(raw, status)
            raise UpstreamStatus(status, message, param=param, headers=headers)
        if "html" in kind or raw.lstrip()[:1] == b"<":
            raise UpstreamStatus(status, html_page(raw), retryable=False)
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
                    message, param = _error_body(await resp.read(), resp.status)
                    raise UpstreamStatus(resp.status, message, param=param, headers=resp.headers)
                if "html" in resp.content_type:
                    raise UpstreamStatus(resp.status, html_page(await resp.read()), retryable=False)
                readline = functools.partial(resp.content.readline, **self._line_limit)
                while True:
                    try:
                        line = await readline()
                    except self._line_error as exc:  # aiohttp's LineTooLong: not a ClientError
                        raise BackendError(f"the server sent a stream event longer than {MAX_EVENT} bytes, "
                                           f"more than is read ({type(exc).__name__})") from exc
                    if not line:
                        return  # the connection closed (with no [DONE]: the choices left unfinished were cut)
                    if not line.startswith(b"data:"):
                        continue  # blank separators, comments, event names
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        return
                    event = json.loads(payload)
                    if isinstance(event, dict) and event.get("error"):
                        message, param = _error_body(payload, 502)
                        raise UpstreamStatus(502, message, retryable=False, param=param)
                    yield event
        finally:
            resp.release()

    async def close(self) -> None:
        await self.session.close()


def _error_body(raw: bytes, status: int) -> tuple[str, str | None]:
    """The ``error.message`` of an OpenAI error body (else the title of an HTML page, else the
    start of the body) and the ``error.param`` it names."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and "message" in err:
            param = err.get("param")
            return str(err["message"]), param if isinstance(param, str) else None
        if isinstance(err, str):
            return err, None
        if isinstance(body.get("detail"), (str, list)):  # FastAPI's errors (vLLM's and others' 422)
            return str(body["detail"]), None
    if raw.lstrip()[:1] == b"<":
        return html_page(raw), None
    text = raw[:300].decode("utf-8", "replace").strip()
    return text or f"HTTP {status}", None


def html_page(raw: bytes | str) -> str:
    """An HTML page in an error, named by its title (not its markup): what a proxy, a gateway or
    a web UI answers on a path that is not the API's."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    found = re.search(r"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", text, re.I | re.S)
    title = " ".join((found.group(1) or found.group(2)).split()) if found else ""
    return (f"an HTML page{f' ({title[:120]!r})' if title else ''}, not an OpenAI API answer (is the URL the "
            "API's base, such as http://HOST:PORT/v1?)")
