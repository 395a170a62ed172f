"""Thinking on demand: ``think(mode=off|on|budget, tokens=N)``.

``off`` answers without a thinking span (an empty ``<think></think>`` is written for the model, and
``enable_thinking=false`` is passed to chat templates that know it); ``on`` lets the model think
natively (``enable_thinking=true``); ``budget`` is s1 budget forcing with ``think=tokens``
(arXiv 2501.19393), after which the model answers in its own format (no "Final Answer:"
prompt). ``reasoning_effort`` levels map onto these through ``ponder.thinking``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import Params, Strategy, to_candidate
from .budget import BudgetForcing, BudgetParams, template_thinking


class ThinkParams(Params):
    mode: Literal["off", "on", "budget"] = "on"
    tokens: int | None = Field(None, gt=0)
    max_tokens: int = Field(1024, gt=0)
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _tokens_for_budget(self) -> "ThinkParams":
        if self.mode == "budget" and self.tokens is None:
            raise ValueError("mode=budget needs tokens=N (the thinking budget)")
        if self.mode != "budget" and self.tokens is not None:
            raise ValueError(f"tokens={self.tokens} is a thinking budget, used only with mode=budget "
                             f"(mode={self.mode}: use max_tokens to cap the whole answer)")
        return self


class Think(Strategy):
    name = "think"
    summary = "thinking on demand: mode=off (no thinking), on (native), budget (s1 with tokens=N)"
    paper = "arXiv 2501.19393"
    Params = ThinkParams

    def _budget(self) -> BudgetForcing:
        p: ThinkParams = self.params  # type: ignore[assignment]
        # thinking on demand: after the thinking budget the model answers in its own format
        return BudgetForcing(BudgetParams(think=p.tokens or 1, temperature=p.temperature, seed=p.seed,
                                          answer_prompt="", answer_tokens=p.max_tokens))

    def check(self, engine: Engine) -> None:
        if self.params.mode == "budget":  # type: ignore[attr-defined]
            self._budget().check(engine)

    def request(self, problem: Problem, engine: Engine, n: int, temperature: float,
                seed: int | None) -> GenerationRequest:
        p: ThinkParams = self.params  # type: ignore[assignment]
        caps = engine.capabilities()
        req = GenerationRequest(messages=problem.messages, n=n, max_tokens=p.max_tokens, temperature=temperature,
                                seed=seed, template_kwargs={"enable_thinking": p.mode == "on"})
        if p.mode == "off" and caps.thinking_tags and caps.prefix_continuation:
            # an empty thinking span, but for what the template wrote itself: it closed one (Qwen3
            # with thinking off), or it opened one that only needs its end (DeepSeek-R1 distills)
            opened, closed = caps.thinking_tags
            done = template_thinking(engine, req, opened, closed)
            req.prefix = "" if done == "closed" else f" {closed}" if done == "open" else f"{opened} {closed}"
        return req

    async def sample(self, problem: Problem, engine: Engine, n: int, *, seed: int | None = None,
                     temperature: float | None = None) -> list[Candidate]:
        p: ThinkParams = self.params  # type: ignore[assignment]
        t = p.temperature if temperature is None else temperature
        if p.mode == "budget":
            return await self._budget().sample(problem, engine, n, seed=seed, temperature=t)
        req = self.request(problem, engine, n, t, p.seed if seed is None else seed)
        samples = await engine.generate(req)
        return [to_candidate(problem, s.__class__(text=req.prefix + s.text, finish_reason=s.finish_reason,
                                                  completion_tokens=s.completion_tokens), request=req) for s in samples]

    async def run(self, problem: Problem, engine: Engine) -> Result:
        if self.params.mode == "budget":  # type: ignore[attr-defined]
            result = await self._budget().run(problem, engine)  # with budget forcing's trace
            result.strategy = self.spec
            return result
        try:
            [c] = await self.sample(problem, engine, 1)
        except BudgetExhausted:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        return Result(answer=c.answer, text=c.text, strategy=self.spec, candidates=[c],
                      budget_exhausted=c.finish_reason == "budget")
