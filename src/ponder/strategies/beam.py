"""PRM-guided step-level beam search.

Paper: Snell et al., "Scaling LLM Test-Time Compute Optimally can be More Effective than Scaling
Model Parameters", arXiv 2408.03314 (as in huggingface/search-and-learn). N candidate first steps are
sampled and scored by a PRM; the top N/M survive and each is expanded M ways; finished paths are set
aside; repeat until N paths finished or ``max_steps``. Identical beams are kept once.
``lookahead=k`` scores a step after rolling k greedy steps forward (scored, not kept). The answer is
the finished path with the best aggregated PRM score (``select=vote`` sums scores per answer).
Defaults from the paper: N = 16, M = 4, temperature 0.8, score of the last step; ``delimiter`` is the
lab's ``;`` (use ``'\\n\\n'`` for chat models).
"""

from __future__ import annotations

import asyncio

from typing import Any, Literal

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import build_scorer
from ..scorers.prm import PRMScorer, aggregate
from ..types import Candidate, Problem, Result
from .base import Params, Strategy, answer_of, cut_by_budget
from .stepping import Node, Stepper, Tree, dedupe
from .voting import vote


class BeamParams(Params):
    n: int = Field(16, gt=0, le=1024)
    width: int = Field(4, gt=0)
    max_steps: int = Field(12, gt=0)
    lookahead: int = Field(0, ge=0)
    scorer: Any = "prm"
    select: Literal["best", "vote"] = "best"
    delimiter: str = Field(";", min_length=1)
    step_tokens: int = Field(48, gt=0)
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _width(self) -> "BeamParams":
        if self.width > self.n:
            raise ValueError(f"width={self.width} is larger than n={self.n}; each of the n/width beams is "
                             "expanded width ways, so width must be at most n")
        if self.n % self.width:
            raise ValueError(f"n={self.n} is not a multiple of width={self.width}: the n/width beams expanded "
                             f"width ways would be {self.n // self.width * self.width} candidates, not n; give "
                             f"e.g. n={self.n // self.width * self.width or self.width} or "
                             f"n={(self.n // self.width + 1) * self.width}")
        return self


