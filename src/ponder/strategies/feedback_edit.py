"""Dedicated feedback and edit models: a generator drafts, a feedback model critiques, an edit model
rewrites, and a selector picks among the edited candidates.

Paper: Wang et al., "Dedicated Feedback and Edit Models Empower Inference-Time Scaling for
Open-Ended General-Domain Tasks", arXiv 2503.04378. Each of generator, feedback and editor is its
own model spec (by default the policy for all three). ``n`` drafts x ``feedbacks`` critiques x
``edits`` edits; the selector is a scorer (``scorer=``), or a majority vote over the edited answers
when none is given. The paper scales drafts, feedbacks and edits together; its defaults
are larger than these laptop-sized ones (n = 2, feedbacks = 2, edits = 1). When the budget cut
the edits and none has an answer, the selector picks among the drafts (the result says so).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import build_scorer, rank, unscored_by_budget
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import Params, Strategy, cut_by_budget, derive_seed, gather_within_budget, to_candidate
from .cot import Cot, CotParams
from .voting import vote

FEEDBACK_PROMPT = ("Here is a problem and a response.\n\nProblem:\n{question}\n\nResponse:\n{response}\n\n"
                   "Give concise, specific feedback: which steps are wrong or unclear, and how to fix them.")
EDIT_PROMPT = ("Problem:\n{question}\n\nDraft response:\n{response}\n\nFeedback:\n{feedback}\n\n"
               "Rewrite the response, applying the feedback. End with 'Answer: <answer>'.")


class FeedbackEditParams(Params):
    n: int = Field(2, gt=0, le=64)
    feedbacks: int = Field(2, gt=0, le=16)
    edits: int = Field(1, gt=0, le=16)
    generator: str | None = None
    feedback: str | None = None
    editor: str | None = None
    scorer: Any = None
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    max_tokens: int = Field(1024, gt=0)
    seed: int | None = None


class FeedbackEdit(Strategy):
    name = "feedback_edit"
    summary = "generator, feedback and edit models (each any model spec), then a selector over the edits"
    paper = "arXiv 2503.04378"
    Params = FeedbackEditParams

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        super().__init__(params, spec)
        s = self.params.scorer  # type: ignore[attr-defined]
        self.scorer = build_scorer(s) if s is not None else None

    def _engines(self, engine: Engine) -> tuple[Engine, Engine, Engine]:
        p: FeedbackEditParams = self.params  # type: ignore[assignment]

        def on(spec: str | None) -> Engine:
            return engine if spec is None else engine.with_model(spec)

        return on(p.generator), on(p.feedback), on(p.editor)

    def check(self, engine: Engine) -> None:
        self._engines(engine)  # bad model specs fail here
        if self.scorer is not None:
            self.scorer.check(engine)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: FeedbackEditParams = self.params  # type: ignore[assignment]
        gen, fb, ed = self._engines(engine)
        q = problem.question
        exhausted = False

        async def critique_and_edit(draft: Candidate, i: int, out: list[Candidate]) -> None:
            req = GenerationRequest(messages=[{"role": "user", "content": FEEDBACK_PROMPT.format(
                question=q, response=draft.text)}], n=p.feedbacks, max_tokens=p.max_tokens // 2,
                temperature=p.temperature, seed=None if p.seed is None else derive_seed(p.seed, i))
            notes = await fb.generate(req, role="feedback")
            for j, note in enumerate(notes):
                # hashed seeds: two equal drafts (or notes) seeded s + i and s + i + 1 would share samples
                seed = None if p.seed is None else derive_seed(p.seed, 100 * (i + 1) + j)
                ereq = GenerationRequest(messages=[{"role": "user", "content": EDIT_PROMPT.format(
                    question=q, response=draft.text, feedback=note.text)}], n=p.edits, max_tokens=p.max_tokens,
                    temperature=p.temperature, seed=seed)
                for s in await ed.generate(ereq, role="editor"):
                    out.append(to_candidate(problem, s, draft=i, feedback=note.text[:300]))

        drafts: list[Candidate] = []
        try:
            drafts = await Cot(CotParams(max_tokens=p.max_tokens)).sample(problem, gen, p.n, seed=p.seed,
                                                                           temperature=p.temperature)
        except BudgetExhausted:
            exhausted = True
        groups: list[list[Candidate]] = [[] for _ in drafts]  # each draft's edits, kept if the budget stops it
        _, stopped = await gather_within_budget(*(critique_and_edit(d, i, g)
                                                  for i, (d, g) in enumerate(zip(drafts, groups))))
        exhausted = exhausted or stopped
        edited = [c for g in groups for c in g]
        exhausted = exhausted or cut_by_budget(drafts) or cut_by_budget(edited)
        # edits the budget cut, none with an answer, do not replace a draft that has one
        fallback = cut_by_budget(edited) and all(c.answer is None for c in edited) \
            and any(d.answer is not None for d in drafts)
        pool = drafts if fallback else (edited or drafts)
        if not pool:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=True)
        scored = False
        if self.scorer is not None and not exhausted:
            try:
                for c, s in zip(pool, await self.scorer.score(problem, pool, engine)):
                    c.score = s
                best = max(range(len(pool)), key=lambda i: (rank(pool[i].score), -i))
                answer, text = pool[best].answer, pool[best].text
                scored, exhausted = True, unscored_by_budget(pool)  # the budget may have stopped some
            except BudgetExhausted:
                exhausted = True
        if not scored:
            v = vote(pool, kind=problem.answer_kind)
            best = v.index if v.index is not None else 0
            answer, text = pool[best].answer, pool[best].text
        return Result(answer=answer, text=text, strategy=self.spec, candidates=pool, budget_exhausted=exhausted,
                      trace={"drafts": [d.answer for d in drafts], "edited": len(edited), "chosen": best,
                             **({"note": "the budget cut the edits, none with an answer: chosen among the drafts"}
                                if fallback else {})})
