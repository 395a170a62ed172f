"""Generators are deterministic per seed; graders are exact (no torch needed)."""

import csv
import random
import re
from pathlib import Path

import pytest

from ponder.lab.tasks import TASKS, base, LabProblem, arith, countdown, extract_answer, insert_step_tags

REPO = Path(__file__).resolve().parents[2]
GAME24 = REPO / ".." / "shared" / "datasets" / "game24.csv"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_generate_deterministic(name):
    task = TASKS[name]
    a = task.generate(50, seed=3)
    b = task.generate(50, seed=3)
    c = task.generate(50, seed=4)
    assert a == b
    assert [p.question for p in a] != [p.question for p in c]
    assert all(isinstance(p, LabProblem) for p in a)
    assert len({p.id for p in a}) == 50
    assert all(task.check(p, p.answer) for p in a)


def test_arith_semantics_and_difficulty():
    for d in (3, 5, 7):
        for p in arith.generate(40, seed=1, difficulty=d):
            expr = p.question.removeprefix(arith.QUESTION_PREFIX)
            assert sum(expr.count(o) for o in "+-*") == d
            assert all(0 <= v <= 999 for v in p.meta["values"])
            # strict left-to-right evaluation
            val = p.meta["start"]
            for op, b in p.meta["steps"]:
                val = val + b if op == "+" else val - b if op == "-" else val * b
            assert str(val) == p.answer


def test_arith_check_exact():
    p = LabProblem("x", "Compute left to right: 567-227-134*4+24", "848",
                   {"task": "arith", "start": 567, "steps": [["-", 227], ["-", 134], ["*", 4], ["+", 24]],
                    "values": [340, 206, 824, 848]})
    assert arith.check(p, "848") and arith.check(p, " 848 ") and arith.check(p, "848.")
    for bad in ("847", "8480", "", None, "848+0", "eight hundred", "-848"):
        assert not arith.check(p, bad)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_traces_end_with_correct_answer_and_labels(name):
    task = TASKS[name]
    rng = random.Random(0)
    for p in task.generate(30, seed=5):
        for style in ("full", "draft", "verify", "recheck", "granular", "switch", "backtrack"):
            t = task.trace(p, rng, style)
            assert t.startswith("<think> ") and " </think> Answer: " in t
            assert task.check(p, extract_answer(t)), (style, t)
            labels = task.step_labels(p, t)
            assert len(labels) == t.count(";") + 1 and labels[-1]
            if style in ("full", "draft"):
                assert all(labels), (t, labels)
        slip = task.trace(p, rng, "slip")
        assert not task.check(p, extract_answer(slip))
        assert not task.step_labels(p, slip)[-1]


def test_arith_recheck_checks_every_step_by_its_inverse_and_labels_the_checks():
    p = LabProblem("x", "Compute left to right: 567-227-134*4+24", "848",
                   {"task": "arith", "start": 567, "steps": [["-", 227], ["-", 134], ["*", 4], ["+", 24]],
                    "values": [340, 206, 824, 848]})
    assert base.check_text(340, "-", 134, 216) == ("216+134=350", False)
    assert base.check_text(340, "-", 134, 206) == ("206+134=340", True)
    assert base.check_text(206, "*", 4, 824) == ("4*206=824", True)
    assert base.check_text(824, "+", 24, 848) == ("848-24=824", True)
    caught = ("<think> 567-227=340; 340-134=216; 216*4=864; 864+24=888 Wait, 340+227=567 ok; "
              "216+134=350 no; 340-134=206; 206*4=824; 824+24=848 </think> Answer: 848")
    assert arith.step_labels(p, caught) == [True, False, False, True, True, True, True, True]
    missed = ("<think> 567-227=340; 340-134=216; 216*4=864; 864+24=888 Wait, 340+227=567 ok; "
              "216+134=350 ok; 4*216=864 ok; 888-24=864 ok </think> Answer: 888")
    # "216+134=350" is right arithmetic, but "ok" vouches for 350-134=216, not a step of the chain
    assert arith.step_labels(p, missed) == [True, False, False, True, False, False, False]
    vouched = "<think> 567-227=340; 340-134=216 Wait, 340+227=567 ok; 216+134=350 no; 340-134=206"
    assert arith.step_labels(p, vouched + " </think> Answer: 206") == [True, True, True, False]
    rng = random.Random(1)
    for q in arith.generate(40, seed=3):
        t = arith.trace(q, rng, "recheck")
        assert 1 <= t.count("Wait,") <= 3 and (" ok" in t or " no" in t), t
        assert all(arith.step_labels(q, t)[t.count(";") - t.split("Wait,")[-1].count(";"):]), t


