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
  * the calls of a scorer that memoises scores by text (prm, orm: a repeated text costs no call),
    where the pool strategy's scorer left its ``SCORING`` record on every candidate it scored: each
    distinct text t, scored by one call of cost c(t), is paid by a k-subset that holds it, so it is
    charged c(t) x (1 - C(N - m_t, k) / C(N, k)) for its m_t copies (``scoring_correction``, which
    also treats a text whose tagged prefixes another text holds); at k = N, the pool's own cost;
  * every other call (nested strategies' calls, which serve one candidate each, scoring that calls
    once a candidate: judge, logprob) is counted at k/N of its prompt and completion tokens and calls;
  * tokens a backend did not count (a server that sends no usage) are unknown, never 0: such calls
    are counted in ``uncounted_calls`` (at their share), token totals are then lower bounds (None
    where no call was counted), and FLOPs are unknown;
  * FLOPs are 2 x parameters x those tokens, every prompt token counted whether or not a prefix cache
    served it: what another unit left in the cache (or did not, in a resumed run) is not the
    strategy's, so a point's compute does not depend on what ran before it;
  * wall time is k/N of the pool's (an estimate: the rate of the pool's calls), with a memoising
    scorer's mean call time for each of its calls charged above k/N.
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
    correct: float | None  # None: the problem has no gold answer or checker
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
    known = problem.answer is not None or problem.checker is not None
    if not pool:  # nothing drawn: no answer, wrong where there is a gold answer
        return PointEstimate(k, 0.0 if known else None, 0.0, None, None, 0, 1.0)
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
    modal = max(answers.items(), key=lambda kv: kv[1])[0] if answers else None
    # a problem with no gold answer and no checker is not graded: its accuracy is unknown, not 0
    return PointEstimate(k, hits / m if known else None, parsed / m,
                         pass_at_k(len(pool), c, min(k, len(pool))) if known else None, modal, m, ex / m)


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


TOKEN_KEYS = ("policy_tokens", "verifier_tokens", "prompt_tokens", "completion_tokens")


def compute_at(entries: list[Any], k: int, n: int,
               scoring: list[dict[str, Any] | None] | None = None) -> dict[str, float | None]:
    """Tokens, calls, FLOPs and wall time for a k-subset of a pool of n, from the pool's ledger entries.

    ``scoring``: the pool's candidates' ``SCORING`` records (None where a candidate has none), in
    pool order, written by the pool strategy's own memoising scorer (``pool_scoring``): its calls
    are charged by ``scoring_correction``. Token counts a backend did not report stay unknown:
    ``uncounted_calls`` is the expected number of such calls at k (``uncounted_verifier_calls``
    those of roles other than the policy), and while it is above 0 a token total is the sum of the
    counted calls (a lower bound), None where no call counted it."""
    frac = min(1.0, k / n) if n else 1.0
    out: dict[str, Any] = {"policy_tokens": 0.0, "verifier_tokens": 0.0, "prompt_tokens": 0.0,
                           "completion_tokens": 0.0, "calls": 0.0, "wall_seconds": 0.0, "flops": 0.0,
                           "retries": 0, "uncounted_calls": 0.0, "uncounted_verifier_calls": 0.0}
    asked = {key: False for key in TOKEN_KEYS}  # some model call went to this total
    counted = dict(asked)  # some model call's count of it is known

    def add(key: str, value: float | None) -> None:
        asked[key] = True
        if value is not None:
            out[key] += value
            counted[key] = True

    flops_known = True
    drawn = [e for e in entries if _get(e, "role") == "policy" and is_model_call(e)]
    own_draw = sum(int(_get(e, "n") or 1) for e in drawn) == n  # the pool's own calls (above)
    for e in entries:
        role = _get(e, "role")
        out["wall_seconds"] += float(_get(e, "wall_seconds") or 0) * frac
        out["retries"] += int(_get(e, "retries") or 0)
        if not is_model_call(e):  # a sandbox run: no call, no tokens, no model's FLOPs
            continue
        prompt, completion = _get(e, "prompt_tokens"), _get(e, "completion_tokens")
        p_share = needed(n, int(_get(e, "n") or 1), k) if own_draw and role == "policy" else frac
        out["calls"] += p_share
        if prompt is None or completion is None:  # the backend did not count it (usage not sent)
            out["uncounted_calls"] += p_share
            if role != "policy":
                out["uncounted_verifier_calls"] += p_share
        prompt_k = None if prompt is None else float(prompt) * p_share
        completion_k = None if completion is None else float(completion) * frac
        side = "policy_tokens" if role == "policy" else "verifier_tokens"
        add(side, prompt_k)
        add(side, completion_k)
        add("prompt_tokens", prompt_k)
        add("completion_tokens", completion_k)
        params = _get(e, "num_parameters")
        if params is None or prompt_k is None or completion_k is None:
            flops_known = False
        else:
            out["flops"] += 2.0 * params * (prompt_k + completion_k)
    if not flops_known:
        out["flops"] = None
    if scoring:
        for role, delta in scoring_correction(entries, scoring, k, n).items():
            for key, v in delta.items():
                if key == "flops":
                    out["flops"] = None if out["flops"] is None or v is None else out["flops"] + v
                elif key == "tokens":
                    out["policy_tokens" if role == "policy" else "verifier_tokens"] += v
                else:
                    out[key] += v
    for key in TOKEN_KEYS:
        if asked[key] and not counted[key]:
            out[key] = None
    return out


