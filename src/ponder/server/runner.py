"""One chat request through a strategy: choose the strategy and apply the request's parameters
(``plan``), then run it (``Job``): n independent choices where the strategy cannot give n itself,
the text routed into ``reasoning_content`` / ``content`` as it is generated, every call in one ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..answers import extract_answer
from ..budget import Budget
from ..engine import Engine
from ..errors import PonderError, StrategySpecError
from ..ledger import Ledger, LedgerEntry
from ..strategies import REGISTRY, Strategy, build_strategy, parse_spec, run_strategy
from ..strategies.base import CUT, derive_seed
from ..strategies.spec import ParsedSpec, spec_args
from ..thinking import strategy_for_thinking_budget
from ..types import GenerationRequest, Problem, Result, Sample
from .config import ServerConfig
from .convert import THINK_TAGS, ThinkSplitter, chat_logprobs, clean, starts_inside_thinking
from .errors import APIError
from .schemas import ChatCompletionRequest

# Strategies whose one sample is the answer: their tokens are streamed as they are generated.
# A strategy class may say so itself with ``streams_tokens = True`` (or False).
TOKEN_STREAMING = frozenset({"none", "cot", "cod", "think", "budget", "tip"})
REJECTED = {"tools": "tool calling", "functions": "function calling", "audio": "audio output"}
Sink = Callable[[int, str, str], None]  # (choice index, "reasoning" | "content", text)


@dataclass
class Plan:
    strategy: Strategy
    source: str
    copies: int  # independent runs of the strategy
    choices: int  # choices in the response
    streams_tokens: bool
    budget: Budget
    ignored: list[str] = field(default_factory=list)
    call_tokens: int | None = None  # the request's max_tokens, for a strategy that takes none: caps each call


def _parse(spec: str) -> ParsedSpec:
    try:
        return parse_spec(spec)
    except PonderError:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError, SyntaxError) as exc:
        raise StrategySpecError(f"cannot parse strategy spec {spec[:200]!r}: {exc}") from None


def _build(parsed: ParsedSpec) -> Strategy:
    try:
        return build_strategy(parsed)
    except PonderError:
        raise
    except (ValueError, TypeError, RecursionError, AttributeError) as exc:
        raise StrategySpecError(f"cannot build strategy {str(parsed)[:200]!r}: {exc}") from None


def above_ceiling(name: str, value: Any, ceiling: Any, param: str | None = None) -> APIError:
    """The 400 for a request that asks for more than this server allows."""
    return APIError(400, f"{name}={value} is above this server's ceiling of {ceiling}", param=param or name,
                    code="above_ceiling")


def token_args(spec: ParsedSpec) -> list[tuple[str, Any]]:
    """``("name.key", value)`` of every token count written in a parsed spec (keys ending in
    ``tokens`` or ``think``: ``max_tokens``, ``step_tokens``, ``think``, ...), nested strategies and
    scorers included (``sc(of=budget(think=N))`` gives ``("budget.think", N)``)."""
    return [(f"{name}.{key}", v) for name, key, v in spec_args(spec)
            if key.endswith(("tokens", "think")) and isinstance(v, (int, float)) and not isinstance(v, bool)]


def choose_spec(req: ChatCompletionRequest, config: ServerConfig) -> tuple[str, str]:
    """``strategy`` > ``thinking`` > ``reasoning_effort`` > the server's default."""
    if req.strategy is not None:
        return clean(req.strategy), "strategy"
    if req.thinking is not None:
        if req.thinking.type == "disabled":
            return config.effort_map.strategy_for("none"), "thinking"
        tokens = req.thinking.budget_tokens
        if tokens is None:
            raise APIError(400, 'thinking {"type": "enabled"} needs budget_tokens', param="thinking.budget_tokens",
                           code="missing_value")
        if tokens > config.max_tokens:
            raise above_ceiling("thinking.budget_tokens", tokens, config.max_tokens)
        return strategy_for_thinking_budget(tokens), "thinking"
    if req.reasoning_effort is not None:
        return config.effort_map.strategy_for(req.reasoning_effort), "reasoning_effort"
    return config.default_strategy, "default"


