"""s1 budget forcing: control how long a model thinks, exactly.

Paper: Muennighoff et al., "s1: Simple test-time scaling", arXiv 2501.19393. ``think=`` caps the
thinking tokens (when reached, the end of thinking is forced and "Final Answer:" appended; a model
that ends its thinking by itself, "Wait"s done, answers in its own words);
``min_think=`` suppresses the end of thinking until that many tokens were spent: on a backend
with logits the end-of-thinking token and the end of the turn are masked until then, in the same
call; elsewhere the model's end of thinking is replaced by "Wait" and it continues. ``wait=k``
replaces the end of thinking by "Wait" k times. Defaults from the paper: the "Wait" string,
"Final Answer:", greedy decoding.
Unlike s1's own code, which gives every continuation the full budget, the remaining budget is
carried exactly across continuations (inserted "Wait" tokens count too), so thinking never exceeds
``think``. ``answer_prompt`` is written only after a forced end; ``answer_prompt=''`` lets the model
answer in its own format then too (the lab model writes ``Answer: X`` and has never seen "Final
Answer:": use ``answer_prompt=Answer:`` or ``''`` with it). Needs a backend that continues a partial
assistant message.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, GenerationRequest, Problem, Result, Sample
from .base import Params, Strategy, derive_seed, gather_within_budget, to_candidate


class BudgetParams(Params):
    think: int = Field(512, gt=0)
    min_think: int = Field(0, ge=0)
    wait: int = Field(0, ge=0, le=64)
    wait_word: str = "Wait"
    answer_prompt: str = "Final Answer:"
    answer_tokens: int = Field(32, gt=0)
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    open: str = "<think>"
    close: str = "</think>"
    seed: int | None = None

    @model_validator(mode="after")
    def _min_within_max(self) -> "BudgetParams":
        if self.min_think > self.think:
            raise ValueError(f"min_think={self.min_think} is more than think={self.think}: the thinking "
                             "cannot be both at least min_think and at most think tokens long")
        return self


def template_thinking(engine: Engine, request: GenerationRequest, open_tag: str, close_tag: str) -> str | None:
    """What the chat template did with the thinking span at the end of the prompt the backend
    renders for ``request`` (where it renders prompts itself): ``"open"``, it opened one (DeepSeek-R1
    distills, Qwen3 thinking models); ``"closed"``, it wrote an empty one (Qwen3 with thinking off);
    None, neither (or the backend renders no prompts here)."""
    render = getattr(engine.backend, "render", None)
    if render is None:
        return None
    prompt = render(request)
    if prompt.rfind(open_tag) > prompt.rfind(close_tag):
        return "open"
    return "closed" if close_tag in prompt and prompt.rstrip().endswith(close_tag) else None


class BudgetForcing(Strategy):
    name = "budget"
    summary = "s1 budget forcing: exact max/min thinking tokens, 'Wait' k times instead of ending"
    paper = "arXiv 2501.19393"
    Params = BudgetParams

    def check(self, engine: Engine) -> None:
        engine.require("prefix_continuation", "budget forcing")

    def _close_id(self, engine: Engine) -> int | None:
        """The end-of-thinking tag as one token of the model's vocabulary, where logits can mask it."""
        p: BudgetParams = self.params  # type: ignore[assignment]
        encode = getattr(engine.backend, "encode", None)
        if not engine.capabilities().logits or encode is None:
            return None
        ids = encode(p.close)
        return ids[0] if len(ids) == 1 else None

    def _opened_by_template(self, engine: Engine, request: GenerationRequest) -> bool:
        p: BudgetParams = self.params  # type: ignore[assignment]
        return template_thinking(engine, request, p.open, p.close) == "open"

    def _count(self, engine: Engine, text: str) -> int:
        return max(1, engine.estimate_tokens(text))  # a call that wrote nothing still ended

    def _room_to_think(self, engine: Engine, request: GenerationRequest) -> int | None:
        """The most thinking tokens ``request`` may write so that the answer call after it still
        fits the token budget (None: no token limit, or other calls in flight), with room for a
        short answer (16 tokens, or ``answer_tokens`` if fewer; the answer call may take all that
        is left). Each thinking token is paid twice: written, then read again in the answer call's
        prompt."""
        room = engine.budget.unclaimed_tokens()
        if room is None or engine.budget.calls_in_flight:
            return None  # calls in flight give back what they do not use: the budget's claims share it then
        p: BudgetParams = self.params  # type: ignore[assignment]
        answer = min(p.answer_tokens, 16) + self._count(engine, f" {p.close} {p.answer_prompt}")
        return (room - 2 * engine.prompt_tokens(request) - answer) // 2

    async def think_once(self, problem: Problem, engine: Engine, seed: int | None,
                         temperature: float) -> Candidate:
        """One budget-forced sample: thinking calls, then the answer call. Under a budget that
        cannot pay for every "Wait" and the answer, thinking ends early (no more "Wait", a thinking
        call kept short) so that the answer is still written; its finish reason is then ``budget``."""
        p: BudgetParams = self.params  # type: ignore[assignment]
        base = GenerationRequest(messages=problem.messages, temperature=temperature, top_p=p.top_p)
        # a chat template whose generation prompt opens the thinking itself (DeepSeek-R1 distills,
        # Qwen3 thinking models) needs no second open tag
        text = "" if self._opened_by_template(engine, base) else p.open
        used, waits, forced, rounds, cut = 0, 0, False, 0, False
        close_id = self._close_id(engine) if p.min_think else None
        while True:
            remaining = p.think - used
            if remaining <= 0:
                forced = True
                break
            calls = engine.budget.calls_left()
            if calls is not None and calls < 2:  # a thinking call would leave none for the answer
                forced = cut = True
                break
            request = base.replace(prefix=text, stop=[p.close], max_tokens=remaining,
                                   seed=None if seed is None else seed + rounds)
            room = self._room_to_think(engine, request)
            if room is not None and room < remaining:  # keep what the answer needs
                if room < 1:
                    forced = cut = True
                    break
                request = request.replace(max_tokens=room)
            need = min(p.min_think - used, request.max_tokens)
            if need > 0 and close_id is not None:  # s1's suppression: no end of thinking before min_think
                request = request.replace(min_tokens=need, logits_processors=[_masked_for(close_id, need)])
            [s] = await engine.generate(request)
            rounds += 1
            used += s.completion_tokens if s.completion_tokens is not None else self._count(engine, s.text)
            text += s.text
            if s.finish_reason in ("length", "budget"):
                forced = True
                cut = s.finish_reason == "budget" or request.max_tokens < remaining
                break
            # the model ended its thinking (at the close tag, or by ending its turn): wait, or answer
            want_more = used < p.min_think or waits < p.wait
            word = (" " if text and not text.endswith((" ", "\n")) else "") + p.wait_word
            cost = self._count(engine, word)
            if not want_more or used + cost >= p.think:
                break
            calls = engine.budget.calls_left()
            if calls is not None and calls < 2:  # no "Wait" that could not be answered
                cut = True
                break
            if used >= p.min_think:
                waits += 1
            text += word
            used += cost
        if cut:
            waited = f", {waits} of {p.wait} waits" if p.wait else ""
            engine.budget.cut_short = engine.budget.cut_short or (
                f"budget forcing ended the thinking early ({used} tokens{waited}) to leave the budget's last "
                "tokens or call for the answer")
        text = (text.rstrip() + " " if text.strip() else "") + p.close
        # the answer prompt pulls an answer out of a cut thought; after its own end the model answers itself
        text += f" {p.answer_prompt}" if p.answer_prompt and forced else ""
        try:
            [a] = await engine.generate(base.replace(prefix=text, max_tokens=p.answer_tokens,
                                                     seed=None if seed is None else seed + rounds))
        except BudgetExhausted:  # no answer call fits: the thinking is kept, as far as it went
            a, cut = Sample.not_drawn(), True
        full = text + a.text
        cand = to_candidate(problem, a.__class__(text=full, finish_reason=a.finish_reason), request=base)
        if cut:  # the budget shaped this sample, though its answer may be whole
            cand.finish_reason = "budget"
        cand.meta.update(thinking_tokens=used, waits=waits, forced_end=forced,
                         completion_tokens=used + (a.completion_tokens or 0))
        return cand

    async def sample(self, problem: Problem, engine: Engine, n: int, *, seed: int | None = None,
                     temperature: float | None = None) -> list[Candidate]:
        p: BudgetParams = self.params  # type: ignore[assignment]
        t = p.temperature if temperature is None else temperature
        base = p.seed if seed is None else seed
        cands, _ = await gather_within_budget(*(
            self.think_once(problem, engine, None if base is None else derive_seed(base, i), t) for i in range(n)))
        return [c if c is not None else Candidate.not_drawn() for c in cands]

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BudgetParams = self.params  # type: ignore[assignment]
        try:
            cand = await self.think_once(problem, engine, p.seed, p.temperature)
        except BudgetExhausted:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        return Result(answer=cand.answer, text=cand.text, strategy=self.spec, candidates=[cand],
                      budget_exhausted=cand.finish_reason == "budget",
                      trace={k: cand.meta[k] for k in ("thinking_tokens", "waits", "forced_end")})


def _masked_for(token_id: int, count: int) -> Callable[[Any, Any], Any]:
    """A logits processor that forbids ``token_id`` for the first ``count`` tokens of its call."""
    start: list[int] = []

    def mask(input_ids: Any, scores: Any) -> Any:
        if not start:
            start.append(input_ids.shape[-1])  # the first call sees the prompt alone
        if input_ids.shape[-1] - start[0] < count:
            scores[:, token_id] = float("-inf")
        return scores

    return mask
