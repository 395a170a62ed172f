"""Subsampling a drawn pool: maj@k equals the exact expectation; pass@k; the compute-at-k rule."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections import Counter

import pytest

from ponder.ledger import LedgerEntry
from ponder.strategies import build_strategy
from ponder.strategies.base import grade
from ponder.types import Candidate, Problem
from ponder.bench.subsample import compute_at, estimate, pass_at_k, subsets_of

POOL = ["7", "7", "3", "7", "3", "5", None, "3"]  # gold 7; one sample without an answer


def exact_maj_at_k(answers: list[str | None], k: int, gold: str) -> float:
    """Enumerate every k-subset by hand: majority (ties to the earliest in pool order; None never votes)."""
    hits = 0
    subsets = list(itertools.combinations(range(len(answers)), k))
    for idx in subsets:
        votes = Counter(answers[i] for i in idx if answers[i] is not None)
        if not votes:
            continue
        first = {a: min(i for i in idx if answers[i] == a) for a in votes}
        winner = max(votes, key=lambda a: (votes[a], -first[a]))
        hits += winner == gold
    return hits / len(subsets)


@pytest.fixture
def problem_and_pool():
    problem = Problem.from_question("q", answer="7", answer_kind="number")
    pool = [Candidate(text=f"Answer: {a}", answer=a, meta={"completion_tokens": 10 + i}) for i, a in enumerate(POOL)]
    return problem, pool


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8])
def test_enumerated_maj_at_k_equals_exact_expectation(problem_and_pool, k):
    problem, pool = problem_and_pool
    sc = build_strategy("sc(n=8)")
    est = estimate(problem, pool, k, sc.decide, grade, max_subsets=10_000)
    assert est.subsets == math.comb(8, k)
    assert est.correct == pytest.approx(exact_maj_at_k(POOL, k, "7"), abs=1e-12)


def test_random_subsets_are_unbiased(problem_and_pool):
    problem, pool = problem_and_pool
    pool16 = pool + [Candidate(text=c.text, answer=c.answer) for c in pool]
    sc = build_strategy("sc(n=16)")
    exact = exact_maj_at_k(POOL + POOL, 8, "7")  # C(16, 8) = 12870 subsets, enumerated by hand
    est = estimate(problem, pool16, 8, sc.decide, grade, max_subsets=3000, rng=random.Random(1))
    assert est.subsets == 3000  # too many to enumerate: random subsets
    assert est.correct == pytest.approx(exact, abs=0.05)  # > 5 standard errors of a 3000-subset mean


def test_pass_at_k_and_subsets():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)
    assert pass_at_k(8, 3, 6) == 1.0
    assert pass_at_k(8, 0, 4) == 0.0
    assert subsets_of(5, 5, 1, random.Random(0)) == [(0, 1, 2, 3, 4)]
    assert len(subsets_of(16, 8, 64, random.Random(0))) == 64


def test_a_problem_with_no_gold_answer_is_not_graded(problem_and_pool):
    """As an unpooled unit's: accuracy unknown, not 0 (pass@k was unknown already)."""
    _, pool = problem_and_pool
    est = estimate(Problem.from_question("q"), pool, 3, build_strategy("sc(n=8)").decide, grade)
    assert est.correct is None and est.pass_at_k is None and est.parsed == 1.0
    assert estimate(Problem.from_question("q"), [], 3, build_strategy("sc(n=8)").decide, grade).correct is None


def test_pool_is_not_touched_by_decide(problem_and_pool):
    problem, pool = problem_and_pool
    estimate(problem, pool, 3, build_strategy("sc(n=8)").decide, grade)
    assert all(c.score is None for c in pool)


def entry(role, n, prompt, completion, params=100):
    return LedgerEntry(role=role, model="m", n=n, prompt_tokens=prompt, cached_prompt_tokens=0,
                       completion_tokens=completion, reasoning_tokens=None, wall_seconds=2.0, retries=0,
                       finish_reasons=["stop"] * n, num_parameters=params)


def test_compute_at_k_counts_the_shared_prompt_once():
    # one policy call drew 8 samples from one prompt (40 tokens), 80 completion tokens; a PRM scored all 8
    entries = [entry("policy", 8, 40, 80), entry("prm", 1, 160, 0)]
    c2 = compute_at(entries, 2, 8)
    assert c2["policy_tokens"] == 40 + 80 * 2 / 8
    assert c2["verifier_tokens"] == 160 * 2 / 8
    assert c2["calls"] == 1 + 2 / 8
    assert c2["flops"] == pytest.approx(2 * 100 * (40 + 20 + 40))
    assert compute_at(entries, 8, 8)["policy_tokens"] == 120
    # per-sample calls (no shared prompt) scale as a whole
    per_sample = [entry("policy", 1, 40, 10) for _ in range(8)]
    assert compute_at(per_sample, 2, 8)["policy_tokens"] == pytest.approx(2 * 50)
    unknown = [entry("policy", 8, 40, 80, params=None)]
    assert compute_at(unknown, 4, 8)["flops"] is None
    # a sandbox run (S*) is no model's work: it leaves the FLOPs of the model calls known
    sandbox = dataclasses.replace(entry("execution", 8, None, None, params=None), model_call=False)
    assert compute_at([*entries, sandbox], 2, 8)["flops"] == pytest.approx(2 * 100 * (40 + 20 + 40))
    # nor is it a call: neither as a ledger entry nor as its row in a run's store (no model_call kept)
    assert compute_at([*entries, sandbox], 2, 8)["calls"] == 1 + 2 / 8
    stored = {"role": "execution", "model": "sandbox", "n": 8, "prompt_tokens": None, "completion_tokens": None}
    assert compute_at([*entries, stored], 2, 8)["calls"] == 1 + 2 / 8


def test_compute_at_k_knows_whose_calls_drew_the_pool():
    # a server that ignores n: the backend made 8 one-sample calls, each paid for its prompt
    fan_out = [entry("policy", 1, 40, 10) for _ in range(8)]
    c1 = compute_at(fan_out, 1, 8)
    assert c1["calls"] == pytest.approx(1) and c1["policy_tokens"] == pytest.approx(50)  # what sc(n=1) costs
    # nested pools, sc(n=1..4, of=sc(n=4)): each of the 4 candidates is an inner run's own call of 4
    nested = [entry("policy", 4, 40, 80) for _ in range(4)]
    c1 = compute_at(nested, 1, 4)
    assert c1["calls"] == pytest.approx(1) and c1["policy_tokens"] == pytest.approx(120)  # one inner run
    # the pool drawn in two waves of 4: a 2-subset needs the second wave unless both come from the first
    waves = [entry("policy", 4, 40, 40), entry("policy", 4, 40, 40)]
    both = 1 - math.comb(4, 2) / math.comb(8, 2)
    c2 = compute_at(waves, 2, 8)
    assert c2["calls"] == pytest.approx(2 * both)
    assert c2["prompt_tokens"] == pytest.approx(2 * both * 40) and c2["completion_tokens"] == pytest.approx(20)
    # FLOPs count every prompt token: a prefix another unit left in the cache is not this strategy's
    cached = [dataclasses.replace(entry("policy", 8, 40, 80), cached_prompt_tokens=30)]
    assert compute_at(cached, 2, 8)["flops"] == compute_at([entry("policy", 8, 40, 80)], 2, 8)["flops"]
