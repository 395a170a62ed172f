"""Unbiased subsampling of a drawn pool: accuracy and compute at every k ≤ N from one pool of N.

Pool strategies (``Strategy.pool_param``: sc, bon, wbon, ...) draw N candidates once; the result at a
smaller k is the expectation over uniformly random k-subsets of that pool (an unbiased estimate of what
drawing k fresh samples gives). When C(N, k) ≤ ``max_subsets`` every subset is enumerated (exact
expectation); otherwise ``max_subsets`` random subsets are drawn with a seeded RNG (unbiased). Subsets
keep the pool's order, so order-dependent tie rules act as they would on k fresh samples.

Compute at k (``compute_at``), the rule stated once:
  * where the pool was drawn by policy calls of its own (their ``n`` add up to N: one call of all N
    samples, the hf backend's waves of it, or one call a sample on a server that ignores ``n``), a call
    of ``n_c`` samples is needed by a k-subset with probability 1 - C(N - n_c, k) / C(N, k): its prompt
    tokens and the call count at that share (a call of all N: once; a call of one sample: k/N), its
    completion tokens at k/N (the exact expectation of the chosen candidates' completion tokens);
  * every other call (nested strategies' calls, which serve one candidate each, verifier/PRM scoring)
    is counted at k/N of its prompt and completion tokens and calls;
  * FLOPs are 2 x parameters x those tokens, every prompt token counted whether or not a prefix cache
    served it: what another unit left in the cache (or did not, in a resumed run) is not the
    strategy's, so a point's compute does not depend on what ran before it;
  * wall time is k/N of the pool's (an estimate: the rate of the pool's calls).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any, Callable

from ..types import Candidate, Problem, Result


@dataclass
class PointEstimate:
    """The expected outcome at k over subsets of a pool."""

    k: int
    correct: float
    parsed: float
    pass_at_k: float | None
    answer: str | None  # the modal answer over the subsets
    subsets: int
    exhausted: float


def subsets_of(n: int, k: int, max_subsets: int, rng: random.Random) -> list[tuple[int, ...]]:
    """All k-subsets of range(n) when there are at most ``max_subsets``, else that many random ones."""
    if k >= n:
        return [tuple(range(n))]
    if math.comb(n, k) <= max_subsets:
        return list(itertools.combinations(range(n), k))
    return [tuple(sorted(rng.sample(range(n), k))) for _ in range(max_subsets)]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def estimate(problem: Problem, pool: list[Candidate], k: int,
             decide: Callable[[Problem, list[Candidate], bool], Result],
             grade: Callable[[Problem, str | None], bool | None], *, exhausted: bool = False,
             max_subsets: int = 64, rng: random.Random | None = None) -> PointEstimate:
    """Expected correctness of ``decide`` on k-subsets of ``pool``."""
    rng = rng or random.Random(0)
    if not pool:
        return PointEstimate(k, 0.0, 0.0, None, None, 0, 1.0)
    chosen = subsets_of(len(pool), min(k, len(pool)), max_subsets, rng)
    hits = parsed = ex = 0.0
    answers: dict[str | None, int] = {}
    grade_cache: dict[str | None, bool | None] = {}
    for idx in chosen:
        sub = [_copy(pool[i]) for i in idx]
        res = decide(problem, sub, exhausted)
        if res.answer not in grade_cache:
            grade_cache[res.answer] = grade(problem, res.answer)
        hits += 1.0 if grade_cache[res.answer] else 0.0
        parsed += 1.0 if res.answer is not None else 0.0
        ex += 1.0 if res.budget_exhausted else 0.0
        answers[res.answer] = answers.get(res.answer, 0) + 1
    m = len(chosen)
    c = sum(1 for cand in pool if _correct(problem, cand, grade, grade_cache))
    known = problem.answer is not None or problem.checker is not None
    modal = max(answers.items(), key=lambda kv: kv[1])[0] if answers else None
    return PointEstimate(k, hits / m, parsed / m, pass_at_k(len(pool), c, min(k, len(pool))) if known else None,
                         modal, m, ex / m)


def _copy(c: Candidate) -> Candidate:
    """A candidate ``decide`` may annotate (scores) without touching the pool."""
    return Candidate(text=c.text, answer=c.answer, finish_reason=c.finish_reason, score=c.score, meta=c.meta)


def _correct(problem: Problem, cand: Candidate, grade: Callable, cache: dict) -> bool:
    if cand.answer not in cache:
        cache[cand.answer] = grade(problem, cand.answer)
    return bool(cache[cand.answer])


def is_model_call(entry: Any) -> bool:
    """A ledger entry (or its row in a run's store, which keeps no ``model_call``) of a model call,
    not of sandbox runs (recorded under the model name ``sandbox``)."""
    return _get(entry, "model_call") is not False and _get(entry, "model") != "sandbox"


def compute_at(entries: list[Any], k: int, n: int) -> dict[str, float | None]:
    """Tokens, calls, FLOPs and wall time for a k-subset of a pool of n, from the pool's ledger entries."""
    frac = min(1.0, k / n) if n else 1.0
    out: dict[str, Any] = {"policy_tokens": 0.0, "verifier_tokens": 0.0, "prompt_tokens": 0.0,
                           "completion_tokens": 0.0, "calls": 0.0, "wall_seconds": 0.0, "flops": 0.0,
                           "retries": 0}
    flops_known = True
    drawn = [e for e in entries if _get(e, "role") == "policy" and is_model_call(e)]
    own_draw = sum(int(_get(e, "n") or 1) for e in drawn) == n  # the pool's own calls (above)
    for e in entries:
        prompt = float(_get(e, "prompt_tokens") or 0)
        completion = float(_get(e, "completion_tokens") or 0)
        role = _get(e, "role")
        p_share = needed(n, int(_get(e, "n") or 1), k) if own_draw and role == "policy" else frac
        calls = p_share
        prompt_k, completion_k = prompt * p_share, completion * frac
        key = "policy_tokens" if role == "policy" else "verifier_tokens"
        out[key] += prompt_k + completion_k
        out["prompt_tokens"] += prompt_k
        out["completion_tokens"] += completion_k
        model_call = is_model_call(e)
        if model_call:  # a sandbox run is not a model call
            out["calls"] += calls
        out["wall_seconds"] += float(_get(e, "wall_seconds") or 0) * frac
        out["retries"] += int(_get(e, "retries") or 0)
        if not model_call:  # sandbox runs: no model's FLOPs
            continue
        params = _get(e, "num_parameters")
        if params is None or _get(e, "prompt_tokens") is None or _get(e, "completion_tokens") is None:
            flops_known = False
        else:
            out["flops"] += 2.0 * params * (prompt_k + completion_k)
    if not flops_known:
        out["flops"] = None
    return out


def needed(n: int, n_call: int, k: int) -> float:
    """The probability that a uniformly random k-subset of a pool of n holds at least one of the
    ``n_call`` samples of one call: 1 - C(n - n_call, k) / C(n, k)."""
    if k >= n or n_call >= n:
        return 1.0
    return 1.0 - math.comb(n - n_call, k) / math.comb(n, k)


def _get(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, dict) else getattr(e, key, None)
