"""Real-data checks of extraction and equivalence on MATH-500 and GSM8K.

Datasets live in ``../shared/datasets`` relative to the repository root; a
missing file fails the test with a clear message.  Run with ``-s`` to see
the measured rates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ponder.answers import answers_equal, extract_answer, last_boxed, normalize
from ponder.answers.verify import verify_with_timeout as _verify_with_timeout

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"

# MATH-500 problems whose gold solution's last \boxed{} cannot be matched to
# the gold ``answer`` field (unique_id -> reason).  Currently none: every
# gold answer in the file is textually identical to the last box of its
# solution, and math-verify also parses and matches all of them.
KNOWN_MATH500_EXCEPTIONS: dict[str, str] = {}

_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?")


def _load(name: str) -> Path:
    path = DATASETS / name
    if not path.is_file():
        pytest.fail(
            f"dataset file {name!r} not found at {path} "
            "(expected ../shared/datasets/ relative to the repository root)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def math500() -> list[dict]:
    rows = json.loads(_load("math500_test.json").read_text(encoding="utf-8"))
    assert isinstance(rows, list) and len(rows) == 500, "unexpected MATH-500 format"
    return rows


@pytest.fixture(scope="module")
def gsm8k() -> list[dict]:
    path = _load("gsm8k_test.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) > 1000, "unexpected GSM8K format"
    return rows


def _check_math500(rows: list[dict], equal) -> tuple[float, list[str]]:
    failures = []
    checked = 0
    for i, row in enumerate(rows):
        if row["unique_id"] in KNOWN_MATH500_EXCEPTIONS:
            continue
        checked += 1
        boxed = last_boxed(row["solution"])
        if boxed is None or not equal(row["answer"], boxed):
            failures.append(f"#{i} {row['unique_id']}: gold={row['answer']!r} boxed={boxed!r}")
    return 1 - len(failures) / checked, failures


def test_math500_gold_solution_matches_answer(math500):
    rate, failures = _check_math500(math500, answers_equal)
    print(f"\nMATH-500 last-boxed(solution) == answer: {rate:.4f} ({len(failures)} failures)")
    for line in failures:
        print("  ", line)
    assert rate >= 0.99, f"rate {rate:.4f} < 0.99; failures:\n" + "\n".join(failures)


def test_math500_gold_solution_matches_answer_via_math_verify(math500):
    """Same check, bypassing the cheap string/number shortcuts."""
    rate, failures = _check_math500(math500, lambda a, b: _verify_with_timeout(a, b, 5.0))
    print(f"\nMATH-500 via math-verify only: {rate:.4f} ({len(failures)} failures)")
    for line in failures:
        print("  ", line)
    assert rate >= 0.99, f"rate {rate:.4f} < 0.99; failures:\n" + "\n".join(failures)


def test_math500_wrong_answers_rejected(math500):
    """Guard against an equivalence that says yes to everything."""
    accepted, compared = [], 0
    for i, row in enumerate(math500):
        wrong = math500[(i + 1) % len(math500)]["answer"]
        if normalize(wrong) == normalize(row["answer"]):
            continue
        compared += 1
        if answers_equal(row["answer"], wrong):
            accepted.append(f"#{i} {row['unique_id']}: gold={row['answer']!r} wrong={wrong!r}")
    rejected = 1 - len(accepted) / compared
    print(f"\nMATH-500 wrong answers rejected: {rejected:.4f} of {compared}")
    for line in accepted:
        print("   accepted:", line)
    assert compared > 450
    assert rejected >= 0.97, f"rejected only {rejected:.4f}; accepted:\n" + "\n".join(accepted)


def test_gsm8k_gold_answers_extract(gsm8k):
    failures = []
    for i, row in enumerate(gsm8k):
        gold = row["answer"].split("####")[-1].strip().replace(",", "")
        for kind in ("gsm8k", "auto"):
            out = extract_answer(row["answer"], kind=kind)
            if out.value is None or not _NUMERIC.fullmatch(out.value) or out.value != gold:
                failures.append(f"#{i} kind={kind}: {out} (gold {gold!r})")
            elif not answers_equal(gold, out.value, kind="gsm8k"):  # pragma: no cover
                failures.append(f"#{i} kind={kind}: {out} not equal to {gold!r}")
    rate = 1 - len(failures) / (2 * len(gsm8k))
    print(f"\nGSM8K gold extraction (gsm8k + auto): {rate:.4f} over {len(gsm8k)} rows")
    assert not failures, "\n".join(failures[:50])