def streams_tokens(strategy: Strategy) -> bool:
    flag = getattr(type(strategy), "streams_tokens", None)
    if flag is None:
        flag = strategy.name in TOKEN_STREAMING
    if not flag:
        return False
    children = (getattr(strategy.params, k, None) for k in strategy.strategy_params)
    return all(streams_tokens(c) for c in children if isinstance(c, Strategy))


def _budget(req: ChatCompletionRequest, config: ServerConfig) -> Budget:
    limits: dict[str, Any] = {"max_tokens": config.max_request_tokens}
    asked = req.budget
    if asked is not None:
        if asked.max_tokens is not None:
            if asked.max_tokens > config.max_request_tokens:
                raise above_ceiling("budget.max_tokens", asked.max_tokens, config.max_request_tokens)
            limits["max_tokens"] = asked.max_tokens
        if asked.max_seconds is not None:
            if asked.max_seconds > config.timeout:
                raise APIError(400, f"budget.max_seconds={asked.max_seconds} is above this server's timeout "
                                    f"of {config.timeout}s", param="budget.max_seconds", code="above_ceiling")
            limits["max_seconds"] = asked.max_seconds
        limits["max_calls"] = asked.max_calls
    return Budget(**limits)


def plan(req: ChatCompletionRequest, config: ServerConfig) -> Plan:
    """The strategy to run with the request's parameters applied where it declares them."""
    extra = req.model_extra or {}
    for key, what in REJECTED.items():
        if extra.get(key):
            raise APIError(400, f"{what} is not supported by ponder serve", param=key, code="unsupported_parameter")
    fmt = extra.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise APIError(400, "response_format other than text is not supported by ponder serve",
                       param="response_format", code="unsupported_parameter")
    n = req.n or 1
    if n > config.max_n:
        raise above_ceiling("n", n, config.max_n)
    max_tokens = req.max_completion_tokens or req.max_tokens
    if max_tokens is not None and max_tokens > config.max_tokens:
        raise above_ceiling("max_tokens", max_tokens, config.max_tokens)
    if req.min_tokens is not None and req.min_tokens > config.max_tokens:
        raise above_ceiling("min_tokens", req.min_tokens, config.max_tokens)
    if req.min_tokens and max_tokens is not None and req.min_tokens > max_tokens:
        raise APIError(400, f"min_tokens={req.min_tokens} is above max_tokens={max_tokens}; give at most max_tokens",
                       param="min_tokens", code="invalid_value")
    stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if len(stop) > 4 or any(len(s) > 256 for s in stop):
        raise APIError(400, "stop takes at most 4 sequences of at most 256 characters", param="stop", code="invalid_value")
    if req.stream_options is not None and not req.stream:
        raise APIError(400, "stream_options is only allowed when stream is true", param="stream_options",
                       code="invalid_value")
    spec, source = choose_spec(req, config)
    parsed = _parse(spec)
    if source == "strategy":  # what the request wrote in its spec has the ceilings of its own fields
        for path, value in token_args(parsed):
            if value > config.max_tokens:
                raise above_ceiling(path, value, config.max_tokens, param="strategy")
    cls = REGISTRY.get(parsed.name)
    if cls is None:
        _build(parsed)  # raises, listing the strategies that exist
        raise StrategySpecError(f"unknown strategy {parsed.name!r}")
    fields = cls.Params.model_fields
    if req.top_logprobs:
        raise APIError(400, "top_logprobs above 0 is not supported by ponder serve (logprobs=true gives the "
                            "log-probability of each chosen token)", param="top_logprobs", code="unsupported_parameter")
    if req.logprobs and "logprobs" not in fields:
        raise APIError(400, f"logprobs: strategy {cls.name} does not return them (its answer is not one sample of "
                            "the model); they come with strategy none", param="logprobs", code="unsupported_parameter")
    offered: dict[str, Any] = {"temperature": req.temperature, "top_p": req.top_p, "max_tokens": max_tokens,
                               "min_tokens": req.min_tokens or None,
                               "stop": [clean(s) for s in stop] or None,
                               "seed": None if req.seed is None else seed31(req.seed),
                               "logprobs": req.logprobs or None}
    choices_param = getattr(cls, "choices_param", None)
    if choices_param and req.n is not None:
        offered[choices_param] = n
    args, ignored = {}, []
    for selector in ("strategy", "thinking", "reasoning_effort"):  # the ones that did not choose
        if getattr(req, selector) is not None and selector != source:
            ignored.append(f"{selector} (overridden by {source})")
    asked_as = {"max_tokens": "max_completion_tokens" if req.max_completion_tokens else "max_tokens"}
    caps_calls = "max_tokens" not in fields  # then every call of the strategy is capped (call_tokens)
    for key, value in offered.items():
        if value is None or (key == "max_tokens" and caps_calls):
            continue
        if key not in fields:
            ignored.append(f"{key} ({cls.name} has no such parameter)")
        elif key in parsed.args:
            if parsed.args[key] != value:
                ignored.append(f"{asked_as.get(key, key)} (set by the strategy spec)")
        else:
            args[key] = value
    thinking = parsed.args.get("tokens") if cls.name == "think" and parsed.args.get("mode") == "budget" else None
    if isinstance(thinking, int) and "max_tokens" in args:  # the request's limit counts the thinking too
        if thinking >= args["max_tokens"]:
            raise APIError(400, f"the thinking budget of {thinking} tokens must be below {asked_as['max_tokens']}="
                                f"{args['max_tokens']}: thinking counts toward it, as the OpenAI and Anthropic APIs "
                                "count reasoning tokens", param=asked_as["max_tokens"], code="invalid_value")
        args["max_tokens"] -= thinking  # what is left for the answer
    strategy = _build(parsed.with_args(**args) if args else parsed)
    ignored += [f"{k} (not supported)" for k, v in extra.items() if v not in (None, False, "", [], {})]
    if choices_param:
        copies, choices = 1, int(getattr(strategy.params, choices_param, 1))
        if choices > config.max_n:
            raise above_ceiling(choices_param, choices, config.max_n, param="strategy")
    else:
        copies = choices = n
    runs = strategy.runs() * copies
    if runs > config.max_runs:
        raise APIError(400, f"strategy {strategy.spec[:200]} with n={copies} may start {runs:,} runs (the runs of "
                            f"nested strategies multiply), above this server's ceiling of {config.max_runs:,}",
                       param="strategy", code="above_ceiling")
    return Plan(strategy=strategy, source=source, copies=copies, choices=choices,
                streams_tokens=streams_tokens(strategy), budget=_budget(req, config), ignored=ignored,
                call_tokens=max_tokens if caps_calls else None)


