"""The Engine: the only door to a model. Backend + Ledger + Budget.

Every model call of every strategy and scorer goes through ``Engine.generate`` (or another
``Engine`` method), which enforces the budget, bounds concurrency and records one ledger entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
import time
import weakref
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from .budget import Budget
from .errors import (BackendError, BudgetExhausted, CapabilityError, ContextLengthError, ContextWindowFull,
                     ModelSpecError)
from .ledger import Ledger, LedgerEntry
from .types import Capabilities, Generation, GenerationRequest, Sample, Usage

if TYPE_CHECKING:
    from .backends.base import Backend


class Engine:
    """Runs requests on a backend, recording each call in ``ledger`` and charging ``budget``.

    One Engine per problem: ``engine.for_problem()`` gives a fresh ledger and budget that share
    the backend and the concurrency limit. ``engine.with_backend(b)`` gives an engine on another
    model (a PRM, a judge) that writes into the same ledger and budget; ``engine.load_model(spec)``
    loads such a model by its spec. ``allowed_models``: the specs ``load_model`` may load besides the
    shipped ``embedded`` and ``embedded-prm`` (None: any), for an engine that runs other people's
    strategy specs (``ponder serve``), where a spec must not name a server or a path of its choosing.
    """

    def __init__(
        self,
        backend: "Backend",
        *,
        budget: Budget | None = None,
        ledger: Ledger | None = None,
        max_concurrency: int = 64,
        on_token: Callable[[str], None] | None = None,
        on_call: Callable[[LedgerEntry, list[Sample]], None] | None = None,
        on_choice_token: Callable[[int, str], None] | None = None,
        allowed_models: frozenset[str] | None = None,
        _semaphore: asyncio.Semaphore | None = None,
    ) -> None:
        self.backend = backend
        self.budget = budget if budget is not None else Budget()
        self.ledger = ledger if ledger is not None else Ledger()
        self.max_concurrency = max_concurrency
        # Streaming hooks (used by the proxy): ``on_token`` receives the text deltas of
        # single-sample policy calls as they are generated, on the event loop's thread;
        # ``on_choice_token`` the deltas of each sample of a many-sample call, with its index,
        # where the backend streams those (hf); ``on_call`` receives each ledger entry with its
        # samples when a call completes.
        self.on_token = on_token
        self.on_choice_token = on_choice_token
        self.on_call = on_call
        self.processor_factories: list[Callable[[GenerationRequest], Any]] = []
        self.allowed_models = allowed_models
        self._semaphore = _semaphore

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: str = "embedded", **kwargs: Any) -> "Engine":
        from .backends import load_backend

        return cls(writer(load_backend(spec), spec), **kwargs)

    def for_problem(self, budget: Budget | None = None, **hooks: Any) -> "Engine":
        """A fresh ledger and budget (same limits unless given) on the same backend."""
        return Engine(
            self.backend,
            budget=budget if budget is not None else self.budget.fresh(),
            ledger=Ledger(),
            max_concurrency=self.max_concurrency,
            allowed_models=self.allowed_models,
            _semaphore=self._sem(),
            **hooks,
        )

    def with_backend(self, backend: "Backend") -> "Engine":
        """Another model charged to this engine's ledger and budget (no token streaming)."""
        return Engine(backend, budget=self.budget, ledger=self.ledger, max_concurrency=self.max_concurrency,
                      on_call=self.on_call, allowed_models=self.allowed_models)

    def with_model(self, spec: str) -> "Engine":
        """``with_backend`` on the model ``spec`` names (``load_model``), one that writes (a judge,
        an editor)."""
        return self.with_backend(writer(self.load_model(spec), spec))

    def load_model(self, spec: str) -> "Backend":
        """The backend of another model a strategy or scorer names (a PRM, a judge, an editor),
        if this engine may load it (``allow_model``)."""
        from .backends import load_backend

        self.allow_model(spec)
        return load_backend(spec)

    def allow_model(self, spec: str) -> None:
        """ModelSpecError unless ``spec`` is a shipped model or one of ``allowed_models``."""
        if self.allowed_models is None or (isinstance(spec, str) and spec.strip() in {
                "embedded", "embedded-prm", *self.allowed_models}):
            return
        raise ModelSpecError(
            f"model {spec!r} may not be loaded here: a request's strategy may name the served model, the "
            "shipped embedded and embedded-prm, and the models the server was started with (ponder serve "
            "--allow-model SPEC)")

    def with_logits_processors(self, factory: Callable[[GenerationRequest], Any]) -> "Engine":
        """This engine (its class, hooks, ledger, budget and concurrency limit), adding a fresh logits
        processor from ``factory(request)`` to every policy request (the request tells it, e.g., the
        partial assistant message a continuation goes on from)."""
        self._sem()  # made before the copy, so that both share it
        child = copy.copy(self)
        child.processor_factories = [*self.processor_factories, factory]
        return child

    def prepare(self) -> None:
        """Get the backend ready for calls from the running loop (the openai backend makes its
        clients), where it has such a step: done before a time budget starts."""
        prepare = getattr(self.backend, "prepare", None)
        if prepare is not None:
            prepare()

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` in this model's tokenizer, where the backend knows it."""
        fn = getattr(self.backend, "count_tokens", None)
        return fn(text) if fn is not None else None

    def estimate_tokens(self, text: str) -> int:
        """Tokens of ``text``: counted where the backend knows its tokenizer, else about 4
        characters a token, rounded up (the one fallback of every count the budget needs)."""
        counted = self.count_tokens(text) if text else 0
        return counted if counted is not None else -(-len(text) // 4)

    def _sem(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    # -- queries --------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.backend.name

    def capabilities(self) -> Capabilities:
        return self.backend.capabilities()

    def require(self, what: str, why: str) -> None:
        """Fail at once when the backend lacks a capability (``logits``, ``prefix_continuation``)."""
        if not getattr(self.capabilities(), what):
            hint = {
                "logits": "a backend with logits access: hf:PATH, embedded or vllm:PATH (its V0 engine)",
                "prefix_continuation": (
                    "hf:PATH, embedded, vllm:PATH, or openai:MODEL@URL?tokenizer=PATH (the completions "
                    "endpoint with a client-side chat template) or ?continue=vllm (vLLM's continue_final_message; "
                    "ponder serve takes it too)"
                ),
            }.get(what, "another backend")
            raise CapabilityError(
                f"{why} needs {what.replace('_', ' ')}, which {self.model!r} "
                f"({type(self.backend).__name__}) does not offer; use {hint}"
            )

    # -- calls ----------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest, role: str = "policy") -> list[Sample]:
        """Generate ``request.n`` samples; raises BudgetExhausted when the budget is spent.

        A many-sample request that the token budget left cannot cover whole (its prompt and ``n``
        times ``max_tokens``) is drawn in waves (``_in_waves``): an even split would cut every
        sample at 1/n of what is left, so that none might finish. On a server that answers a call a
        sample (it ignores ``n``) each sample is a call of its own, claimed on its own
        (``_a_call_a_sample``)."""
        if self._one_a_call(request):
            return await self._a_call_a_sample(request, role)
        room = self.budget.unclaimed_tokens()
        if room is None:  # no token limit: a prompt claims nothing
            return await self._claimed(request, role, prompt=0)
        prompt = self._prompt_estimate(request, room)
        if request.n > 1 and self._short_for(request, room, prompt):
            return await self._in_waves(request, role)
        return await self._claimed(request, role, prompt=prompt)

    def _short_for(self, request: GenerationRequest, room: int, prompt: int) -> bool:
        """The ``room`` tokens not yet spent or claimed are fewer than ``request`` may take with its
        ``prompt``, and a call budget (if any) leaves more than one call."""
        calls = self.budget.calls_left()
        if calls is not None and calls < 2:
            return False
        return prompt + request.max_tokens * request.n > room

    async def _in_waves(self, request: GenerationRequest, role: str) -> list[Sample]:
        """The samples of ``request`` in calls made one after another, each given what the ones
        before it left. The first draws one sample, which may take all of it; each later call draws
        as many as the tokens left give twice the longest sample so far (each gets an even share),
        so a sample that ends early leaves its tokens to the next ones. The call drawing samples
        ``i`` on is seeded ``seed + i``, as the openai backend seeds a fanned-out request. Samples the
        budget did not reach are empty, finish reason ``budget``; BudgetExhausted when it reached none."""
        out: list[Sample] = []
        longest = 0
        while len(out) < request.n:
            i = len(out)
            k = 1
            room = self.budget.unclaimed_tokens()
            if longest and room is not None:
                share = room - self._prompt_estimate(request.replace(n=1), room)
                k = max(1, min(request.n - i, share // (2 * longest)))
            wave = request.replace(n=k, seed=None if request.seed is None else request.seed + i)
            try:
                samples = await self._claimed(wave, role, first=i)
            except BudgetExhausted:
                if not out:
                    raise
                break
            out += samples
            if any(s.finish_reason == "budget" for s in samples):
                break  # the budget cut this call: nothing is left for another
            longest = max(longest, 1, *(s.completion_tokens if s.completion_tokens is not None
                                        else self._seen_tokens(s) for s in samples))
        return out + [Sample.not_drawn() for _ in range(request.n - len(out))]

    async def _claimed(self, request: GenerationRequest, role: str, first: int | None = None,
                       prompt: int | None = None) -> list[Sample]:
        """One backend call for ``request``, within what the budget grants (``first``: the index of
        its first sample where the call draws part of a larger request; ``prompt``: its prompt's
        estimate, where the caller made it just now). A call that brings back fewer samples than
        it asked for (the server was found to ignore ``n``) is followed by a call for each of the
        others, each claimed on its own."""
        if self._one_a_call(request):  # learned while this request waited for its claim
            return await self._a_call_a_sample(request, role, first)
        asked = request
        if self.processor_factories and role == "policy":
            extra = [f(request) for f in self.processor_factories]
            request = request.replace(logits_processors=[*request.logits_processors, *extra])
        n = max(1, request.n)
        if prompt is None:
            room = self.budget.unclaimed_tokens()
            prompt = 0 if room is None else self._prompt_estimate(request, room)
        async with self.budget.claim(request.max_tokens * n, prompt) as granted:
            if granted is not None and granted < n:  # fewer tokens than samples: a token each for as many
                request = request.replace(n=granted)  # (the rest are empty, below)
            per_sample = request.max_tokens if granted is None else max(1, granted // max(1, request.n))
            clamped = per_sample < request.max_tokens
            if clamped:
                request = request.replace(max_tokens=per_sample)
            if self.budget.max_seconds is not None:  # the backend stops the call when time is up
                request = request.replace(deadline=self.budget.started + self.budget.max_seconds)
            samples = await self._generate(request, role, clamped, prompt, first)
        paid = max(1, request.n)  # the samples the budget paid for (all n, or a token each for fewer)
        if 1 < paid and len(samples) < paid:  # the server answered fewer than asked: the rest a call each
            got = len(samples)
            rest = asked.replace(n=paid - got, seed=None if asked.seed is None else asked.seed + got)
            samples = samples + await self._a_call_a_sample(rest, role, (first or 0) + got, drawn=got)
        if paid < n:  # the samples the budget did not pay for: empty, finish reason budget
            samples += [Sample.not_drawn() for _ in range(n - paid)]
        return samples

    def _one_a_call(self, request: GenerationRequest) -> bool:
        """Whether the backend makes a call a sample for ``request`` (a server that ignores ``n``)."""
        return request.n > 1 and getattr(self.backend, "calls_for", lambda _r: 1)(request) > 1

    async def _a_call_a_sample(self, request: GenerationRequest, role: str, first: int | None = None,
                               drawn: int = 0) -> list[Sample]:
        """The samples of ``request`` from one-sample calls made side by side, each claimed of the
        budget before it starts (its prompt, its tokens, one call), seeded ``seed + i`` as sample
        ``i`` and streamed under its sample's index (counted from ``first``). Samples the budget did
        not pay for are empty, finish reason ``budget``; BudgetExhausted when it paid for none and
        none were ``drawn`` before."""
        offset = first or 0
        results = await asyncio.gather(*(self._claimed(
            request.replace(n=1, seed=None if request.seed is None else request.seed + i), role, first=offset + i)
            for i in range(request.n)), return_exceptions=True)
        samples: list[Sample] = []
        stopped = [r for r in results if isinstance(r, BudgetExhausted)]
        for r in results:
            if isinstance(r, BudgetExhausted):
                samples.append(Sample.not_drawn())
            elif isinstance(r, BaseException):
                raise r
            else:
                samples.extend(r)
        if stopped and len(stopped) == len(results) and not drawn:
            raise stopped[0]
        return samples

    def _prompt_estimate(self, request: GenerationRequest, room: int) -> int:
        """How many tokens the request's prompt holds: what a call claims of a token budget besides
        its completion. Far from the budget's end (``room`` tokens unclaimed) a bound that costs
        nothing to compute will do: its bytes, since a token holds at least one, and 64 for the chat
        template. Near it, ``prompt_tokens``."""
        raw = _prompt_text(request)
        bound = len(raw.encode()) + 64
        if room >= 4 * (bound + request.max_tokens * max(1, request.n)):
            return bound
        return self.prompt_tokens(request)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        """The tokens of ``request``'s prompt: exact where the backend renders the prompt itself
        (hf); its messages and prefix alone where it counts tokens but the server applies the chat
        template (which adds a few). A backend that cannot count (a server without ``?tokenizer=``)
        gets about 4 characters a token scaled by the most the server's reported prompt counts have
        exceeded that (its template and its tokenizer), and until it has reported one the bound
        that cannot fall short: a token a byte, and 64 for the template."""
        render = getattr(self.backend, "render", None)
        if render is not None:
            return self.estimate_tokens(render(request))
        text = _prompt_text(request)
        counted = self.count_tokens(text) if text else 0
        if counted is not None:
            return counted
        bound = len(text.encode()) + 64
        scale = _PROMPT_SCALE.get(self.backend)
        return bound if scale is None else min(bound, math.ceil(-(-len(text) // 4) * scale))

    def _learn_prompt_scale(self, request: GenerationRequest, parts: list[Generation]) -> None:
        """How many more tokens than 4 characters a token the server counts in a prompt (see
        ``prompt_tokens``), from the calls just made; only where the backend cannot count."""
        if getattr(self.backend, "render", None) is not None or self.count_tokens("x") is not None:
            return
        rough = max(1, -(-len(_prompt_text(request)) // 4))
        for part in parts:
            if part.usage.prompt_tokens:
                scale = part.usage.prompt_tokens / rough
                _PROMPT_SCALE[self.backend] = max(scale, _PROMPT_SCALE.get(self.backend, scale))

    async def _generate(self, request: GenerationRequest, role: str, clamped: bool, prompt: int = 0,
                        first: int | None = None) -> list[Sample]:
        stream, sink = None, self._sink(request, role, first)
        if sink is not None:
            stream = self._token_forwarder(sink)
        async with self._sem(), self._window():
            start = time.perf_counter()
            try:
                if stream is not None and getattr(self.backend, "supports_streaming", False):
                    generation = await self.backend.generate(request, on_token=stream)
                    await _delivered()  # this call's deltas reach the sink before the caller's next text
                else:
                    generation = await self.backend.generate(request)
            except BackendError as exc:
                self._failed(request, role, exc, prompt, time.perf_counter() - start - exc.slept)
                raise
            wall = time.perf_counter() - start
        samples = generation.samples
        if clamped:  # a sample cut at the clamped max_tokens was cut by the budget; one cut shorter, by
            for s in samples:  # something else (the model's context window): it stays "length"
                if s.finish_reason == "length" and (s.completion_tokens is None
                                                    or s.completion_tokens >= request.max_tokens):
                    s.finish_reason = "budget"
        calls = [(part, self.ledger.record(
            role=role,
            model=self.model,
            n=len(part.samples) if generation.parts or len(part.samples) < request.n else request.n,
            usage=part.usage,
            wall_seconds=wall if part.wall_seconds is None else part.wall_seconds,
            finish_reasons=[s.finish_reason for s in part.samples],
            num_parameters=self.capabilities().num_parameters,
        )) for part in generation.parts or [generation]]  # an entry per call the backend made
        self._learn_prompt_scale(request, [part for part, _ in calls])
        # what the backend did not count (a stream stopped at a deadline, a server that reports no
        # usage) is charged as the prompt's claim and the samples' tokens as far as they can be seen,
        # call by call (one that counted does not stand for another that did not)
        spent = 0
        for part, _ in calls:
            u = part.usage
            spent += u.prompt_tokens if u.prompt_tokens is not None else prompt
            spent += u.completion_tokens if u.completion_tokens is not None else sum(
                self._seen_tokens(s) for s in part.samples)
        self.budget.charge(spent, calls=len(calls))
        if sink is not None and not getattr(self.backend, "supports_streaming", False):
            for i, s in enumerate(samples):  # a backend that cannot stream: one delta each
                sink(i, s.text)
        if self.on_call is not None:
            for part, entry in calls:
                self.on_call(entry, part.samples)
        return samples

    def _failed(self, request: GenerationRequest, role: str, exc: BackendError, prompt: int, wall: float) -> None:
        """A call the backend failed to finish, recorded and charged all the same: an entry whose
        tokens are unknown (``uncounted_calls``), with the attempts it made and finish reason
        ``error``, and the budget charged as for tokens a server did not report: the prompt's
        claim and the text the call had passed on."""
        entry = self.ledger.record(
            role=role,
            model=self.model,
            n=request.n,
            usage=Usage(retries=exc.retries),
            wall_seconds=wall,
            finish_reasons=["error"] * request.n,
            num_parameters=self.capabilities().num_parameters,
        )
        self.budget.charge(prompt + sum(self.estimate_tokens(t) for t in exc.texts))
        if self.on_call is not None:
            self.on_call(entry, [])

    def _seen_tokens(self, sample: Sample) -> int:
        """A sample's tokens as far as they can be seen: its token ids, else its text's count."""
        return len(sample.token_ids) if sample.token_ids is not None else self.estimate_tokens(sample.text)

    def _sink(self, request: GenerationRequest, role: str,
              first: int | None) -> Callable[[int, str], None] | None:
        """Where the text of a policy call streams, as ``(index, delta)``: a single-sample call's to
        ``on_token``, a many-sample call's to ``on_choice_token``, each sample's index counted from
        ``first`` where the call draws part of a larger request."""
        if role != "policy":
            return None
        if request.n == 1 and first is None:
            single = self.on_token
            return None if single is None else (lambda _i, delta: single(delta))
        by_choice, offset = self.on_choice_token, first or 0
        return None if by_choice is None else (lambda i, delta: by_choice(offset + i, delta))

    @contextlib.asynccontextmanager
    async def _window(self) -> AsyncIterator[None]:
        """A prompt too long for the model: an error on the first call; on a later one (a refinement
        round, a longer beam, a PRM reading a long candidate) the strategy stops there and keeps
        what it has, as when a budget runs out, and the Result says why."""
        try:
            yield
        except ContextLengthError as exc:
            if not self.ledger.entries or isinstance(exc, ContextWindowFull):
                raise
            self.budget.window_full = str(exc)
            raise ContextWindowFull(str(exc)) from exc

    @staticmethod
    def _token_forwarder(sink: Callable[[int, str], None]) -> Callable[[int, str], None]:
        """A callback safe to call from a worker thread: deltas are delivered on the event loop, in
        order (see ``_delivered``)."""
        loop = asyncio.get_running_loop()

        def forward(index: int, delta: str) -> None:
            loop.call_soon_threadsafe(sink, index, delta)

        return forward

    async def call(self, role: str, fn: Any, *args: Any, reads: int | None = None, **kwargs: Any) -> Any:
        """Run another kind of model call (scoring, ...) that returns ``(value, Usage)``. ``reads``:
        the tokens it will read, where known; it claims them of a token budget, so a call that
        does not fit what is left is refused (BudgetExhausted) instead of going over."""
        async with self.budget.claim(None if reads is None else 0, reads or 0), self._sem(), self._window():
            start = time.perf_counter()
            value, usage = await fn(*args, **kwargs)
            wall = time.perf_counter() - start
            entry = self.ledger.record(
                role=role,
                model=self.model,
                n=1,
                usage=usage,
                wall_seconds=wall,
                finish_reasons=[],
                num_parameters=self.capabilities().num_parameters,
            )
            self.budget.charge((usage.prompt_tokens or 0) + (usage.completion_tokens or 0))
        if self.on_call is not None:
            self.on_call(entry, [])
        return value


# per backend that cannot count tokens: the most its server's prompt counts exceeded 4 characters a token
_PROMPT_SCALE: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()


def writer(backend: "Backend", spec: str) -> "Backend":
    """``backend``, refused where it is a process reward model (its directory holds
    ``ponder_prm.json``, as ``embedded-prm``'s does): it scores steps and writes no answers."""
    from .backends.base import is_reward_model

    path = getattr(backend, "path", None)
    if path is not None and is_reward_model(path):
        raise ModelSpecError(f"{spec} is a process reward model (its directory holds ponder_prm.json): it "
                             "scores steps and writes no answers; use it as a scorer, e.g. bon(n=8, "
                             f"scorer=prm(model={spec})), and a policy such as embedded or hf:PATH as the model "
                             "(also for what writes text: a judge, refine's critic, feedback_edit's models)")
    return backend


def _prompt_text(request: GenerationRequest) -> str:
    """The text of a request's messages and prefix, without a chat template."""
    return "\n".join(str(m.get("content") or "") for m in request.messages) + request.prefix


async def _delivered() -> None:
    """Wait until every delta scheduled so far on this loop has been delivered: they are callbacks
    queued in order (``call_soon_threadsafe``), and so is this one. Without it a backend that streams
    on the loop itself (openai) returns before its last deltas reach the sink, and the text a
    strategy writes next (budget's "Final Answer:") lands among them."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_soon_threadsafe(done.set_result, None)
    await done


__all__ = ["Engine", "BudgetExhausted"]
