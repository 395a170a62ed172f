"""A memoising scorer's calls in the bench: a pool's PRM scoring is charged at k as k fresh samples
would pay for it. The PRM scores a text once (its scores are memoised), so a real ``bon(n=k)`` pays
one forward per distinct text among its k samples, not k/N of the pool's forwards: a pool of 4
copies of one text cost one PRM call at every k, and the bench charged 0.25 at k=1."""

from __future__ import annotations

import asyncio
import itertools
import json
import math

import pytest

from ponder.bench.runner import BenchConfig, run_bench
from ponder.bench.store import Store
from ponder.bench.subsample import compute_at
from ponder.engine import Engine
from ponder.ledger import LedgerEntry
from ponder.strategies import build_strategy
from ponder.strategies.base import run_strategy
from ponder.types import Capabilities, Generation, Problem, Sample, Usage

# pool order; the PRM (embedded-prm: step delimiter ";", tag after it) reads:
TEXTS = [
    "3+4=7; Answer: 7",  # A
    "3+4=7; Answer: 7\n\n",  # A's input exactly (trailing space is stripped): a memo hit after A
    "3+4=8; Answer: 8",  # B
    "I cannot tell.",  # no answer: not scored, costs nothing
    "3+4=7; Answer: 7; so 7",  # C
    "3+4=7; Answer: 7;",  # D: its tagged input is a prefix of C's, so a memo hit after C
    "3+4=8; Answer: 8",  # B again
]
N = len(TEXTS)
QUESTION = "Compute 3+4"


class Scripted:
    """Sample i of a call says ``texts[i]``: the bench's pool, or one k-subset of it for a real run."""

    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def capabilities(self) -> Capabilities:
        return Capabilities(num_parameters=1000)

    async def generate(self, request):
        samples = [Sample(text=self.texts[i], finish_reason="stop", completion_tokens=5) for i in range(request.n)]
        return Generation(samples, Usage(prompt_tokens=10, completion_tokens=5 * request.n))


def real_cost(idx: tuple[int, ...]) -> tuple[float, float, float]:
    """(calls, verifier tokens, FLOPs) of a real ``bon(n=k, scorer=prm)`` run drawing the k-subset
    ``idx`` of the pool, with a scorer (and memo) of its own. FLOPs as the bench counts them: every
    prompt token, also those the PRM's prefix cache served (what earlier runs left there)."""
    engine = Engine(Scripted([TEXTS[i] for i in idx]))
    problem = Problem.from_question(QUESTION, answer="7", answer_kind="number")
    result = asyncio.run(run_strategy(build_strategy(f"bon(n={len(idx)}, scorer=prm)"), problem, engine))
    ledger = result.ledger
    verifier = sum(e.prompt_tokens + e.completion_tokens for e in ledger.entries if e.role == "prm")
    flops = sum(2.0 * e.num_parameters * (e.prompt_tokens + e.completion_tokens) for e in ledger.entries)
    return float(ledger.calls), float(verifier), flops


@pytest.fixture(scope="module")
def bench_rows(tmp_path_factory):
    """The bench's rows of ``bon(n=1..7, scorer=prm)`` on the one pool, by k, and the pool's ledger."""
    tmp = tmp_path_factory.mktemp("memo")
    task = tmp / "one.jsonl"
    task.write_text(json.dumps({"id": "q0", "question": QUESTION, "answer": "7"}) + "\n")
    cfg = BenchConfig(model="scripted", task=f"jsonl:{task}", strategies="bon(n=1..7, scorer=prm)", limit=1,
                      out=str(tmp / "run"), progress=False)
    asyncio.run(run_bench(cfg, engine=Engine(Scripted(TEXTS))))
    store = Store.for_run(tmp / "run", readonly=True)
    rows, calls = store.results(), store.calls()
    store.close()
    return {int(r["point"]): r for r in rows}, calls


def test_the_pool_is_what_the_test_says(bench_rows):
    """One policy call and one PRM forward per distinct input: A, B, C (D and the copies are memo hits)."""
    _, calls = bench_rows
    assert [c["role"] for c in calls] == ["policy", "prm", "prm", "prm"]