def test_arith_vote_recomputes_until_two_attempts_agree():
    """``vote``: whole attempts after ``Wait,``; after the first, thinking ends exactly when an
    attempt repeats an earlier result, and the answer is that result (untrained when wrong)."""
    rng = random.Random(2)
    seen_waits = set()
    right = wrong = 0
    for q in arith.generate(200, seed=4):
        parts = arith.trace_parts(q, rng, "vote")
        text = "".join(t for t, _ in parts)
        body = text.removeprefix("<think> ").split(" </think>")[0]
        finals = [attempt.split("=")[-1] for attempt in body.split(" Wait, ")]
        seen_waits.add(len(finals) - 1)
        assert len(finals) <= base.VOTE_MAX
        for k in range(1, len(finals) - 1):  # every attempt but the last disagreed with all before it
            assert finals[k] not in finals[:k], text
        if 1 < len(finals) < base.VOTE_MAX:
            assert finals[-1] in finals[:-1], text
        answer = extract_answer(text)
        assert answer == finals[-1]
        # the answer is the last part: trained when the attempts settled on the right result, masked
        # (untrained) when they settled on a wrong one
        if answer == q.answer:
            right += 1
            assert arith.check(q, answer) and parts[-1] == (answer, True), text
        else:
            wrong += 1
            assert not arith.check(q, answer) and parts[-1] == (answer, False), text
        assert arith.step_labels(q, text)[-1] == (answer == q.answer)
    assert {0, 1, 2} <= seen_waits
    assert right > 100 and wrong > 20, (right, wrong)  # 149 and 51 when written: both cases are checked


def test_arith_granular_recomputes_by_place_value_and_labels_the_pieces():
    assert base.granular_step(340, "-", 134) == ("340-134: 340-100=240, 240-30=210, 210-4=206", 206)
    assert base.granular_step(206, "*", 4) == ("206*4: 200*4=800, 6*4=24, 800+24=824", 824)
    assert base.granular_step(5, "+", 0) == ("5+0: 5+0=5", 5)
    p = LabProblem("x", "Compute left to right: 567-227-134*4+24", "848",
                   {"task": "arith", "start": 567, "steps": [["-", 227], ["-", 134], ["*", 4], ["+", 24]],
                    "values": [340, 206, 824, 848]})
    right = ("<think> 567-227=340; 340-134=216; 216*4=864; 864+24=888 Wait, 567-227: 567-200=367, "
             "367-20=347, 347-7=340; 340-134: 340-100=240, 240-30=210, 210-4=206; 206*4: 200*4=800, "
             "6*4=24, 800+24=824; 824+24: 824+20=844, 844+4=848 </think> Answer: 848")
    assert arith.step_labels(p, right) == [True, False, False, True, True, True, True]
    # a wrong piece, a piece chain that ends off the chain, a header with the wrong operand
    for bad, at in (("240-30=210", "240-30=200"), ("210-4=206", "210-4=196"), ("340-134:", "350-134:")):
        labels = arith.step_labels(p, right.replace(bad, at, 1))
        assert labels[4] is False, (at, labels)
    rng = random.Random(3)
    for q in arith.generate(60, seed=8):
        parts = arith.trace_parts(q, rng, "granular")
        t = "".join(x for x, _ in parts)
        assert 1 <= t.count("Wait,") <= 2 and arith.check(q, extract_answer(t)), t
        assert all(arith.step_labels(q, t)[t.split("Wait,")[0].count(";"):]), t
        assert all(ok for x, ok in parts if ":" in x)  # the recomputation is always trained


def test_prm_only_slips_follow_corrections_and_answers():
    """``backtrack_slip`` / ``switch_slip`` also put errors after ``<backtrack>`` and
    ``Alternatively,`` (so a PRM cannot learn that a correction is always right),
    ``answer_slip`` answers something other than the last result, and ``misread`` computes a
    step right from a misread operand or operator; the exact labels see each."""
    rng = random.Random(7)
    wrong_redo = right_redo = wrong_switch = 0
    for q in arith.generate(120, seed=6):
        t = arith.trace(q, rng, "backtrack_slip")
        labels = arith.step_labels(q, t)
        assert "<backtrack>" in t, t
        if arith.check(q, extract_answer(t)):
            right_redo += 1
            assert labels[-1]
        else:
            wrong_redo += 1
            assert not labels[-1] and not all(labels), (t, labels)
        t = arith.trace(q, rng, "switch_slip")
        if "Alternatively," in t and not arith.check(q, extract_answer(t)):
            wrong_switch += 1
            assert not arith.step_labels(q, t)[-1], t
        t = arith.trace(q, rng, "answer_slip")
        labels = arith.step_labels(q, t)
        assert not arith.check(q, extract_answer(t)) and labels == [True] * (len(labels) - 1) + [False], t
        t = arith.trace(q, rng, "misread")  # a step misreads the question, the rest follows from it
        labels = arith.step_labels(q, t)
        j = labels.index(False)
        assert not any(labels[j:]) and all(labels[:j]) and not arith.check(q, extract_answer(t)), t
        a, op, b, c = re.findall(r"(\d+)([-+*])(\d+)=(\d+)", t)[j]
        assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op] == int(c), t
    assert wrong_redo > 20 and right_redo > 20 and wrong_switch > 10
    for p in countdown.generate(10, seed=5):  # countdown falls back to its own styles
        for style in ("backtrack_slip", "switch_slip", "answer_slip", "misread"):
            t = countdown.trace(p, rng, style)
            assert len(countdown.step_labels(p, t)) == t.count(";") + 1


