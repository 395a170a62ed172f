"""The default benchmark of ``make demo``: the embedded lab model on lab ``arith``, every lab strategy.

Strategies not registered yet (or whose spec no longer validates) are skipped with a printed note, so the
demo runs with whatever exists. Sized to finish within 10 minutes on 2 CPU cores with the lab model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from .runner import BenchConfig

DEMO_MODEL = "embedded"
DEMO_TASK = "arith"
DEMO_LIMIT = 100
DEMO_SEEDS = 1
DEMO_CONCURRENCY = 2
DEMO_STRATEGIES = (
    "cot",
    "sc(n=1..16)",
    "asc",
    "bon(n=1..16, scorer=prm)",
    "beam(n=4..16)",
    "budget(think=256, wait=1, answer_prompt='Answer:')",
)


def demo_strategies(console: Console | None = None) -> list[str]:
    """The demo's strategy specs that exist and validate here; prints a note for each one skipped."""
    from ..errors import PonderError
    from ..strategies import REGISTRY, build_strategy
    from .runner import families, with_seed

    console = console or Console(stderr=True)
    kept = []
    for spec in DEMO_STRATEGIES:
        name = spec.split("(", 1)[0].strip()
        if name not in REGISTRY:
            console.print(f"[yellow]demo: skipping {spec!r}: no strategy {name!r} here yet[/yellow]")
            continue
        try:
            for fam in families(spec):
                top = fam.parsed.with_args(**{fam.point_key: max(fam.points)}) if fam.point_key else fam.parsed
                build_strategy(with_seed(top, 0))
        except PonderError as exc:
            console.print(f"[yellow]demo: skipping {spec!r}: {exc}[/yellow]")
            continue
        kept.append(spec)
    return kept


def demo_config(out: str | Path, specs: list[str], *, limit: int = DEMO_LIMIT, fresh: bool = True) -> "BenchConfig":
    """The bench the demo runs into ``out`` with the strategies ``specs`` (see :func:`demo_strategies`)."""
    from .runner import BenchConfig

    return BenchConfig(model=DEMO_MODEL, task=DEMO_TASK, strategies="; ".join(specs), limit=limit, seeds=DEMO_SEEDS,
                       concurrency=DEMO_CONCURRENCY, out=str(out), resume=not fresh)


def clear_demo_run(out: Path, cfg: "BenchConfig | None" = None) -> None:
    """Remove the files an earlier demo wrote in ``out`` (its run store, report and plots), nothing
    else. A run is the demo's when its manifest holds the settings of the demo's ``cfg`` (model, task,
    strategies, seeds; any limit): the README's first bench example is on the demo's model
    and task too, and was deleted. Any other run is refused, not removed, and so is a run another
    process is writing (two demos at once: the second deleted the first's store and lock); the
    run's lock is held while its files are removed."""
    from .runner import MANIFEST_KEYS
    from .store import DB_NAME, LOCK_NAME, RunStoreError, Store, lock_run

    out = Path(out)
    db = out / DB_NAME
    if not db.exists():
        return
    cfg = cfg or demo_config(out, demo_strategies())
    lock = lock_run(out)  # RunLockedError while a bench (or demo) writes there
    try:
        if not db.exists():  # removed meanwhile by a demo that held the lock
            return
        try:
            store = Store.for_run(out, readonly=True)
            try:
                manifest = store.manifest()
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - not a run store we can read: not ours to delete
            raise RunStoreError(f"{db} is there and is not a run store the demo can read ({exc}); "
                                "give the demo a directory of its own with --out") from None
        # the demo's own settings; a demo run with another --limit is the demo's too, and replaced
        ours = {k: getattr(cfg, k) for k in MANIFEST_KEYS if k != "limit"}
        differs = [f"{k} {manifest.get(k)!r} where the demo runs {v!r}" for k, v in ours.items()
                   if manifest.get(k) != v]
        if (manifest.get("model"), manifest.get("task")) != (cfg.model, cfg.task):
            differs = [f"the demo runs model {cfg.model!r} on task {cfg.task!r}"]
        if differs:
            raise RunStoreError(f"{out} holds a benchmark run of model {manifest.get('model')!r} on task "
                                f"{manifest.get('task')!r} that is not the demo's ({'; '.join(differs)}); the demo "
                                "replaces only its own runs: give it another directory with --out")
        # the lock last, still held: a demo that opens the file after that finds no run to remove
        paths = [db, out / f"{DB_NAME}-wal", out / f"{DB_NAME}-shm", out / "report.html",
                 *out.glob("accuracy_vs_*.png"), out / LOCK_NAME]
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise RunStoreError(f"cannot remove the earlier demo run's {path} ({exc.strerror or exc}); remove "
                                    "it yourself or give the demo another directory with --out") from None
    finally:
        lock.release()


def run_default_demo(out_dir: str | Path = "runs/demo", *, limit: int = DEMO_LIMIT, fresh: bool = True) -> Path:
    """Run the default benchmark into ``out_dir`` (an earlier demo run there replaced when ``fresh``,
    see :func:`clear_demo_run`), print the tables, return the path of the HTML report."""
    from .cli import finish
    from .runner import run_bench

    out = Path(out_dir)
    cfg = demo_config(out, demo_strategies(), limit=limit, fresh=fresh)
    if fresh:
        clear_demo_run(out, cfg)
    run_dir = asyncio.run(run_bench(cfg))
    path = finish(run_dir, html=True)
    assert path is not None
    return path


if __name__ == "__main__":
    print(run_default_demo())
