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


def _task(tmp_path, questions: list[str]) -> str:
    import json

    path = tmp_path / "mix.jsonl"
    path.write_text("".join(json.dumps({"question": q, "answer": "2"}) + "\n" for q in questions))
    return f"jsonl:{path}?question=question&answer=answer"


LONG = "Add these up: " + "1+1 " * 400  # far past the embedded model's 512-token window


def test_a_problem_too_long_for_the_window_is_skipped_and_named(tmp_path, capsys):
    """One over-long prompt aborted the whole run, discarding every result and naming no problem."""
    import asyncio

    from ponder.lab.engine_eval import evaluate

    task = _task(tmp_path, ["What is 1+1?", LONG, "What is 3-1?"])
    rep = asyncio.run(evaluate("embedded", task, limit=3, seed=0, max_n=2, scorer=None, max_tokens=8))
    assert rep.problems == 2 and rep.skipped == ["row-1"]
    assert rep.to_dict()["skipped"] == ["row-1"] and rep.to_dict()["problems"] == 2
    err = capsys.readouterr().err
    assert "skipped 1 of 3 problems" in err and "row-1" in err


def test_lab_eval_names_the_skipped_problem_in_json_and_text(tmp_path, capsys):
    import json

    from ponder.cli import app
    from ponder.cli_run import run_app

    task = _task(tmp_path, ["What is 1+1?", LONG])
    common = ["lab", "eval", "--task", task, "--limit", "2", "--max-n", "2", "--max-tokens", "8", "--scorer", "none"]
    run_app(app, common + ["--json"])
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert d["problems"] == 1 and d["skipped"] == ["row-1"] and "row-1" in err
    run_app(app, common)
    out, err = capsys.readouterr()
    assert "1 problems" in out and "skipped 1 of 2 problems" in err and "row-1" in err


def test_when_every_problem_is_too_long_the_error_says_so(tmp_path):
    import asyncio

    from ponder.errors import ContextLengthError
    from ponder.lab.engine_eval import evaluate

    task = _task(tmp_path, [LONG, LONG + "2"])
    with pytest.raises(ContextLengthError, match="all 2 problems were skipped: the prompt does not fit"):
        asyncio.run(evaluate("embedded", task, limit=2, seed=0, max_n=2, scorer=None, max_tokens=8))


def test_best_of_n_by_vote_is_the_majority_of_the_subset_at_every_n():
    """Best-of-N by ``vote`` ranked each N-subset by the vote shares of the whole pool, so at N < max_n
    it picked the pool's majority (0.750 against majority 0.650 at N=2): a pool-relative scorer's
    subset is scored again among itself (``rescore``), as the bench does."""
    from ponder.scorers import build_scorer

    vote = build_scorer("vote")
    pools = [pool(["2", "3", "3", "2", "2"]), pool(["3", "3", "2", None, "2"]), pool([None, "2", "4", "4", "2"])]
    for p in pools:
        p.scorer, p.scores = vote, vote.rescore(p.problem, p.candidates)
    by_n = summarise(pools, max_n=5, seed=0)
    for n, row in by_n.items():
        assert row["best_of_n"] == pytest.approx(row["majority"]), n
    assert by_n[2]["best_of_n"] != by_n[5]["best_of_n"]  # the subsets decide, not the pool
    assert pools[0].scores == [0.6, 0.4, 0.4, 0.6, 0.6]  # the pool keeps its own scores


def test_lab_eval_best_of_n_by_vote_equals_majority():
    """Through ``evaluate`` on the lab model (at N=2 best-of-N by vote was 0.861 against majority 0.750)."""
    import asyncio

    from ponder.lab.engine_eval import evaluate

    rep = asyncio.run(evaluate("embedded", "arith", limit=6, seed=0, max_n=4, scorer="vote", max_tokens=64))
    for n, row in rep.by_n.items():
        assert row["best_of_n"] == pytest.approx(row["majority"]), (n, rep.by_n)
