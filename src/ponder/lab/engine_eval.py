"""``ponder lab eval``: accuracy at N = 1, 2, 4, ..., 16 through the Engine, on any model spec.

For each problem it draws one greedy answer and a pool of ``max_n`` samples at temperature 1.0
(one call: the samples share a prefill), scores the pool with a scorer (default the lab PRM), and
reports, for each N: one sample (the pool's mean accuracy), majority of N, any-correct of N
(pass@N, the unbiased estimator of Chen et al. 2021) and best-of-N by the scorer. Majority and
best-of-N at N < max_n are averaged over the pool's N-subsets: all of them where they are few
(``bench/subsample.py``'s rule, so majority of 1 is one sample exactly), else random ones
(unbiased subsampling); a pool-relative scorer (``vote``) scores each subset again, so best-of-N by
vote is the majority of N. A problem whose prompt does not fit the model's context window is skipped,
named in the report (``skipped``) and on stderr; the figures are over the problems that ran.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from dataclasses import dataclass, field
from typing import Any

from ..bench.subsample import subsets_of
from ..engine import Engine
from ..errors import BudgetError, ContextLengthError
from ..scorers.base import rank
from ..strategies.base import grade
from ..strategies.cot import Cot, CotParams
from ..strategies.voting import vote
from ..types import Candidate, Problem

SUBSETS = 64
MAX_N = 1024  # the largest pool: the bound of the strategies' n (sc, bon)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass
class ProblemPool:
    problem: Problem
    greedy_correct: bool
    candidates: list[Candidate]
    correct: list[bool]
    scores: list[float] | None = None
    tokens: int = 0
    scorer: Any = None  # what gave ``scores``: a pool-relative one scores each subset again (``best``)

    def majority(self, idx: list[int]) -> bool:
        v = vote([self.candidates[i] for i in idx], kind=self.problem.answer_kind)
        return v.index is not None and self.correct[idx[v.index]]

    def best(self, idx: list[int]) -> bool:
        """Whether the best-scored candidate of the subset ``idx`` is correct. A pool-relative
        scorer's (``vote``) pool scores are shares of the whole pool, so the subset's candidates
        with an answer are scored again among themselves (``rescore``, as the bench's
        ``subset_decide``): best-of-N by vote is then the majority of those N, not of the pool."""
        assert self.scores is not None
        scores = {j: self.scores[j] for j in idx}
        if getattr(self.scorer, "pool_relative", False):
            answered = [j for j in idx if self.candidates[j].answer is not None]
            scores.update(zip(answered, self.scorer.rescore(self.problem, [self.candidates[j] for j in answered])))
        i = max(idx, key=lambda j: (rank(scores[j]), -j))  # unscored last
        return self.correct[i]


@dataclass
class EvalReport:
    model: str
    task: str
    problems: int
    greedy: float
    by_n: dict[int, dict[str, float]] = field(default_factory=dict)
    scorer: str | None = None
    mean_tokens_per_problem: float = 0.0
    skipped: list[str] = field(default_factory=list)  # ids of the problems that did not fit the window
    scorer_note: str | None = None  # where the scorer told no candidate from another (``unscored_note``)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "problems": self.problems, "greedy": self.greedy,
                "scorer": self.scorer, "scorer_note": self.scorer_note,
                "mean_tokens_per_problem": self.mean_tokens_per_problem,
                "skipped": list(self.skipped), "by_n": {str(k): v for k, v in self.by_n.items()}}


def unscored_note(pools: list[ProblemPool], scorer: str | None) -> str | None:
    """What to say when the scorer gave every candidate of a pool the same score, or none (a judge
    that reads no rating in its reply scores 0.0): best-of-N there is the lowest-index sample, not
    the scorer's choice, and the figure would otherwise read as one. A pool-relative scorer
    (``vote``) is left out: it scores each subset again, and equal shares are agreement."""
    flat = [p for p in pools if p.scores is not None and len(p.scores) > 1 and len(set(p.scores)) == 1
            and not getattr(p.scorer, "pool_relative", False)]
    if not flat:
        return None
    nones = [s is None for p in flat for s in p.scores]
    how = "no score" if all(nones) else "the same score (or none)" if any(nones) else "the same score"
    return (f"the scorer {scorer} gave every candidate {how} on {len(flat)} of {len(pools)} problems "
            f"(e.g. {flat[0].problem.id}): best-of-N there is the lowest-index sample, not a choice")


def ns_up_to(max_n: int) -> list[int]:
    out, n = [], 1
    while n < max_n:
        out.append(n)
        n *= 2
    return out + [max_n]


async def build_pool(problem: Problem, engine: Engine, max_n: int, seed: int, scorer: Any,
                     max_tokens: int) -> ProblemPool:
    eng = engine.for_problem()
    greedy = (await Cot(CotParams(temperature=0.0, max_tokens=max_tokens)).sample(problem, eng, 1))[0]
    pool = await Cot(CotParams(temperature=1.0, max_tokens=max_tokens)).sample(problem, eng, max_n, seed=seed)
    correct = [bool(grade(problem, c.answer)) for c in pool]
    scores = await scorer.score(problem, pool, eng) if scorer is not None else None
    return ProblemPool(problem, bool(grade(problem, greedy.answer)), pool, correct, scores,
                       tokens=eng.ledger.total_tokens or 0, scorer=scorer)


def summarise(pools: list[ProblemPool], max_n: int, seed: int) -> dict[int, dict[str, float]]:
    """Each row of the report. The N-subsets of a pool of k are listed when there are at most
    ``SUBSETS`` of them or at most k (the k single samples: majority of 1 is then one sample
    exactly, at any pool size), else ``SUBSETS`` random ones are drawn."""
    rng = random.Random(seed)
    out: dict[int, dict[str, float]] = {}
    for n in ns_up_to(max_n):
        maj = best = anyc = one = 0.0
        for p in pools:
            k = len(p.candidates)
            subsets = [list(s) for s in subsets_of(k, min(n, k), max(SUBSETS, k), rng)]
            maj += sum(p.majority(s) for s in subsets) / len(subsets)
            if p.scores is not None:
                best += sum(p.best(s) for s in subsets) / len(subsets)
            anyc += pass_at_k(k, sum(p.correct), min(n, k))
            one += sum(p.correct) / k
        m = len(pools)
        row = {"one_sample": one / m, "majority": maj / m, "any_correct": anyc / m}
        if pools and pools[0].scores is not None:
            row["best_of_n"] = best / m
        out[n] = row
    return out


async def evaluate(model: str, task: str, *, limit: int | None = 100, seed: int = 0, max_n: int = 16,
                   scorer: str | None = "prm", max_tokens: int = 256, concurrency: int = 4,
                   progress: Any = None) -> EvalReport:
    from ..scorers import build_scorer
    from ..tasks import load_task

    if not 1 <= max_n <= MAX_N:  # a pool is one call of max_n samples: the strategies' bound on n
        raise BudgetError(f"max_n must be from 1 to {MAX_N}, got {max_n}")
    problems = load_task(task).problems(limit, seed)
    engine = Engine.from_spec(model)
    sc = build_scorer(scorer) if scorer else None
    if sc is not None:
        sc.check(engine)
    sem = asyncio.Semaphore(concurrency)

    skipped: list[tuple[int, str, str]] = []  # (index, problem id, why)

    async def one(i: int, prob: Problem) -> ProblemPool | None:
        async with sem:
            try:
                pool: ProblemPool | None = await build_pool(prob, engine, max_n, seed * 100_003 + i, sc,
                                                            max_tokens)
            except ContextLengthError as exc:  # this problem cannot run; the others still do
                skipped.append((i, prob.id, str(exc)))
                pool = None
        if progress is not None:
            progress()
        return pool

    results = await asyncio.gather(*(one(i, p) for i, p in enumerate(problems)))
    pools = [p for p in results if p is not None]
    skipped.sort()
    if skipped and not pools:
        which = "the only problem was" if len(skipped) == 1 else f"all {len(skipped)} problems were"
        raise ContextLengthError(f"{which} skipped: the prompt does not fit the context window of {model} "
                                 f"({skipped[0][2]}); give shorter problems or a model with a longer window")
    if skipped:  # said where the text report is read (stdout stays the report, JSON with --json)
        print(f"skipped {len(skipped)} of {len(problems)} problems, whose prompt does not fit the context "
              f"window of {model}: {', '.join(pid for _, pid, _ in skipped)}; the figures are over the other "
              f"{len(pools)}", file=sys.stderr, flush=True)
    note = unscored_note(pools, scorer)
    if note:  # said where the text report is read, as the skipped problems are
        print(f"note: {note}", file=sys.stderr, flush=True)
    return EvalReport(model=model, task=task, problems=len(pools), scorer_note=note,
                      greedy=sum(p.greedy_correct for p in pools) / max(1, len(pools)),
                      by_n=summarise(pools, max_n, seed), scorer=scorer,
                      mean_tokens_per_problem=sum(p.tokens for p in pools) / max(1, len(pools)),
                      skipped=[pid for _, pid, _ in skipped])