def test_arith_trace_format():
    p = arith.generate(1, seed=0, difficulty=4)[0]
    t = arith.trace(p, random.Random(0), "full")
    steps = t.removeprefix("<think> ").split(" </think>")[0].split("; ")
    assert len(steps) == 4 and all("=" in s for s in steps)
    assert t.endswith(f"Answer: {p.answer}")
    tagged = insert_step_tags(t, "<step>")
    assert tagged.count("<step>") == 4 and tagged.endswith("<step>")


def _cd(nums, target=24):
    return countdown.problem_from_numbers(nums, target)


def test_countdown_check_exact():
    p = _cd([5, 3, 7, 10])
    assert countdown.check(p, "(5-3)*7+10")
    assert countdown.check(p, " 10+7*(5-3) ")
    assert not countdown.check(p, "(5-3)*7+11")  # wrong number
    assert not countdown.check(p, "(5-3)*7")  # number unused
    assert not countdown.check(p, "(5-5)*7+10")  # duplicate use
    assert not countdown.check(p, "(5-3)*7+10+3-3")  # extra numbers
    assert not countdown.check(p, "(5+3)*7+10")  # wrong value
    assert not countdown.check(p, "__import__('os')")
    assert not countdown.check(p, "(5-3)**7+10")
    assert not countdown.check(p, "24")
    assert not countdown.check(p, "")
    z = _cd([1, 1, 4, 6])
    assert not countdown.check(z, "4/(1-1)+6")  # division by zero
    assert countdown.check(z, "(1+1)*(6+4)+4") is False
    assert countdown.check(z, "(1+1)*(6+4)+4-4") is False
    assert countdown.check(z, "4*6*1*1")
    frac = _cd([3, 3, 8, 8])
    assert countdown.check(frac, "8/(3-8/3)")  # needs exact fractions
    assert not countdown.check(frac, "8/(3-8//3)")


def test_countdown_check_reads_answers_as_models_write_them():
    """'expr = 24' (as Tree of Thoughts answers Game of 24) and LaTeX operators were graded wrong on
    every puzzle: the whole text was parsed as Python."""
    p = _cd([4, 8, 6, 4])
    for ok in ("(4 + 8) * (6 - 4) = 24", "24 = (4+8)*(6-4)", "(4 + 8) \\times (6 - 4) = 24",
               "$(4+8)\\cdot(6-4)$", "(4+8) x (6-4)", "(4+8)*(6-4) = 12*2 = 24", "(4+8)·(6−4)."):
        assert countdown.check(p, ok), ok
    for wrong in ("(4+8)*(6-4) = 25", "4*8*6*4 = 24", "24 = 24", "(4+8)*(6-4) = 24 = x"):
        assert not countdown.check(p, wrong), wrong
    q = _cd([1, 5, 5, 5])
    assert countdown.check(q, "5\\times\\left(5-\\frac{1}{5}\\right) = 24")
    assert not countdown.check(q, "5\\times\\left(5-\\frac{1}{4}\\right) = 24")


