"""OpenAI-compatible backend (``openai:MODEL@URL``): vLLM, SGLang, ``transformers serve``,
llama.cpp, hosted APIs — through the official ``openai`` SDK (``AsyncOpenAI``).

* ``n`` is sent when the server supports it; a server that refuses ``n`` (an error, or fewer
  choices than asked) is remembered and then served by concurrent single calls.
* Bounded concurrency per endpoint; several endpoints (``URL1,URL2``) are used least-loaded.
* Retries with exponential backoff and jitter on 429, 5xx, timeouts and connection errors; each
  retry is counted in the ledger. An unreachable server fails with an error naming the URL.
* ``usage`` is read as reported, including cached and reasoning tokens when present.
* Continuing a partial assistant message: through ``/completions`` with the chat template applied
  client-side (``?tokenizer=PATH``), or the server's own flag (``?continue=vllm`` sends vLLM's
  ``continue_final_message``). Without either, a clear CapabilityError.
* ``http=direct`` (what ``ponder serve`` uses): calls go as plain JSON over one aiohttp session
  and streams are read as server-sent events off the connection (``openai_direct.py``), the SDK's
  per-call request building and per-chunk objects skipped.
* Streaming: given ``on_token``, the call is made with ``stream=True`` and each text delta is
  passed on as it arrives with its choice's index (reasoning deltas inside ``<think>…</think>``),
  usage from the final chunk (``stream_options.include_usage``). A stream that fails before its first token is
  retried like any call; one that fails after it is an error (its tokens were already delivered).
  A call with a ``deadline`` (a time budget) is streamed too, and left when the time is up: its
  samples keep the text so far and end with finish reason ``budget``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import BackendError, CapabilityError, ContextLengthError, ModelSpecError
from ..types import Capabilities, Generation, GenerationRequest, Sample, Usage
from .base import logprob_fields, render_chat, sample_of, says_too_long
from .openai_spec import HTTP_CLIENTS, SPEC_OPTIONS, OpenAIConfig, parse_spec  # noqa: F401  (re-exported)
from .openai_stream import cut_short, reasoning_of, token_logprobs



def _backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1``: exponential (0.25 s doubling, at most 8 s)
    with jitter, the same for every kind of failure."""
    return min(8.0, 0.25 * 2**attempt) * (0.5 + random.random())


@dataclass
class _Endpoint:
    url: str
    client: Any  # the SDK's AsyncOpenAI, or None with http=direct
    sem: asyncio.Semaphore
    in_flight: int = 0
    poster: Any = None  # a DirectPoster: calls and streams without the SDK (http=direct)


