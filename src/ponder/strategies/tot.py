"""Tree of Thoughts, breadth-first: propose k next steps per state, value them, keep the best b.

Paper: Yao et al., "Tree of Thoughts: Deliberate Problem Solving with Large Language Models",
arXiv 2305.10601. Values come from a scorer (``prm`` by default, ``exact`` where the task can check
a partial answer), or with ``value=llm`` from the paper's sure/likely/impossible value prompt, which
then values every state, the final completions too (with the paper's last-step variant, "is this
answer correct"), and no scorer is loaded: as in the paper, the prompt is sampled ``value_samples``
times (3, at temperature 0.7) and a state's value is the sum of sure = 20, likely = 1,
impossible = 0.001 (a reply with none of the words adds 0). After the last level, each kept state is completed
greedily and the best-valued answer wins (``select=vote`` sums values per answer). Defaults from
the paper's Game of 24 set-up: breadth b = 5, depth 4 (three operations and the answer).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted
from ..scorers import build_scorer
from ..types import GenerationRequest, Problem, Result
from .beam import BeamSearch
from .base import Params, Strategy, gather_within_budget
from .stepping import Node, Stepper, Tree, dedupe

VALUE_PROMPT = ("Problem:\n{question}\n\nPartial solution:\n{path}\n\nCan this partial solution still reach a "
                "correct answer? Reply with one word: sure, likely or impossible.")
FINAL_VALUE_PROMPT = ("Problem:\n{question}\n\nSolution:\n{path}\n\nIs this solution's final answer correct? "
                      "Reply with one word: sure, likely or impossible.")
VALUE_WORDS = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}  # the paper's Game of 24 values


class TotParams(Params):
    breadth: int = Field(5, gt=0, le=1024)  # as beam's n: one step draws breadth x proposals samples
    proposals: int = Field(4, gt=0, le=1024)
    depth: int = Field(4, gt=0, le=1024)
    value: Literal["scorer", "llm"] = "scorer"
    value_samples: int = Field(3, gt=0, le=64)  # value=llm: samples of the value prompt a state
    value_temperature: float = Field(0.7, ge=0.0, le=5.0)
    scorer: Any = "prm"
    select: Literal["best", "vote"] = "best"
    delimiter: str = Field(";", min_length=1)
    step_tokens: int = Field(48, gt=0)
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _scorer_or_llm(self) -> "TotParams":
        if self.value == "llm" and "scorer" in self.model_fields_set:
            raise ValueError(f"scorer={self.scorer} is not used with value=llm (the value prompt values every "
                             "state); give value=scorer to value states with a scorer, or drop scorer=")
        return self


class TreeOfThoughts(BeamSearch):
    name = "tot"
    summary = "tree of thoughts (BFS): propose k steps per state, value them, keep the best b"
    paper = "arXiv 2305.10601"
    Params = TotParams  # type: ignore[assignment]

    def runs(self) -> int:
        """The samples a step draws, breadth x proposals (``ponder serve`` bounds them with its
        ``max_runs``: before, tot(breadth=100000, proposals=100000) was one run and passed)."""
        p: TotParams = self.params  # type: ignore[assignment]
        return p.breadth * p.proposals

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        Strategy.__init__(self, params, spec)  # not beam's: with value=llm no scorer is built (nor loaded)
        p: TotParams = self.params  # type: ignore[assignment]
        self.scorer = build_scorer(p.scorer) if p.value == "scorer" else None  # type: ignore[assignment]

    def check(self, engine: Engine) -> None:
        engine.require("prefix_continuation", f"{self.name} (step-level search)")
        if self.scorer is not None:
            self.scorer.check(engine)

    async def value_of(self, problem: Problem, node: Node, engine: Engine) -> float:
        """A state's value: the scorer's, or the value prompt's (the last-step prompt for a finished one)."""
        p: TotParams = self.params  # type: ignore[assignment]
        if p.value == "scorer":
            return await self.score_path(problem, node.text, engine, partial=not node.terminal)
        prompt = (FINAL_VALUE_PROMPT if node.terminal else VALUE_PROMPT).format(question=problem.question,
                                                                                 path=node.text)
        seed = None if p.seed is None else p.seed + node.id  # the same state gets the same samples
        samples = await engine.generate(GenerationRequest(
            messages=[{"role": "user", "content": prompt}], max_tokens=8, n=p.value_samples,
            temperature=p.value_temperature, seed=seed), role="value")
        if any(s.finish_reason == "budget" for s in samples):  # cut or not drawn: not a vote
            node.meta["value_cut_by_budget"] = True
        words = [re.search(r"sure|likely|impossible", s.text.lower()) for s in samples if s.finish_reason != "budget"]
        return sum(VALUE_WORDS[m.group(0)] for m in words if m)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: TotParams = self.params  # type: ignore[assignment]
        stepper = Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                          temperature=p.temperature, seed=p.seed)
        tree = Tree()
        frontier = [tree.nodes[0]]
        finished: list[Node] = []
        exhausted = False
        try:
            for _ in range(p.depth):
                proposed = []
                for state in frontier:
                    proposed += [(state, s) for s in await stepper.expand(state.text, p.proposals)]
                proposed = dedupe(proposed, key=lambda ss: ss[0].text + ss[1].text)
                kids = [tree.add(state.id, s.text, terminal=s.terminal, finish=s.finish_reason)
                        for state, s in proposed]
                if not kids and stepper.budget_cut:  # the budget drew no next step: the states so far
                    finished += [st for st in frontier if st.id] if not finished else []
                    frontier = []
                    break
                for k in kids:
                    k.score = await self.value_of(problem, k, engine)
                finished += [k for k in kids if k.terminal]
                frontier = sorted((k for k in kids if not k.terminal), key=lambda k: -(k.score or 0.0))[:p.breadth]
                if not frontier:
                    break
            tails, stopped = await gather_within_budget(*(stepper.rollout(st.text, max_tokens=p.step_tokens * 4)
                                                          for st in frontier))
            exhausted = stopped
            for st, roll in zip(frontier, tails):
                if roll is None:
                    continue
                leaf = tree.add(st.id, roll.text, terminal=roll.terminal,  # cut: it has not answered yet
                                finish=roll.finish_reason)
                exhausted = exhausted or roll.finish_reason == "budget"
                leaf.score = await self.value_of(problem, leaf, engine)
                finished.append(leaf)
        except BudgetExhausted:
            exhausted = True
        exhausted = exhausted or stepper.budget_cut or any(nd.meta.get("value_cut_by_budget") for nd in tree.nodes)
        if exhausted and not finished:  # the budget ended it before any path did: its best state so far,
            finished = [nd for nd in tree.nodes[1:] if nd.score is not None]  # as beam search returns
        return self.finish(problem, tree, finished, exhausted, stepper)
