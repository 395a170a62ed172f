"""The app factory of ``ponder serve``: an OpenAI-compatible proxy over the library.

``create_app(config)`` loads the model (or takes a ``backend``) and answers
``POST /v1/chat/completions``, ``POST /v1/completions`` (raw text continued, pass-through only),
``GET /v1/models``, ``GET /health`` and ``/openapi.json``.
A strategy is chosen per request (``strategy``, ``thinking``, ``reasoning_effort`` or the default),
run through an ``Engine``, and its ledger reported as ``usage`` and ``ponder``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..engine import Engine, writer
from ..errors import PonderError, StrategySpecError
from ..strategies import Strategy
from ..thinking import EFFORTS
from ..types import Problem
from .config import ServerConfig
from .convert import clean, ledger_summary, legacy_logprobs, to_messages, usage_of
from .errors import APIError, Redactor, from_ponder, install_log_redaction
from .guard import Guard, Slots, wait_disconnect
from .runner import Job, _build, _parse, plan
from .schemas import (ChatCompletion, ChatCompletionRequest, CompletionRequest, ErrorResponse, Health, ModelCard,
                      ModelList, TextCompletion)
from .streaming import ChunkWriter, Events, SSEResponse, event_stream

log = logging.getLogger("ponder.server")
FIRST_EVENT_GRACE = 5.0  # seconds a stream waits for its first event before sending headers
ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 429, 502, 504)}


def _responses(model: type, whole: str, event: str) -> dict[Any, Any]:
    """The documented responses of an endpoint that answers ``whole`` objects, or ``event`` objects
    as server-sent events when the request streams."""
    return {**ERRORS, 200: {"model": model, "content": {"text/event-stream": {"schema": {
        "description": f"SSE events: {event} objects (an error object if the run fails), then [DONE]"}}},
        "description": f"a {whole}, or {event} events when stream is true"}}


def create_app(config: ServerConfig, backend: Any = None) -> FastAPI:
    if backend is None:
        from ..backends import load_backend

        backend = writer(load_backend(config.model), config.model)
    default = _build(_parse(config.default_strategy))  # a bad default fails at start (checked on the model below)
    if hasattr(backend, "prefer_aiohttp"):
        backend.prefer_aiohttp()  # one event loop for the server's life: the cheaper transport
    upstream = getattr(backend, "config", None)
    key_env = getattr(upstream, "api_key_env", None)
    redact = Redactor(secrets=[os.environ.get(key_env, "") if key_env else "", config.api_key or ""],
                      urls=list(getattr(upstream, "urls", []) or []))
    install_log_redaction(redact)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        install_log_redaction(redact)  # again: uvicorn sets up its log handlers after create_app
        yield
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()

    engine = Engine(backend, max_concurrency=max(64, 2 * config.max_concurrency),
                    allowed_models=config.allowed_models())
    _check_own_strategies(config, default, engine)
    slots = Slots(config.max_concurrency)
    names = {config.model_id, config.model}
    started = int(time.time())

    app = FastAPI(title="Ponder", version=__version__, redoc_url=None, lifespan=lifespan, strict_content_type=False,
                  description="OpenAI-compatible proxy with inference-time scaling: choose a strategy "
                              "per request (`strategy`, `reasoning_effort`, `thinking`).")
    app.state.config, app.state.engine, app.state.slots = config, engine, slots
    app.add_middleware(Guard, api_key=config.api_key, max_body=config.max_body_bytes)

    def to_error(exc: BaseException, prompt_param: str = "messages") -> APIError:
        if isinstance(exc, APIError):
            return exc
        if isinstance(exc, PonderError):
            err = from_ponder(exc, redact, prompt_param)
            if err.status >= 500:
                log.warning("upstream failure: %s", err.message)
            return err
        if isinstance(exc, asyncio.CancelledError):  # the client left: nobody reads this, nothing went wrong
            return APIError(499, "the request was cancelled: the client closed the connection", code="cancelled")
        if isinstance(exc, TimeoutError):
            return APIError(504, f"the request ran past this server's timeout of {config.timeout}s",
                            code="timeout")
        log.error("internal error: %s", redact(f"{type(exc).__name__}: {exc}"))
        return APIError(500, f"internal error ({type(exc).__name__})", code="internal_error")

    # -- errors as OpenAI error objects ---------------------------------------------------------
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> Response:
        return exc.response()

    @app.exception_handler(PonderError)
    async def _ponder_error(_: Request, exc: PonderError) -> Response:
        return to_error(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            return APIError(400, "the request body is not valid JSON", code="invalid_json").response()
        param = ".".join(loc) or None
        msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        if param is None:
            msg = "the request body must be a JSON object (Content-Type: application/json)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return APIError(400, f"{param + ': ' if param else ''}{msg}{more}", param=param,
                        code="invalid_value").response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:  # a defect: still an error object, not text
        return to_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400:
            detail = "the request body could not be parsed as JSON"
        return APIError(exc.status_code, detail, headers=getattr(exc, "headers", None)).response()

    # -- endpoints ----------------------------------------------------------------------------
    @app.get("/health", response_model=Health, tags=["server"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    card = {"id": config.model_id, "object": "model", "created": started, "owned_by": "ponder"}

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS, tags=["openai"])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [card]}

    def served(name: str) -> None:
        if name not in names:
            raise APIError(404, f"model {name[:200]!r} is not served here; this server serves "
                                f"{config.model_id!r}", param="model", code="model_not_found")

    @app.get("/v1/models/{model:path}", response_model=ModelCard, responses=ERRORS, tags=["openai"])
    async def model(model: str) -> dict[str, Any]:
        served(model)
        return card

    @app.post("/v1/chat/completions", response_model=None, tags=["openai"],
              responses=_responses(ChatCompletion, "chat.completion", "chat.completion.chunk"))
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        served(body.model)
        the_plan = plan(body, config)
        cid = "chatcmpl-" + secrets.token_hex(12)
        problem = Problem(id=cid, messages=to_messages(body.messages))
        return await _respond(body, request, the_plan, problem, cid, _completion)

    @app.post("/v1/completions", response_model=None, tags=["openai"],
              responses=_responses(TextCompletion, "text_completion", "text_completion"))
    async def completions(body: CompletionRequest, request: Request) -> Response:
        served(body.model)
        if body.echo:
            raise APIError(400, "echo is not supported by ponder serve", param="echo", code="unsupported_parameter")
        if body.strategy is not None and _parse(clean(body.strategy)).name != "none":
            raise APIError(400, f"strategy {body.strategy[:200]!r}: /v1/completions runs only strategy none (a raw "
                                "prompt has no question for a strategy to answer); use /v1/chat/completions",
                           param="strategy", code="unsupported_parameter")
        fields = body.model_dump(exclude={"prompt", "echo", "logprobs", "strategy", "messages"}, exclude_none=True)
        fields.setdefault("max_tokens", min(16, config.max_tokens))
        try:  # the chat fields it also takes (reasoning_effort, thinking, ...) are checked here
            chat = ChatCompletionRequest(**fields, messages=[{"role": "assistant", "content": body.prompt}],
                                         strategy=body.strategy or "none", logprobs=body.logprobs is not None or None)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        the_plan = plan(chat, config)
        if (body.model_extra or {}).get("messages") is not None:
            the_plan.ignored.append("messages (not read by /v1/completions: it continues prompt)")
        cid = "cmpl-" + secrets.token_hex(12)
        # a final assistant message is continued verbatim: the model continues the prompt's text
        problem = Problem(id=cid, messages=[{"role": "assistant", "content": clean(body.prompt)}])
        return await _respond(chat, request, the_plan, problem, cid, _text_completion)

    async def _respond(body: ChatCompletionRequest, request: Request, the_plan: Any, problem: Problem, cid: str,
                       render: Callable[[Job, str, int], dict[str, Any]]) -> Response:
        created = int(time.time())
        slots.acquire()
        if body.stream:
            return await _stream(body, request, the_plan, problem, cid, created, render)
        try:
            job = Job(the_plan, problem, engine)
            task = asyncio.create_task(job.run(config.timeout))
            watcher = asyncio.create_task(wait_disconnect(request.receive))
            try:
                await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
                if not task.done():
                    task.cancel()  # the client left: stop its work
                    return Response(status_code=499)
            if task.exception() is not None:
                raise to_error(task.exception(), _prompt_param(render))  # type: ignore[arg-type]
            return JSONResponse(render(job, cid, created))
        finally:
            slots.release()

    async def _stream(body: ChatCompletionRequest, request: Request, the_plan: Any, problem: Problem,
                      cid: str, created: int, render: Callable[[Job, str, int], dict[str, Any]]) -> Response:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slots.release()

        try:
            events = Events()
            job = Job(the_plan, problem, engine, stream=True, sink=events.sink)
            task = asyncio.create_task(job.run(config.timeout))
            task.add_done_callback(events.close)
            first = asyncio.create_task(events.first.wait())
            watcher = asyncio.create_task(wait_disconnect(request.receive))
            try:
                await asyncio.wait({first, watcher}, timeout=FIRST_EVENT_GRACE,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                first.cancel()
                watcher.cancel()
            if watcher.done() and not watcher.cancelled():
                task.cancel()
                release()
                return Response(status_code=499)
            if task.done() and not task.cancelled() and task.exception() is not None and not job.outs[0].raw:
                release()
                return to_error(task.exception(), _prompt_param(render)).response()  # type: ignore[arg-type]
        except BaseException:
            release()
            raise
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        writer = ChunkWriter(cid, created, config.model_id, include_usage, text=render is _text_completion)

        def final() -> dict[str, Any]:
            data = render(job, cid, created)
            closing = ("logprobs", "finish_reason", "stop_reason")
            return {"closings": [{k: c[k] for k in closing if k in c} for c in data["choices"]],
                    "usage": data["usage"], "ponder": data["ponder"]}

        stream = event_stream(writer, events, task, the_plan.choices, final,
                              lambda exc: to_error(exc, _prompt_param(render)).body(), config.keepalive_seconds)
        return SSEResponse(stream, task, release)

    def _prompt_param(render: Callable[[Job, str, int], dict[str, Any]]) -> str:
        return "prompt" if render is _text_completion else "messages"

    def _ponder(job: Job) -> dict[str, Any]:
        answers = job.answers
        return {"strategy": job.plan.strategy.spec, "source": job.plan.source,
                "answer": answers[0] if answers else None, "answers": answers,
                "budget_exhausted": job.budget_exhausted, "stop_reason": job.stop_reason,
                "ignored_params": job.plan.ignored, "ledger": ledger_summary(job.ledger)}

    def _completion(job: Job, cid: str, created: int) -> dict[str, Any]:
        choices = [{"index": out.index, "logprobs": out.logprobs, "finish_reason": out.finish_reason, **out.stop_reason,
                    "message": {"role": "assistant", "content": out.content, "reasoning_content": out.reasoning}}
                   for out in job.outs]
        return {"id": cid, "object": "chat.completion", "created": created, "model": config.model_id,
                "system_fingerprint": None, "choices": choices, "usage": usage_of(job.ledger), "ponder": _ponder(job)}

    def _text_completion(job: Job, cid: str, created: int) -> dict[str, Any]:
        choices = [{"index": out.index, "text": out.content, "logprobs": legacy_logprobs(out.logprobs),
                    "finish_reason": out.finish_reason, **out.stop_reason} for out in job.outs]
        return {"id": cid, "object": "text_completion", "created": created, "model": config.model_id,
                "system_fingerprint": None, "choices": choices, "usage": usage_of(job.ledger), "ponder": _ponder(job)}

    _document_ceilings(app, config)
    return app


def _check_own_strategies(config: ServerConfig, default: Strategy, engine: Engine) -> None:
    """Fail at start, as ``ponder solve`` does for the same spec, when a strategy of the server's
    own (the default, those of the effort map) cannot run on its model: a capability the backend
    lacks, a scorer whose model does not load, more runs than ``--max-runs``. Else the server
    started and answered every request that chose none (or that effort) 400 param=strategy, though
    the client had sent no strategy."""
    own = [("the default strategy", default)]
    own += [(f"the strategy of reasoning_effort {e}", _build(_parse(getattr(config.effort_map, e)))) for e in EFFORTS]
    for what, strategy in own:
        if strategy.runs() > config.max_runs:
            raise StrategySpecError(f"{what} {strategy.spec} may start {strategy.runs():,} runs, above "
                                    f"--max-runs {config.max_runs:,}")
        try:
            strategy.check(engine)
        except PonderError as exc:  # the same type, the message saying which of the server's strategies
            raise type(exc)(f"{what} {strategy.spec} cannot run on {config.model_id}: {exc}") from exc


def app_from_env() -> FastAPI:
    """The app of one worker of ``ponder serve --workers K`` (a uvicorn factory): the
    configuration comes from the environment the command set (``config.config_to_env``)."""
    from .config import CONFIG_ENV, config_from_env

    config, log_level = config_from_env()
    os.environ.pop(CONFIG_ENV, None)  # it holds the API key: nothing this worker starts inherits it
    configure_logging(log_level)
    return create_app(config)


def configure_logging(level: str) -> None:
    """The server's log format, for ``ponder serve`` and each of its workers."""
    logging.basicConfig(level=level.upper(), format="%(levelname)s:%(name)s: %(message)s")


def _document_ceilings(app: FastAPI, config: ServerConfig) -> None:
    """``/openapi.json`` states this server's ceilings (n, max_tokens, ...) as maxima."""
    from fastapi.openapi.utils import get_openapi

    ceilings = {"n": config.max_n, "max_tokens": config.max_tokens, "max_completion_tokens": config.max_tokens,
                "min_tokens": config.max_tokens}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            comps = schema.get("components", {}).get("schemas", {})
            limits = {**{("ChatCompletionRequest", k): v for k, v in ceilings.items()},
                      **{("CompletionRequest", k): v for k, v in ceilings.items() if k != "max_completion_tokens"},
                      ("ThinkingConfig", "budget_tokens"): config.max_tokens,
                      ("BudgetRequest", "max_tokens"): config.max_request_tokens,
                      ("BudgetRequest", "max_seconds"): config.timeout}
            for (model, key), limit in limits.items():
                props = comps.get(model, {}).get("properties", {})
                for option in props.get(key, {}).get("anyOf", [props.get(key, {})]):
                    if option.get("type") in ("integer", "number"):
                        option["maximum"] = limit
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
