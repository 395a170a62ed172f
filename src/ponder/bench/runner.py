"""The bench runner: plan problem x strategy x seed units, run them with bounded concurrency, store each.

* Sweeps: ``n=1..16`` gives the powers of two. A pool strategy (``pool_param``, e.g. sc) swept on its pool
  parameter is one unit per problem and seed: it draws the largest pool once and every smaller k is computed
  from it by unbiased subsampling (``subsample.py``). Any other sweep runs each value as its own unit. A
  pool-relative scorer's scores (``vote``: the share of the candidates that agree) are those of the whole
  pool, so each subset is scored again before the strategy decides it (``subset_decide``).
* Seeds: the problem set is fixed (``task.problems(limit, seed=0)``) across run seeds; run seed s gives each
  (problem, strategy, s) a generation seed from a hash, passed to strategies whose parameters have ``seed``,
  so a resumed run equals an uninterrupted one on deterministic backends (hf, embedded).
* Crash safety: see ``store.py``; ``resume`` skips every ``done`` unit and redoes the rest.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import platform
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..budget import Budget
from ..engine import Engine
from ..errors import BudgetError, BudgetExhausted, StrategySpecError
from ..strategies import REGISTRY, ParsedSpec, build_strategy, parse_spec, run_strategy, split_specs
from ..strategies.base import Strategy, grade
from ..types import Candidate, Problem, Result
from .store import RunStoreError, Store, open_for_write
from .subsample import compute_at, estimate, pool_scoring

# votes run here, one at a time, off the event loop (see run_unit)
_VOTES = ThreadPoolExecutor(1, thread_name_prefix="ponder-vote")

MANIFEST_KEYS = ("model", "task", "strategies", "seeds", "limit")


@dataclass
class BenchConfig:
    model: str | None = None
    task: str | None = None
    strategies: str | None = None
    limit: int | None = None
    seeds: int | None = None  # default 1 (or the resumed run's)
    concurrency: int = 4
    out: str = "runs/bench"
    resume: bool = False
    max_subsets: int = 64
    unit_timeout: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.unit_timeout is not None and not self.unit_timeout > 0:  # 0 would mean no limit, NaN too
            raise BudgetError(f"unit-timeout must be a positive number of seconds, got {self.unit_timeout!r}")


@dataclass
class Family:
    """One line on the plots: a strategy spec, swept on ``point_key`` (or not swept)."""

    label: str
    parsed: ParsedSpec  # fixed values for every range except ``point_key``
    point_key: str | None
    points: list[int]
    pool: bool


@dataclass
class Unit:
    key: str
    problem: Problem
    family: Family
    spec: ParsedSpec  # what runs (the largest pool for pool families), without the seed
    point: int | None
    seed: int
    gen_seed: int
    extra: dict[str, Any] = field(default_factory=dict)


def families(strategies: str) -> list[Family]:
    """Expand a ``;``-separated strategy list into families; unknown names fail with the registry listed."""
    out: list[Family] = []
    for text in split_specs(strategies):
        parsed = parse_spec(text)
        cls = REGISTRY.get(parsed.name)
        if cls is None:
            raise StrategySpecError(f"unknown strategy {parsed.name!r}; available: {', '.join(sorted(REGISTRY))}")
        ranges = parsed.ranges()
        point_key = cls.pool_param if cls.pool_param in ranges else (next(iter(ranges)) if ranges else None)
        others = [k for k in ranges if k != point_key]
        for combo in itertools.product(*(ranges[k].values() for k in others)):
            fixed = parsed.with_args(**dict(zip(others, combo)))
            label = str(fixed)
            points = ranges[point_key].values() if point_key else []
            if any(f.label == label for f in out):
                raise StrategySpecError(f"strategy {label} is listed twice; each strategy's results are kept "
                                        "under its spec, so list it once")
            out.append(Family(label, fixed, point_key, points, pool=point_key is not None
                              and point_key == cls.pool_param))
    if not out:
        raise StrategySpecError(f"no strategy in {strategies!r}; give a ';'-separated list, e.g. 'cot; sc(n=1..16)'")
    _refuse_overlap(out)
    return out


def point_specs(fam: Family) -> list[str]:
    """The specs a family's rows are stored and reported under: one per point of its sweep."""
    if fam.point_key is None:
        return [fam.label]
    return [str(fam.parsed.with_args(**{fam.point_key: k})) for k in fam.points]


