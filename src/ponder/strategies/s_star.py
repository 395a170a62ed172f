"""S*: parallel code samples, each self-debugged on the public tests, then selection by execution.

Stage 1 draws n programs and gives each up to k rounds of debugging with its public-test results in
the conversation; stage 2 asks the model for inputs that tell the survivors apart, groups them by
output, and settles pairs of groups with judge verdicts in both orders (only consistent ones count).
Paper: Li et al., "S*: Test Time Scaling for Code Generation", arXiv 2502.14382. Defaults from the
paper: n = 16 samples at temperature 0.7, k = 2 debugging rounds, adaptive input synthesis and
execution-grounded pairwise selection. Fallbacks: the largest output group, then the first passing
sample; with no public tests stage 1 skips debugging (the trace says so).
"""

from __future__ import annotations

import ast
import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from ..answers import extract_code
from ..engine import Engine
from ..errors import BudgetExhausted, StrategySpecError
from ..scorers.execution import record_execution
from ..sandbox.harness import TestReport, arun_tests, assemble
from ..types import Candidate, GenerationRequest, Problem, Result
from .base import Params, Strategy

CODE_INSTRUCTION = "Write a Python solution. Reply with the complete code in a single ```python code block."


class SStarParams(Params):
    n: int = Field(16, gt=0, le=256)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    rounds: int = Field(2, ge=0, le=16)
    max_tokens: int = Field(2048, gt=0)
    inputs: int = Field(8, gt=0, le=64)
    max_groups: int = Field(6, ge=2, le=32)
    judge: str | None = None
    test_seconds: float = Field(5.0, gt=0.0, le=120.0)
    seed: int | None = None


@dataclass
class _Sample:
    """One line of stage 1: its conversation, current code and latest public-test report."""

    index: int
    messages: list[dict[str, str]]
    text: str
    finish_reason: str
    code: str = ""
    report: TestReport | None = None
    rounds: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return self.report is not None and self.report.ok


def parse_inputs(text: str, entry_point: str, limit: int) -> list[str]:
    """Calls of ``entry_point`` in the model's reply (one per line; ``assert f(x) == y`` gives f(x))."""
    body = extract_code(text) or text
    found: list[str] = []
    for line in body.splitlines():
        line = line.strip().rstrip(",;")
        if not line or line.startswith("#"):
            continue
        try:
            node = ast.parse(line, mode="exec").body
        except SyntaxError:
            continue
        if len(node) != 1:
            continue
        stmt = node[0]
        expr = stmt.test if isinstance(stmt, ast.Assert) else getattr(stmt, "value", None)
        if isinstance(expr, ast.Compare):
            expr = expr.left
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == entry_point:
            found.append(ast.unparse(expr))
    return list(dict.fromkeys(found))[:limit]


def parse_verdict(text: str) -> str | None:
    """'A' or 'B' from a judge reply (its last 'Answer: X'), else None."""
    hits = re.findall(r"answer\s*(?:is)?\s*[:\-]?\s*\**\(?\s*([AB])\b", text, re.I)
    if hits:
        return hits[-1].upper()
    bare = text.strip().strip(".*() ").upper()
    return bare if bare in ("A", "B") else None