# -- running ------------------------------------------------------------------------------------
class _Cancelled(Exception):
    """Raised inside a local decoding loop once the request is gone (client left, timeout)."""


class RequestEngine(Engine):
    """The engine of one request: says where each streamed call starts (its prefix), stops a
    local model's decoding loop when the request is cancelled, and caps each of the strategy's
    calls at the request's ``max_tokens`` (``call_tokens``) where the strategy has no such parameter."""

    def __init__(self, *args: Any, on_call_start: Callable[[str], None] | None = None,
                 cancel: threading.Event | None = None, call_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_call_start = on_call_start
        self.call_tokens = call_tokens
        self._stopper = _stopper(cancel) if cancel is not None and _is_local(self.backend) else None

    async def generate(self, request: GenerationRequest, role: str = "policy") -> list[Sample]:
        if self.call_tokens is not None and role == "policy" and request.max_tokens > self.call_tokens:
            request = request.replace(max_tokens=self.call_tokens, min_tokens=min(request.min_tokens, self.call_tokens))
        if self._stopper is not None:
            request = request.replace(logits_processors=[*request.logits_processors, self._stopper])
        if self.on_call_start is not None and self.on_token is not None and request.n == 1 and role == "policy":
            self.on_call_start(request.prefix)
        return await super().generate(request, role)


def _is_local(backend: Any) -> bool:
    hf = sys.modules.get("ponder.backends.hf")
    return hf is not None and isinstance(backend, hf.HFBackend)


def _stopper(cancel: threading.Event) -> Callable[[Any, Any], Any]:
    def stop_when_cancelled(input_ids: Any, scores: Any) -> Any:
        if cancel.is_set():
            raise _Cancelled("request cancelled")
        return scores

    return stop_when_cancelled


class ChoiceOut:
    """The message of one choice as it is produced: raw model text through the thinking splitter,
    progress notes straight into the reasoning. ``verbatim``: the request continues a partial
    assistant message, whose thinking span began in that message; the continuation is passed on
    as the model wrote it, all in ``content`` (as vLLM does without a reasoning parser), so that
    message + content is the text of the turn."""

    def __init__(self, index: int, tags: tuple[str, str], sink: Sink | None, verbatim: bool = False) -> None:
        self.index = index
        self.tags = tags
        self.verbatim = verbatim
        self.splitter = ThinkSplitter(tags)
        self.raw = ""
        self.parts: dict[str, list[str]] = {"reasoning": [], "content": []}
        self.sink = sink
        self.finish_reason = "stop"
        self.stop_reason: dict[str, str | None] = {}  # {"stop_reason": ...} where it is known
        self.logprobs: dict[str, Any] | None = None  # {"content": [...]} when the request asked
        self.done = False

    def _write(self, pieces: list[tuple[str, str]]) -> None:
        for kind, text in pieces:
            self.parts[kind].append(text)
            if self.sink is not None:
                self.sink(self.index, kind, text)

    def text(self, delta: str) -> None:
        if delta and not self.done:
            self.raw += delta
            self._write([("content", delta)] if self.verbatim else self.splitter.feed(delta))

    def call_start(self, prefix: str) -> None:
        """Text a strategy wrote itself (``<think>``, ``Wait``) is part of the answer too."""
        if len(prefix) > len(self.raw) and prefix.startswith(self.raw):
            self.text(prefix[len(self.raw):])

    def note(self, line: str) -> None:
        self._write([("reasoning", line)])

    def finish(self, text: str, finish_reason: str, stop_reason: dict[str, str | None] | None = None,
               logprobs: dict[str, Any] | None = None) -> None:
        if not self.raw and not self.verbatim and starts_inside_thinking(text, self.tags):
            self.splitter.inside = True
        if text.startswith(self.raw):
            self.text(text[len(self.raw):])
        self._write(self.splitter.flush())
        self.finish_reason = finish_reason
        self.stop_reason = stop_reason or {}
        self.logprobs = logprobs
        self.done = True

    @property
    def content(self) -> str:
        return "".join(self.parts["content"])

    @property
    def reasoning(self) -> str | None:
        return "".join(self.parts["reasoning"]) or None


class Job:
    """Runs a plan on a problem. ``sink`` receives deltas as they are produced (streaming)."""

    def __init__(self, plan: Plan, problem: Problem, engine: Engine, *, stream: bool = False,
                 sink: Sink | None = None) -> None:
        self.plan = plan
        self.problem = problem
        self.base = engine
        self.stream = stream
        tags = engine.capabilities().thinking_tags or THINK_TAGS
        verbatim = bool(problem.messages) and problem.messages[-1].get("role") == "assistant"
        self.outs = [ChoiceOut(i, tags, sink, verbatim) for i in range(plan.choices)]
        self.ledger = Ledger()
        self.results: list[Result] = []
        self.cancel = threading.Event()

    async def run(self, timeout: float | None = None) -> list[Result]:
        try:
            async with asyncio.timeout(timeout):
                if self.plan.copies == 1:
                    self.results = [await self._run_one(0)]
                else:
                    self.results = await _gather([self._run_one(i) for i in range(self.plan.copies)])
        finally:
            self.cancel.set()  # stops a local decoding loop still running for this request
        await asyncio.sleep(0)  # deltas already scheduled on the loop arrive before the end
        self._finish()
        return self.results

    async def _run_one(self, i: int) -> Result:
        out = self.outs[i]
        tokens = self.stream and self.plan.streams_tokens
        # the choices of one many-sample call (strategy none with n > 1) stream side by side
        choices = tokens and len(self.outs) > 1 and self.plan.copies == 1
        engine = RequestEngine(
            self.base.backend, budget=self.plan.budget, ledger=Ledger(), max_concurrency=self.base.max_concurrency,
            _semaphore=self.base._sem(), on_token=out.text if tokens else None,
            on_choice_token=(lambda k, delta: self.outs[k].text(delta)) if choices else None,
            on_call=None if self.plan.streams_tokens else self._progress(out),
            on_call_start=out.call_start if tokens else None, cancel=self.cancel, call_tokens=self.plan.call_tokens,
            allowed_models=self.base.allowed_models)
        strategy = self.plan.strategy
        seed = getattr(strategy.params, "seed", None)
        if self.plan.copies > 1 and seed is not None:  # n seeded choices: each its own seed, as nested runs
            strategy = strategy.with_seed(derive_seed(seed, i))
        result = await run_strategy(strategy, self.problem, engine)
        self.ledger.extend(engine.ledger)
        return result

    def _progress(self, out: ChoiceOut) -> Callable[[LedgerEntry, list[Sample]], None]:
        """The progress lines of one choice's run, its calls numbered from 1."""
        calls = 0

        def note(entry: LedgerEntry, samples: list[Sample]) -> None:
            nonlocal calls
            if not samples:  # a scoring call: no text to show
                return
            calls += 1
            answers = [extract_answer(s.text, cut=s.finish_reason in CUT).value for s in samples[:16]]
            shown = ", ".join("?" if a is None else a[:40] for a in answers)
            more = f" (+{len(samples) - 16})" if len(samples) > 16 else ""
            tokens = "?" if entry.completion_tokens is None else entry.completion_tokens
            out.note(f"[{calls}] {entry.role} x{entry.n}: {shown or '-'}{more} ({tokens} tokens)\n")

        return note

    def _finish(self) -> None:
        if getattr(self.plan.strategy, "choices_param", None):
            result = self.results[0]
            for i, out in enumerate(self.outs):
                cand = result.candidates[i] if i < len(result.candidates) else None
                text = cand.text if cand is not None else ""
                said = {"stop_reason": cand.meta["stop_reason"]} if cand and "stop_reason" in cand.meta else None
                out.finish(text, _finish_reason(cand.finish_reason if cand else None, text, result), said,
                           chat_logprobs(cand.meta if cand else {}))
        else:
            for out, result in zip(self.outs, self.results):
                chosen = next((c for c in result.candidates if c.text == result.text), None)
                out.finish(result.text, _finish_reason(chosen.finish_reason if chosen else None, result.text, result))

    @property
    def answers(self) -> list[str | None]:
        """One per choice (None where a choice has none, as one the budget never reached)."""
        if getattr(self.plan.strategy, "choices_param", None) and self.results:
            found = [c.answer for c in self.results[0].candidates]
        else:
            found = [r.answer for r in self.results]
        return (found + [None] * len(self.outs))[: len(self.outs)]

    @property
    def budget_exhausted(self) -> bool:
        return any(r.budget_exhausted for r in self.results)

    @property
    def stop_reason(self) -> str | None:
        return next((r.stop_reason for r in self.results if r.stop_reason), None)


def seed31(seed: int) -> int:
    """A request's seed (int64 in the API) as a strategy seed below 2**31: itself when it fits, else a
    hash of it (``seed % 2**31`` made 4 and 4 + 2**40 the same seed)."""
    if 0 <= seed < 2**31:
        return seed
    return int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:4], "big") & 0x7FFFFFFF


def _finish_reason(sample_reason: str | None, text: str, result: Result) -> str:
    """``length`` for a sample a token limit cut; for an answer that is no one sample (a vote, or no
    answer at all), ``length`` when the budget ran out or, with no answer, a sample was cut."""
    if sample_reason in CUT or (sample_reason is None and result.budget_exhausted):
        return "length"
    if sample_reason is None and result.answer is None and any(c.finish_reason in CUT for c in result.candidates):
        return "length"  # asc, wbon: no sample answered, their samples cut short (it said stop)
    return "stop"


async def _gather(coros: list[Any]) -> list[Any]:
    """Run concurrently; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c) for c in coros]
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None
    return [t.result() for t in tasks]
