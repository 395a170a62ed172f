"""The default demo on the embedded lab model (40 problems here): it finishes, writes its report, and
its strategies rank as the lab targets say."""

from __future__ import annotations

import json

import pytest

from ponder.bench.demo import run_default_demo
from ponder.bench.report import load_report

pytestmark = [pytest.mark.slow]

# (better, worse): each better strategy's accuracy must beat the worse one's on lab arith. Voting
# over more samples beats one sample, as the lab targets say; the PRM-guided pairs (bon and beam
# above sc) are targets the shipped lab PRM does not meet yet (benchmarks/lab_targets.py).
LAB_TARGETS = [
    ("sc(n=16)", "sc(n=1)"),
    ("sc(n=8)", "sc(n=1)"),
    ("asc", "sc(n=1)"),
]


def test_lab_demo_strategies_rank_as_targeted(tmp_path):
    html = run_default_demo(tmp_path / "demo", limit=40)
    assert html.is_file() and "data:image/png;base64," in html.read_text()
    acc = {p["spec"]: p["accuracy"] for p in load_report(tmp_path / "demo")["points"]}
    # every strategy of every pair ran and has an accuracy: a strategy the demo skipped (its note
    # printed, the run going on without it) fails here instead of leaving its pair unchecked
    missing = sorted({s for pair in LAB_TARGETS for s in pair if acc.get(s) is None})
    assert not missing, f"the demo has no accuracy for {missing}; points: {json.dumps(acc)}"
    for better, worse in LAB_TARGETS:
        assert acc[better] > acc[worse], f"{better} ({acc[better]:.1%}) should beat {worse} ({acc[worse]:.1%})"