class BeamSearch(Strategy):
    name = "beam"
    summary = "PRM-guided step beam search: keep the top n/width beams, expand each width ways"
    paper = "arXiv 2408.03314"
    Params = BeamParams

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        super().__init__(params, spec)
        self.scorer = build_scorer(self.params.scorer)  # type: ignore[attr-defined]

    def check(self, engine: Engine) -> None:
        engine.require("prefix_continuation", f"{self.name} (step-level search)")
        self.scorer.check(engine)

    async def score_path(self, problem: Problem, text: str, engine: Engine, partial: bool = False) -> float:
        """The scorer's value of a path; ``partial``: the path is unfinished (a scorer such as
        ``exact`` then judges its steps so far, not a final answer)."""
        if isinstance(self.scorer, PRMScorer):
            steps = await self.scorer.step_scores(problem, text, engine)
            return aggregate(steps, self.scorer.params.agg)  # type: ignore[attr-defined]
        cand = Candidate(text=text, answer=None, finish_reason="partial" if partial else "stop")
        cand.answer = answer_of(problem, text).value
        return (await self.scorer.score(problem, [cand], engine))[0]

    async def evaluate(self, problem: Problem, node: Node, stepper: Stepper, engine: Engine) -> float:
        p: BeamParams = self.params  # type: ignore[assignment]
        text, done = node.text, node.terminal
        if p.lookahead and not node.terminal:  # roll k greedy steps forward to judge this step
            for _ in range(p.lookahead):
                ahead = await stepper.expand(text, 1, temperature=0.0)
                if not ahead:  # the budget did not draw it
                    break
                [nxt] = ahead
                text, done = text + nxt.text, nxt.terminal
                if nxt.terminal:
                    break
        return await self.score_path(problem, text, engine, partial=not done)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BeamParams = self.params  # type: ignore[assignment]
        stepper = Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                          temperature=p.temperature, seed=p.seed)
        tree = Tree()
        finished: list[Node] = []
        exhausted = False
        keep = max(1, p.n // p.width)
        try:
            frontier = [(0, s) for s in await stepper.expand("", p.n)]
            for depth in range(p.max_steps):
                frontier = dedupe(frontier, key=lambda ps: tree.nodes[ps[0]].text + ps[1].text)
                nodes = [tree.add(parent, s.text, terminal=s.terminal, finish=s.finish_reason) for parent, s in frontier]
                for nd in nodes:
                    nd.score = await self.evaluate(problem, nd, stepper, engine)
                finished += [nd for nd in nodes if nd.terminal]
                active = sorted((nd for nd in nodes if not nd.terminal), key=lambda nd: -(nd.score or 0.0))[:keep]
                if not active or len(finished) >= p.n or depth == p.max_steps - 1:
                    finished += active if not finished else []
                    break
                # the kept beams expand side by side (one batch on a local model), each with the
                # seed it would have had one after another; all end before a budget error is raised
                expanded = await asyncio.gather(*(stepper.expand(nd.text, p.width) for nd in active),
                                                return_exceptions=True)
                for out in expanded:
                    if isinstance(out, BaseException):
                        raise out
                frontier = [(nd.id, s) for nd, steps in zip(active, expanded) for s in steps]
                if stepper.budget_cut and not frontier:  # the budget drew none of the next steps
                    finished += active if not finished else []
                    break
        except BudgetExhausted:
            exhausted = True
            if not finished:
                finished = [nd for nd in tree.nodes[1:] if nd.score is not None]
        return self.finish(problem, tree, finished, exhausted, stepper)

    def finish(self, problem: Problem, tree: Tree, finished: list[Node], exhausted: bool,
               stepper: Stepper) -> Result:
        p: BeamParams = self.params  # type: ignore[assignment]
        # a path the model did not finish (the steps or the budget ran out) has not answered yet; a
        # finished node that is not the tree's own is a rollout (mcts) from the tree node of its id;
        # one whose last step the budget cut says ``budget``, and so does the result
        cands = [Candidate(text=nd.text, answer=answer_of(problem, nd.text, cut=not nd.terminal).value,
                           finish_reason="stop" if nd.terminal else ("budget" if nd.finish == "budget" else "length"),
                           score=nd.score, meta={"node": nd.id, "terminal": nd.terminal,
                                                 **({"rollout": True} if nd is not tree.nodes[nd.id] else {})})
                 for nd in finished]
        exhausted = exhausted or stepper.budget_cut or cut_by_budget(cands)
        note = None
        if not stepper.delimiter_seen and cands:
            if any(nd.depth > 1 for nd in tree.nodes):  # samples longer than a step went on in pieces
                note = (f"the step delimiter {p.delimiter!r} never occurred: the samples were cut into steps of "
                        f"step_tokens={p.step_tokens} tokens instead, scored mid-sentence (give the delimiter "
                        "this model writes between steps)")
            else:
                note = f"the step delimiter {p.delimiter!r} never occurred: the search degraded to whole samples"
        if stepper.stop_unknown:
            note = (f"the server drops stop strings without saying which one ended a sample (no stop_reason), "
                    f"so a step that ended at {p.delimiter!r} could not be told from a finished answer: such "
                    "steps were taken as answers; use a server that reports it (vLLM, SGLang, ponder serve) or "
                    "keeps it in the text")
        if not cands:  # only a budget that stopped the search before any step was scored leaves none
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=exhausted,
                          trace=tree.to_trace(None, note=note or "no path was scored"))
        if p.select == "vote":
            v = vote(cands, kind=problem.answer_kind, weights=[c.score or 0.0 for c in cands])
            best = v.index if v.index is not None else 0
        else:
            best = max(range(len(cands)), key=lambda i: (cands[i].answer is not None, cands[i].score or 0.0, -i))
        chosen = cands[best]
        return Result(answer=chosen.answer, text=chosen.text, strategy=self.spec, candidates=cands,
                      budget_exhausted=exhausted,
                      trace=tree.to_trace(chosen.meta["node"], note=note, finished=len(cands)))
