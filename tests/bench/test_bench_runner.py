"""The runner on a scripted backend: sweeps, one draw per pool, seeds, the store, the lock, resume rules."""

from __future__ import annotations

import pytest

from bench_fixtures import cycling, qa_jsonl  # noqa: F401  (fixtures)
from ponder.bench.runner import BenchConfig, families, gen_seed, run_bench, with_seed
from ponder.bench.store import RunLock, RunLockedError, RunStoreError, Store
from ponder.engine import Engine
from ponder.errors import StrategySpecError
from ponder.strategies import parse_spec


def test_families_expand_sweeps():
    fams = families("cot; sc(n=1..16); sc(n=1..4, temperature=0.5)")
    assert [f.label for f in fams] == ["cot", "sc(n=1..16)", "sc(n=1..4, temperature=0.5)"]
    assert fams[1].pool and fams[1].points == [1, 2, 4, 8, 16] and fams[0].points == []
    with pytest.raises(StrategySpecError, match="available"):
        families("nosuch(n=1..4)")


def test_seed_goes_only_to_strategies_with_a_seed_param():
    assert with_seed(parse_spec("sc(n=4)"), 9).args["seed"] == 9
    assert with_seed(parse_spec("cot(seed=3)"), 9).args["seed"] == 3  # an explicit seed is kept
    assert gen_seed("p", "sc", "sc(n=4)", 0) == gen_seed("p", "sc", "sc(n=4)", 0) != gen_seed("p", "sc", "sc(n=4)", 1)


async def test_pool_is_drawn_once_per_problem_and_seed(tmp_path, qa_jsonl, cycling):
    cfg = BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}", strategies="cot; sc(n=1..8)", limit=3, seeds=2,
                      out=str(tmp_path / "run"), progress=False, concurrency=3)
    await run_bench(cfg, engine=Engine(cycling))
    # cot: 3 problems x 2 seeds = 6 calls; sc: one call of n=8 per problem and seed = 6 calls
    assert sorted(r.n for r in cycling.requests) == [1] * 6 + [8] * 6
    store = Store.for_run(tmp_path / "run", readonly=True)
    results, calls, units = store.results(), store.calls(), store.units()
    manifest = store.manifest()
    store.close()
    assert len(units) == 12 and all(u["status"] == "done" and u["attempt"] == 1 for u in units)
    assert len(calls) == 12
    sc_rows = [r for r in results if r["family"] == "sc(n=1..8)"]
    assert sorted({r["point"] for r in sc_rows}) == [1, 2, 4, 8] and len(sc_rows) == 4 * 6
    k1 = next(r for r in sc_rows if r["point"] == 1)
    assert k1["prompt_tokens"] == 10 and k1["completion_tokens"] == 5 and k1["calls"] == 1
    assert {"model", "task", "strategies", "seeds", "versions", "hardware", "git_revision"} <= set(manifest)
    assert manifest["seeds"] == 2


async def test_existing_run_needs_resume_and_matching_settings(tmp_path, qa_jsonl, cycling):
    out = str(tmp_path / "run")
    cfg = dict(model="scripted", task=f"jsonl:{qa_jsonl}", strategies="cot", limit=2, out=out, progress=False)
    await run_bench(BenchConfig(**cfg), engine=Engine(cycling))
    with pytest.raises(RunStoreError, match="--resume"):
        await run_bench(BenchConfig(**cfg), engine=Engine(cycling))
    with pytest.raises(RunStoreError, match="differs"):
        await run_bench(BenchConfig(**{**cfg, "limit": 3}, resume=True), engine=Engine(cycling))
    before = len(cycling.requests)
    await run_bench(BenchConfig(out=out, resume=True, progress=False), engine=Engine(cycling))
    assert len(cycling.requests) == before  # everything was done: nothing recomputed


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=r"another ponder bench \(pid \d+\)"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # free again once released


async def test_failed_units_are_recorded_not_raised(tmp_path, qa_jsonl):
    class Broken:
        name = "broken"

        def capabilities(self):
            from ponder.types import Capabilities
            return Capabilities()

        async def generate(self, request):
            from ponder.errors import BackendError
            raise BackendError("upstream gave up after 5 attempts")

    cfg = BenchConfig(model="broken", task=f"jsonl:{qa_jsonl}", strategies="cot; sc(n=1..2)", limit=2,
                      out=str(tmp_path / "run"), progress=False)
    await run_bench(cfg, engine=Engine(Broken()))
    store = Store.for_run(tmp_path / "run", readonly=True)
    units, results = store.units(), store.results()
    store.close()
    assert all(u["status"] == "failed" and "gave up" in u["error"] for u in units)
    # an error is not an answer: no correct or parsed value, so the report counts the units as failed
    # only, not as wrong, unparsed answers (it said 0 % accuracy and 100 % parse failures)
    assert len(results) == 2 + 2 * 2
    assert all(r["correct"] is None and r["parsed"] is None and r["error"] for r in results)
    from ponder.bench.report import load_report

    points = load_report(tmp_path / "run")["points"]
    assert len(points) == 3
    assert all((p["accuracy"], p["parse_failures"], p["wrong"], p["errors"]) == (None, None, None, 2) for p in points)