def _refuse_overlap(fams: list[Family]) -> None:
    """Refuse two families that run the same spec (``sc(n=4); sc(n=1..8)``): each would store its
    own rows under it, and the report showed two rows of one name with different numbers (and
    ``--pick`` took the first)."""
    seen: dict[str, str] = {}
    for fam in fams:
        for spec in point_specs(fam):
            if spec in seen:
                raise StrategySpecError(f"strategy {spec} is listed twice: in {seen[spec]!r} and in {fam.label!r}; "
                                        "each strategy's results are kept under its spec, so list it once "
                                        "(drop it from one of them)")
            seen[spec] = fam.label


def gen_seed(problem_id: str, family: str, spec: str, seed: int) -> int:
    digest = hashlib.sha256(f"{problem_id}|{family}|{spec}|{seed}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def plan(fams: list[Family], problems: list[Problem], seeds: int) -> list[Unit]:
    units = []
    for fi, fam in enumerate(fams):
        if fam.point_key is None:
            specs: list[tuple[int | None, ParsedSpec]] = [(None, fam.parsed)]
        elif fam.pool:
            specs = [(max(fam.points), fam.parsed.with_args(**{fam.point_key: max(fam.points)}))]
        else:
            specs = [(v, fam.parsed.with_args(**{fam.point_key: v})) for v in fam.points]
        for problem in problems:
            for seed in range(seeds):
                for point, spec in specs:
                    key = f"{fi}|{spec}|{problem.id}|{seed}"
                    units.append(Unit(key, problem, fam, spec, point, seed,
                                      gen_seed(problem.id, fam.label, str(spec), seed)))
    return units


def with_seed(spec: ParsedSpec, seed: int) -> ParsedSpec:
    cls = REGISTRY[spec.name]
    return spec.with_args(seed=seed) if "seed" in cls.Params.model_fields and "seed" not in spec.args else spec


# -- running one unit ----------------------------------------------------------------------------
def subset_decide(strategy: Strategy) -> Callable[[Problem, list[Candidate], bool], Result]:
    """What decides a k-subset of a drawn pool: the strategy's ``decide``, and for a strategy whose
    scorer is pool-relative (``bon(scorer=vote)``) the subset's candidates with an answer scored
    again among themselves first, as drawing those k would score them (a candidate with no answer
    is not scored). With the pool's scores, ``bon(n=4, scorer=vote)`` picked the majority of all
    N samples instead of its 4's. The subset holds copies, so the pool keeps its scores."""
    scorer = getattr(strategy, "scorer", None)
    if scorer is None or not getattr(scorer, "pool_relative", False):
        return strategy.decide

    def decide(problem: Problem, candidates: list[Candidate], exhausted: bool = False) -> Result:
        answered = [c for c in candidates if c.answer is not None]
        for c, s in zip(answered, scorer.rescore(problem, answered)):
            c.score = s
        return strategy.decide(problem, candidates, exhausted)

    return decide


async def run_unit(unit: Unit, base: Engine, store: Store, *, max_subsets: int = 64,
                   on_call: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    attempt = store.start_unit(unit.key)

    def record(entry: Any, _samples: Any) -> None:
        store.record_call(unit.key, attempt, entry)
        if on_call is not None:
            on_call(entry)

    engine = base.for_problem(Budget(), on_call=record)
    strategy = build_strategy(with_seed(unit.spec, unit.gen_seed))
    common = dict(unit=unit.key, problem_id=unit.problem.id, family=unit.family.label, seed=unit.seed)
    if unit.family.pool:
        strategy.check(engine)
        try:
            pool, exhausted = await strategy.draw(unit.problem, engine), False
        except BudgetExhausted:
            pool, exhausted = [], True
        n = int(unit.point or len(pool))
        rng = random.Random(unit.gen_seed)
        scoring = pool_scoring(strategy, pool)  # a memoising scorer's per-candidate costs (subsample.py)
        rows = []
        for k in unit.family.points:
            # off the event loop: a vote over math answers (sympy) can take seconds, and the
            # other units' calls go on meanwhile
            est = await asyncio.get_running_loop().run_in_executor(_VOTES, functools.partial(
                estimate, unit.problem, pool, k, subset_decide(strategy), grade, exhausted=exhausted,
                max_subsets=max_subsets, rng=rng))
            spec = str(unit.family.parsed.with_args(**{unit.family.point_key: k}))  # type: ignore[dict-item]
            rows.append({**common, **compute_at(engine.ledger.entries, k, n, scoring), "spec": spec, "point": k,
                         "correct": est.correct, "parsed": est.parsed, "pass_at_k": est.pass_at_k,
                         "answer": est.answer, "budget_exhausted": est.exhausted, "pool_size": len(pool),
                         "subsets": est.subsets})
        return rows
    result = await run_strategy(strategy, unit.problem, engine)
    return [{**common, **compute_at(engine.ledger.entries, 1, 1), "spec": str(unit.spec), "point": unit.point,
             "correct": None if result.correct is None else float(result.correct),
             "parsed": 1.0 if result.answer is not None else 0.0, "answer": result.answer,
             "budget_exhausted": float(result.budget_exhausted), "subsets": 1}]


def failed_rows(unit: Unit, entries: list[Any], error: str) -> list[dict[str, Any]]:
    """The rows of a unit that failed (an error, not an answer): its error and the compute it
    spent, with ``correct`` and ``parsed`` unknown, so that the report leaves it out of accuracy
    and parse failures instead of counting a server that was down as wrong, unparsed answers."""
    points = unit.family.points if unit.family.pool else [unit.point]
    rows = []
    for k in points:
        spec = str(unit.family.parsed.with_args(**{unit.family.point_key: k})) if unit.family.pool else str(unit.spec)
        rows.append({"unit": unit.key, "problem_id": unit.problem.id, "family": unit.family.label, "spec": spec,
                     "point": k, "seed": unit.seed, "correct": None, "parsed": None, "error": error[:500],
                     **compute_at(entries, 1, 1)})
    return rows


# -- the whole run ---------------------------------------------------------------------------------
def environment(model: str) -> dict[str, Any]:
    """Package versions, git revision and hardware for the manifest (no host names)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for pkg in ("ponder", "torch", "transformers", "numpy", "openai", "vllm"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        rev = None
    import os

    hardware: dict[str, Any] = {"machine": platform.machine(), "system": platform.system(),
                                "cpus": os.cpu_count()}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        hardware["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            hardware["gpu"] = torch.cuda.get_device_name(0)
    return {"versions": versions, "git_revision": rev, "hardware": hardware}


def resolve_config(cfg: BenchConfig, store: Store) -> BenchConfig:
    """Fill a resumed run's settings from its manifest; refuse a mismatch or an accidental overwrite."""
    manifest = store.manifest()
    if manifest and not cfg.resume:
        raise RunStoreError(f"{cfg.out!r} already holds a run; pass --resume to continue it or choose another --out")
    if cfg.resume and manifest:
        for key in MANIFEST_KEYS:
            given, stored = getattr(cfg, key), manifest.get(key)
            if given is not None and given != stored:
                raise RunStoreError(f"--resume: {key} {given!r} differs from the run's {stored!r}; "
                                    "resume with the same settings (or leave them out)")
            setattr(cfg, key, stored)
    if not manifest and not cfg.model:
        cfg.model = "embedded"  # the default model, as for solve and serve
    for key in ("model", "task", "strategies"):
        if not getattr(cfg, key):
            raise RunStoreError(f"bench needs --{key}" + (" (nothing to resume here)" if cfg.resume else ""))
    cfg.seeds = cfg.seeds or 1
    return cfg


async def run_bench(cfg: BenchConfig, *, engine: Engine | None = None) -> Path:
    """Run (or resume) a benchmark; returns the run directory. Progress goes to stderr."""
    from ..tasks import load_task

    store, lock = open_for_write(cfg.out)
    try:
        cfg = resolve_config(cfg, store)
        fams = families(cfg.strategies)  # type: ignore[arg-type]
        tops = []
        for fam in fams:  # invalid keys fail here, before any model call
            top = fam.parsed.with_args(**{fam.point_key: max(fam.points)}) if fam.point_key else fam.parsed
            tops.append(build_strategy(with_seed(top, 0)))
            if fam.point_key and not fam.pool:  # each point is a strategy of its own: beam(n=1..4), width=4
                for k in fam.points:
                    build_strategy(with_seed(fam.parsed.with_args(**{fam.point_key: k}), 0))
        task = load_task(cfg.task)  # type: ignore[arg-type]
        problems = task.problems(cfg.limit, seed=0)
        units = plan(fams, problems, cfg.seeds)
        base = engine if engine is not None else Engine.from_spec(cfg.model)  # type: ignore[arg-type]
        for strategy in tops:  # a strategy this model or task cannot serve fails here, not in every unit
            strategy.check(base)
            if problems:
                strategy.check_problem(problems[0], base)
        manifest = store.manifest()
        if not manifest:
            store.set_manifest({**{k: getattr(cfg, k) for k in MANIFEST_KEYS}, "problem_seed": 0,
                                "families": [f.label for f in fams], "created": time.time(),
                                "elapsed_seconds": 0.0, "concurrency": cfg.concurrency,
                                **environment(cfg.model)})  # type: ignore[arg-type]
        store.add_units({"unit": u.key, "problem_id": u.problem.id, "family": u.family.label, "spec": str(u.spec),
                         "seed": u.seed, "gen_seed": u.gen_seed} for u in units)
        status = store.unit_status()
        todo = [u for u in units if status.get(u.key) != "done"]
        await _run_units(cfg, store, base, todo, total=len(units), manifest=store.manifest())
    finally:
        store.close()
        lock.release()
    return Path(cfg.out)


async def _run_units(cfg: BenchConfig, store: Store, base: Engine, todo: list[Unit], *, total: int,
                     manifest: dict[str, Any]) -> None:
    from .progress import BenchProgress

    sem = asyncio.Semaphore(max(1, cfg.concurrency))
    elapsed0, t0 = float(manifest.get("elapsed_seconds") or 0.0), time.monotonic()
    prog = BenchProgress(total=total, done=total - len(todo), enabled=cfg.progress)

    async def one(unit: Unit) -> None:
        async with sem:
            start = time.perf_counter()
            entries: list[Any] = []

            def seen(entry: Any) -> None:
                entries.append(entry)
                prog.add_tokens((entry.prompt_tokens or 0) + (entry.completion_tokens or 0),
                                counted=entry.prompt_tokens is not None and entry.completion_tokens is not None)

            try:
                coro = run_unit(unit, base, store, max_subsets=cfg.max_subsets, on_call=seen)
                rows = await (asyncio.wait_for(coro, cfg.unit_timeout) if cfg.unit_timeout else coro)
                error = None
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a failed unit is recorded and reported, never hangs the run
                error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, asyncio.TimeoutError) and isinstance(exc.__cause__, asyncio.CancelledError):
                    error = f"timed out after {cfg.unit_timeout:g}s (--unit-timeout)"  # wait_for's, empty
                rows = failed_rows(unit, entries, error)
            store.finish_unit(unit.key, rows, error=error, wall_seconds=time.perf_counter() - start)
            store.set_manifest({"elapsed_seconds": elapsed0 + time.monotonic() - t0})
            top = max(rows, key=lambda r: r.get("point") or 0)
            prog.unit_done(top.get("correct"), failed=error is not None)

    with prog:
        await asyncio.gather(*(one(u) for u in todo))
