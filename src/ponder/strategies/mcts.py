"""Monte Carlo tree search over reasoning steps, with the CoAT associative-memory option.

Papers: Kocsis and Szepesvári, UCT (2006) and Silver et al., PUCT (2017) for the tree policy;
Pan et al., "CoAT: Chain-of-Associated-Thoughts Framework for Enhancing Large Language Models
Reasoning", arXiv 2502.02390. Each iteration selects a path by UCT (or PUCT with the scorer's step
score as prior), expands the leaf into K children, evaluates them with the scorer, simulates one
child to a terminal answer (greedy rollout) and backpropagates the final score. A rollout is
recorded on the node it started from (``rollout``, ``rollout_score`` in the trace;
``rollout_reused`` where it is the rest of an earlier greedy rollout through the node, made with no
call) and kept as a candidate once, but it is not a child: the node is expanded when it is selected
again. A finished node, or one at ``max_depth``, is visited once; a subtree with nothing left to
visit is skipped, and the search stops early when the whole tree is. If no path finished
(``rollout=false``), the best partial path is returned, as beam search does. With
``memory=model`` (or a function given in Python as ``memory_fn(problem, path_text) -> str``) each
new node also gets an associative memory — a related fact or sub-result — carried along the path
into later expansions, and the node value adds beta x the scorer's score of that memory. Defaults:
c = 1.4 (UCT), K = 3 and beta = 0.5 (CoAT's weighting is a hyper-parameter; 0.5 is ours).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Container, Literal

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import GenerationRequest, Problem, Result
from .beam import BeamSearch
from .base import Params
from .stepping import Node, Stepper, Tree, dedupe

MEMORY_PROMPT = ("Problem:\n{question}\n\nPartial solution:\n{path}\n\nState one related fact or intermediate "
                 "result that will help finish this solution, in one short sentence.")


class MctsParams(Params):
    iterations: int = Field(16, gt=0, le=10_000)
    children: int = Field(3, gt=0, le=64)
    c: float = Field(1.4, ge=0.0)
    policy: Literal["uct", "puct"] = "uct"
    scorer: Any = "prm"
    rollout: bool = True
    select: Literal["best", "vote"] = "best"
    max_depth: int = Field(12, gt=0)
    delimiter: str = Field(";", min_length=1)
    step_tokens: int = Field(48, gt=0)
    rollout_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    memory: Literal["none", "model"] = "none"
    memory_fn: Callable[..., str] | None = None
    beta: float = Field(0.5, ge=0.0)
    memory_tokens: int = Field(32, gt=0)
    seed: int | None = None


class MonteCarloTreeSearch(BeamSearch):
    name = "mcts"
    summary = "MCTS over steps (UCT/PUCT, expansion, scorer, rollout, backprop); CoAT memory option"
    paper = "arXiv 2502.02390 (CoAT)"
    Params = MctsParams  # type: ignore[assignment]

    def select_child(self, tree: Tree, node: Node, closed: Container[int] = ()) -> Node:
        """The child to descend into by UCT/PUCT, among those with something left to visit."""
        p: MctsParams = self.params  # type: ignore[assignment]
        total = sum(tree.nodes[i].score or 0.0 for i in node.children) or 1.0
        kids = [tree.nodes[i] for i in node.children if i not in closed]

        def key(k: Node) -> float:
            if k.visits == 0:
                return math.inf if p.policy == "uct" else p.c * (k.score or 0.0) / total * math.sqrt(node.visits + 1)
            q = k.value / k.visits
            if p.policy == "uct":
                return q + p.c * math.sqrt(math.log(max(1, node.visits)) / k.visits)
            return q + p.c * (k.score or 0.0) / total * math.sqrt(node.visits) / (1 + k.visits)

        return max(kids, key=key)

    def memories(self, tree: Tree, node: Node) -> list[str]:
        return [tree.nodes[i].meta["memory"] for i in tree.path(node.id) if tree.nodes[i].meta.get("memory")]

    async def associate(self, problem: Problem, node: Node, engine: Engine) -> str | None:
        p: MctsParams = self.params  # type: ignore[assignment]
        if p.memory_fn is not None:
            return p.memory_fn(problem, node.text)
        if p.memory == "model":
            prompt = MEMORY_PROMPT.format(question=problem.question, path=node.text)
            [s] = await engine.generate(GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                                          max_tokens=p.memory_tokens, temperature=0.0), role="memory")
            return s.text.strip() or None
        return None

    def with_memory(self, problem: Problem, mems: list[str]) -> Problem:
        if not mems:
            return problem
        note = "Associated memory:\n" + "\n".join(f"- {m}" for m in mems)
        return dataclasses.replace(problem, messages=[{"role": "system", "content": note}, *problem.messages])

    @staticmethod
    def close(tree: Tree, node: Node, closed: set[int]) -> None:
        """Mark ``node`` as having nothing left to visit, and each ancestor all of whose children have not."""
        cur: Node | None = node
        while cur is not None and (cur is node or all(i in closed for i in cur.children)):
            closed.add(cur.id)
            cur = None if cur.parent is None else tree.nodes[cur.parent]

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: MctsParams = self.params  # type: ignore[assignment]
        tree = Tree()
        root = tree.nodes[0]
        finished: list[Node] = []  # terminal tree nodes, and rollouts: off-tree nodes with their start node's id
        closed: set[int] = set()  # nothing left to visit: finished, at max_depth, or every child closed
        exhausted = False
        done = 0
        stepper = Stepper(problem, engine, delimiter=p.delimiter, step_tokens=p.step_tokens,
                          temperature=p.temperature, seed=p.seed)
        try:
            while done < p.iterations and root.id not in closed:
                done += 1
                node = root
                while node.children:
                    node = self.select_child(tree, node, closed)
                if not node.terminal and node.depth < p.max_depth:
                    stepper.problem = self.with_memory(problem, self.memories(tree, node))
                    steps = dedupe(await stepper.expand(node.text, p.children), key=lambda s: s.text)
                    if stepper.budget_cut:  # a step cut or left undrawn: nothing more can be drawn
                        exhausted = True
                    if not steps:  # the budget drew none: the search stops here
                        break
                    for s in steps:
                        kid = tree.add(node.id, s.text, terminal=s.terminal, finish=s.finish_reason)
                        kid.score = await self.score_path(problem, kid.text, engine, partial=not kid.terminal)
                        mem = await self.associate(problem, kid, engine)
                        if mem:
                            kid.meta["memory"] = mem
                            kid.score += p.beta * await self.score_path(problem, kid.text + " " + mem, engine,
                                                                        partial=not kid.terminal)
                    node = max((tree.nodes[i] for i in node.children), key=lambda k: k.score or 0.0)
                value = node.score or 0.0
                if node.terminal:
                    finished.append(node)
                elif p.rollout:  # simulate; the rollout is kept on the node, not as a child that would block it
                    reused = stepper.reused_rollouts
                    stepper.problem = self.with_memory(problem, self.memories(tree, node))  # this path's own
                    roll = await stepper.rollout(node.text, max_tokens=p.rollout_tokens)
                    value = await self.score_path(problem, node.text + roll.text, engine, partial=not roll.terminal)
                    node.meta["rollout"], node.meta["rollout_score"] = roll.text, round(value, 4)
                    if stepper.reused_rollouts > reused:  # the rest of an earlier greedy rollout: no call
                        node.meta["rollout_reused"] = True
                    if not roll.terminal:  # cut by rollout_tokens or the budget: it has not answered yet
                        node.meta["rollout_finish"] = roll.finish_reason
                    finished.append(Node(node.id, node.text + roll.text, roll.text, node.parent, node.depth,
                                         score=value, terminal=roll.terminal, finish=roll.finish_reason))
                    exhausted = exhausted or roll.finish_reason == "budget"
                for i in tree.path(node.id):
                    tree.nodes[i].visits += 1
                    tree.nodes[i].value += value
                if node.terminal or node.depth >= p.max_depth:
                    self.close(tree, node, closed)
                if exhausted:  # the budget cut the rollout: nothing more can be drawn
                    break
        except BudgetExhausted:
            exhausted = True
        stepper.problem = problem
        unfinished = not finished
        if unfinished:  # no path finished (rollout=false): the best partial path, as beam search returns
            finished = [nd for nd in tree.nodes[1:] if nd.score is not None]
        result = self.finish(problem, tree, finished, exhausted, stepper)
        result.trace["iterations"] = done
        result.trace["rollouts_reused"] = stepper.reused_rollouts
        notes = [result.trace.get("note")]
        if root.id in closed and done < p.iterations:
            notes.append(f"the tree was exhausted after {done} of {p.iterations} iterations: every path finished "
                         f"or reached max_depth={p.max_depth}")
        if unfinished and not exhausted:
            notes.append(f"no path finished in {done} iterations (rollout={str(p.rollout).lower()}, "
                         f"max_depth={p.max_depth}): the answer is the best-scored partial path's, if it has one")
        result.trace["note"] = "; ".join(n for n in notes if n) or None
        return result
