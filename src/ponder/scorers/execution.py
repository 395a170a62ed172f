"""``execution``: the share of a code problem's public tests that a candidate's program passes.

Each candidate's code (its extracted answer, assembled with the task's code prefix as the grader
does) runs in the sandbox against the tests a solver may see (``meta["public_tests"]``, such as
HumanEval's docstring examples), never the hidden ones the grader keeps. Best-of-N by public tests is
the filtering step of AlphaCode (arXiv 2203.07814) and of CodeT's execution agreement (arXiv
2207.10397). A problem without public tests scores 1 for a program that loads and 0 for one that
does not (a syntax error, an import that fails, a hang). Every batch of runs is one ledger entry
under the role ``execution``: its seconds, no tokens.
"""

from __future__ import annotations

import asyncio

from pydantic import Field

from ..answers import extract_code
from ..engine import Engine
from ..errors import StrategySpecError
from ..types import Candidate, Problem, Usage
from .base import Scorer, ScorerParams


class ExecutionParams(ScorerParams):
    per_test: float = Field(5.0, gt=0.0, le=120.0, description="seconds each test may run")


def record_execution(engine: Engine, reports: list) -> None:
    """One ledger entry for a batch of sandbox runs: n runs, their summed seconds, their statuses."""
    if reports:
        engine.ledger.record(role="execution", model="sandbox", n=len(reports), usage=Usage(),
                             wall_seconds=sum(r.execution.duration for r in reports if r.execution is not None),
                             finish_reasons=[r.status for r in reports], model_call=False)


class ExecutionScorer(Scorer):
    name = "execution"
    summary = "share of a code problem's public tests the candidate's program passes, run in the sandbox"
    role = "execution"
    Params = ExecutionParams

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        if problem is not None and problem.answer_kind != "code":
            raise StrategySpecError(
                f"scorer execution runs programs against a code problem's public tests; problem {problem.id!r} "
                f"wants an answer of kind {problem.answer_kind!r}. Use it on a code task (humaneval:PATH, code:PATH); "
                "for other answers use prm, orm, judge or logprob")

    def spends_tokens(self) -> bool:
        return False  # the sandbox runs programs; no model is called

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float]:
        from ..sandbox.harness import arun_tests, assemble

        self.check(engine, problem)
        p: ExecutionParams = self.params  # type: ignore[assignment]
        public = list(problem.meta.get("public_tests") or [])
        prefix, entry = problem.meta.get("code_prefix", ""), problem.meta.get("entry_point")
        programs = [assemble(self._code(c, entry), prefix, entry) for c in candidates]
        reports = await asyncio.gather(*(arun_tests(prog, public, per_test=p.per_test) for prog in programs))
        record_execution(engine, list(reports))
        scores = []
        for c, r in zip(candidates, reports):
            c.meta["execution"] = r.status
            scores.append(r.num_passed / len(r.items) if r.items else float(r.status == "no_tests"))
        return scores

    @staticmethod
    def _code(c: Candidate, entry: str | None = None) -> str:
        if c.answer and c.answer.strip():
            return c.answer
        code = extract_code(c.text, entry)
        return code if code is not None else c.text