class OpenAIBackend:
    """A model served behind one or more OpenAI-compatible endpoints."""

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.name = config.model
        self._endpoints: list[_Endpoint] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: asyncio.Task | None = None  # closes the clients of self._loop when its run ends
        self._native_n: dict[str, bool] = {}  # url -> whether it answers n > 1 itself (learned)
        self._stops_in_text: set[str] = set()  # urls seen to keep a stop string in the text (learned)
        self._tokenizer: Any = None
        if config.tokenizer:
            path = Path(config.tokenizer).expanduser()
            if not path.is_dir():
                raise ModelSpecError(f"tokenizer={config.tokenizer!r} is not a directory")

    @classmethod
    def from_spec(cls, spec: str) -> "OpenAIBackend":
        return cls(parse_spec(spec))

    def count_tokens(self, text: str) -> int | None:
        """Exact only with a local tokenizer (``?tokenizer=PATH``); otherwise unknown."""
        if not self.config.tokenizer:
            return None
        return len(self._get_tokenizer()(text, add_special_tokens=False)["input_ids"])

    def capabilities(self) -> Capabilities:
        return Capabilities(
            logits=False,
            prefix_continuation=self.config.continuation is not None,
            native_n=True,
            token_counts=True,
            num_parameters=self.config.num_parameters,
            thinking_tags=("<think>", "</think>"),
        )

    # -- plumbing ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Make the running loop's clients now (importing the SDK, building its client: about half
        a second the first time), so that a time budget started after this does not pay for it."""
        self._endpoints_list()

    def _endpoints_list(self) -> list[_Endpoint]:
        """The endpoints' clients, made for the running event loop (connections, sessions and
        semaphores belong to one loop; a later ``asyncio.run`` gets fresh ones), and closed when
        that loop's run ends (``_close_at_loop_end``)."""
        loop = asyncio.get_running_loop()
        if self._endpoints is None or self._loop is not loop:
            from openai import AsyncOpenAI

            key = os.environ.get(self.config.api_key_env) or "EMPTY"
            direct = self.config.http == "direct"
            self._endpoints = [
                _Endpoint(url=u, sem=asyncio.Semaphore(self.config.concurrency),
                          client=None if direct else AsyncOpenAI(base_url=u, api_key=key, max_retries=0,
                                                                 timeout=self.config.timeout,
                                                                 **_http_client(self.config.http)),
                          poster=_direct_poster(u, key, self.config.timeout) if direct else None)
                for u in self.config.urls
            ]
            self._loop = loop
            self._closer = _close_at_loop_end(self._endpoints)
        return self._endpoints

    def prefer_aiohttp(self) -> None:
        """Unless the spec chose ``http=``, make calls and streams straight over aiohttp
        (``http=direct``): for one long-lived event loop (``ponder serve``), where that costs the
        least CPU per call and per streamed chunk (``benchmarks/openai_client_cpu.py``)."""
        if self.config.http is None and _aiohttp_available():
            self.config.http = "direct"

    async def aclose(self) -> None:
        """Close the clients made for the running loop (a server calls this at shutdown; the end
        of the loop's run closes them too)."""
        if self._closer is not None:
            self._closer.cancel()  # nothing left for it to close
            self._closer = None
        await _close_clients(self._endpoints or [])
        self._endpoints = None

    def _pick_endpoint(self) -> _Endpoint:
        return min(self._endpoints_list(), key=lambda e: e.in_flight)

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            path = Path(self.config.tokenizer).expanduser()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - a directory without usable tokenizer files
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise ModelSpecError(f"tokenizer={self.config.tokenizer!r}: cannot load a tokenizer from "
                                     f"{str(path)!r} (it needs the files saved by a tokenizer's "
                                     f"save_pretrained): {reason}") from exc
        return self._tokenizer

    async def _with_retries(self, ep: _Endpoint, make_call: Any, path: str = "") -> tuple[Any, int]:
        import openai

        from .openai_direct import UpstreamStatus, UpstreamUnreachable

        retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                     openai.APIConnectionError, UpstreamUnreachable, UpstreamStatus)
        attempt = 0
        while True:
            try:
                ep.in_flight += 1
                async with ep.sem:
                    return await make_call(ep.client), attempt
            except retryable as exc:
                if isinstance(exc, UpstreamStatus) and not exc.retryable:
                    raise _status_error(ep.url, exc.status, exc.message, path) from exc
                if attempt >= self.config.retries:
                    raise BackendError(f"{ep.url} failed after {attempt + 1} attempt(s): {_failure(exc)}") from exc
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
            except openai.APIStatusError as exc:
                raise _status_error(ep.url, exc.status_code, _message(exc), path) from exc
            except (ValueError, TypeError) as exc:  # malformed JSON or a body the SDK cannot read
                if attempt >= self.config.retries:
                    raise BackendError(f"{ep.url} sent a malformed response: {exc}") from exc
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
            finally:
                ep.in_flight -= 1

    # -- generation -------------------------------------------------------------------------
    supports_streaming = True

    async def generate(self, request: GenerationRequest,
                       on_token: Callable[[int, str], None] | None = None) -> Generation:
        if request.logits_processors:
            raise CapabilityError(f"logits processors need logits access, which {self.name!r} over the "
                                  "OpenAI API does not give; use hf:PATH, embedded or vllm:PATH")
        continuing = bool(request.prefix) or (request.messages and request.messages[-1].get("role") == "assistant")
        if continuing and self.config.continuation is None:
            raise CapabilityError(
                f"continuing a partial assistant message needs prefix continuation, which {self.name!r} "
                "was not configured for; add ?tokenizer=PATH (completions endpoint with the chat template "
                "applied client-side) or ?continue=vllm (vLLM's continue_final_message)")
        ep = self._pick_endpoint()
        if request.n > 1 and not self._native_n.get(ep.url, True):
            return await self._fan_out(request, on_token)
        start = time.perf_counter()
        gen = await self._one_call(ep, request, continuing, on_token)
        if len(gen.samples) < request.n:  # the server ignored or refused n: remember, fill the rest
            self._native_n[ep.url] = False
            # seeds as a fan-out from the start would give them: request.seed + i for sample i
            got = len(gen.samples)
            rest = await self._fan_out(request.replace(n=request.n - got,
                                                       seed=None if request.seed is None else request.seed + got),
                                       on_token, first=got)
            gen.wall_seconds = time.perf_counter() - start
            gen = Generation(samples=gen.samples + rest.samples, usage=gen.usage + rest.usage,
                             parts=[gen, *rest.parts])
        return gen

    def calls_for(self, request: GenerationRequest) -> int:
        """The calls ``request`` takes: one, or one a sample where a server of the pool was seen to
        ignore ``n`` (what a call budget must hold for it)."""
        if request.n > 1 and not all(self._native_n.get(url, True) for url in self.config.urls):
            return request.n
        return 1

    async def _fan_out(self, request: GenerationRequest, on_token: Callable[[int, str], None] | None = None,
                       first: int = 0) -> Generation:
        """``n`` one-sample calls in parallel, for a server without ``n``; each streams, when asked,
        under the index its sample takes (``first`` + its place)."""
        continuing = bool(request.prefix) or request.messages[-1].get("role") == "assistant"

        def under(k: int) -> Callable[[int, str], None] | None:
            return None if on_token is None else (lambda _i, delta: on_token(k, delta))

        async def timed(i: int) -> Generation:
            start = time.perf_counter()
            gen = await self._one_call(self._pick_endpoint(), request.replace(
                n=1, seed=None if request.seed is None else request.seed + i), continuing, under(first + i))
            gen.wall_seconds = time.perf_counter() - start
            return gen

        gens = await asyncio.gather(*(timed(i) for i in range(request.n)))
        usage = Usage(prompt_tokens=None)
        samples: list[Sample] = []
        for g in gens:
            samples.extend(g.samples)
            usage = usage + g.usage
        return Generation(samples=samples, usage=usage, parts=list(gens))

    async def _one_call(self, ep: _Endpoint, request: GenerationRequest, continuing: bool,
                        on_token: Callable[[int, str], None] | None = None) -> Generation:
        gen = await self._call(ep, request, continuing, on_token)
        # A server that keeps the stop string in the text (transformers serve) shows it once a
        # sample was cut here; from then on a sample of it that was not cut ended at its end of turn.
        if any(s.matched_stop is not None for s in gen.samples):
            self._stops_in_text.add(ep.url)
        if ep.url in self._stops_in_text:
            for s in gen.samples:
                s.stop_unknown = False
        return gen

    async def _call(self, ep: _Endpoint, request: GenerationRequest, continuing: bool,
                    on_token: Callable[[int, str], None] | None) -> Generation:
        import openai

        common: dict[str, Any] = dict(model=self.config.model, max_tokens=request.max_tokens,
                                      temperature=request.temperature, top_p=request.top_p)
        if request.n > 1:
            common["n"] = request.n
        if request.stop:
            common["stop"] = request.stop[:4]
        if request.seed is not None:
            common["seed"] = request.seed
        extra: dict[str, Any] = {}
        if request.min_tokens:
            extra["min_tokens"] = request.min_tokens
        if request.template_kwargs:
            extra["chat_template_kwargs"] = request.template_kwargs
        use_completions = continuing and self.config.continuation == "completions"
        if on_token is None and request.deadline is not None:
            on_token = _unheard  # streamed, so that reading can stop at the deadline
        try:
            if use_completions:
                prompt = self._render(request)
                if request.logprobs:
                    common["logprobs"] = 1
                if on_token is not None:
                    return await self._stream_call(ep, request, on_token, lambda c, **kw: c.completions.create(
                        prompt=prompt, extra_body=extra or None, **common, **kw), completions=True,
                        path="/completions", body={**common, "prompt": prompt, **extra})
                resp, retries = await self._post(ep, "/completions", {**common, "prompt": prompt, **extra})
            else:
                messages = list(request.messages)
                if continuing:
                    if request.prefix:
                        messages.append({"role": "assistant", "content": request.prefix})
                    extra.update(continue_final_message=True, add_generation_prompt=False)
                if request.logprobs:
                    common["logprobs"] = True
                if on_token is not None:
                    return await self._stream_call(ep, request, on_token, lambda c, **kw: c.chat.completions.create(
                        messages=messages, extra_body=extra or None, **common, **kw), completions=False,
                        path="/chat/completions", body={**common, "messages": messages, **extra})
                resp, retries = await self._post(ep, "/chat/completions", {**common, "messages": messages, **extra})
        except BackendError as exc:
            if request.n > 1 and "n" in str(exc).lower() and ("400" in str(exc) or "422" in str(exc)):
                self._native_n[ep.url] = False
                return Generation(samples=[], usage=Usage())
            raise
        except openai.OpenAIError as exc:
            raise BackendError(f"{ep.url}: {exc}") from exc
        return self._parse(resp, request, retries, use_completions)

    async def _post(self, ep: _Endpoint, path: str, body: dict[str, Any]) -> tuple[Any, int]:
        """A non-streamed call through the SDK's generic ``post`` (its documented way to send a
        body as is): the same auth, errors and response types as ``create``, without the SDK's
        per-call transformation of the parameters, a large share of a call's CPU time
        (``benchmarks/openai_client_cpu.py`` prints both).  The response comes back as the
        decoded JSON (``cast_to=object``): building the SDK's response models cost about a
        fifth of a call's CPU time (the ``post`` and ``json`` rows of the same benchmark)."""
        body = {k: v for k, v in body.items() if v is not None}
        if ep.poster is not None:  # http=direct: the same body straight over aiohttp
            return await self._with_retries(ep, lambda _: ep.poster.post(path, body), path)
        return await self._with_retries(ep, lambda c: c.post(path, body=body, cast_to=object), path)

    async def _stream_call(self, ep: _Endpoint, request: GenerationRequest, on_token: Callable[[int, str], None],
                           create: Any, completions: bool, path: str, body: dict[str, Any]) -> Generation:
        """One streamed call: deltas to ``on_token`` as they arrive (with their choice's index when
        the call asks for ``n`` choices), the samples and usage at the end. With ``http=direct`` the
        events are read straight off the connection, else through the SDK."""
        import openai

        from .openai_direct import UpstreamStatus, UpstreamUnreachable
        from .openai_stream import Assembler, sdk_chunk

        transport_errors = _transport_errors()
        delivered = False
        streamed = {**{k: v for k, v in body.items() if v is not None}, "stream": True,
                    "stream_options": {"include_usage": True}}

        async def consume(client: Any) -> tuple[dict[int, list[str]], dict[int, Assembler], Any]:
            nonlocal delivered
            if ep.poster is not None:
                stream, read = ep.poster.stream(path, streamed), None
            else:
                stream, read = await create(client, stream=True, stream_options={"include_usage": True}), sdk_chunk
            parts: dict[int, list[str]] = {}
            outs: dict[int, Assembler] = {}
            usage = None
            try:
                async for raw in stream:
                    chunk = read(raw) if read else raw
                    usage = chunk.get("usage") or usage
                    for ch in chunk.get("choices") or []:  # each choice on its own, by its index
                        i = ch.get("index") or 0
                        piece = outs.setdefault(i, Assembler(completions)).feed(ch)
                        if piece:
                            parts.setdefault(i, []).append(piece)
                            delivered = True
                            on_token(i, piece)
                    if request.deadline is not None and time.monotonic() >= request.deadline:
                        going = [i for i in range(max(1, request.n)) if i not in outs or not outs[i].finish]
                        if going:  # time is up: stop reading (the server stops the work when we leave)
                            for i in going:
                                outs.setdefault(i, Assembler(completions)).finish = {"finish_reason": "budget"}
                            break
                for i, out in outs.items():
                    tail = out.close()
                    if tail:
                        parts.setdefault(i, []).append(tail)
                        on_token(i, tail)
            except (openai.APIError, UpstreamStatus, UpstreamUnreachable, *transport_errors) as exc:
                if not delivered:
                    raise
                raise BackendError(f"{ep.url} failed in the middle of a stream: {type(exc).__name__}: "
                                   f"{_message(exc)}") from exc
            finally:
                if read is None:
                    await stream.aclose()
                else:
                    await stream.close()
            return parts, outs, usage

        try:
            (parts, outs, said), retries = await self._with_retries(ep, consume, path)
        except transport_errors as exc:
            raise BackendError(f"{ep.url}: {type(exc).__name__}: {exc}") from exc
        samples = [sample_of("".join(parts.get(i, [])), outs[i].finish, request.stop,
                             **outs[i].sample_fields(request.logprobs)) for i in sorted(outs)]
        usage = _usage(said, retries)
        if len(samples) == 1:
            samples[0].completion_tokens = usage.completion_tokens
        return Generation(samples=samples, usage=usage)

    def _render(self, request: GenerationRequest) -> str:
        return render_chat(self._get_tokenizer(), request)

    def _parse(self, resp: Any, request: GenerationRequest, retries: int, completions: bool) -> Generation:
        """Samples and usage from a response body (the decoded JSON of the server's answer)."""
        choices = resp.get("choices") if isinstance(resp, dict) else None
        if not isinstance(choices, list) or not all(isinstance(ch, dict) for ch in choices):
            raise BackendError(f"malformed response from the server for {self.name!r}: no choices")
        samples = []
        for ch in choices:
            if completions:
                text = ch.get("text") or ""
            else:
                msg = ch.get("message") or {}
                text = msg.get("content") or ""
                reasoning = reasoning_of(msg)
                if reasoning:  # as the model wrote it; a thought cut short is not closed
                    text = f"<think>{reasoning}" + ("" if cut_short(ch) and not text else f"</think>{text}")
            scored = token_logprobs(ch.get("logprobs") or {}, completions) if request.logprobs else []
            samples.append(sample_of(text, ch, request.stop, **logprob_fields(scored)))
        usage = _usage(resp.get("usage"), retries)
        if usage.reasoning_tokens is None and self.config.tokenizer:
            spans = [_think_span(smp.text) for smp in samples]
            if any(sp is not None for sp in spans):  # the server did not count them; the text shows them
                usage.reasoning_tokens = sum(self.count_tokens(sp) or 0 for sp in spans if sp is not None)
        if len(samples) == 1 and usage.completion_tokens is not None:
            samples[0].completion_tokens = usage.completion_tokens
        return Generation(samples=samples, usage=usage)