@pytest.mark.parametrize("k", [1, 2, 4])  # the bench's points (powers of two) below N
def test_pool_charge_at_k_equals_real_runs_on_every_k_subset(bench_rows, k):
    rows, _ = bench_rows
    subsets = list(itertools.combinations(range(N), k))
    real = [real_cost(idx) for idx in subsets]
    want = [sum(r[i] for r in real) / len(subsets) for i in range(3)]
    row = rows[k]
    assert (row["calls"], row["verifier_tokens"], row["flops"]) == (
        pytest.approx(want[0], rel=1e-12), pytest.approx(want[1], rel=1e-12), pytest.approx(want[2], rel=1e-12))


def test_pool_charge_at_n_is_the_pools_recorded_cost(bench_rows):
    rows, calls = bench_rows
    prm = [c for c in calls if c["role"] == "prm"]
    row = rows[N]
    assert row["calls"] == pytest.approx(1 + len(prm))
    assert row["verifier_tokens"] == pytest.approx(sum(c["prompt_tokens"] for c in prm))
    assert (row["calls"], row["verifier_tokens"], row["flops"]) == tuple(
        pytest.approx(v, rel=1e-12) for v in real_cost(tuple(range(N))))


def entry(role: str, prompt: int, n: int = 1) -> LedgerEntry:
    return LedgerEntry(role=role, model="m", n=n, prompt_tokens=prompt, cached_prompt_tokens=0, completion_tokens=0,
                       reasoning_tokens=None, wall_seconds=1.0, retries=0, finish_reasons=[], num_parameters=100)


def record(key: str | None, prompt: int, covers: list[str] | None = None, memo: str = "prm-1") -> dict:
    return {"memo": memo, "role": "prm", "prompt_tokens": prompt, "completion_tokens": 0, "num_parameters": 100,
            "key": key, "covers": covers if covers is not None else ([key] if key else [])}


def test_one_text_four_times_costs_one_prm_call_at_every_k():
    """The audit's pool: 4 samples of one text, one PRM call of 50 tokens in the ledger."""
    entries = [entry("prm", 50)]
    records = [record("t", 50)] * 4
    for k in (1, 2, 3, 4):
        c = compute_at(entries, k, 4, records)
        assert (c["calls"], c["verifier_tokens"], c["flops"]) == (pytest.approx(1), pytest.approx(50),
                                                                  pytest.approx(2 * 100 * 50))
        assert c["wall_seconds"] == pytest.approx(1.0)  # one call's time, not k/4 of it
    assert compute_at(entries, 1, 4)["calls"] == 0.25  # the k/N rule without the records


def test_distinct_texts_are_charged_by_the_chance_a_subset_holds_them():
    """Texts of multiplicity m are paid with probability 1 - C(N - m, k) / C(N, k)."""
    records = [record("x", 30), record("y", 20), record("x", 30), record("z", 10), None, record("y", 20)]
    entries = [entry("prm", 30), entry("prm", 20), entry("prm", 10)]
    n = len(records)
    from ponder.bench.subsample import memo_hits_before

    assert memo_hits_before(records) == [0, 0, 1, 0, 0, 1]
    for k in range(1, n + 1):
        p = {m: 1 - math.comb(n - m, k) / math.comb(n, k) for m in (1, 2)}
        c = compute_at(entries, k, n, records)
        assert c["calls"] == pytest.approx(2 * p[2] + p[1])
        assert c["verifier_tokens"] == pytest.approx(30 * p[2] + 20 * p[2] + 10 * p[1])


def test_records_the_ledger_does_not_hold_leave_the_k_over_n_rule():
    """Records that claim more calls than the role spent (not this pool's scoring) change nothing;
    another memo's records are not this one's; the role's calls beyond the records stay at k/N."""
    entries = [entry("prm", 50)]
    assert compute_at(entries, 1, 4, [record("a", 50), record("b", 50), None, None]) == compute_at(entries, 1, 4)
    # a nested strategy's 2 PRM calls (40 tokens) besides the pool's one (50 tokens, 4 copies)
    nested = [entry("prm", 50), entry("prm", 20), entry("prm", 20)]
    c = compute_at(nested, 1, 4, [record("t", 50)] * 4)
    assert c["calls"] == pytest.approx(1 + 2 / 4) and c["verifier_tokens"] == pytest.approx(50 + 40 / 4)
