"""The default demo on the embedded lab model: it finishes, writes its report, and its strategies rank as the
lab targets say. Skipped until the lab policy is shipped; pairs whose strategies are not registered yet are
left out (the demo prints a note for them)."""

from __future__ import annotations

import json

import pytest

from ponder.backends import embedded_path
from ponder.bench.demo import run_default_demo
from ponder.bench.report import load_report

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (embedded_path("policy") / "config.json").is_file(),
                                 reason="the lab policy is not shipped yet (ponder/lab/models/policy)")]

# (better, worse): each better strategy's accuracy must beat the worse one's on lab arith.
LAB_TARGETS = [
    ("sc(n=16)", "cot"),
    ("bon(n=16, scorer=prm)", "cot"),
    ("bon(n=16, scorer=prm)", "sc(n=1)"),
    ("beam(n=16)", "cot"),
]


def test_lab_demo_strategies_rank_as_targeted(tmp_path):
    html = run_default_demo(tmp_path / "demo")
    assert html.is_file() and "data:image/png;base64," in html.read_text()
    acc = {p["spec"]: p["accuracy"] for p in load_report(tmp_path / "demo")["points"]}
    checked = [(b, w) for b, w in LAB_TARGETS if b in acc and w in acc]
    assert checked, f"no target pair could be checked; points: {json.dumps(acc)}"
    for better, worse in checked:
        assert acc[better] > acc[worse], f"{better} ({acc[better]:.1%}) should beat {worse} ({acc[worse]:.1%})"
