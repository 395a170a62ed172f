"""Pool-relative scorers in the bench: a subset of a pool is scored as its own pool would be."""

from __future__ import annotations

import json

import pytest

from ponder.bench.runner import BenchConfig, run_bench
from ponder.bench.store import Store
from ponder.engine import Engine
from ponder.types import Capabilities, Generation, Sample, Usage

POOL = ["7", "7", "7", "9", "9", "9", "9", "9"]  # gold 7: the pool's majority (9) is wrong


class FixedPool:
    """Sample i of every call says ``POOL[i]``, whatever the seed, so every family draws the same pool."""

    name = "fixed-pool"

    def capabilities(self):
        return Capabilities(num_parameters=1000)

    async def generate(self, request):
        samples = [Sample(text=f"Answer: {POOL[i % len(POOL)]}", finish_reason="stop", completion_tokens=5)
                   for i in range(request.n)]
        return Generation(samples, Usage(prompt_tokens=10, completion_tokens=5 * request.n))


def majority_is_seven(k: int) -> float:
    """P(7 wins the vote of a uniformly random k-subset of POOL, ties to the first seen), enumerated."""
    from itertools import combinations

    wins = 0
    subsets = list(combinations(range(len(POOL)), k))
    for idx in subsets:
        sub = [POOL[i] for i in idx]
        sevens, nines = sub.count("7"), sub.count("9")
        wins += sevens > nines or (sevens == nines and sub[0] == "7")
    return wins / len(subsets)


async def test_bon_and_wbon_by_vote_equal_sc_at_every_k(tmp_path):
    """``bon(scorer=vote)`` is majority voting, so at each k it must score what ``sc`` scores on the
    same subsets. Before, each subset kept the scores of the whole pool of 8 (each sample's share
    of the 8), so at k=2 the pair 7,9 picked 9, the pool's majority: accuracy 3/28 against sc's
    18/28 (at k=3, 1/56 against 16/56). wbon summed those pool shares and was off too (at k=4,
    7,7,9,9 weighed 0.75 against 1.25)."""
    task = tmp_path / "one.jsonl"
    task.write_text(json.dumps({"id": "q0", "question": "What is 3+4?", "answer": "7"}) + "\n")
    strategies = "sc(n=1..8); bon(n=1..8, scorer=vote); wbon(n=1..8, scorer=vote)"
    # 100 subsets: every k-subset of 8 is enumerated (C(8, 4) = 70), so the estimates are exact
    cfg = BenchConfig(model="scripted", task=f"jsonl:{task}", strategies=strategies, limit=1,
                      out=str(tmp_path / "run"), progress=False, max_subsets=100)
    await run_bench(cfg, engine=Engine(FixedPool()))
    store = Store.for_run(tmp_path / "run", readonly=True)
    results = store.results()
    store.close()
    by = {(r["family"], r["point"]): r["correct"] for r in results}
    for k in (1, 2, 4, 8):
        want = majority_is_seven(k)
        assert by[("sc(n=1..8)", k)] == pytest.approx(want), k
        assert by[("bon(n=1..8, scorer=vote)", k)] == pytest.approx(want), k
        assert by[("wbon(n=1..8, scorer=vote)", k)] == pytest.approx(want), k
    # the subsets keep the pool's order (7s first), so a tie goes to 7: k=2, any pair with a 7;
    # k=4, two or three 7s (30 + 5 of the 70)
    assert majority_is_seven(2) == pytest.approx(18 / 28) and majority_is_seven(4) == pytest.approx(35 / 70)


def test_the_pool_keeps_its_scores_and_other_scorers_are_not_rescored():
    """The subsets are copies: rescoring one leaves the pool's scores as drawn. A scorer whose
    score does not depend on the other candidates (prm) decides on the pool's scores as before."""
    from ponder.bench.runner import subset_decide
    from ponder.bench.subsample import estimate
    from ponder.strategies import build_strategy
    from ponder.strategies.base import grade
    from ponder.types import Candidate, Problem

    prob = Problem.from_question("What is 3+4?", answer="7")
    pool = [Candidate(text=a, answer=a, score=POOL.count(a) / len(POOL)) for a in POOL]
    bon = build_strategy("bon(n=8, scorer=vote)")
    est = estimate(prob, pool, 3, subset_decide(bon), grade, max_subsets=100)
    assert est.correct == pytest.approx(16 / 56)
    assert [c.score for c in pool] == [POOL.count(a) / len(POOL) for a in POOL]
    prm = build_strategy("bon(n=8, scorer=prm)")
    assert subset_decide(prm) == prm.decide