def test_game24_steps_may_be_fractions_and_lab_countdown_steps_stay_integer():
    """Game of 24 allows fractional intermediates (1 5 5 5 has no other solution: 5*(5-1/5)); its
    grader did, its exact check of partial solutions did not, so search pruned the only solution."""
    from ponder.lab.tasks.base import right_so_far

    p = _cd([1, 5, 5, 5])
    text = "<think> 1/5=1/5; 5-1/5=24/5; 5*24/5=24 </think> Answer: 5*(5-1/5)"
    assert countdown.step_labels(p, text) == [True, True, True]
    assert p.meta["fractions"] and countdown.check(p, p.answer)  # a reference answer with fractions
    assert not countdown.solvable((1, 5, 5, 5), 24) and countdown.solvable((1, 5, 5, 5), 24, True)
    assert right_so_far(countdown, p, "<think> 1/5=1/5;") and right_so_far(countdown, p, "<think> 1/5=1/5; 5-1/5=24/5;")
    assert not right_so_far(countdown, p, "<think> 1/5=1/4;")  # wrong arithmetic
    assert not right_so_far(countdown, p, "<think> 5-5=0;")  # 24 out of reach, fractions or not
    # the generated lab problems keep to integer steps (their training traces and labels)
    assert not any(q.meta.get("fractions") for q in countdown.generate(20, seed=2))
    integer_only = countdown.problem_from_numbers([1, 5, 5, 5], fractions=False)
    assert integer_only.answer == "" and not right_so_far(countdown, integer_only, "<think> 1/5=1/5;")
    assert _cd([3, 3, 8, 8]).answer == "8/(3-8/3)"


def test_countdown_generate_difficulty():
    for p in countdown.generate(30, seed=2, difficulty=4):
        assert p.meta["target"] == 24 and len(p.meta["numbers"]) == 4
        assert all(1 <= x <= 13 for x in p.meta["numbers"])
        assert countdown.check(p, p.answer)
    for p in countdown.generate(30, seed=2, difficulty=3):
        assert len(p.meta["numbers"]) == 3 and countdown.check(p, p.answer)


@pytest.mark.skipif(not GAME24.exists(), reason="shared Game of 24 dataset not available")
def test_game24_rows():
    with GAME24.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 1000
    solved = 0
    for row in rows[:200]:
        nums = [int(x) for x in row["Puzzles"].split()]
        p = _cd(nums)
        if p.answer:
            solved += 1
            assert countdown.check(p, p.answer) and countdown.check(p, f"{p.answer} = 24")
            assert countdown.check(p, p.answer.replace("*", " \\times ").replace("/", " \\div "))
            assert not countdown.check(p, p.answer + "+0")
    assert solved >= 150
    first = [int(x) for x in rows[0]["Puzzles"].split()]
    assert sorted(first) == [1, 1, 4, 6]
    assert countdown.check(_cd(first), "(1+1)*(6+4)+4-4") is False
    assert countdown.check(_cd(first), "4*6*1*1")


def test_right_so_far_judges_unfinished_solutions_exactly():
    from ponder.lab.tasks.base import right_so_far

    p = countdown.problem_from_numbers([6, 8, 9, 11], 24)  # 8*(6/(11-9)) = 24
    assert right_so_far(countdown, p, "<think> 11-9=2;")
    assert right_so_far(countdown, p, "<think> 11-9=2; 6/2=3;")
    assert not right_so_far(countdown, p, "<think> 11-8=3;")  # right arithmetic, but 24 is out of reach
    assert not right_so_far(countdown, p, "<think> 11-9=3;")  # wrong arithmetic
    assert not right_so_far(countdown, p, "<think> 11-9=2; 9-6=3;")  # 9 is used up
    assert right_so_far(countdown, p, "<think> 11-8=3; Alternatively, 11-9=2;")  # a restart clears the dead end
    done = "<think> 11-9=2; 6/2=3; 8*3=24 </think> Answer: 8*(6/(11-9))"
    assert right_so_far(countdown, p, done)
    assert not right_so_far(countdown, p, done.replace("8*(", "9*("))  # finished: the answer decides
    assert not right_so_far(countdown, p, "<think> 11-9=2; 6/2=3 </think>")  # thinking closed, no answer
    q = arith.generate(1, seed=0, difficulty=3)[0]
    a, (op1, b1), (op2, b2) = q.meta["start"], q.meta["steps"][0], q.meta["steps"][1]
    v1, v2 = q.meta["values"][:2]
    assert right_so_far(arith, q, f"<think> {a}{op1}{b1}={v1}; {v1}{op2}{b2}={v2};")
    assert not right_so_far(arith, q, f"<think> {a}{op1}{b1}={v1 + 1};")
    # the finished labels are unchanged: the last segment is the answer's
    assert arith.step_labels(q, f"<think> {a}{op1}{b1}={v1};") == [True, False]
    assert arith.step_labels(q, f"<think> {a}{op1}{b1}={v1};", finished=False) == [True, True]


def test_extract_answer_takes_the_last_answer_on_a_line_too():
    assert extract_answer("Answer: 1 Answer: 235") == "235"
    assert extract_answer("<think> 2+3=5 </think> Answer: 5\nAnswer: 6") == "6"
    assert extract_answer("Answer: 848<|end|>") == "848"
