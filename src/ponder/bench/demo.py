"""The default benchmark of ``make demo``: the embedded lab model on lab ``arith``, every lab strategy.

Strategies not registered yet (or whose spec no longer validates) are skipped with a printed note, so the
demo runs with whatever exists. Sized to finish within 10 minutes on 2 CPU cores with the lab model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

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


def clear_demo_run(out: Path) -> None:
    """Remove the files an earlier demo wrote in ``out`` (its run store, report and plots), nothing
    else; a run of another benchmark there is refused, not removed."""
    from .store import DB_NAME, LOCK_NAME, RunStoreError, Store

    db = out / DB_NAME
    if not db.exists():
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
    if (manifest.get("model"), manifest.get("task")) != (DEMO_MODEL, DEMO_TASK):
        raise RunStoreError(f"{out} holds a benchmark run of model {manifest.get('model')!r} on task "
                            f"{manifest.get('task')!r}, not the demo's; the demo replaces only its own runs: "
                            "give it another directory with --out")
    for path in [db, out / f"{DB_NAME}-wal", out / f"{DB_NAME}-shm", out / LOCK_NAME, out / "report.html",
                 *out.glob("accuracy_vs_*.png")]:
        path.unlink(missing_ok=True)


def run_default_demo(out_dir: str | Path = "runs/demo", *, limit: int = DEMO_LIMIT, fresh: bool = True) -> Path:
    """Run the default benchmark into ``out_dir`` (an earlier demo run there replaced when ``fresh``,
    see :func:`clear_demo_run`), print the tables, return the path of the HTML report."""
    from .cli import finish
    from .runner import BenchConfig, run_bench

    out = Path(out_dir)
    if fresh:
        clear_demo_run(out)
    specs = demo_strategies()
    cfg = BenchConfig(model=DEMO_MODEL, task=DEMO_TASK, strategies="; ".join(specs), limit=limit,
                      seeds=DEMO_SEEDS, concurrency=DEMO_CONCURRENCY, out=str(out), resume=not fresh)
    run_dir = asyncio.run(run_bench(cfg))
    path = finish(run_dir, html=True)
    assert path is not None
    return path


if __name__ == "__main__":
    print(run_default_demo())
