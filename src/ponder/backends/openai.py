"""OpenAI-compatible backend (``openai:MODEL@URL``): vLLM, SGLang, ``transformers serve``,
llama.cpp, hosted APIs — through the official ``openai`` SDK (``AsyncOpenAI``).

* ``n`` is sent when the server supports it. A server that answers fewer choices than asked, or
  refuses ``n`` with a 400 about it, is remembered (``calls_for`` then says one call a sample), and
  the call returns what it got: the engine draws the rest, each call claimed against the budget.
* Bounded concurrency per endpoint; several endpoints (``URL1,URL2``) are used least-loaded.
* Retries (``openai_retry.py``): backoff with jitter, or the server's ``Retry-After``, on 429, 5xx,
  refused connections and malformed bodies, never past a call's deadline; each retry is counted in
  the ledger and the waits are not the model's time. A generation with no answer within
  ``timeout`` is not started over: the error names the timeout and how to raise it.
* ``usage`` is read as reported, including cached and reasoning tokens when present; a count of 0
  beside a text that holds something is taken as not reported (a server that counts nothing).
* Continuing a partial assistant message: through ``/completions`` with the chat template applied
  client-side (``?tokenizer=PATH``), or the server's own flag (``?continue=vllm`` sends vLLM's
  ``continue_final_message``). Without either, a clear CapabilityError.
* ``http=direct`` (what ``ponder serve`` uses): calls go as plain JSON over one aiohttp session
  and streams are read as server-sent events off the connection (``openai_direct.py``), the SDK's
  per-call request building and per-chunk objects skipped.
* Streaming: given ``on_token``, the call is made with ``stream=True`` and each text delta is
  passed on as it arrives with its choice's index (reasoning deltas inside ``<think>…</think>``),
  usage from the final chunk (``stream_options.include_usage``). A stream that fails before its first token is
  retried like any call; one that fails after it is an error (its tokens were already delivered),
  which carries the text it passed on for the engine to charge; one that broke after every choice
  had finished, before its usage, keeps its choices, the call's tokens unknown.
  A call with a ``deadline`` (a time budget) is streamed too, and left when the time is up, while
  it waits for its first token or for a retry as while it streams: its samples keep the text so
  far and end with finish reason ``budget``.
* What servers do their own way: OpenAI's reasoning models take ``max_completion_tokens`` (learned
  from their 400, or ``?token_limit=max_completion_tokens``); a server that does not take
  ``add_special_tokens`` (sent with ``tokenizer=`` when the rendered prompt starts with the BOS) is
  called without it from then on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import BackendError, CapabilityError, ModelSpecError, PonderError
from ..types import Capabilities, Generation, GenerationRequest, Sample, Usage
from .base import check_tokenizer_files, logprob_fields, render_chat, sample_of
from .openai_direct import RETRIED_STATUSES, UpstreamStatus, UpstreamUnreachable, html_page
from .openai_retry import (StatusError, TimeUp, closed_early, failure, message_of, refuses_field, refuses_n,
                           wants_completion_tokens, with_retries)
from .openai_spec import HTTP_CLIENTS, SPEC_OPTIONS, OpenAIConfig, parse_spec  # noqa: F401  (re-exported)
from .openai_stream import (StreamRead, content_of, cut_short, reasoning_of, sdk_chunk, token_logprobs,
                            with_thinking)

log = logging.getLogger("ponder.backends.openai")

# the request fields the SDK's create() takes by name; the others go in its extra_body
_SDK_FIELDS = {"model", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "logprobs"}
_SDK_CHAT = _SDK_FIELDS | {"messages", "max_completion_tokens"}
_SDK_COMPLETIONS = _SDK_FIELDS | {"prompt"}


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
        self._plain_special: set[str] = set()  # urls that refused add_special_tokens (learned)
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
                if path.is_dir():  # not a name in the local Hugging Face cache
                    check_tokenizer_files(path)
                self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - a directory without usable tokenizer files
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise ModelSpecError(f"tokenizer={self.config.tokenizer!r}: cannot load a tokenizer from "
                                     f"{str(path)!r} (it needs the files saved by a tokenizer's "
                                     f"save_pretrained): {reason}") from exc
        return self._tokenizer

    # -- generation -------------------------------------------------------------------------
    supports_streaming = True

    async def generate(self, request: GenerationRequest,
                       on_token: Callable[[int, str], None] | None = None) -> Generation:
        """The samples of ``request``: all ``n`` from one call, or fewer where the server was found
        now to ignore or refuse ``n`` (it is remembered; ``calls_for`` says one call a sample from
        then on, and the engine draws the rest a call at a time, each claimed of the budget). A
        request for a server known to ignore ``n`` is served by one call a sample here."""
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
            return await self._fan_out(request, continuing, on_token)
        gen = await self._one_call(ep, request, continuing, on_token)
        if len(gen.samples) < request.n:  # the server ignored or refused n: from now on a call a sample
            self._native_n[ep.url] = False
        return gen

    def calls_for(self, request: GenerationRequest) -> int:
        """The calls ``request`` takes: one, or one a sample where a server of the pool was seen to
        ignore ``n`` (the engine then draws such a request a call at a time)."""
        if request.n > 1 and not all(self._native_n.get(url, True) for url in self.config.urls):
            return request.n
        return 1

    async def _fan_out(self, request: GenerationRequest, continuing: bool,
                       on_token: Callable[[int, str], None] | None = None) -> Generation:
        """``n`` one-sample calls in parallel, for a server without ``n``; each streams, when asked,
        under the index of its sample, and is an entry of its own (``parts``) with its own time."""

        def under(k: int) -> Callable[[int, str], None] | None:
            return None if on_token is None else (lambda _i, delta: on_token(k, delta))

        gens = await asyncio.gather(*(self._one_call(self._pick_endpoint(), request.replace(
            n=1, seed=None if request.seed is None else request.seed + i), continuing, under(i))
            for i in range(request.n)))
        usage = Usage(prompt_tokens=None)
        samples: list[Sample] = []
        for g in gens:
            samples.extend(g.samples)
            usage = usage + g.usage
        return Generation(samples=samples, usage=usage, parts=list(gens))

    async def _one_call(self, ep: _Endpoint, request: GenerationRequest, continuing: bool,
                        on_token: Callable[[int, str], None] | None = None) -> Generation:
        try:
            gen = await self._call(ep, request, continuing, on_token)
        except PonderError as exc:  # a server that echoes the key it was sent ("Incorrect API key: sk-...")
            key = os.environ.get(self.config.api_key_env) or ""
            if len(key) >= 8 and key in str(exc):
                exc.args = tuple(a.replace(key, "[redacted]") if isinstance(a, str) else a for a in exc.args)
                if isinstance(getattr(exc, "message", None), str):
                    exc.message = exc.message.replace(key, "[redacted]")  # type: ignore[attr-defined]
            raise
        # A server that keeps the stop string in the text (transformers serve) shows it once a
        # sample was cut here; from then on a sample of it that was not cut ended at its end of turn.
        if any(s.matched_stop is not None for s in gen.samples):
            self._stops_in_text.add(ep.url)
        if ep.url in self._stops_in_text:
            for s in gen.samples:
                s.stop_unknown = False
        return gen

    async def _call(self, ep: _Endpoint, request: GenerationRequest, continuing: bool,
                    on_token: Callable[[int, str], None] | None, adapted: int = 0) -> Generation:
        """One call (its attempts): its generation, timed without the waits between attempts."""
        import openai

        start = time.perf_counter()
        path, body, completions, continued = self._body(ep, request, continuing)
        if on_token is None and request.deadline is not None:
            on_token = _unheard  # streamed, so that reading can stop at the deadline
        try:
            if on_token is not None:
                gen, slept = await self._stream_call(ep, request, on_token, body, path, completions, continued)
            else:
                resp, retries, slept = await self._post(ep, path, body, request.deadline)
                gen = self._parse(resp, request, retries, completions, continued, ep.url + path)
        except StatusError as exc:
            if request.n > 1 and refuses_n(exc):  # answered the next calls one sample each (counted as a call)
                self._native_n[ep.url] = False
                return Generation(samples=[], usage=Usage(prompt_tokens=0, completion_tokens=0),
                                  wall_seconds=time.perf_counter() - start)
            if adapted < 2 and self._adapt(ep, exc, body):  # sent again in the form the server asked for
                try:
                    gen = await self._call(ep, request, continuing, on_token, adapted + 1)
                except BackendError as err:
                    err.retries += 1
                    raise
                gen.usage.retries += 1
                return gen
            raise
        except TimeUp as up:  # the deadline came before an answer (a queue, rate limits)
            gen = Generation(samples=[Sample(text="", finish_reason="budget") for _ in range(request.n)],
                             usage=Usage(retries=up.retries))
            slept = up.slept
        except openai.OpenAIError as exc:
            raise BackendError(f"{ep.url}: {exc}") from exc
        gen.wall_seconds = time.perf_counter() - start - slept
        return gen

    def _adapt(self, ep: _Endpoint, exc: StatusError, sent: dict[str, Any]) -> bool:
        """Whether the refusal ``exc`` of the body ``sent`` names a way of sending it that this
        backend changes (from now on): the token limit's field, a field the server does not take."""
        if "max_tokens" in sent and wants_completion_tokens(exc):
            if self.config.token_limit != "max_completion_tokens":
                self.config.token_limit = "max_completion_tokens"
                log.warning("%s refuses max_tokens for %s: sending max_completion_tokens from now on (the spec "
                            "option token_limit=max_completion_tokens says so from the start)", ep.url, self.name)
            return True
        if "add_special_tokens" in sent and refuses_field(exc, "add_special_tokens"):
            if ep.url not in self._plain_special:
                self._plain_special.add(ep.url)
                log.warning("%s does not take add_special_tokens: prompts are sent without it (its tokenizer "
                            "may add a second BOS)", ep.url)
            return True
        return False

    def _body(self, ep: _Endpoint, request: GenerationRequest,
              continuing: bool) -> tuple[str, dict[str, Any], bool, bool]:
        """The path and JSON body of the call for ``request``; whether it goes through
        ``/completions``; whether it continues a prefix (the text is what follows it)."""
        body: dict[str, Any] = {"model": self.config.model, self.config.token_limit: request.max_tokens,
                                "temperature": request.temperature, "top_p": request.top_p}
        if request.n > 1:
            body["n"] = request.n
        if request.stop:
            body["stop"] = request.stop[:4]
        if request.seed is not None:
            body["seed"] = request.seed
        if request.min_tokens:
            body["min_tokens"] = request.min_tokens
        if request.template_kwargs:
            body["chat_template_kwargs"] = request.template_kwargs
        messages = list(request.messages)
        if continuing and self.config.continuation == "completions":
            prompt = self._render(request)
            body["prompt"] = prompt
            if request.logprobs:
                body["logprobs"] = 1
            bos = getattr(self._get_tokenizer(), "bos_token", None)
            if bos and prompt.startswith(bos) and ep.url not in self._plain_special:
                body["add_special_tokens"] = False  # the BOS is in the text: vLLM would add another
            return "/completions", body, True, True
        if continuing:
            if request.prefix and messages and messages[-1].get("role") == "assistant":  # one partial turn
                messages[-1] = {**messages[-1], "content": str(messages[-1].get("content") or "") + request.prefix}
            elif request.prefix:
                messages.append({"role": "assistant", "content": request.prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        if request.logprobs:
            body["logprobs"] = True
        body["messages"] = messages
        return "/chat/completions", body, False, bool(continuing)

    async def _post(self, ep: _Endpoint, path: str, body: dict[str, Any],
                    deadline: float | None = None) -> tuple[Any, int, float]:
        """A non-streamed call through the SDK's generic ``post`` (its documented way to send a
        body as is): the same auth, errors and response types as ``create``, without the SDK's
        per-call transformation of the parameters, a large share of a call's CPU time
        (``benchmarks/openai_client_cpu.py`` prints both).  The response comes back as the
        decoded JSON (``cast_to=object``): building the SDK's response models cost about a
        fifth of a call's CPU time (the ``post`` and ``json`` rows of the same benchmark)."""
        body = {k: v for k, v in body.items() if v is not None}

        async def call(client: Any) -> Any:
            if ep.poster is not None:  # http=direct: the same body straight over aiohttp
                return _answer(await ep.poster.post(path, body))
            return _answer(await client.post(path, body=body, cast_to=object))

        return await with_retries(ep, call, retries=self.config.retries, timeout=self.config.timeout,
                                  path=path, deadline=deadline)

    async def _stream_call(self, ep: _Endpoint, request: GenerationRequest, on_token: Callable[[int, str], None],
                           body: dict[str, Any], path: str, completions: bool,
                           continued: bool) -> tuple[Generation, float]:
        """One streamed call: deltas to ``on_token`` as they arrive (with their choice's index when
        the call asks for ``n`` choices), the samples and usage at the end, and the seconds slept
        between its attempts. With ``http=direct`` the events are read straight off the connection,
        else through the SDK."""
        streamed = {**{k: v for k, v in body.items() if v is not None}, "stream": True,
                    "stream_options": {"include_usage": True}}
        read = StreamRead(completions, continued)

        async def consume(client: Any) -> StreamRead:
            nonlocal read
            read = StreamRead(completions, continued)  # what this attempt reads (one before it delivered nothing)
            if ep.poster is not None:
                stream, decode = ep.poster.stream(path, streamed), None
            else:
                stream, decode = await _sdk_create(client, body, completions), sdk_chunk
            try:
                async for raw in stream:
                    read.feed(decode(raw) if decode else raw, on_token)
                    if request.deadline is not None and time.monotonic() >= request.deadline \
                            and read.going(request.n):  # time is up: stop reading (the server stops when we leave)
                        read.leave(request.n)
                        break
            except Exception as exc:  # noqa: BLE001 - before the first token: tried again or raised as it is
                if not read.delivered:
                    raise
                if not read.going(request.n):  # every choice had its end: kept, its usage unknown
                    log.warning("%s: the stream of %s broke after its choices had finished, before its usage "
                                "(%s): the call's tokens are unknown", ep.url, self.name, failure(exc))
                    return read
                if isinstance(exc, (ValueError, TypeError)):  # as a malformed non-streamed answer is said
                    raise BackendError(f"{ep.url} sent a malformed response in the middle of a stream: "
                                       f"{exc}") from exc
                said = failure(exc) if closed_early(exc) else f"{type(exc).__name__}: {message_of(exc)}"
                raise BackendError(f"{ep.url} failed in the middle of a stream: {said}") from exc
            finally:
                if decode is None:
                    await stream.aclose()
                else:
                    await stream.close()
            if not read.outs:  # no choice at all: an answer that broke off before its first
                raise UpstreamUnreachable("the stream ended before its first choice")
            return read

        try:
            _, retries, slept = await with_retries(ep, consume, retries=self.config.retries,
                                                   timeout=self.config.timeout, path=path, deadline=request.deadline)
        except TimeUp as up:  # the time is up: what arrived so far
            retries, slept = up.retries, up.slept
            read.leave(request.n)
        except BackendError as exc:  # the text it passed on is charged for (the engine records the call)
            exc.texts = tuple("".join(read.parts.get(i, [])) for i in sorted(read.outs))
            raise
        read.end(on_token)
        samples = read.samples(request.stop, request.logprobs)
        usage = _usage(read.usage, retries, request, samples)
        if len(samples) == 1:
            samples[0].completion_tokens = usage.completion_tokens
        return Generation(samples=samples, usage=usage), slept

    def _render(self, request: GenerationRequest) -> str:
        return render_chat(self._get_tokenizer(), request)

    def _parse(self, resp: Any, request: GenerationRequest, retries: int, completions: bool,
               continued: bool = False, where: str = "") -> Generation:
        """Samples and usage from a response body (the decoded JSON of the server's answer), its
        choices in the order of their index."""
        choices = resp.get("choices") if isinstance(resp, dict) else None
        if not isinstance(choices, list) or not all(isinstance(ch, dict) for ch in choices):
            raise BackendError(f"malformed response from {where or 'the server'} for {self.name!r}: no choices "
                               f"(the body starts {str(resp)[:120]!r})")
        if not choices:  # Azure's content filter answers so; not a server that ignores n
            held = " (its prompt_filter_results say a content filter held the prompt back)" \
                if resp.get("prompt_filter_results") else ""
            raise BackendError(f"{where or 'the server'} answered with no choices for {self.name!r}{held}")
        samples = []
        for ch in sorted(choices, key=lambda c: c.get("index") if isinstance(c.get("index"), int) else 0):
            if completions:
                text = ch.get("text") or ""
            else:
                msg = ch.get("message") or {}
                text, thought = content_of(msg.get("content"))
                reasoning = (reasoning_of(msg) or "") + thought
                # as the model wrote it; a thought cut short is not closed
                text = with_thinking(reasoning, text, cut_short(ch), continued)
            scored = token_logprobs(ch.get("logprobs") or {}, completions) if request.logprobs else []
            samples.append(sample_of(text, ch, request.stop, **logprob_fields(scored)))
        usage = _usage(resp.get("usage"), retries, request, samples)
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


def _usage(u: dict[str, Any] | None, retries: int, request: GenerationRequest | None = None,
           samples: list[Sample] | None = None) -> Usage:
    """Usage as the server reported it in its JSON (None where it did not); cached prompt tokens
    as ``prompt_tokens_details.cached_tokens``, or DeepSeek's ``prompt_cache_hit_tokens``. A count
    of 0 beside a text that holds something (the samples', the prompt of ``request``) is a server
    that counts nothing and answers zeros: not reported either, so the engine charges what it sees."""
    usage = Usage(retries=retries)
    if isinstance(u, dict):
        usage.prompt_tokens = u.get("prompt_tokens")
        usage.completion_tokens = u.get("completion_tokens")
        usage.cached_prompt_tokens = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
        if usage.cached_prompt_tokens is None:
            usage.cached_prompt_tokens = u.get("prompt_cache_hit_tokens")
        usage.reasoning_tokens = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if usage.completion_tokens == 0 and any(s.text for s in samples or []):
        usage.completion_tokens = None
    if usage.prompt_tokens == 0 and request is not None and (
            request.prefix or any(m.get("content") for m in request.messages)):
        usage.prompt_tokens = None
    return usage


def _answer(resp: Any) -> Any:
    """A non-streamed answer's decoded body, where it is one: a 200 that carries an error object
    (OpenRouter answers so) raises it with the server's message, retried where its code is one that
    is; an HTML page (a web UI, a proxy's page) is an error that says so, not retried; other text is
    a malformed body (retried)."""
    if isinstance(resp, dict) and resp.get("error") and not resp.get("choices"):
        err = resp["error"]
        message = str(err.get("message") or err) if isinstance(err, dict) else str(err)
        code = err.get("code") if isinstance(err, dict) else None
        retryable = isinstance(code, int) and (code in RETRIED_STATUSES or code >= 500)
        said = f" (code {code})" if code is not None else ""
        raise UpstreamStatus(200, f"an error{said}: {message}", retryable=retryable,
                             param=err.get("param") if isinstance(err, dict) else None)
    if isinstance(resp, str):  # the SDK's answer for a body that is not JSON
        if resp.lstrip().startswith("<"):
            raise UpstreamStatus(200, html_page(resp), retryable=False)
        raise ValueError(f"not JSON: {resp[:120]!r}")
    return resp


def _sdk_create(client: Any, body: dict[str, Any], completions: bool) -> Any:
    """The SDK's streamed ``create`` for ``body``: the fields it takes by name, the rest in
    ``extra_body``."""
    known = _SDK_COMPLETIONS if completions else _SDK_CHAT
    rest = {k: v for k, v in body.items() if k not in known and v is not None}
    api = client.completions if completions else client.chat.completions
    return api.create(**{k: v for k, v in body.items() if k in known}, extra_body=rest or None,
                      stream=True, stream_options={"include_usage": True})


def _think_span(text: str) -> str | None:
    """The ``<think>…</think>`` span of a text (tags included), or None."""
    start = text.find("<think>")
    if start < 0:
        return None
    end = text.find("</think>", start)
    return text[start:] if end < 0 else text[start:end + len("</think>")]
