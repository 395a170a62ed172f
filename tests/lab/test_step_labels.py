"""Step labels (``step_labels``, ``right_so_far``): how written steps are read and judged.

These labels are the PRM's training labels and the ``exact`` scorer's judgement of partial
paths in tree search, so a misread step mislabels both. Each test names the defect it pins.
"""

import random
from fractions import Fraction

import pytest

from ponder.lab.tasks import STYLES, TASKS, LabProblem, arith, countdown, extract_answer, split_steps
from ponder.lab.tasks.base import right_so_far, step_text


def _arith_625():
    """``625+115+48+205``: chain values 740, 788, 993."""
    return LabProblem("x", "Compute left to right: 625+115+48+205", "993",
                      {"task": "arith", "start": 625, "steps": [["+", 115], ["+", 48], ["+", 205]],
                       "values": [740, 788, 993]})


def test_countdown_wait_inside_a_segment_starts_a_new_attempt():
    """``verify`` writes ``Wait,`` mid-segment; the slip before it belongs to the abandoned
    attempt and must not sink the corrected one (it did: ``[True, True, False, False, True]``)."""
    p = countdown.problem_from_numbers([1, 6, 11, 13], 24, fractions=False)
    text = ("<think> 13*11=143; 143+1=144; 144/6=42 Wait, 13*11=143; 143+1=144; 144/6=24 </think> "
            "Answer: (13*11+1)/6")
    assert countdown.step_labels(p, text) == [True] * 5
    assert right_so_far(countdown, p, "<think> 13*11=143; 143+1=144; 144/6=42 Wait, 13*11=143;")
    assert right_so_far(countdown, p, "<think> 13*11=143; 143+1=144; 144/6=42 Wait, 13*11=143; 143+1=144;")
    # the restart starts from the given numbers: a step on a number of the abandoned attempt fails
    assert not right_so_far(countdown, p, "<think> 13*11=143; 143+1=144; 144/6=42 Wait, 144/6=24;")
    # and a wrong step after the restart is still wrong
    assert not right_so_far(countdown, p, "<think> 13*11=143; 143+1=145 Wait, 13*11=144;")
    for i, q in enumerate(countdown.generate(40, seed=1, difficulty=4)):  # 22 of these were mislabelled
        t = countdown.trace(q, random.Random(i), "verify")
        k = next((j for j, s in enumerate(split_steps(t)) if "Wait," in s), None)
        if k is not None:
            assert all(countdown.step_labels(q, t)[k:]), t


def test_dividing_by_a_fraction_is_read_as_written():
    """``8 ÷ (1/3)`` renders ``8/1/3=24`` (``step_text``); it was read as ``(8/1)/3`` and the key
    Game of 24 solution of ``3 3 8 8`` labelled wrong. A step with two readings takes the one
    whose operands are held and whose arithmetic is exact."""
    p = countdown.problem_from_numbers([3, 3, 8, 8], 24)
    steps = [step_text(8, "/", 3, Fraction(8, 3)), step_text(3, "-", Fraction(8, 3), Fraction(1, 3)),
             step_text(8, "/", Fraction(1, 3), 24)]
    assert steps[2] == "8/1/3=24"
    text = "<think> " + "; ".join(steps)
    assert countdown.step_labels(p, text + ";", finished=False) == [True] * 4
    assert right_so_far(countdown, p, text + ";")
    assert countdown.step_labels(p, text + " </think> Answer: 8/(3-8/3)") == [True] * 3
    assert not right_so_far(countdown, p, "<think> 8/3=8/3; 3-8/3=1/3; 8/1/3=25;")  # no reading is exact
    assert right_so_far(countdown, p, "<think> 8/3=8/3; 3-8/3=1/3; 8 / 1/3 = 24;")  # spaced: one reading
    assert not right_so_far(countdown, p, "<think> 8/3=8/3; 3-8/3=1/3; 8/1 / 3 = 8/3;")  # (8/1)/3: 3 used up
    for zero in ("<think> 8/0/3=24;", "<think> 8/3=5/0;"):  # a zero denominator is a wrong step, not a crash
        assert not right_so_far(countdown, p, zero)
    q = countdown.problem_from_numbers([1, 5, 5, 5], 24)
    assert right_so_far(countdown, q, "<think> 1/5=1/5; 5-1/5=24/5; 5*24/5=24;")


