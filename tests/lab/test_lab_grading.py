"""The graders read only what the problem asks for, the generators only the difficulties they have,
evaluation seeds are held out from training, and ``lab eval`` says when its scorer chose nothing."""

import pytest

from ponder.lab.tasks import arith, countdown


def test_arith_check_reads_ascii_decimal_integers_only():
    """Other scripts' digits (\\d matched them), ``693..`` and a 5000-digit answer (ValueError from
    Python's int-string limit) were graded as numbers."""
    p = arith.generate(1, 5, difficulty=3)[0]
    a = p.answer
    for ok in (a, f" {a} ", f"0{a}", f"{a}.", f"\n{a} .\n", f"{a} "):
        assert arith.check(p, ok), ok
    arabic = "".join(chr(ord(c) - 0x30 + 0x660) for c in a)
    fullwidth = "".join(chr(ord(c) - 0x30 + 0xFF10) for c in a)
    for bad in (arabic, fullwidth, f"{a}..", f"+{a}", "1" * 5000, "9" * 401, "", None):
        assert arith.check(p, bad) is False, repr(bad)[:30]
    neg = arith.LabProblem("n", "q", "-12", {})
    assert arith.check(neg, "-12") and arith.check(neg, "-012") and not arith.check(neg, "\u221212")


def test_countdown_check_reads_plain_decimal_literals_only():
    """``ast`` reads ``0b11`` as 3 and ``1_3`` as 13: ``8/(3-8/0b11)`` was a correct 24."""
    q = countdown.problem_from_numbers([3, 3, 8, 8])
    assert countdown.check(q, "8/(3-8/3)") and countdown.check(q, "(8/(3-8/3)) = 24")
    for bad in ("8/(3-8/0b11)", "8/(3-8/0o3)", "8/(3-8/0x3)", "8/(3-8/3_0)", "8/(3-8/0_3)"):
        assert not countdown.check(q, bad), bad
    p = countdown.problem_from_numbers([1, 2, 13, 8], target=24)
    assert not countdown.check(p, "1_3+8+2+1")


@pytest.mark.parametrize("task, bad, accepted", [(arith, 0, "from 1 to 50"), (arith, 51, "from 1 to 50"),
                                                 (countdown, 1, "from 2 to 6"), (countdown, 7, "from 2 to 6")])
def test_generate_refuses_a_difficulty_outside_its_range(task, bad, accepted):
    """arith.generate(difficulty=0) and countdown's gave an IndexError (or a problem nobody asked for)."""
    with pytest.raises(ValueError, match=accepted):
        task.generate(2, seed=0, difficulty=bad)
    low, high = task.DIFFICULTY_RANGE
    assert task.generate(1, seed=0, difficulty=low) and task.generate(1, seed=0, difficulty=high - 1)


# --- evaluation seeds are not training seeds -----------------------------------------------------

# the generator seeds of the shipped models' training problems (README "Problem seeds used for training")
TRAINING = {8020, 15939, 23858, 31777, 39696, 71372, 79291, 103048, 110967, 118886, 126805}


def test_training_generator_seeds_are_the_recipe_s(monkeypatch):
    from ponder.lab import data
    from ponder.lab.recipe import POLICY_STAGES, problem_seed, training_generator_seeds

    assert training_generator_seeds() == TRAINING
    drawn = set()
    for mod in (arith, countdown):
        real = mod.generate
        monkeypatch.setattr(mod, "generate", lambda n, seed, difficulty=None, real=real:
                            drawn.add(seed) or real(n, seed, difficulty))
    data.training_problems(8, POLICY_STAGES[1]["data_seed"])
    assert drawn == {problem_seed(POLICY_STAGES[1]["data_seed"])} == {15939}


def test_an_evaluation_seed_that_maps_onto_a_training_seed_is_refused():
    """Evaluation seeds 'from 10_000 up' were said never to be used for training, but seed 5939
    drew generator seed 15939: the policy's stage-2 training questions."""
    from ponder.tasks import TaskSpecError, load_task

    with pytest.raises(TaskSpecError, match="seed 5939: .*generator seed 15939, which the shipped models"):
        load_task("arith?difficulty=3").problems(100, 5939)
    for seed in (s - 10_000 for s in TRAINING):
        with pytest.raises(TaskSpecError):
            load_task("countdown").problems(1, seed)
    assert len(load_task("arith?difficulty=3").problems(3, 5940)) == 3


def test_raw_evaluation_refuses_a_training_seed(tmp_path):
    """``python -m ponder.lab.evaluate policy`` and ``quick-eval`` use --seed as the generator seed."""
    from ponder.errors import PonderError
    from ponder.lab.evaluate import evaluate_policy

    with pytest.raises(PonderError, match="--seed 8020: .*trained on"):
        evaluate_policy(tmp_path / "not-reached", "arith", n=1, k=1, seed=8020)


# --- ponder lab eval: a scorer that told no candidate from another --------------------------------

def _pool(scores):
    from ponder.lab.engine_eval import ProblemPool
    from ponder.types import Candidate, Problem

    problem = Problem.from_question("1+1?", answer="2")
    answers = ["3", "2", "2"][:len(scores)]
    return ProblemPool(problem, True, [Candidate(text="", answer=a) for a in answers],
                       [a == "2" for a in answers], scores=scores)


def test_lab_eval_notes_a_scorer_that_gave_every_candidate_the_same_score():
    """A judge that reads no rating scores every candidate 0.0; best-of-N was then the lowest-index
    sample, reported without a word."""
    from ponder.lab.engine_eval import EvalReport, unscored_note

    note = unscored_note([_pool([0.0, 0.0, 0.0]), _pool([0.2, 0.9, 0.1])], "judge")
    assert note and "1 of 2 problems" in note and "lowest-index" in note
    assert "no score" in unscored_note([_pool([None, None])], "prm")
    assert unscored_note([_pool([0.2, 0.9, 0.1]), _pool([0.5])], "prm") is None
    assert EvalReport("m", "t", 1, 1.0, scorer_note=note).to_dict()["scorer_note"] == note


def test_lab_eval_with_a_judge_that_reads_no_rating_says_so(capsys):
    import asyncio

    from ponder.lab.engine_eval import evaluate

    rep = asyncio.run(evaluate("embedded", "arith", limit=1, seed=0, max_n=2, scorer="judge", max_tokens=32))
    if rep.scorer_note is None:  # the judge did read a rating: nothing to say
        pytest.skip("the embedded judge gave different scores")
    assert "lowest-index" in rep.to_dict()["scorer_note"] and "note: the scorer judge" in capsys.readouterr().err
