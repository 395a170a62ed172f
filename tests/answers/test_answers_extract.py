"""Unit tests for ``ponder.answers.extract``."""

from __future__ import annotations

import dataclasses

import pytest

from ponder.answers import Extraction, extract_answer, extract_code, last_boxed
from ponder.answers.extract import last_number, split_think


# ----------------------------------------------------------------- boxed
@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so \boxed{42}.", "42"),
        (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{1}{\sqrt{2}}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\fbox{7}", "7"),
        (r"$\boxed{\{1, 2\}}$", r"\{1, 2\}"),  # escaped braces are not groups
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed 5 is it", "5"),
        (r"\boxed{3} and a truncated \boxed{\frac{1}{", "3"),  # unclosed box skipped
        (r"\boxed{}", None),
        (r"\boxed{\frac{1}{2}", None),
        ("no box", None),
        (r"\boxedx{3}", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_boxed_method_and_priority():
    out = extract_answer("Answer: 3\nso the result is \\boxed{\\frac{1}{\\sqrt{2}}} after 17 steps")
    assert out == Extraction(r"\frac{1}{\sqrt{2}}", "boxed")
    assert extract_answer(r"\boxed{x^2}", kind="boxed") == Extraction("x^2", "boxed")
    assert extract_answer("Answer: 3", kind="boxed") == Extraction(None, None)


# ----------------------------------------------------------- answer line
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Final Answer: 42", "42"),
        ("final answer: $\\frac{3}{4}$.", r"\frac{3}{4}"),
        ("**Final Answer:** 12", "12"),
        ("**Answer**: (B)", "(B)"),
        ("Answer: 5\nmore words\nAnswer: 6.", "6"),
        ("The final answer is 7. I hope it is correct.", "7"),
        ("The final answer is $x^2 + 1$. I hope it is correct.", "x^2 + 1"),
        ("So the answer is 3.5.", "3.5"),
        ("Final Answer:\n\n$12$", "12"),
        (r"ANSWER: \(2\sqrt{3}\)", r"2\sqrt{3}"),
        ("The answer is 2. Wait, no, the answer is 3.", "3"),  # restated answers: the last wins
        ("<think> 567-227=340; Wait, 340+227=567 ok </think> Answer: 848", "848"),  # lab model
        ("Answer: 840\nWait, 840-340=500 no. Answer: 848", "848"),
        ("The answer is Evelyn.", "Evelyn"),
        ("So the answer is x = 2.", "x = 2"),
        ("The final answer is:\n\n42", "42"),
        ("Some work.\nMy answer: 12", "12"),
        ("The answer is $12$ dollars.", "12"),  # a TeX pair is math, not money
    ],
)
def test_answer_line(text, expected):
    assert extract_answer(text) == Extraction(expected, "answer_line")


def test_answer_word_without_marker_is_not_an_answer_line():
    text = "express the answer as a percentage: 33.3%, so 33"
    assert extract_answer(text) == Extraction("33", "last_number")


# ----------------------------------------------------------------- gsm8k
def test_gsm8k_marker():
    text = "She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18"
    assert extract_answer(text, kind="gsm8k") == Extraction("18", "gsm8k")
    assert extract_answer(text) == Extraction("18", "gsm8k")
    assert extract_answer("x\n#### 1,450,000", kind="gsm8k").value == "1450000"
    assert extract_answer("#### -3", kind="auto").value == "-3"


def test_gsm8k_kind_falls_back_and_reduces_to_number():
    assert extract_answer(r"\boxed{\$1,000}", kind="gsm8k") == Extraction("1000", "boxed")
    assert extract_answer("Answer: 18 dollars", kind="gsm8k") == Extraction("18", "answer_line")
    assert extract_answer("she pays 5 then 7.", kind="gsm8k") == Extraction("7", "last_number")
    assert extract_answer("no numbers", kind="gsm8k") == Extraction(None, None)


# ---------------------------------------------------------------- number
@pytest.mark.parametrize(
    "text, expected",
    [
        ("total 1,234 apples", "1234"),
        ("we get -3 at the end", "-3"),
        ("3-5 gives", "5"),  # a minus between numbers is subtraction
        ("pi is 3.14.", "3.14"),
        ("ratio 3/4", "3/4"),
        ("half is 1/2.", "1/2"),
        ("x = -2/3", "-2/3"),
        (r"x = \frac{7}{8}", "7/8"),
        ("a list 1,2,3", "3"),
        ("value .5", ".5"),
        ("1,234.5 dollars", "1234.5"),
        ("no digits", None),
        ("variable x2", None),
    ],
)
def test_last_number(text, expected):
    assert last_number(text) == expected
    got = extract_answer(text, kind="number")
    assert got == (Extraction(expected, "last_number") if expected else Extraction(None, None))


# ---------------------------------------------------------- parse failure
@pytest.mark.parametrize("kind", ["auto", "math", "gsm8k", "number", "boxed", "code"])
def test_parse_failure_returns_none(kind):
    for text in ["", "I do not know.", r"\boxed{unclosed"]:
        out = extract_answer(text, kind=kind)
        assert out.value is None and out.method is None and not out.ok


def test_unknown_kind():
    with pytest.raises(ValueError):
        extract_answer("1", kind="nope")