def test_a_step_is_read_whole_and_with_the_operators_models_write():
    """The equation pattern was unanchored (``8*8+6-4=2`` read as ``6-4=2``, ``6-4=2.9`` as
    ``6-4=2``) and blind to ``×``, ``x`` and ``−`` (a step with them passed unchecked and its
    numbers went unrecorded); a countdown segment with an equation but no step it can read is not
    ok, and prose without one (a model's plan) is let be."""
    p = countdown.problem_from_numbers([4, 6, 8, 8], 24)
    for wrong in ("8 * 8 + 6 - 4 = 2\n", "<think> 6-4=2.9;", "<think> 8 × 8 = 65;", "<think> 8 x 8 = 65;",
                  "<think> 6/4=1.5;", "<think> 8+8+6=22;",
                  "<think> 8 \\times 4 = 33;"):
        assert not right_so_far(countdown, p, wrong), wrong
    assert right_so_far(countdown, p, "<think> 6-4=2.")  # a full stop after the result is prose
    assert right_so_far(countdown, p, "We have 4, 6, 8 and 8.\n\n")  # prose: no step to judge
    for right in ("<think> 8 − 6 = 2; 8 + 4 = 12; 12 * 2 = 24;", "<think> 8-6=2; 8+4=12; 12 × 2 = 24;",
                  "<think> 8 − 6 = 2; 8 + 4 = 12; 12 x 2 = 24;", "<think> 8 \\times 4 = 32;",
                  "6 / 4 = 3/2 (left: 3/2 8 8)\n8 + 8 = 16 (left: 3/2 16)\n"):
        assert all(countdown.step_labels(p, right, finished=False)), right
    q = _arith_625()
    for wrong in ("<think> 625+115=740.7;", "<think> 9+625+115=740;", "<think> 625+115=740; 740+48=788; 788+205=993.5"):
        assert not right_so_far(arith, q, wrong), wrong
    assert arith.step_labels(q, "<think> 625 + 115 = 740; 740 + 48 = 788;", finished=False) == [True] * 3


@pytest.mark.parametrize("text", ["<think> 740; 789 Wait, 740; 788; 993", "<think> 740; 789; Alternatively, 740; 788"])
def test_arith_draft_restarts_at_a_new_attempt(text):
    """A draft redo after ``Wait,``/``Alternatively,`` is compared with the chain from its first
    value again (it was compared with the value after the abandoned attempt's last)."""
    q = _arith_625()
    labels = arith.step_labels(q, text, finished=False)
    assert labels[0] and labels[-1] and labels == [True, "Alternatively" not in text, True, True]
    assert right_so_far(arith, q, text + ";")
    assert not right_so_far(arith, q, text.rsplit(";", 1)[0] + "; 789;")  # a wrong redo stays wrong


@pytest.mark.parametrize("name", sorted(TASKS))
def test_rendered_traces_are_labelled_right(name):
    """On the traces the tasks render (every style): the last label is the answer's correctness;
    a solved trace is right from its last restart on (so throughout where it has none); a solved
    trace with no slip (a training style, not a PRM-only one, with every part trained: its slips
    are masked) is right throughout, except countdown's ``Alternatively,`` traces, whose abandoned
    attempts are real dead ends (labelled so where they become one)."""
    prm_only = {"slip", "backtrack_slip", "switch_slip", "answer_slip", "misread"}
    task = TASKS[name]
    diffs = getattr(task, "TRAIN_DIFFICULTIES", task.DEFAULT_DIFFICULTIES)
    problems = [p for d in diffs for p in task.generate(-(-200 // len(diffs)), seed=11, difficulty=d)][:200]
    solved = 0
    for style in STYLES:
        for i, p in enumerate(problems):
            parts = task.trace_parts(p, random.Random(f"{style}:{i}"), style)
            t = "".join(x for x, _ in parts)
            labels = task.step_labels(p, t)
            correct = task.check(p, extract_answer(t))
            assert len(labels) == t.count(";") + 1 and labels[-1] == correct, (style, t, labels)
            if not correct:
                continue
            last = max((k for k, s in enumerate(split_steps(t)) if "Wait" in s or "Alternatively" in s), default=0)
            assert all(labels[last:]), (style, t, labels)
            if style not in prm_only and all(ok for _, ok in parts) and \
                    not (name == "countdown" and "Alternatively," in t):
                solved += 1
                assert all(labels), (style, t, labels)
    assert solved > 600, solved  # about 820 of 2 600 for each task


def test_a_restart_that_a_backtrack_retracted_does_not_restart():
    """Text before the last <backtrack> of a segment is retracted, a Wait in it too: the attempt
    goes on with the numbers it held (the state went back to the given numbers, and the right
    steps after it were labelled wrong)."""
    p = countdown.problem_from_numbers([8, 3, 2, 1], 24)
    text = "<think> 2-1=1; Wait, 8*2=15 <backtrack> 8*3=24; 24*1=24; </think>"
    assert countdown.step_labels(p, text, finished=False) == [True] * 4


def test_a_word_that_starts_with_wait_is_no_restart():
    """Only the words restart an attempt: "Waiting" did too."""
    from ponder.lab.tasks.base import attempt_text

    assert attempt_text(" Waiting for it, 8*3=24;") == (False, " Waiting for it, 8*3=24;")
    assert attempt_text(" 8*2=15 Wait, 8*3=24;") == (True, ", 8*3=24;")
    assert attempt_text(" Alternatively, 8*3=24;")[0] and not attempt_text(" Alternativelyx 8*3=24;")[0]
