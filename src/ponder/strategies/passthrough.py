"""Pass-through: the client's messages and sampling parameters as one model call, nothing added.

Not an inference-time scaling method: the proxy's baseline (``strategy=none``), so that
``ponder serve`` forwards a request as it came (``n`` honoured in the same call) and the proxy
overhead can be measured on its own. No paper; the defaults are the OpenAI API's (temperature 1,
top_p 1), with 1024 tokens when the client does not say.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from .base import Params, Strategy, Texts, cut_by_budget, to_candidate
from ..types import GenerationRequest, Problem, Result


class PassThroughParams(Params):
    n: int = Field(1, gt=0, le=128)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, gt=0)
    min_tokens: int = Field(0, ge=0)
    stop: Texts = Field(default_factory=list, max_length=16)
    seed: int | None = None
    logprobs: bool = False  # each choice's token log-probabilities (the OpenAI API's logprobs=true)


class PassThrough(Strategy):
    name = "none"
    summary = "pass-through: the messages as sent, one model call (n samples), no scaling"
    paper = ""
    Params = PassThroughParams
    # The proxy maps the OpenAI ``n`` (number of choices) onto this parameter instead of running
    # the strategy n times: the n choices come from one call.
    choices_param: ClassVar[str] = "n"
    streams_tokens: ClassVar[bool] = True

    def request(self, problem: Problem) -> GenerationRequest:
        p: PassThroughParams = self.params  # type: ignore[assignment]
        return GenerationRequest(messages=list(problem.messages), n=p.n, max_tokens=p.max_tokens,
                                 min_tokens=min(p.min_tokens, p.max_tokens),
                                 temperature=p.temperature, top_p=p.top_p, stop=list(p.stop), seed=p.seed,
                                 logprobs=p.logprobs)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: PassThroughParams = self.params  # type: ignore[assignment]
        try:
            samples = await engine.generate(self.request(problem))
        except BudgetExhausted:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        # which of the client's stop strings ended each sample, where the backend knows (vLLM's
        # ``stop_reason``: None when the turn ended); ``ponder serve`` passes it on
        cands = [to_candidate(problem, s, **({} if s.stop_unknown else {"stop_reason": s.matched_stop}),
                              **({"logprobs": s.logprobs, "tokens": s.tokens} if p.logprobs else {}))
                 for s in samples]
        first = cands[0] if cands else None
        return Result(answer=first.answer if first else None, text=first.text if first else "",
                      strategy=self.spec, candidates=cands,
                      budget_exhausted=cut_by_budget(cands))


__all__ = ["PassThrough", "PassThroughParams"]