def memo_hits_before(scoring: list[dict[str, Any] | None]) -> list[int]:
    """For each record of a pool (in pool order), how many earlier records of its memo cover its
    ``key``: while any of them is in a subset, its text is a memo hit there and costs no call."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for rec in scoring:
        key = None if rec is None or rec.get("key") is None else (rec.get("memo"), rec["key"])
        out.append(seen.get(key, 0) if key is not None else 0)
        if rec is not None:
            for h in rec.get("covers") or ():
                seen[(rec.get("memo"), h)] = seen.get((rec.get("memo"), h), 0) + 1
    return out


def scoring_correction(entries: list[Any], scoring: list[dict[str, Any] | None], k: int,
                       n: int) -> dict[str, dict[str, float | None]]:
    """Per scorer role, what to add to the k/N charge of its entries so that the calls of a
    memoising scorer (``SCORING`` records) are charged as a k-subset run of them pays.

    A record's call is paid by a k-subset that holds its candidate and none of the d earlier
    candidates whose texts cover it: probability C(n-1-d, k-1) / C(n, k) (summed over the m
    copies of one text: 1 - C(n-m, k) / C(n, k), the chance the subset holds the text at all).
    The records paid at k = n (d = 0) are the pool's own calls, which its entries charge at k/N;
    the correction is the records' expected charge at k less that. At k = n it is 0, so the
    charge is the pool's recorded cost. Where the records are not accounted for by the role's
    entries (more than they spent, or uncounted entries), the role keeps the k/N rule; calls of
    the role the records do not cover (a nested strategy's) stay at k/N. Wall time: the role's
    mean call time for each call added."""
    kk = max(1, min(k, n))
    frac = min(1.0, k / n) if n else 1.0
    total = math.comb(n, kk)
    hits = memo_hits_before(scoring)
    out: dict[str, dict[str, float | None]] = {}
    for role in sorted({r["role"] for r in scoring if r is not None}):
        own = [(r, d) for r, d in zip(scoring, hits) if r is not None and r["role"] == role]
        calls = [e for e in entries if _get(e, "role") == role and is_model_call(e)]
        paid = [r for r, d in own if d == 0]
        spent = [sum(float(_get(e, f) or 0) for e in calls) for f in ("prompt_tokens", "completion_tokens")]
        if (len(paid) > len(calls) or any(_get(e, "prompt_tokens") is None or _get(e, "completion_tokens") is None
                                          for e in calls)
                or sum(r["prompt_tokens"] for r in paid) > spent[0]
                or sum(r["completion_tokens"] for r in paid) > spent[1]):
            continue
        shares = [math.comb(n - 1 - d, kk - 1) / total for _, d in own]
        delta: dict[str, float | None] = {
            "calls": sum(shares) - frac * len(paid),
            "prompt_tokens": sum(s * r["prompt_tokens"] for s, (r, _) in zip(shares, own))
            - frac * sum(r["prompt_tokens"] for r in paid),
            "completion_tokens": sum(s * r["completion_tokens"] for s, (r, _) in zip(shares, own))
            - frac * sum(r["completion_tokens"] for r in paid)}
        delta["tokens"] = delta["prompt_tokens"] + delta["completion_tokens"]  # type: ignore[operator]
        if any(r.get("num_parameters") is None for r, _ in own):
            delta["flops"] = None
        else:
            delta["flops"] = 2.0 * (sum(s * r["num_parameters"] * (r["prompt_tokens"] + r["completion_tokens"])
                                        for s, (r, _) in zip(shares, own))
                                    - frac * sum(r["num_parameters"] * (r["prompt_tokens"] + r["completion_tokens"])
                                                 for r in paid))
        wall = sum(float(_get(e, "wall_seconds") or 0) for e in calls)
        delta["wall_seconds"] = wall / len(calls) * delta["calls"] if calls else 0.0  # type: ignore[operator]
        out[role] = delta
    return out


def pool_scoring(strategy: Any, pool: list[Candidate]) -> list[dict[str, Any] | None] | None:
    """The ``SCORING`` records the pool strategy's own scorer wrote on ``pool`` (None for a
    candidate it did not score, or scored without one), or None when its scorer writes none: a
    record another scorer left (a nested strategy's) says nothing of this pool's scoring."""
    from ..scorers.base import SCORING

    memo = getattr(getattr(strategy, "scorer", None), "memo_id", None)
    if memo is None:
        return None
    records = [c.meta.get(SCORING) for c in pool]
    return [r if isinstance(r, dict) and r.get("memo") == memo else None for r in records]


def needed(n: int, n_call: int, k: int) -> float:
    """The probability that a uniformly random k-subset of a pool of n holds at least one of the
    ``n_call`` samples of one call: 1 - C(n - n_call, k) / C(n, k)."""
    if k >= n or n_call >= n:
        return 1.0
    return 1.0 - math.comb(n - n_call, k) / math.comb(n, k)


def _get(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, dict) else getattr(e, key, None)
