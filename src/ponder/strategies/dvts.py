"""Diverse verifier tree search (DVTS).

Paper: Beeching, Tunstall and Rush, "Scaling test-time compute with open models" (Hugging Face,
2024), the extension of PRM beam search (arXiv 2408.03314) in search-and-learn: the N budget is split
into N/M independent subtrees; each subtree is expanded M ways per step and keeps only its best
step by the PRM (greedy by PRM), so subtrees stay diverse. Answers from all subtrees are pooled by
PRM-weighted vote (``select=vote``, default) or the single best. Defaults: N = 16, M = 4.
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

    async def subtree(self, problem: Problem, root: Node, tree: Tree, stepper: Stepper, engine: Engine) -> Node:
        p: BeamParams = self.params  # type: ignore[assignment]
        node = root
        for _ in range(p.max_steps - 1):
            if node.terminal:
                break
            kids = [tree.add(node.id, s.text, terminal=s.terminal) for s in await stepper.expand(node.text, p.width)]
            for k in kids:
                k.score = await self.evaluate(problem, k, stepper, engine)
            node = max(kids, key=lambda k: k.score or 0.0)
        return node

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BeamParams = self.params  # type: ignore[assignment]
        stepper = Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                          temperature=p.temperature, seed=p.seed)
        tree = Tree()
        exhausted = False
        leaves: list[Node] = []
        steppers: list[Stepper] = []
        try:
            roots = [tree.add(0, s.text, terminal=s.terminal) for s in await stepper.expand("", max(1, p.n // p.width))]
            for r in roots:
                r.score = await self.evaluate(problem, r, stepper, engine)
            # each subtree samples with its own seed stream, so concurrency cannot change the result
            steppers = [Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                                temperature=p.temperature, seed=None if p.seed is None else p.seed + 7919 * (i + 1))
                        for i in range(len(roots))]
            results, exhausted = await gather_within_budget(*(self.subtree(problem, r, tree, st, engine)
                                                              for r, st in zip(roots, steppers)))
            leaves += [r if res is None else res for r, res in zip(roots, results)]  # stopped: its root
        except BudgetExhausted:
            exhausted = True
        stepper.delimiter_seen = stepper.delimiter_seen or any(st.delimiter_seen for st in steppers)
        stepper.stop_unknown = stepper.stop_unknown or any(st.stop_unknown for st in steppers)
        return self.finish(problem, tree, leaves, exhausted, stepper)
