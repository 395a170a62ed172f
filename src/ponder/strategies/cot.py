"""Zero-shot chain of thought: one sample after "Let's think step by step."

Paper: Kojima et al., "Large Language Models are Zero-Shot Reasoners", arXiv 2205.11916.
Defaults from the paper: the trigger sentence and greedy decoding (temperature 0). For models with
a native thinking mode, ``thinking=true`` passes ``enable_thinking`` to the chat template.
"""

from __future__ import annotations

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..prompts import COT_INSTRUCTION, with_instruction
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import Params, Strategy, to_candidate


class CotParams(Params):
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, gt=0)
    instruction: str = COT_INSTRUCTION
    thinking: bool | None = None
    seed: int | None = None


class Cot(Strategy):
    name = "cot"
    summary = "zero-shot chain-of-thought: one sample after 'Let's think step by step'"
    paper = "arXiv 2205.11916"
    Params = CotParams

    def request(self, problem: Problem, *, n: int = 1, temperature: float | None = None,
                seed: int | None = None) -> GenerationRequest:
        p: CotParams = self.params  # type: ignore[assignment]
        return GenerationRequest(
            messages=with_instruction(problem.messages, p.instruction),
            n=n,
            max_tokens=p.max_tokens,
            temperature=p.temperature if temperature is None else temperature,
            top_p=p.top_p,
            seed=p.seed if seed is None else seed,
            template_kwargs={} if p.thinking is None else {"enable_thinking": p.thinking},
        )

    async def sample(self, problem: Problem, engine: Engine, n: int, *, seed: int | None = None,
                     temperature: float | None = None, logprobs: bool = False) -> list[Candidate]:
        """``n`` candidates from one call; ``logprobs``: each carries its token log-probabilities
        (``meta["logprobs"]``) where the backend returns them."""
        request = self.request(problem, n=n, temperature=temperature, seed=seed)
        request.logprobs = logprobs
        samples = await engine.generate(request)
        return [to_candidate(problem, s, request=request,
                             **({"logprobs": s.logprobs} if logprobs and s.logprobs else {})) for s in samples]

    async def run(self, problem: Problem, engine: Engine) -> Result:
        try:
            [cand] = await self.sample(problem, engine, 1)
        except BudgetExhausted:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        return Result(answer=cand.answer, text=cand.text, strategy=self.spec, candidates=[cand],
                      budget_exhausted=cand.finish_reason == "budget")
