"""``logprob``: mean token log-probability of the candidate under the policy (higher is better).

Uses the log-probabilities returned with the sample where the strategy asked for them; otherwise it
scores the text with a forward pass on a backend with logits access (``hf``, ``embedded``).
"""

from __future__ import annotations

from ..engine import Engine
from ..types import Candidate, Problem, Usage
from .base import Scorer


class LogprobScorer(Scorer):
    name = "logprob"
    summary = "mean token log-probability under the policy"
    role = "logprob"

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        if not hasattr(engine.backend, "forward_logits"):
            engine.require("logits", "scorer logprob (on candidates generated without logprobs)")

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float]:
        out = []
        for c in candidates:
            lps = c.meta.get("logprobs")
            if lps:
                out.append(sum(lps) / len(lps))
            else:
                out.append(await engine.call(self.role, self._forward, problem, c, engine))
        return out

    async def _forward(self, problem: Problem, cand: Candidate, engine: Engine) -> tuple[float, Usage]:
        import torch

        from ..types import GenerationRequest

        backend = engine.backend
        prompt = backend.render(GenerationRequest(messages=problem.messages))
        p_ids, c_ids = backend.encode(prompt), backend.encode(cand.text)
        if not c_ids:
            return float("-inf"), Usage(prompt_tokens=len(p_ids), completion_tokens=0)
        logits = await backend.forward_logits(p_ids + c_ids)
        lp = torch.log_softmax(logits[len(p_ids) - 1:-1], dim=-1)
        token_lp = lp.gather(1, torch.tensor(c_ids)[:, None])[:, 0]
        return float(token_lp.mean()), Usage(prompt_tokens=len(p_ids) + len(c_ids), completion_tokens=0)