async def test_a_strategy_the_model_cannot_serve_stops_the_bench_before_any_call(tmp_path, qa_jsonl, cycling):
    """beam needs prefix continuation, which this backend lacks: one clear error naming it, not a
    run whose every beam unit failed."""
    from ponder.errors import CapabilityError

    cfg = BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}", strategies="cot; beam(n=4, width=2)", limit=3,
                      out=str(tmp_path / "run"), progress=False)
    with pytest.raises(CapabilityError, match="beam .step-level search. needs prefix continuation.*continue=vllm"):
        await run_bench(cfg, engine=Engine(cycling))
    assert cycling.requests == []
    # the same directory then takes a bench the model can serve
    await run_bench(BenchConfig(**{**cfg.__dict__, "strategies": "cot"}), engine=Engine(cycling))
    assert len(cycling.requests) == 3


async def test_a_strategy_the_task_cannot_serve_stops_the_bench_before_any_call(tmp_path, qa_jsonl, cycling):
    # math answers are not code: S* would spend n programs per problem on nothing
    cfg = BenchConfig(model="scripted", task=f"jsonl:{qa_jsonl}?kind=math", strategies="cot; s_star(n=2)", limit=2,
                      out=str(tmp_path / "run"), progress=False)
    with pytest.raises(StrategySpecError, match=r"^s_star writes programs and runs them; problem 'q0' wants"):
        await run_bench(cfg, engine=Engine(cycling))
    assert cycling.requests == []


async def test_a_unit_past_its_timeout_says_so(tmp_path, qa_jsonl):
    """A unit failed by --unit-timeout was recorded as "TimeoutError: ", which named no timeout."""
    import asyncio

    class Slow:
        name = "slow"

        def capabilities(self):
            from ponder.types import Capabilities
            return Capabilities()

        async def generate(self, request):
            await asyncio.sleep(30)

    cfg = BenchConfig(model="slow", task=f"jsonl:{qa_jsonl}", strategies="cot", limit=2, out=str(tmp_path / "run"),
                      progress=False, unit_timeout=0.05)
    await run_bench(cfg, engine=Engine(Slow()))
    store = Store.for_run(tmp_path / "run", readonly=True)
    units = store.units()
    store.close()
    assert [u["error"] for u in units] == ["timed out after 0.05s (--unit-timeout)"] * 2


async def test_a_timeout_error_of_the_unit_itself_is_not_taken_for_the_unit_timeout(tmp_path, qa_jsonl):
    class TimingOut:
        name = "timing-out"

        def capabilities(self):
            from ponder.types import Capabilities
            return Capabilities()

        async def generate(self, request):
            raise TimeoutError("read timed out")

    cfg = BenchConfig(model="t", task=f"jsonl:{qa_jsonl}", strategies="cot", limit=1, out=str(tmp_path / "run"),
                      progress=False, unit_timeout=30)
    await run_bench(cfg, engine=Engine(TimingOut()))
    store = Store.for_run(tmp_path / "run", readonly=True)
    [unit] = store.units()
    store.close()
    assert unit["error"] == "TimeoutError: read timed out"


@pytest.mark.parametrize("where, says", [
    ("afile/sub", r"--out '.*afile/sub': cannot create the run directory \(Not a directory\); give a directory"),
    ("locked", r"--out '.*locked': cannot write in the run directory \(Is a directory: '.*bench.lock'\)"),
])
def test_a_run_directory_that_cannot_be_made_or_written_is_a_clear_error(tmp_path, where, says):
    """They were internal errors: NotADirectoryError, FileNotFoundError, PermissionError."""
    from ponder.bench.store import open_for_write

    (tmp_path / "afile").write_text("mine")
    (tmp_path / "locked" / "bench.lock").mkdir(parents=True)  # the lock cannot be opened
    with pytest.raises(RunStoreError, match=says):
        open_for_write(tmp_path / where)
    assert (tmp_path / "afile").read_text() == "mine"
