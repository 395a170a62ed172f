"""Non-streamed OpenAI-API calls straight over an ``aiohttp`` session (``http=direct``).

A proxy's pass-through request is one JSON body in and one JSON body out. The openai SDK's generic
``post`` still builds its request options, merges headers and parses the URL three times per call:
most of the CPU a proxy spends on a call (``benchmarks/openai_client_cpu.py`` prints both, the
``direct`` row against ``aiohttp json``). This poster sends the same body with the same
``Authorization`` header and reads the answer as JSON; it treats statuses as the SDK does
(408, 409, 429 and 5xx are retried, other errors are not) and raises the errors the backend's retry
loop knows. Streams still go through the SDK.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

RETRIED_STATUSES = frozenset({408, 409, 429})


class UpstreamStatus(Exception):
    """The server answered an error status; ``retryable`` as the SDK would retry it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status in RETRIED_STATUSES or self.status >= 500


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
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                             connector=aiohttp.TCPConnector(limit=0))
        self._client_error = aiohttp.ClientError

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """The decoded JSON of the answer; UpstreamStatus / UpstreamUnreachable / ValueError."""
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self.session.post(self.base_url + path, data=data, headers=self.headers) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.TimeoutError as exc:
            raise UpstreamUnreachable(f"no answer within {self.timeout:g}s") from exc
        except self._client_error as exc:
            raise UpstreamUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if status >= 400:
            raise UpstreamStatus(status, _error_message(raw, status))
        return json.loads(raw)  # a ValueError for a malformed body, retried by the caller

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