_CLOSERS: set[asyncio.Task] = set()  # the tasks of _close_at_loop_end, held until they end


def _close_at_loop_end(endpoints: list[_Endpoint]) -> asyncio.Task:
    """A task of the running loop that waits, and closes the endpoints' clients when it is
    cancelled: ``asyncio.run`` (and ``asyncio.Runner``, which pytest-asyncio and uvicorn use)
    cancels the tasks left when its coroutine ends, by a return, an error or Ctrl-C, before it
    closes the loop. A command or script that never calls ``aclose`` so still closes its aiohttp
    sessions (``http=aiohttp``, ``http=direct``), which aiohttp otherwise reported at exit as
    ``Unclosed client session``."""

    async def wait_then_close() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await _close_clients(endpoints)

    task = asyncio.get_running_loop().create_task(wait_then_close(), name="ponder-openai-close")
    _CLOSERS.add(task)  # the loop holds its tasks weakly
    task.add_done_callback(_CLOSERS.discard)
    return task


async def _close_clients(endpoints: list[_Endpoint]) -> None:
    for ep in endpoints:
        await (ep.poster or ep.client).close()


def _failure(exc: BaseException) -> str:
    """What a call that failed for good failed with, as its error says it. The SDK's aiohttp
    transport maps every aiohttp connection error to a connect timeout (``APITimeoutError``), a
    refused connection included; named by the aiohttp error under it, that is a connection error,
    as the httpx transport and ``http=direct`` report it."""
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