def test_extraction_is_frozen():
    e = Extraction("1", "boxed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.value = "2"  # type: ignore[misc]


def test_math_kind_skips_gsm8k_marker():
    assert extract_answer("#### 5", kind="math") == Extraction("5", "last_number")


# ---------------------------------------------------------------- think
def test_split_think():
    assert split_think("a<think>b</think>c") == ("a\nc", "b")
    assert split_think("b</think>c") == ("c", "b")  # opening tag was in the prompt
    assert split_think("a<think>b") == ("a", "b")  # unclosed (truncated)
    assert split_think("plain") == ("plain", "")


def test_think_span_preference():
    text = "<think>maybe \\boxed{41}</think>\nThe answer is \\boxed{42}."
    assert extract_answer(text) == Extraction("42", "boxed")
    # the answer after </think> wins even with a weaker method
    assert extract_answer("<think>\\boxed{41}</think> So it is 42.") == Extraction(
        "42", "last_number"
    )
    # leading span whose <think> was in the prompt
    assert extract_answer("thinking \\boxed{3}</think>\nFinal Answer: 5").value == "5"


def test_think_span_fallback():
    assert extract_answer("<think>so \\boxed{41} and") == Extraction("41", "think:boxed")
    assert extract_answer("<think>x is 4</think>") == Extraction("4", "think:last_number")
    assert extract_answer("<think>nothing</think>nothing") == Extraction(None, None)


# ----------------------------------------------------------------- code
def test_code_blocks():
    text = "First:\n```python\nprint(1)\n```\nbetter:\n```py\ndef f():\n    return 2\n```\ndone"
    assert extract_code(text) == "def f():\n    return 2"
    assert extract_answer(text, kind="code") == Extraction("def f():\n    return 2", "code")
    assert extract_code("```\nx = 1\n```") == "x = 1"
    # python/untagged blocks preferred over other languages, else the last block
    assert extract_code("```python\na = 1\n```\n```bash\nls\n```") == "a = 1"
    assert extract_code("```bash\nls -l\n```") == "ls -l"
    # unclosed (truncated) block ignored, earlier complete one used
    assert extract_code("```python\nok = 1\n```\n```python\nbroken(") == "ok = 1"
    assert extract_code("no code") is None
    assert extract_code("```python\n```") is None


def test_code_block_indented_as_a_whole_and_the_entry_points_block():
    # a block inside a markdown list item: the fence's indentation is not the code's (before: an
    # IndentationError for a right answer)
    listed = "1. Write it:\n   ```python\n   def f(x):\n       if x:\n\n           return 1\n       return 2\n   ```\n"
    assert extract_code(listed) == "def f(x):\n    if x:\n\n        return 1\n    return 2"
    # a body-only completion keeps its indentation
    assert extract_code("```python\n    return x + 1\n```") == "    return x + 1"
    # the block that defines the entry point wins over a later test block, for every answer kind
    # reader (sc, bon and greedy used to grade the test block)
    text = "```python\ndef add(a, b):\n    return a + b\n```\nTest it:\n```python\ndef test_add():\n    assert add(1, 2) == 3\n```"
    assert extract_answer(text, kind="code", entry_point="add").value == "def add(a, b):\n    return a + b"
    assert extract_answer(text, kind="code").value.startswith("def test_add")
    assert extract_answer(text + "\n```python\nunfinished(", kind="code", cut=True,
                          entry_point="add").value.startswith("def add")


def test_code_block_think_preference():
    text = "<think>```python\ndraft()\n```</think>\n```python\nfinal()\n```"
    assert extract_code(text) == "final()"
    assert extract_answer("<think>```python\ndraft()\n```</think>", kind="code") == Extraction(
        "draft()", "think:code"
    )


# ----------------------------------------------------------------- cut texts
@pytest.mark.parametrize(
    "text, kind, expected",
    [
        # cut inside the thinking: its numbers are intermediate results, not an answer
        ("<think> 567-227=340; 340-134=206; 2", "auto", Extraction(None, None)),
        ("Step 1: 567-227=340\nStep 2: 340-134=206\nStep", "math", Extraction(None, None)),
        ("so x = 12", "number", Extraction(None, None)),
        # an answer cut where it was being written could have gone on (84 -> 845)
        ("<think> a </think> Answer: 84", "auto", Extraction(None, None)),
        ("#### 7", "gsm8k", Extraction(None, None)),
        ("The answer is \\boxed{84", "auto", Extraction(None, None)),
        # what the model finished writing before the cut counts
        ("<think> a </think> Answer: 84\nBecause the", "auto", Extraction("84", "answer_line")),
        ("Final Answer: 848 because we comp", "gsm8k", Extraction("848", "answer_line")),
        ("so \\boxed{84} and then", "math", Extraction("84", "boxed")),
        ("#### 72 and", "gsm8k", Extraction("72", "gsm8k")),
        ("```python\nprint(1)\n```\nThis prints", "code", Extraction("print(1)", "code")),
    ],
)
def test_a_cut_text_answers_only_what_the_model_finished_writing(text, kind, expected):
    assert extract_answer(text, kind=kind, cut=True) == expected


def test_an_answer_line_with_a_box_left_open_is_not_an_answer():
    assert extract_answer("The answer is \\boxed{5") == Extraction("5", "last_number")
    assert extract_answer("Answer: \\boxed{5 and Answer: 6") == Extraction("6", "answer_line")
