"""``ponder lab eval``'s summary of the pools (no model needed)."""

from __future__ import annotations

import pytest

from ponder.lab.engine_eval import ProblemPool, summarise
from ponder.types import Candidate, Problem


def pool(answers: list[str | None], gold: str = "2") -> ProblemPool:
    problem = Problem.from_question("1+1?", answer=gold)
    return ProblemPool(problem, greedy_correct=True, candidates=[Candidate(text="", answer=a) for a in answers],
                       correct=[a == gold for a in answers])


def test_majority_of_one_is_the_mean_of_the_pool_exactly():
    """Majority of N is averaged over the pool's N-subsets: every subset where they can all be
    listed, so majority of 1 is one sample exactly (random subsets gave 0.5052 against 0.5)."""
    pools = [pool(["2", "3", "4"]), pool(["2", "2", "5"])]
    by_n = summarise(pools, max_n=3, seed=0)
    assert by_n[1]["majority"] == by_n[1]["one_sample"] == (1 / 3 + 2 / 3) / 2
    # N=2 over the three pairs: the first pool's vote is right only where its tie goes to "2";
    # the second is right in the pair of the two "2"s and in the ties that go to "2"
    exact = [ProblemPool.majority(p, list(pair)) for p in pools for pair in ((0, 1), (0, 2), (1, 2))]
    assert by_n[2]["majority"] == pytest.approx(sum(exact) / 6)  # all three pairs, not 64 draws


def test_a_pool_larger_than_the_subset_count_still_lists_every_single_sample():
    pools = [pool(["2"] * 37 + ["3"] * 63)]  # 100 single samples: more than the 64 random subsets
    by_n = summarise(pools, max_n=100, seed=0)
    assert by_n[1]["majority"] == by_n[1]["one_sample"] == 0.37
