"""Diverse verifier tree search (DVTS).

Paper: Beeching, Tunstall and Rush, "Scaling test-time compute with open models" (Hugging Face,
2024), the extension of PRM beam search (arXiv 2408.03314) in search-and-learn: the N budget is split
into N/M independent subtrees; each subtree, from the first step on, is expanded M ways per step
and keeps only its best step by the PRM (greedy by PRM), so subtrees stay diverse. Answers from all
subtrees are pooled by PRM-weighted vote (``select=vote``, default) or the single best. Defaults:
N = 16, M = 4.
"""

from __future__ import annotations

from typing import Literal

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Problem, Result
from .base import gather_within_budget
from .beam import BeamParams, BeamSearch
from .stepping import Node, Stepper, Tree


class DvtsParams(BeamParams):
    select: Literal["best", "vote"] = "vote"


class DiverseVerifierTreeSearch(BeamSearch):
    name = "dvts"
    summary = "diverse verifier tree search: n/width independent subtrees, each greedy by PRM"
    paper = "arXiv 2408.03314 (DVTS, search-and-learn)"
    Params = DvtsParams

    async def subtree(self, problem: Problem, tree: Tree, stepper: Stepper, engine: Engine, reached: list[Node],
                      i: int) -> None:
        """Subtree ``i``: from the root, expand ``width`` ways and keep the best step by the scorer,
        until its path finishes or ``max_steps``; ``reached[i]`` is its path's end so far."""
        p: BeamParams = self.params  # type: ignore[assignment]
        node = tree.nodes[0]
        for _ in range(p.max_steps):
            if node.terminal:
                break
            kids = [tree.add(node.id, s.text, terminal=s.terminal, finish=s.finish_reason)
                    for s in await stepper.expand(node.text, p.width)]
            if not kids:  # the budget drew none of them: the path so far is this subtree's
                break
            for k in kids:
                k.score = await self.evaluate(problem, k, stepper, engine)
            node = reached[i] = max(kids, key=lambda k: k.score or 0.0)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BeamParams = self.params  # type: ignore[assignment]
        stepper = Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                          temperature=p.temperature, seed=p.seed)
        tree = Tree()
        subtrees = max(1, p.n // p.width)
        reached = [tree.nodes[0]] * subtrees
        # each subtree samples with its own seed stream, so concurrency cannot change the result
        steppers = [Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                            temperature=p.temperature, seed=None if p.seed is None else p.seed + 7919 * (i + 1))
                    for i in range(subtrees)]
        try:
            _, exhausted = await gather_within_budget(*(self.subtree(problem, tree, st, engine, reached, i)
                                                        for i, st in enumerate(steppers)))
        except BudgetExhausted:
            exhausted = True
        leaves = [nd for nd in reached if nd is not tree.nodes[0]]  # a subtree the budget stopped: its path so far
        stepper.delimiter_seen = stepper.delimiter_seen or any(st.delimiter_seen for st in steppers)
        stepper.stop_unknown = stepper.stop_unknown or any(st.stop_unknown for st in steppers)
        stepper.budget_cut = any(st.budget_cut for st in steppers)
        exhausted = exhausted or stepper.budget_cut
        return self.finish(problem, tree, leaves, exhausted, stepper)