class SStar(Strategy):
    name = "s_star"
    summary = "S*: n code samples self-debugged on public tests, then execution-grounded pairwise selection"
    paper = "arXiv 2502.14382"
    Params = SStarParams

    def check(self, engine: Engine) -> None:
        super().check(engine)
        p: SStarParams = self.params  # type: ignore[assignment]
        if p.judge:
            engine.load_model(p.judge)  # a bad spec fails here, before any call

    def check_problem(self, problem: Problem, engine: Engine) -> None:
        super().check_problem(problem, engine)
        if problem.answer_kind not in ("code", "auto"):
            raise StrategySpecError(
                f"s_star writes programs and runs them; problem {problem.id!r} wants a {problem.answer_kind} "
                "answer, not code. Use it on a code task (humaneval, a JSONL file of code problems) or a "
                "free-form question; for this task try sc, bon or beam")

    def _judge_engine(self, engine: Engine) -> Engine:
        p: SStarParams = self.params  # type: ignore[assignment]
        return engine.with_model(p.judge) if p.judge else engine

    # -- stage 1 ---------------------------------------------------------------------------------
    def _request(self, messages: list[dict[str, str]], n: int, temperature: float | None = None) -> GenerationRequest:
        p: SStarParams = self.params  # type: ignore[assignment]
        return GenerationRequest(messages=messages, n=n, max_tokens=p.max_tokens,
                                 temperature=p.temperature if temperature is None else temperature, seed=p.seed)

    def _solution(self, problem: Problem, text: str) -> str:
        entry = problem.meta.get("entry_point")
        code = extract_code(text, entry)  # the block that defines the function, not a usage example after it
        code = code if code is not None else text
        return assemble(code, problem.meta.get("code_prefix", ""), entry)

    async def _test(self, problem: Problem, engine: Engine, samples: list[_Sample]) -> None:
        p: SStarParams = self.params  # type: ignore[assignment]
        public = list(problem.meta.get("public_tests") or [])
        reports = await asyncio.gather(*(arun_tests(s.code, public, per_test=p.test_seconds) for s in samples))
        record_execution(engine, list(reports))
        for s, r in zip(samples, reports):
            s.report = r
            s.history.append(r.status)

    async def _debug(self, problem: Problem, engine: Engine, s: _Sample) -> bool:
        assert s.report is not None
        feedback = (f"Your code was run on the public tests.\n\n{s.report.feedback()}\n\nFix the code. "
                    "Reply with the complete corrected code in a single ```python code block.")
        messages = s.messages + [{"role": "assistant", "content": s.text}, {"role": "user", "content": feedback}]
        [out] = await engine.generate(self._request(messages, 1), role="policy")
        s.messages, s.text, s.finish_reason = messages, out.text, out.finish_reason
        s.code, s.rounds = self._solution(problem, out.text), s.rounds + 1
        return True

    async def stage1(self, problem: Problem, engine: Engine, state: dict[str, Any]) -> None:
        p: SStarParams = self.params  # type: ignore[assignment]
        messages = list(problem.messages)
        if problem.answer_kind != "code":
            messages = messages[:-1] + [{"role": "user", "content": f"{problem.question}\n\n{CODE_INSTRUCTION}"}]
        drawn = await engine.generate(self._request(messages, p.n), role="policy")
        samples = state["samples"] = [_Sample(i, messages, d.text, d.finish_reason) for i, d in enumerate(drawn)]
        for s in samples:
            s.code = self._solution(problem, s.text)
        await self._test(problem, engine, samples)
        if not problem.meta.get("public_tests"):
            state["notes"].append("no public tests: stage 1 skipped debugging")
            return
        for _ in range(p.rounds):
            failing = [s for s in samples if not s.passes]
            if not failing:
                break
            outcomes = await asyncio.gather(*(self._debug(problem, engine, s) for s in failing),
                                            return_exceptions=True)
            debugged = [s for s, o in zip(failing, outcomes) if o is True]
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            if debugged:
                await self._test(problem, engine, debugged)
            if errors:
                raise errors[0]

    # -- stage 2 ---------------------------------------------------------------------------------
    async def _synthesize(self, problem: Problem, engine: Engine, survivors: list[_Sample]) -> list[str]:
        p: SStarParams = self.params  # type: ignore[assignment]
        entry = problem.meta.get("entry_point")
        shown = "\n\n".join(f"Solution {k + 1}:\n```python\n{s.code[-2500:]}\n```"
                            for k, s in enumerate(_distinct(survivors)[:4]))
        ask = (f"Problem:\n{problem.question}\n\nThese solutions all pass the public tests:\n\n{shown}\n\n"
               f"Write {p.inputs} test inputs that could make the solutions disagree: edge cases, boundaries, "
               f"large values. Give each as one Python call of `{entry}` with literal arguments, one per line, "
               "in a single ```python code block, without expected outputs.")
        [out] = await engine.generate(self._request([{"role": "user", "content": ask}], 1, 0.0), role="testgen")
        return parse_inputs(out.text, entry, p.inputs)

    async def _verdict(self, problem: Problem, judge: Engine, call: str, a: tuple[str, str],
                       b: tuple[str, str]) -> str | None:
        ask = (f"Problem:\n{problem.question}\n\nTwo programs disagree on the input `{call}`.\n\n"
               f"Program A:\n```python\n{a[0][-2500:]}\n```\nOutput A: {a[1]}\n\n"
               f"Program B:\n```python\n{b[0][-2500:]}\n```\nOutput B: {b[1]}\n\n"
               "Which output is correct for this problem? Reason briefly, then end with 'Answer: A' or 'Answer: B'.")
        [out] = await judge.generate(self._request([{"role": "user", "content": ask}], 1, 0.0), role="judge")
        return parse_verdict(out.text)

    async def stage2(self, problem: Problem, engine: Engine, state: dict[str, Any]) -> None:
        p: SStarParams = self.params  # type: ignore[assignment]
        samples: list[_Sample] = state["samples"]
        survivors = [s for s in samples if s.passes]
        state["survivors"] = [s.index for s in survivors]
        if not survivors:
            state["selection"] = "none_passed"
            state["notes"].append("no candidate passed the public tests: kept the one passing the most"
                                  if problem.meta.get("public_tests") else
                                  "there are no public tests and no candidate's program loaded: kept the first")
            return
        state["choice"] = survivors[0].index
        entry = problem.meta.get("entry_point")
        if len(survivors) == 1 or len(_distinct(survivors)) == 1:
            state["selection"] = "only_survivor" if len(survivors) == 1 else "identical_survivors"
            return
        state["selection"] = "first_passing"
        if not entry:
            state["notes"].append("no entry point to synthesise inputs for: kept the first passing sample")
            return
        inputs = state["inputs"] = await self._synthesize(problem, engine, survivors)
        if not inputs:
            state["notes"].append("the model gave no usable test inputs: kept the first passing sample")
            return
        reports = await asyncio.gather(*(arun_tests(s.code, inputs, mode="inputs", per_test=p.test_seconds)
                                         for s in survivors))
        record_execution(engine, list(reports))
        groups: dict[tuple[str, ...], list[_Sample]] = {}
        for s, r in zip(survivors, reports):
            groups.setdefault(tuple(r.outputs), []).append(s)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1][0].index))[: p.max_groups]
        state["groups"] = [[s.index for s in members] for _, members in ordered]
        largest = ordered[0][1][0].index
        state["choice"], state["selection"] = largest, ("single_group" if len(ordered) == 1 else "largest_group")
        if len(ordered) == 1:
            return
        judge = self._judge_engine(engine)
        wins = [0] * len(ordered)
        state["verdicts"] = verdicts = []
        for i in range(len(ordered)):
            for j in range(i + 1, len(ordered)):
                (oi, gi), (oj, gj) = ordered[i], ordered[j]
                k = next(t for t in range(len(inputs)) if oi[t] != oj[t])
                a, b = (gi[0].code, oi[k]), (gj[0].code, oj[k])
                # both orders side by side; both end before a budget stop is raised (it left the other running)
                said = await asyncio.gather(self._verdict(problem, judge, inputs[k], a, b),
                                            self._verdict(problem, judge, inputs[k], b, a), return_exceptions=True)
                for out in said:
                    if isinstance(out, BaseException):
                        raise out
                first, second = said
                winner = i if (first, second) == ("A", "B") else j if (first, second) == ("B", "A") else None
                if winner is not None:
                    wins[winner] += 1
                verdicts.append({"groups": [i, j], "input": inputs[k], "verdicts": [first, second],
                                 "winner": winner})
        state["wins"] = wins
        if max(wins) > 0:
            best = max(range(len(ordered)), key=lambda g: (wins[g], len(ordered[g][1]), -g))
            state["choice"], state["selection"] = ordered[best][1][0].index, "judge"
        else:
            state["notes"].append("no consistent judge verdict: kept the largest output group")

    # -- the whole ---------------------------------------------------------------------------------
    async def run(self, problem: Problem, engine: Engine) -> Result:
        state: dict[str, Any] = {"samples": [], "notes": [], "selection": None, "choice": None}
        exhausted = False
        try:
            await self.stage1(problem, engine, state)
            await self.stage2(problem, engine, state)
        except BudgetExhausted as exc:
            exhausted = True
            state["notes"].append(f"budget exhausted ({exc}): returned the best so far")
        return self._result(state, exhausted)

    def _result(self, state: dict[str, Any], exhausted: bool) -> Result:
        samples: list[_Sample] = state["samples"]
        if not samples:
            return Result(answer=None, text="", strategy=self.spec, budget_exhausted=exhausted,
                          trace={"notes": state["notes"]})
        choice = state.get("choice")
        if choice is None:  # nothing passed, or stopped early: most public tests passed, first on ties
            passing = [s for s in samples if s.passes]
            best = passing[0] if passing else max(samples, key=lambda s: (s.report.num_passed if s.report else -1,
                                                                        -s.index))
            choice = best.index
            state["selection"] = state["selection"] or ("first_passing" if passing else "none_passed")
        chosen = samples[choice]
        cands = [Candidate(text=s.text, answer=s.code, finish_reason=s.finish_reason,
                           score=(s.report.num_passed / len(s.report.items)) if s.report and s.report.items else None,
                           meta={"public": s.report.status if s.report else None, "rounds": s.rounds,
                                 "history": s.history}) for s in samples]
        trace = {"selection": state["selection"], "chosen": choice, "notes": state["notes"],
                 "survivors": state.get("survivors", []), "inputs": state.get("inputs", []),
                 "groups": state.get("groups", []), "verdicts": state.get("verdicts", []),
                 "wins": state.get("wins", []),
                 "passed_public": sum(1 for s in samples if s.passes)}
        return Result(answer=chosen.code, text=chosen.text, strategy=self.spec, candidates=cands, trace=trace,
                      budget_exhausted=exhausted or chosen.finish_reason == "budget")


def _distinct(samples: list[_Sample]) -> list[_Sample]:
    seen: dict[str, _Sample] = {}
    for s in samples:
        seen.setdefault(s.code.strip(), s)
    return list(seen.values())


S_Star = SStar
