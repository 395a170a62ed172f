"""Tree of Thoughts, breadth-first: propose k next steps per state, value them, keep the best b.

Paper: Yao et al., "Tree of Thoughts: Deliberate Problem Solving with Large Language Models",
arXiv 2305.10601. Values come from a scorer (``prm`` by default, ``exact`` where the task can check
a partial answer, or ``value=llm`` for the paper's sure/likely/impossible value prompt). After the
last level, each kept state is completed greedily and the best-scored answer wins. Defaults from
the paper's Game of 24 set-up: breadth b = 5, depth 4 (three operations and the answer).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import GenerationRequest, Problem, Result
from .beam import BeamParams, BeamSearch
from .base import gather_within_budget
from .stepping import Node, Stepper, Tree, dedupe

VALUE_PROMPT = ("Problem:\n{question}\n\nPartial solution:\n{path}\n\nCan this partial solution still reach a "
                "correct answer? Reply with one word: sure, likely or impossible.")
VALUE_WORDS = {"sure": 1.0, "likely": 0.5, "impossible": 0.0}


class TotParams(BeamParams):
    breadth: int = Field(5, gt=0)
    proposals: int = Field(4, gt=0)
    depth: int = Field(4, gt=0)
    value: Literal["scorer", "llm"] = "scorer"
    n: int = Field(16, gt=0)  # unused by tot; kept so beam's validation holds
    width: int = Field(1, gt=0)


class TreeOfThoughts(BeamSearch):
    name = "tot"
    summary = "tree of thoughts (BFS): propose k steps per state, value them, keep the best b"
    paper = "arXiv 2305.10601"
    Params = TotParams

    async def value_of(self, problem: Problem, node: Node, engine: Engine) -> float:
        p: TotParams = self.params  # type: ignore[assignment]
        if p.value == "scorer":
            return await self.score_path(problem, node.text, engine, partial=not node.terminal)
        prompt = VALUE_PROMPT.format(question=problem.question, path=node.text)
        [s] = await engine.generate(GenerationRequest(messages=[{"role": "user", "content": prompt}], max_tokens=8,
                                                      temperature=0.0), role="value")
        m = re.search(r"sure|likely|impossible", s.text.lower())
        return VALUE_WORDS[m.group(0)] if m else 0.0

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
                kids = [tree.add(state.id, s.text, terminal=s.terminal) for state, s in proposed]
                for k in kids:
                    k.score = await self.value_of(problem, k, engine)
                finished += [k for k in kids if k.terminal]
                frontier = sorted((k for k in kids if not k.terminal), key=lambda k: -(k.score or 0.0))[:p.breadth]
                if not frontier:
                    break
            tails, stopped = await gather_within_budget(*(stepper.rollout(st.text, max_tokens=p.step_tokens * 4)
                                                          for st in frontier))
            exhausted = stopped
            for st, tail in zip(frontier, tails):
                if tail is None:
                    continue
                leaf = tree.add(st.id, tail, terminal=True)
                leaf.score = await self.score_path(problem, leaf.text, engine)
                finished.append(leaf)
        except BudgetExhausted:
            exhausted = True
        return self.finish(problem, tree, finished, exhausted, stepper)
