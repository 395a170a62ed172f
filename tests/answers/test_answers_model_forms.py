"""Answers as real models write them, on the real GSM8K and MATH-500 golds: markdown headings,
LaTeX thousands separators, degree signs, spelled-out units; votes that must not bridge forms;
answers too large for math-verify in a worker thread."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ponder.answers import answers_equal, extract_answer, group_answers
from ponder.answers.verify import too_costly

# how a model that imitates markdown writes a GSM8K solution (Qwen-style)
HEADINGS = """To find the answer, we go step by step.

#### Step 1: what is left
First part.

#### 2. The rest
Second part.

#### 3) Total
So the total is {value}.

Therefore the answer is $\\boxed{{{value}}}$."""


@pytest.fixture(scope="module")
def gsm8k_golds(datasets_dir) -> list[str]:
    rows = [json.loads(line) for line in (datasets_dir / "gsm8k_test.jsonl").read_text().splitlines() if line]
    return [row["answer"].split("####")[-1].strip().replace(",", "") for row in rows]


def _gsm8k(text: str) -> str | None:
    return extract_answer(text, "gsm8k").value


def test_markdown_headings_are_not_gsm8k_answer_markers(gsm8k_golds):
    wrong = [g for g in gsm8k_golds if not answers_equal(g, _gsm8k(HEADINGS.format(value=g)), "gsm8k")]
    assert not wrong, f"{len(wrong)} of {len(gsm8k_golds)} golds lost to a '####' heading, e.g. {wrong[:5]}"
    # the dataset's own marker still wins, after or without headings
    found = extract_answer("#### 1. Cost\n80+50=130\n#### 130", "gsm8k")
    assert (found.value, found.method) == ("130", "gsm8k")
    for marker in ("#### 18", "#### $18", "#### **18**", "#### 18.", "#### -3", "#### 1,000"):
        assert extract_answer(marker, "gsm8k").method == "gsm8k", marker


@pytest.mark.parametrize("form", ["{,}", ",\\!", "\\,", "\\ ", ",\\! ", " "])
def test_latex_thousands_separators_read_as_one_number(gsm8k_golds, form):
    big = [g for g in gsm8k_golds if len(g.lstrip("-")) > 3]
    assert len(big) > 100
    for g in big:
        written = f"{int(g):,}".replace(",", form)
        for text in (f"\\boxed{{{written}}}", f"The answer is \\${written}.", f"**Answer:** ${written}$"):
            assert _gsm8k(text) == g, (text, _gsm8k(text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Final Answer: 5 hours (300 minutes)", "5"),
        ("The answer is $18 per day, or $126 per week.", "18"),
        ("\\boxed{18 \\text{ dollars (from 9 eggs)}}", "18"),
        ("\\boxed{18 = 9 \\times 2}", "18"),
        ("\\boxed{2+3=5}", "5"),
        ("\\boxed{-\\$3}", "-3"),
        ("Answer: x = 12", "12"),
        ("Answer: after 3 weeks, 45", "45"),
    ],
)
def test_a_gsm8k_statement_gives_the_number_it_states(text, expected):
    assert _gsm8k(text) == expected


@pytest.fixture(scope="module")
def math500(datasets_dir) -> list[dict]:
    return json.loads((datasets_dir / "math500_test.json").read_text())


def test_degree_signs_equal_circ(math500):
    degrees = [row["answer"] for row in math500 if row["answer"].endswith("^\\circ")]
    assert len(degrees) >= 10
    for gold in degrees:
        value = gold[: -len("^\\circ")]
        for written in (f"{value}°", f"{value}\\degree", f"{value}^{{\\degree}}"):
            assert answers_equal(gold, written), (gold, written)
            assert answers_equal(value, written), (value, written)
        assert not answers_equal(gold, f"{int(value) + 1}°")
    # through extraction and the vote: the degree sign joins the ^\circ group
    votes = ["90°", "90°", "90^\\circ", "45^\\circ", "45^\\circ"]
    assert sorted(map(len, group_answers(votes))) == [2, 3]
    assert extract_answer("The answer is 90°.").value == "90°"


def test_spelled_out_square_units_equal_exponents():
    assert answers_equal("864 \\mbox{ inches}^2", "864 \\text{ square inches}")
    assert answers_equal("15\\mbox{ cm}^2", "15 \\text{ sq cm}")
    assert answers_equal("15\\mbox{ cm}^2", "15 \\text{ square centimeters}")
    assert answers_equal("15\\mbox{ cm}^3", "15 \\text{ cubic cm}")
    # still different units
    assert not answers_equal("15\\mbox{ cm}^2", "15 \\text{ square meters}")
    assert not answers_equal("15\\mbox{ cm}^2", "15 \\text{ cubic cm}")


@pytest.mark.parametrize(
    "votes",
    [
        ["52_9", "52", "52_8", "42_8", "42_8"],
        ["52_8", "52", "52_9", "42_8", "42_8"],
        ["5\\text{ m}", "5", "5\\text{ cm}", "6\\text{ cm}", "6\\text{ cm}"],
    ],
)
def test_a_bare_number_does_not_bridge_two_forms_in_a_vote(votes):
    for group in group_answers(votes):
        members = {votes[i] for i in group}
        for a in members:
            for b in members:
                assert a == b or answers_equal(a, b) and answers_equal(b, a), (a, b, votes)
    # and the grouping does not depend on the order of the samples
    as_sets = lambda vs: sorted(sorted(vs[i] for i in g) for g in group_answers(vs))  # noqa: E731
    assert as_sets(votes) == as_sets(list(reversed(votes)))


def test_huge_numbers_do_not_stop_a_worker_thread():
    """sympy holds the GIL while it computes 2^(2^40): off the main thread no timeout could
    stop it, so such answers are not sent to math-verify."""
    for answer in ("2^{2^{40}}", "10^{9^9}", "2**2**40", "1000000!", "10^{10000000}"):
        assert too_costly(answer), answer
    for answer in ("2^{2^{3}}", "2^{100}", "x^{2^{40}}", "\\frac{2^{10}}{3}", "5!", "0.5^{2^{40}}"):
        assert not too_costly(answer), answer
    start = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        groups = pool.submit(group_answers, ["12", "2^{2^{40}}", "12", "2^{2^{40}}"], "math", 2.0).result(30)
    assert groups == [[0, 2], [1, 3]]
    assert time.monotonic() - start < 10
    assert answers_equal("2^{2^{3}}", "256")
