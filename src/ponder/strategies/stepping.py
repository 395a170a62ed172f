"""Step-level generation shared by the search strategies (beam, dvts, mcts, tot, backtrack).

A *step* is the model's text up to and including the step delimiter (default ``;``, the lab's; a
blank line ``\\n\\n`` suits most chat models). Steps continue the partial assistant message, so the
backend's prefix cache applies: on ``hf`` the KV cache of the common prefix is reused; on
OpenAI-compatible servers the continuation goes through the completions endpoint (``?tokenizer=``)
or the chat endpoint's continuation of the last assistant message (``?continue=vllm``), and the
server's prefix cache. A path is terminal when the model ended its turn (or wrote its answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Engine
from ..types import GenerationRequest, Problem, Sample


def undrawn(sample: Sample) -> bool:
    """A sample the budget did not reach (the Engine's filler): no text, no tokens, ``budget``."""
    return sample.finish_reason == "budget" and not sample.text and not sample.completion_tokens \
        and not sample.logprobs


@dataclass
class Step:
    text: str  # the new step, delimiter included when the model wrote one
    terminal: bool  # the model ended its turn: the path is complete
    finish_reason: str
    tokens: int | None
    logprob: float | None = None  # sum of token log-probabilities, where asked for


@dataclass
class Node:
    """A node of a recorded search tree."""

    id: int
    text: str  # the whole path text up to here (assistant prefix)
    step: str
    parent: int | None
    depth: int
    score: float | None = None
    visits: int = 0
    value: float = 0.0
    terminal: bool = False
    children: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    finish: str | None = None  # the finish reason of the step's sample (``budget``: the budget cut it)


class Tree:
    """The search tree, kept for ``Result.trace`` (``ponder solve --trace`` prints it)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = [Node(0, "", "", None, 0)]

    def add(self, parent: int, step: str, *, terminal: bool = False, score: float | None = None,
            finish: str | None = None) -> Node:
        p = self.nodes[parent]
        node = Node(len(self.nodes), p.text + step, step, parent, p.depth + 1, score=score, terminal=terminal,
                    finish=finish)
        self.nodes.append(node)
        p.children.append(node.id)
        return node

    def path(self, node_id: int) -> list[int]:
        out = []
        cur: int | None = node_id
        while cur is not None:
            out.append(cur)
            cur = self.nodes[cur].parent
        return out[::-1]

    def to_trace(self, chosen: int | None, **extra: Any) -> dict[str, Any]:
        chosen_path = set(self.path(chosen)) if chosen is not None else set()
        return {
            "nodes": [{"id": n.id, "parent": n.parent, "depth": n.depth, "step": n.step,
                       "score": None if n.score is None else round(n.score, 4), "visits": n.visits,
                       "terminal": n.terminal, "chosen": n.id in chosen_path, **n.meta} for n in self.nodes],
            "chosen": chosen,
            **extra,
        }


class Stepper:
    """Generates steps for one problem through the Engine."""

    def __init__(self, problem: Problem, engine: Engine, *, delimiter: str, step_tokens: int,
                 temperature: float, seed: int | None = None, logprobs: bool = False) -> None:
        engine.require("prefix_continuation", "step-level search")
        self.problem = problem
        self.engine = engine
        self.delimiter = delimiter
        self.step_tokens = step_tokens
        self.temperature = temperature
        self.seed = seed
        self.logprobs = logprobs
        self.calls = 0
        self.reused_rollouts = 0  # greedy rollouts answered from an earlier one (see rollout)
        self._greedy: list[tuple[str, str, str, int]] = []  # (messages, start, whole text, max_tokens)
        self.delimiter_seen = False
        self.stop_unknown = False  # the server did not say whether a step ended at the delimiter
        self.budget_cut = False  # the budget cut a step, or left a sample of an expansion undrawn

    async def expand(self, prefix: str, k: int, *, temperature: float | None = None,
                     stop: list[str] | None = None) -> list[Step]:
        """``k`` sampled next steps after ``prefix`` (one call; the samples share its prefill).

        A sample the budget did not draw (the Engine's empty filler) is no step and is left out, so
        fewer than ``k`` may come back; that, or a step the budget cut (finish reason ``budget``),
        sets ``budget_cut``."""
        seed = None if self.seed is None else self.seed + self.calls
        self.calls += 1
        req = GenerationRequest(messages=self.problem.messages, prefix=prefix, n=k,
                                stop=[self.delimiter, *(stop or [])], max_tokens=self.step_tokens,
                                temperature=self.temperature if temperature is None else temperature,
                                seed=seed, logprobs=self.logprobs)
        steps = []
        for s in await self.engine.generate(req):
            if s.finish_reason == "budget":
                self.budget_cut = True
            if undrawn(s):
                continue
            if s.matched_stop == self.delimiter:
                self.delimiter_seen = True
            self.stop_unknown = self.stop_unknown or s.stop_unknown
            terminal = s.finish_reason == "stop" and s.matched_stop is None
            text = s.text + (s.matched_stop if s.matched_stop else "")
            steps.append(Step(text=text, terminal=terminal, finish_reason=s.finish_reason,
                              tokens=s.completion_tokens, logprob=sum(s.logprobs) if s.logprobs else None))
        return steps

    async def rollout(self, prefix: str, *, temperature: float = 0.0, max_tokens: int = 512) -> Step:
        """Continue ``prefix`` to the end of the turn (lookahead and simulation): the new text as a
        Step, terminal only where the model ended its turn (not where its tokens or the budget ran out).

        A greedy rollout is not run again where an earlier one passed through ``prefix``: one that
        started at a prefix of it (the same messages, a budget no larger) and ended its turn past it
        is the model's greedy continuation of ``prefix`` too, so its rest is returned, with no call
        (in mcts on lab ``arith`` about half of the rollouts are the rest of one before them). The
        seed stream goes on as if the call were made, so the samples after it do not change."""
        seed = None if self.seed is None else self.seed + self.calls
        self.calls += 1
        said = repr(self.problem.messages)
        if temperature == 0.0:
            for messages, start, whole, budget in self._greedy:
                if (messages == said and budget <= max_tokens and prefix.startswith(start)
                        and whole.startswith(prefix) and len(whole) > len(prefix)):
                    self.reused_rollouts += 1
                    return Step(text=whole[len(prefix):], terminal=True, finish_reason="stop", tokens=None)
        [s] = await self.engine.generate(GenerationRequest(
            messages=self.problem.messages, prefix=prefix, max_tokens=max_tokens, temperature=temperature, seed=seed))
        self.budget_cut = self.budget_cut or s.finish_reason == "budget"
        if temperature == 0.0 and s.finish_reason == "stop":
            self._greedy.append((said, prefix, prefix + s.text, max_tokens))
        return Step(text=s.text, terminal=s.finish_reason == "stop", finish_reason=s.finish_reason,
                    tokens=s.completion_tokens)


def dedupe(items: list[Any], key: Any) -> list[Any]:
    seen, out = set(), []
    for it in items:
        k = key(it)
        if k not in seen:
            seen.add(k)
            out.append(it)
    return out
