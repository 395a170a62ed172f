"""TIP, the thought-switching penalty: discourage abandoning a line of thought too early.

Paper: Wang et al., "Thoughts Are All Over the Place: On the Underthinking of o1-Like LLMs",
arXiv 2501.18585. A logits processor subtracts ``alpha`` from the logits of the switch words'
tokens (every tokenisation: with and without a leading space, capitalised or not; for a word
that is several tokens, its first token, unless that piece is under four characters and would
penalise every word it starts, see ``switch_token_ids``) while fewer than ``beta`` tokens have
passed since the current thought began (the start of the assistant's message or the last switch,
also where a call continues a partial message: budget forcing's "Wait", a search step). Defaults
from the paper: alpha = 3, beta = 600, the switch word "Alternatively". A modifier:
``tip(of=sc(n=8))`` applies the penalty to every policy call of the inner strategy (default
``cot`` at temperature 0.7). Needs logits access: ``hf`` and ``embedded``, and ``vllm`` only with
its V0 engine (the V1 engine takes no per-request logits processors).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..backends.base import partial_turn
from ..engine import Engine
from ..errors import StrategySpecError
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, Texts
from .cot import Cot, CotParams


def switch_token_ids(tokenizer: Any, words: list[str]) -> list[int]:
    """The first token of every tokenisation of each switch word that carries a letter of it.

    A leading space may be a token of its own (it is, where the word is an added token); it is
    skipped, since penalising it would penalise every space. So is a first piece shorter than four
    characters (such as "a" of a byte-level "alternatively"): penalising it would penalise every
    word that starts the same way.
    """
    ids: set[int] = set()
    for w in words:
        for variant in {w, " " + w, w.lower(), " " + w.lower(), w.capitalize(), " " + w.capitalize()}:
            for tok in tokenizer(variant, add_special_tokens=False)["input_ids"]:
                piece = tokenizer.decode([tok]).strip()
                if piece:
                    if len(piece) >= min(4, len(w)):
                        ids.add(int(tok))
                    break
    return sorted(ids)


class SwitchPenalty:
    """Logits processor ``(input_ids, scores) -> scores`` (Hugging Face convention), one per request.

    ``carried``: tokens of the current thought that the prompt already holds, where the request
    continues a partial assistant message (budget forcing's continuations, the steps of a search):
    until a switch in the new text, the thought began that many tokens before it."""

    def __init__(self, token_ids: list[int], alpha: float, beta: int, carried: int = 0) -> None:
        self.token_ids = token_ids
        self.alpha = alpha
        self.beta = beta
        self.carried = carried
        self.prompt_len: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.alpha == 0 or not self.token_ids:
            return scores
        if self.prompt_len is None:  # the first call sees the prompt alone
            self.prompt_len = int(input_ids.shape[1])
        ids = torch.tensor(self.token_ids, device=scores.device)
        gen = input_ids[:, self.prompt_len:]
        for row in range(gen.shape[0]):
            hits = torch.isin(gen[row], ids).nonzero()
            passed = gen.shape[1] - (int(hits[-1]) + 1) if len(hits) else gen.shape[1] + self.carried
            if passed < self.beta:
                scores[row, ids] -= self.alpha
        return scores


def thought_so_far(backend: Any, prefix: str, token_ids: list[int]) -> int:
    """Tokens of ``prefix`` (a partial assistant message) since its last switch word, or all of
    them: how far into the current thought a continuation of it starts."""
    if not prefix:
        return 0
    ids, switch = backend.encode(prefix), set(token_ids)
    hits = [i for i, t in enumerate(ids) if t in switch]
    return len(ids) - (hits[-1] + 1) if hits else len(ids)


class TipParams(Params):
    alpha: float = Field(3.0, ge=0.0)
    beta: int = Field(600, gt=0)
    words: Texts = Field(default_factory=lambda: ["Alternatively"], min_length=1)
    of: Any = None
    seed: int | None = Field(None, description="the seed of the penalised strategy (given to it)")


class ThoughtSwitchPenalty(Strategy):
    name = "tip"
    summary = "thought-switching penalty: logits of switch words lowered by alpha for beta tokens"
    paper = "arXiv 2501.18585"
    Params = TipParams
    strategy_params = ("of",)

    def inner(self) -> Strategy:
        p: TipParams = self.params  # type: ignore[assignment]
        inner = p.of if p.of is not None else Cot(CotParams(temperature=0.7))
        return inner if p.seed is None else inner.with_seed(p.seed)

    def check(self, engine: Engine) -> None:
        engine.require("logits", "tip (the thought-switching penalty)")
        super().check(engine)
        p: TipParams = self.params  # type: ignore[assignment]
        tokenizer = getattr(engine.backend, "tokenizer", None)
        if tokenizer is None:
            return
        # a word none of whose tokenisations starts with a piece of its own would be penalised
        # nowhere: say so rather than run the strategy without its penalty
        missing = [w for w in p.words if not switch_token_ids(tokenizer, [w])]
        if missing:
            raise StrategySpecError(
                f"tip: no token of this model's tokenizer stands for the switch word(s) {', '.join(map(repr, missing))} "
                "(a word must start with a token of at least four of its letters, or be one token, so that "
                "penalising it does not penalise other words); give words this tokenizer has, such as the "
                "default 'Alternatively'")

    def penalised(self, engine: Engine) -> Engine:
        p: TipParams = self.params  # type: ignore[assignment]
        ids = switch_token_ids(engine.backend.tokenizer, p.words)  # type: ignore[attr-defined]
        return engine.with_logits_processors(lambda request: SwitchPenalty(
            ids, p.alpha, p.beta, carried=thought_so_far(engine.backend, partial_turn(request)[1], ids)))

    async def run(self, problem: Problem, engine: Engine) -> Result:
        result = await self.inner().run(problem, self.penalised(engine))
        result.strategy = self.spec
        return result

    async def sample(self, problem: Problem, engine: Engine, n: int, *, seed: int | None = None,
                     temperature: float | None = None) -> list[Candidate]:
        return await self.inner().sample(problem, self.penalised(engine), n, seed=seed, temperature=temperature)