@functools.lru_cache(maxsize=None)
def _transport_errors() -> tuple[type[BaseException], ...]:
    """Errors a stream can raise below the SDK once it is under way: those of ``httpx``, of the
    ``httpx2`` that newer SDKs use, and of ``aiohttp`` under the SDK's aiohttp transport."""
    found: list[type[BaseException]] = []
    for module, name in (("httpx", "HTTPError"), ("httpx2", "HTTPError"), ("aiohttp", "ClientError")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _http_client(kind: str | None) -> dict[str, Any]:
    """``AsyncOpenAI``'s ``http_client`` for the transport, with the SDK's defaults.

    ``aiohttp`` (where the SDK's ``aiohttp`` extra is installed) costs less CPU per call than the
    httpx pool, most with many calls at once (``benchmarks/openai_client_cpu.py``); a session
    belongs to one event loop, hence not the default, as a library user may call
    ``asyncio.run`` many times.  Otherwise the SDK's httpx client, made here rather than by the
    SDK, whose own wrapper schedules its close on whatever loop runs when it is collected
    (an error printed for every client left behind by an earlier loop)."""
    if kind == "aiohttp" and _aiohttp_available():
        from openai import DefaultAioHttpClient

        return {"http_client": DefaultAioHttpClient()}
    try:
        from openai import DefaultAsyncHttpxClient
    except ImportError:
        return {}
    return {"http_client": DefaultAsyncHttpxClient()}


def _direct_poster(url: str, key: str, timeout: float) -> Any:
    from .. import __version__
    from .openai_direct import DirectPoster

    return DirectPoster(url, key, timeout, user_agent=f"ponder/{__version__}")


def _aiohttp_available() -> bool:
    try:
        import aiohttp  # noqa: F401
        from openai import DefaultAioHttpClient  # noqa: F401
    except ImportError:
        return False
    return True


def _unheard(_index: int, _delta: str) -> None:
    """The text deltas of a call streamed only so that it can be stopped at a deadline."""


def _usage(u: dict[str, Any] | None, retries: int) -> Usage:
    """Usage as the server reported it in its JSON (None where it did not)."""
    usage = Usage(retries=retries)
    if isinstance(u, dict):
        usage.prompt_tokens = u.get("prompt_tokens")
        usage.completion_tokens = u.get("completion_tokens")
        usage.cached_prompt_tokens = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
        usage.reasoning_tokens = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")
    return usage


def _status_error(url: str, status: int, message: str, path: str = "") -> Exception:
    """An error status of the server: a prompt too long for the model is a ContextLengthError (a
    strategy that has work keeps it, as when a budget runs out), anything else a BackendError."""
    if status == 400 and says_too_long(message):
        return ContextLengthError(f"{url}: {message}")
    hint = ""
    if status == 404 and path == "/completions":
        hint = (" (this server has no /completions endpoint, through which tokenizer= continues partial "
                "answers; drop tokenizer= for strategies that do not continue them, or use a server "
                "that has it: vLLM, SGLang, llama.cpp, ponder serve)")
    return BackendError(f"{url}{path} answered {status}: {message}{hint}")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
    return str(exc)


def _think_span(text: str) -> str | None:
    """The ``<think>…</think>`` span of a text (tags included), or None."""
    start = text.find("<think>")
    if start < 0:
        return None
    end = text.find("</think>", start)
    return text[start:] if end < 0 else text[start:end + len("</think>")]
