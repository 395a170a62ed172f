"""Self-refinement: generate, critique, revise — up to k rounds.

Paper: Madaan et al., "Self-Refine: Iterative Refinement with Self-Feedback", arXiv 2303.17651.
The same model writes a draft, critiques it, and revises it with the critique in the
conversation. It stops when the critique finds nothing (``stop_phrase`` is its whole reply, or
the first or last line of it, give or take case, emphasis and punctuation: "Step 1 has no issues,
but step 2 is wrong" is not clean) or after ``rounds`` revisions; with ``scorer=`` it returns the
best-scoring version, otherwise the last.
Each critique and revision sees the earlier versions and critiques of the run, as in the paper
("we retain the history of previous feedback and outputs"), so the model does not repeat a fixed
mistake; ``history=false`` shows only the latest version and its critique (shorter prompts).
Defaults from the paper: at most 4 feedback-revise iterations, greedy decoding. ``of=`` writes the
first draft with another strategy (e.g. ``refine(of=sc(n=8))`` critiques the voted sample); its
calls are in the ledger under their own roles.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import build_scorer, rank, unscored_by_budget
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import Params, Strategy, cut_by_budget, to_candidate
from .cot import Cot, CotParams

CRITIQUE_PROMPT = ("Review the solution above step by step. Point out any mistake. If every step and the "
                   "final answer are correct, reply exactly: {stop}")
REVISE_PROMPT = ("Feedback on your solution:\n{feedback}\n\nWrite a corrected solution that fixes the problems "
                 "the feedback names. End with 'Answer: <answer>'.")


def is_clean(critique: str, phrase: str) -> bool:
    """Whether a critique says it found nothing: the phrase is the reply (after any thinking), or its
    first or last line. Not a phrase inside a sentence that goes on to name a mistake."""
    from ..answers.spans import split_think

    def norm(line: str) -> str:
        return " ".join(line.strip().strip("*_`\"'.!:;,-").split()).lower()

    outside, _ = split_think(critique)
    lines = [norm(line) for line in (outside or critique).splitlines() if norm(line)]
    want = norm(phrase)
    return bool(lines) and want in (lines[0], lines[-1], " ".join(lines))


class RefineParams(Params):
    rounds: int = Field(4, ge=1, le=16)
    scorer: Any = None
    stop_phrase: str = "NO ISSUES"
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    max_tokens: int = Field(1024, gt=0)
    feedback_tokens: int = Field(256, gt=0)
    history: bool = True
    of: Any = None
    seed: int | None = None

    @model_validator(mode="after")
    def _phrase(self) -> "RefineParams":
        if not self.stop_phrase.strip():
            raise ValueError(f"stop_phrase={self.stop_phrase!r} is blank, so every critique would count as clean and "
                             "refinement would stop after the first; give the phrase the critique writes when it "
                             "finds nothing to fix, e.g. stop_phrase='NO ISSUES' (the default)")
        return self


class SelfRefine(Strategy):
    name = "refine"
    summary = "self-refinement: generate, critique, revise up to k rounds; stop when the critique is clean"
    paper = "arXiv 2303.17651"
    Params = RefineParams
    strategy_params = ("of",)

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        super().__init__(params, spec)
        s = self.params.scorer  # type: ignore[attr-defined]
        self.scorer = build_scorer(s) if s is not None else None

    def check(self, engine: Engine) -> None:
        super().check(engine)
        if self.scorer is not None:
            self.scorer.check(engine)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: RefineParams = self.params  # type: ignore[assignment]
        versions: list[Candidate] = []
        rounds: list[dict[str, Any]] = []
        exhausted = False
        seed = p.seed
        try:
            if p.of is not None:
                drafter = p.of if seed is None else p.of.with_seed(seed)
                first = await drafter.run(problem, engine)
                if first.budget_exhausted and not first.text:
                    raise BudgetExhausted(f"{p.of.spec} spent the budget before it drafted anything")
                draft = Candidate(text=first.text, answer=first.answer, meta={"strategy": p.of.spec})
            else:
                draft_cot = Cot(CotParams(max_tokens=p.max_tokens))
                [draft] = await draft_cot.sample(problem, engine, 1, temperature=p.temperature, seed=seed)
            versions.append(draft)
            past: list[dict[str, str]] = []  # the earlier versions, critiques and requests (history=true)
            for r in range(p.rounds):
                convo = [*problem.messages, *past, {"role": "assistant", "content": versions[-1].text},
                         {"role": "user", "content": CRITIQUE_PROMPT.format(stop=p.stop_phrase)}]
                [fb] = await engine.generate(GenerationRequest(messages=convo, max_tokens=p.feedback_tokens,
                                                               temperature=p.temperature, seed=seed), role="critic")
                clean = is_clean(fb.text, p.stop_phrase)
                rounds.append({"round": r + 1, "feedback": fb.text, "clean": clean})
                exhausted = exhausted or fb.finish_reason == "budget"
                if clean:
                    break
                convo = [*convo, {"role": "assistant", "content": fb.text},
                         {"role": "user", "content": REVISE_PROMPT.format(feedback=fb.text)}]
                [rev] = await engine.generate(GenerationRequest(messages=convo, max_tokens=p.max_tokens,
                                                                temperature=p.temperature, seed=seed), role="policy")
                versions.append(to_candidate(problem, rev, round=r + 1))
                if p.history:
                    past = convo[len(problem.messages):]  # ends with the request this revision answered
        except BudgetExhausted:
            exhausted = True
        if not versions:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        exhausted = exhausted or cut_by_budget(versions)
        # the latest version with an answer: a revision the budget cut before its answer is no better
        chosen = max(range(len(versions)), key=lambda i: (versions[i].answer is not None, i))
        if self.scorer is not None:
            try:
                scores = await self.scorer.score(problem, versions, engine)
                for c, s in zip(versions, scores):
                    c.score = s
                chosen = max(range(len(versions)), key=lambda i: (versions[i].answer is not None, rank(scores[i]), i))
                exhausted = exhausted or unscored_by_budget(versions)
            except BudgetExhausted:
                exhausted = True
        best = versions[chosen]
        return Result(answer=best.answer, text=best.text, strategy=self.spec, candidates=versions,
                      budget_exhausted=exhausted, trace={"rounds": rounds, "chosen_version": chosen})
