"""Retries and errors of the OpenAI-compatible backend (``openai.py``).

A call that fails for a reason that may pass (429, 408, 409, 5xx, a refused or broken connection,
a malformed body) is tried again after an exponential backoff with jitter (longer after a 429), or
after the wait the server asks for (``Retry-After`` in seconds or as an HTTP date, or
``retry-after-ms``), at most ``RETRY_AFTER_CAP`` seconds; never past the call's deadline (a time
budget), where the call is left (``TimeUp``). A generation that sends nothing within ``timeout``
is not started again (it would take as long again): the error names the timeout and the spec
option that raises it. An error status says what it is about (``StatusError``): a prompt too
long is a ContextLengthError; a 400 about ``n`` means the server takes no ``n``; one that asks for
``max_completion_tokens`` (OpenAI's reasoning models) or refuses a field Ponder may leave out is
answered by the backend.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import random
import re
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Coroutine

from ..errors import BackendError, ContextLengthError, PonderError
from .base import says_too_long

RETRY_AFTER_CAP = 60.0  # seconds: the longest wait a server's Retry-After is given
RETRIED_STATUSES = frozenset({408, 409, 429})


class TimeUp(Exception):
    """The call's deadline came before its answer, or before its next attempt could start:
    ``retries`` attempts were made after the first and ``slept`` seconds waited between them."""

    def __init__(self, retries: int = 0, slept: float = 0.0) -> None:
        super().__init__("the call's deadline passed")
        self.retries = retries
        self.slept = slept


class StatusError(BackendError):
    """An error status of the server, with what its body said: ``message`` and the request field
    it names (``param``), where it names one."""

    def __init__(self, text: str, status: int, message: str, param: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.message = message
        self.param = param


def backoff(attempt: int, rate_limited: bool = False) -> float:
    """Seconds to wait before retry ``attempt + 1``: exponential with jitter, from 0.25 s doubling
    to at most 8 s; from 1 s to at most 30 s after a 429 that names no wait (a rate limit's window
    is seconds to a minute: the 4 default retries wait about 15 s in all, not 4)."""
    first, cap = (1.0, 30.0) if rate_limited else (0.25, 8.0)
    return min(cap, first * 2**attempt) * (0.5 + random.random())


def retry_after(headers: Any) -> float | None:
    """The wait a server asks for before a retry, in seconds: ``retry-after-ms`` (OpenAI, Azure),
    else ``Retry-After`` as seconds or as an HTTP date; None where it asks for none."""
    if not headers:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


async def until(call: Coroutine[Any, Any, Any], deadline: float | None) -> Any:
    """``await call``, left with TimeUp when the ``time.monotonic()`` deadline comes first."""
    if deadline is None:
        return await call
    left = deadline - time.monotonic()
    if left <= 0:
        call.close()
        raise TimeUp()
    timer = asyncio.timeout(left)
    try:
        async with timer:
            return await call
    except TimeoutError:
        if timer.expired():
            raise TimeUp() from None
        raise


async def with_retries(ep: Any, make_call: Callable[[Any], Awaitable[Any]], *, retries: int, timeout: float,
                       path: str = "", deadline: float | None = None) -> tuple[Any, int, float]:
    """``make_call(ep.client)`` within the endpoint's concurrency, tried again as the module says:
    its result, the retries made and the seconds slept between attempts (not the model's time)."""
    attempt, slept = 0, 0.0

    async def once() -> Any:
        async with ep.sem:
            return await make_call(ep.client)

    while True:
        ep.in_flight += 1
        try:
            return await until(once(), deadline), attempt, slept
        except TimeUp as up:
            up.retries, up.slept = attempt, slept
            raise
        except Exception as exc:  # noqa: BLE001 - sorted by _verdict; what it does not know is raised as is
            error, asked = _verdict(exc, ep.url, path, timeout)
            if error is None and attempt >= retries:
                error = BackendError(f"{ep.url} sent a malformed response: {exc}"
                                     if isinstance(exc, (ValueError, TypeError))
                                     else f"{ep.url} failed after {attempt + 1} attempt(s): {failure(exc)}")
            elif error is None and asked is not None and asked > RETRY_AFTER_CAP:
                error = BackendError(f"{ep.url} asks to be called again in {asked:.0f}s, more than the "
                                     f"{RETRY_AFTER_CAP:.0f}s Ponder waits: {failure(exc)}")
            if isinstance(error, BackendError):  # what it tried is counted (the engine records the call)
                error.retries, error.slept = attempt, slept
            if error is exc:
                raise
            if error is not None:
                raise error from exc
            wait = backoff(attempt, _status(exc) == 429) if asked is None else asked
            if deadline is not None and time.monotonic() + wait >= deadline:
                left = max(0.0, deadline - time.monotonic())
                await asyncio.sleep(left)  # nothing can be done before the time is up
                raise TimeUp(attempt, slept + left) from exc
            await asyncio.sleep(wait)
            slept += wait
            attempt += 1
        finally:
            ep.in_flight -= 1


def _verdict(exc: Exception, url: str, path: str, timeout: float) -> tuple[Exception | None, float | None]:
    """What a failed attempt calls for: ``(error, None)``, the error to raise now (``exc`` itself
    for one raised as it is), or ``(None, wait)``: another attempt, after ``wait`` seconds where
    the server asked for them."""
    import openai

    from .openai_direct import UpstreamStatus, UpstreamUnreachable

    if isinstance(exc, PonderError):  # already said (a stream that broke after its first token)
        return exc, None
    if isinstance(exc, UpstreamStatus):
        if exc.retryable:
            return None, retry_after(exc.headers)
        return status_error(url, exc.status, exc.message, path, exc.param), None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in RETRIED_STATUSES or status >= 500:
            return None, retry_after(getattr(exc.response, "headers", None))
        return status_error(url, status, message_of(exc), path, param_of(exc)), None
    if isinstance(exc, (openai.APITimeoutError, UpstreamUnreachable)) and _read_timeout(exc):
        return BackendError(
            f"{url}{path}: no answer within the timeout of {timeout:g}s, and not tried again (a generation "
            f"that takes longer would be started over): for long generations raise it in the model spec, "
            f"e.g. openai:MODEL@URL?timeout={max(600, int(timeout) * 10)}"), None
    if isinstance(exc, (openai.APIConnectionError, UpstreamUnreachable, ValueError, TypeError)):
        return None, None  # a connection that failed, or a malformed body: tried again
    if isinstance(exc, transport_errors()):  # raised below the SDK in a stream
        return BackendError(f"{url}: {type(exc).__name__}: {exc}"), None
    return exc, None


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a failed attempt, where it got one."""
    from .openai_direct import UpstreamStatus

    if isinstance(exc, UpstreamStatus):
        return exc.status
    return getattr(exc, "status_code", None)


def _read_timeout(exc: BaseException) -> bool:
    """The request was sent and no data came within the timeout (not a connect timeout)."""
    if getattr(exc, "read_timeout", False):
        return True
    cause = exc.__cause__
    while cause is not None:
        if type(cause).__name__ in ("ReadTimeout", "SocketTimeoutError"):  # httpx / httpx2, aiohttp
            return True
        cause = cause.__cause__
    return False


def status_error(url: str, status: int, message: str, path: str = "", param: str | None = None) -> Exception:
    """An error status of the server: a prompt too long for the model is a ContextLengthError (a
    strategy that has work keeps it, as when a budget runs out), anything else a StatusError."""
    if status == 400 and says_too_long(message):
        return ContextLengthError(f"{url}: {message}")
    hint = ""
    if status == 404 and path == "/completions":
        hint = (" (this server has no /completions endpoint, through which tokenizer= continues partial "
                "answers; drop tokenizer= for strategies that do not continue them, or use a server "
                "that has it: vLLM, SGLang, llama.cpp, ponder serve)")
    elif status in (400, 422) and _about(message, param, "temperature") and "default" in message.lower():
        hint = (" (this model samples only at its default temperature: give the strategy temperature=1, "
                "e.g. cot(temperature=1) or sc(n=8, temperature=1))")
    return StatusError(f"{url}{path} answered {status}: {message}{hint}", status, message, param)


# how servers say they take no n: OpenAI-style errors name the field (param "n", "'n'"), pydantic's
# name its location ('body', 'n'), vLLM and TGI write "n must be ...", "n > 1 ...", llama.cpp "Only
# one completion choice is allowed"; Ponder's "n=3 is above this server's ceiling of 1"
_ABOUT_N = re.compile(
    r"""['"`]n['"`]"""
    r"""|(?<![\w\\'"`])n\s*(?:[:=<>]|!=|(?:must|should|is|was|has|can|cannot|may|only|greater|larger|above|"""
    r"""exceeds?|not)\b)"""
    r"""|\b(?:parameter|param|field|argument)s?:?\s+n\b"""
    r"""|(?m:^\s*n\s*$)"""
    r"""|\bone (?:completion )?choice|\b(?:multiple|number of) (?:choices|completions|generations)""",
    re.I)


def refuses_n(exc: BaseException) -> bool:
    """A 400 or 422 about the ``n`` parameter: the server takes one choice a call. Any other error
    (whatever letters its text or its URL holds) is not."""
    return (isinstance(exc, StatusError) and exc.status in (400, 422)
            and (exc.param == "n" or bool(_ABOUT_N.search(exc.message))))


def wants_completion_tokens(exc: BaseException) -> bool:
    """OpenAI's reasoning models (o-series, gpt-5): "Unsupported parameter: 'max_tokens' is not
    supported with this model. Use 'max_completion_tokens' instead." """
    if not (isinstance(exc, StatusError) and exc.status == 400 and "max_completion_tokens" in exc.message):
        return False
    return exc.param == "max_tokens" or "max_tokens" in exc.message.replace("max_completion_tokens", "")


def refuses_field(exc: BaseException, name: str) -> bool:
    """A 400 or 422 that names the request field ``name`` (a field the server does not take)."""
    return isinstance(exc, StatusError) and exc.status in (400, 422) and _about(exc.message, exc.param, name)


def _about(message: str, param: str | None, name: str) -> bool:
    return param == name or re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message) is not None


