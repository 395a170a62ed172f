"""``logprob``: mean token log-probability of the candidate under the policy (higher is better).

Uses the log-probabilities returned with the sample where the strategy asked for them (``bon`` and
``wbon`` over ``cot`` do, so it works on OpenAI-compatible servers that return them: vLLM, SGLang,
the OpenAI API); otherwise it scores the text with a forward pass on a backend with logits access
(``hf``, ``embedded``).
"""

from __future__ import annotations

from ..engine import Engine
from ..errors import BudgetExhausted, CapabilityError
from ..types import Candidate, Problem, Usage
from .base import Scorer, scores_so_far


class LogprobScorer(Scorer):
    name = "logprob"
    summary = "mean token log-probability under the policy"
    role = "logprob"
    wants_logprobs = True
    log_scale = True
    # set by a strategy that asks the model for the log-probabilities of the candidates it scores
    with_candidates = False

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        if not self.with_candidates and not hasattr(engine.backend, "forward_logits"):
            engine.require("logits", "scorer logprob (on candidates generated without logprobs)")

    def spends_tokens(self) -> bool:
        return not self.with_candidates  # read from the sampling call, or a forward pass of each

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float | None]:
        out: list[float | None] = []
        for c in candidates:
            lps = c.meta.get("logprobs")
            if lps:
                out.append(sum(lps) / len(lps))
            elif hasattr(engine.backend, "forward_logits"):
                p_ids, c_ids = self._ids(problem, c, engine)
                try:
                    out.append(await engine.call(self.role, self._forward, p_ids, c_ids, engine,
                                                 reads=len(p_ids) + len(c_ids)))
                except BudgetExhausted as stopped:  # keep the scores finished
                    return scores_so_far(out, len(candidates), stopped)
            else:
                raise CapabilityError(
                    f"scorer logprob: a candidate came without token log-probabilities and "
                    f"{engine.backend.name!r} has no logits to score it with; use bon or wbon over cot on a "
                    "server that returns logprobs (vLLM, SGLang, the OpenAI API), or a local backend "
                    "(hf:PATH, embedded)")
        return out

    @staticmethod
    def _ids(problem: Problem, cand: Candidate, engine: Engine) -> tuple[list[int], list[int]]:
        from ..types import GenerationRequest

        backend = engine.backend
        prompt = backend.render(GenerationRequest(messages=problem.messages))
        ids = backend.encode(cand.text)
        # a candidate that ended its turn wrote the end-of-turn token too, and a sampling call's
        # log-probabilities hold it (as vLLM's do): scored with it, the two paths agree
        end = getattr(getattr(backend, "tokenizer", None), "eos_token_id", None)
        if cand.finish_reason == "stop" and isinstance(end, int) and end in getattr(backend, "eos_ids", ()):
            ids.append(end)
        return backend.encode(prompt), ids

    @staticmethod
    async def _forward(p_ids: list[int], c_ids: list[int], engine: Engine) -> tuple[float, Usage]:
        import torch

        if not c_ids:
            return float("-inf"), Usage(prompt_tokens=len(p_ids), completion_tokens=0)
        logits = await engine.backend.forward_logits(p_ids + c_ids)
        lp = torch.log_softmax(logits[len(p_ids) - 1:-1], dim=-1)
        token_lp = lp.gather(1, torch.tensor(c_ids, device=lp.device)[:, None])[:, 0]
        return float(token_lp.mean()), Usage(prompt_tokens=len(p_ids) + len(c_ids), completion_tokens=0)
