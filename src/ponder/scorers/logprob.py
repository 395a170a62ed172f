"""``logprob``: mean token log-probability of the candidate under the policy (higher is better).

Uses the log-probabilities returned with the sample where the strategy asked for them (``bon`` and
``wbon`` over ``cot`` do, so it works on OpenAI-compatible servers that return them: vLLM, SGLang,
the OpenAI API); otherwise it scores the text with a forward pass on a backend with logits access
(``hf``, ``embedded``).

The forward pass reads the text after the prompt the candidate was sampled from, where the
strategy recorded it (``meta["_prompt"]``: the request's messages, with cot's or cod's instruction,
and its chat-template arguments, such as think's ``enable_thinking``; see
``strategies.base.to_candidate``), so that it gives what the sampling call's log-probabilities
would; for a candidate without that record, after the problem's own messages. It counts the
end-of-turn token only after a text that ended the model's turn (``meta["_ended_turn"]``; where
not recorded, a finish reason ``stop``): not after one cut at a stop string or a token limit.
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
        """The prompt's tokens and the candidate's: its text, and the end-of-turn token if it wrote one."""
        from ..strategies.base import ENDED_TURN, PROMPT
        from ..types import GenerationRequest

        backend = engine.backend
        sampled = cand.meta.get(PROMPT)  # the messages and template arguments it was sampled with
        request = (GenerationRequest(messages=sampled["messages"], template_kwargs=sampled["template_kwargs"])
                   if sampled else GenerationRequest(messages=problem.messages))
        prompt = backend.render(request)
        ids = backend.encode(cand.text)
        # a candidate that ended its turn wrote the end-of-turn token too, and a sampling call's
        # log-probabilities hold it (as vLLM's do): scored with it, the two paths agree. One that
        # stopped at a stop string (or a token limit) wrote no such token: it is scored without.
        ended = cand.meta.get(ENDED_TURN)
        if ended is None:  # not recorded (a candidate not made by to_candidate, nor of one)
            ended = cand.finish_reason == "stop"
        end = getattr(getattr(backend, "tokenizer", None), "eos_token_id", None)
        if ended and isinstance(end, int) and end in getattr(backend, "eos_ids", ()):
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