def message_of(exc: Any) -> str:
    """The server's own message in an SDK error (its body's ``error.message``), else the error's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        if isinstance(body.get("detail"), (str, list)):
            return str(body["detail"])
    if isinstance(body, str) and body.lstrip().startswith("<"):
        from .openai_direct import html_page

        return html_page(body)
    return str(exc)


def param_of(exc: Any) -> str | None:
    param = getattr(exc, "param", None)
    if param is None and isinstance(getattr(exc, "body", None), dict):
        param = exc.body.get("param")
    return param if isinstance(param, str) else None


def failure(exc: BaseException) -> str:
    """What a call that failed for good failed with, as its error says it. The SDK's aiohttp
    transport maps every aiohttp connection error to a connect timeout (``APITimeoutError``), a
    refused connection included; named by the aiohttp error under it, that is a connection error,
    as the httpx transport and ``http=direct`` report it. A connection that closed before the
    answer's end is said so (``closed_early``)."""
    if closed_early(exc):
        return "the connection closed before the whole answer came"
    if type(exc).__name__ == "APITimeoutError":
        try:
            from aiohttp import ClientConnectorError
        except ImportError:
            ClientConnectorError = ()  # type: ignore[assignment,misc]  # then no aiohttp transport either
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, ClientConnectorError) and not isinstance(cause, TimeoutError):
                return f"APIConnectionError: {type(cause).__name__}: {cause}"
            cause = cause.__cause__
    return f"{type(exc).__name__}: {exc}"


def closed_early(exc: BaseException) -> bool:
    """The connection closed before the answer's end: aiohttp's ClientPayloadError (whose text
    reads as a status 400, aiohttp's own code for a body shorter than its headers said, not the
    server's), httpx's "peer closed connection without sending complete message body", under
    whatever error the transport or the SDK raised over them."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        if name == "ClientPayloadError" or (name == "RemoteProtocolError" and str(seen).startswith("peer closed")):
            return True
        seen = seen.__cause__
    return False


@functools.lru_cache(maxsize=None)
def transport_errors() -> tuple[type[BaseException], ...]:
    """Errors a stream can raise below the SDK once it is under way: those of ``httpx``, of the
    ``httpx2`` that newer SDKs use, and of ``aiohttp`` under the SDK's aiohttp transport."""
    found: list[type[BaseException]] = []
    for module, name in (("httpx", "HTTPError"), ("httpx2", "HTTPError"), ("aiohttp", "ClientError")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)
