"""The run store: one SQLite file (WAL) per run, written as work completes, safe against SIGKILL.

Schema (``SCHEMA``):
  ``manifest(key, value)``  JSON values: model, task, strategies, seeds, limit, versions, git, hardware.
  ``units(unit, problem_id, family, spec, seed, gen_seed, status, attempt, error, ...)``  one work item:
      a problem x strategy (a pool strategy's whole sweep is one unit) x run seed.
  ``results(problem_id, family, spec, point, seed, correct, parsed, ...)``  one row per budget point;
      for pool strategies ``correct`` is the expected accuracy over subsets of the drawn pool.
      ``uncounted_calls``: calls whose tokens the backend did not count (the token columns are then
      lower bounds, NULL where nothing was counted), ``uncounted_verifier_calls`` those not of the
      policy; both NULL in runs stored before they were kept.
  ``calls(id, unit, attempt, role, model, n, prompt_tokens, ...)``  every model call's ledger entry, written
      when the call completes; calls of an attempt that never finished (killed) stay, marked by
      ``units.attempt`` being higher than theirs.

A unit's results and its ``done`` status are written in one transaction, so after a kill a unit is either
complete or redone from scratch; ``--resume`` never recomputes a ``done`` unit. A second process on the same
run is refused by an exclusive ``flock`` on ``bench.lock`` (released by the kernel even on SIGKILL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from ..errors import PonderError

DB_NAME = "bench.sqlite"
LOCK_NAME = "bench.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    unit TEXT PRIMARY KEY, problem_id TEXT NOT NULL, family TEXT NOT NULL, spec TEXT NOT NULL,
    seed INTEGER NOT NULL, gen_seed INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempt INTEGER NOT NULL DEFAULT 0, error TEXT, started REAL, finished REAL, wall_seconds REAL);
CREATE TABLE IF NOT EXISTS results (
    unit TEXT NOT NULL, problem_id TEXT NOT NULL, family TEXT NOT NULL, spec TEXT NOT NULL,
    point REAL, seed INTEGER NOT NULL, correct REAL, parsed REAL, pass_at_k REAL, answer TEXT,
    policy_tokens REAL, verifier_tokens REAL, prompt_tokens REAL, completion_tokens REAL, calls REAL,
    wall_seconds REAL, flops REAL, retries INTEGER, budget_exhausted INTEGER, error TEXT,
    pool_size INTEGER, subsets INTEGER, uncounted_calls REAL,
    uncounted_verifier_calls REAL, PRIMARY KEY (problem_id, family, spec, seed));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, unit TEXT NOT NULL, attempt INTEGER NOT NULL, role TEXT,
    model TEXT, n INTEGER, prompt_tokens INTEGER, cached_prompt_tokens INTEGER, completion_tokens INTEGER,
    reasoning_tokens INTEGER, wall_seconds REAL, retries INTEGER, finish_reasons TEXT,
    num_parameters INTEGER, at REAL);
CREATE INDEX IF NOT EXISTS calls_unit ON calls(unit, attempt);
"""

RESULT_FIELDS = ("unit", "problem_id", "family", "spec", "point", "seed", "correct", "parsed", "pass_at_k",
                 "answer", "policy_tokens", "verifier_tokens", "prompt_tokens", "completion_tokens", "calls",
                 "wall_seconds", "flops", "retries", "budget_exhausted", "error", "pool_size", "subsets",
                 "uncounted_calls", "uncounted_verifier_calls")
# columns added to a table since the first stored runs: added to an older run's store when it is
# opened for writing (--resume); read-only, its rows lack them (``None``: see ``report.load_report``)
ADDED_COLUMNS = {"results": {"uncounted_calls": "REAL", "uncounted_verifier_calls": "REAL"}}


class RunLockedError(PonderError):
    """Another process is writing this run."""


class RunStoreError(PonderError):
    """The run directory is missing, not a run, or does not match what was asked."""


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``DIR/bench.lock``; the kernel drops it when the process dies."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"the run {str(self.path.parent)!r} is being written by another ponder bench "
                                 f"(pid {holder}); wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class Store:
    """Read/write access to one run's SQLite file. Writers hold a ``RunLock`` first (see ``open_for_write``)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.is_file():
                raise RunStoreError(f"no bench results at {str(self.path)!r}")
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        else:
            _check_readable(self.path)  # before anything writes to it
            self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; explicit transactions
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
                self.db.executescript(SCHEMA)
                self._add_columns()
            except sqlite3.DatabaseError as exc:
                self.db.close()
                raise _not_a_run(self.path, exc) from None
        self.db.row_factory = sqlite3.Row

    @classmethod
    def for_run(cls, run_dir: str | Path, *, readonly: bool = False) -> "Store":
        run_dir = Path(run_dir)
        if readonly and run_dir.is_file():
            return cls(run_dir, readonly=True)
        return cls(run_dir / DB_NAME, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def _add_columns(self) -> None:
        """Bring an older run's tables up to ``SCHEMA`` (``ADDED_COLUMNS``), so a resumed run can
        write its new rows; the rows stored before keep NULL there."""
        for table, columns in ADDED_COLUMNS.items():
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    # -- manifest ---------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.db.execute("SELECT key, value FROM manifest")}

    def set_manifest(self, values: dict[str, Any]) -> None:
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO manifest(key, value) VALUES (?, ?)",
                                [(k, json.dumps(v, default=str)) for k, v in values.items()])

    # -- units ------------------------------------------------------------------------------
    def add_units(self, units: Iterable[dict[str, Any]]) -> None:
        with self._tx():
            self.db.executemany(
                "INSERT OR IGNORE INTO units(unit, problem_id, family, spec, seed, gen_seed) "
                "VALUES (:unit, :problem_id, :family, :spec, :seed, :gen_seed)", list(units))

    def unit_status(self) -> dict[str, str]:
        return {r["unit"]: r["status"] for r in self.db.execute("SELECT unit, status FROM units")}

    def start_unit(self, unit: str) -> int:
        """Begin a new attempt of ``unit``; returns the attempt number its calls are recorded under."""
        with self._tx():
            self.db.execute("UPDATE units SET attempt = attempt + 1, status = 'running', started = ? "
                            "WHERE unit = ?", (time.time(), unit))
            return int(self.db.execute("SELECT attempt FROM units WHERE unit = ?", (unit,)).fetchone()[0])

    def record_call(self, unit: str, attempt: int, entry: Any) -> None:
        """One ledger entry, committed at once (a call that completed is never lost)."""
        self.db.execute(
            "INSERT INTO calls(unit, attempt, role, model, n, prompt_tokens, cached_prompt_tokens, "
            "completion_tokens, reasoning_tokens, wall_seconds, retries, finish_reasons, num_parameters, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (unit, attempt, entry.role, entry.model, entry.n, entry.prompt_tokens, entry.cached_prompt_tokens,
             entry.completion_tokens, entry.reasoning_tokens, entry.wall_seconds, entry.retries,
             json.dumps(entry.finish_reasons), entry.num_parameters, time.time()))

    def finish_unit(self, unit: str, rows: list[dict[str, Any]], *, error: str | None = None,
                    wall_seconds: float | None = None) -> None:
        """Write a unit's result rows and mark it done (or failed) in one transaction."""
        with self._tx():
            self.db.execute("DELETE FROM results WHERE unit = ?", (unit,))
            cols = ", ".join(RESULT_FIELDS)
            marks = ", ".join(f":{f}" for f in RESULT_FIELDS)
            self.db.executemany(f"INSERT OR REPLACE INTO results({cols}) VALUES ({marks})",
                                [{f: r.get(f) for f in RESULT_FIELDS} for r in rows])
            self.db.execute("UPDATE units SET status = ?, error = ?, finished = ?, wall_seconds = ? WHERE unit = ?",
                            ("failed" if error else "done", error, time.time(), wall_seconds, unit))

    # -- reading ----------------------------------------------------------------------------
    def results(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM results ORDER BY family, point, problem_id, seed")]

    def units(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM units ORDER BY unit")]

    def calls(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM calls ORDER BY id")]

    def _tx(self) -> "_Tx":
        return _Tx(self.db)


def _check_readable(path: Path) -> None:
    """Refuse a store that is not a bench run's (a text file of that name, a truncated or damaged
    database, another program's database) before it is opened for writing: read-only, so the file
    is left exactly as it was, where opening it to write failed later with an internal error."""
    if not path.is_file() or path.stat().st_size == 0:
        return  # a new run
    # Without a write-ahead log beside it the file is all there is: read it as immutable, which
    # makes no -wal or -shm file next to it either (a log left by a killed run must be read).
    immutable = "" if path.with_name(path.name + "-wal").exists() else "&immutable=1"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro{immutable}", uri=True)
    except sqlite3.Error as exc:
        raise _not_a_run(path, exc) from None
    try:
        check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise _not_a_run(path, exc) from None
    finally:
        db.close()
    if check != "ok":
        raise _not_a_run(path, check)
    if tables and "manifest" not in tables:
        raise _not_a_run(path, "a database without the tables of a run")


def _not_a_run(path: Path, why: object) -> RunStoreError:
    return RunStoreError(f"{str(path.parent)!r} holds a {path.name} that is not a readable bench run ({why}); "
                         "it is left as it is: choose another --out, or move the file away to start a run there")


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def lock_run(run_dir: str | Path) -> RunLock:
    """Create the run directory if needed and take its lock. A directory that cannot be made or
    written (a file on its path, a place without write permission) is a ``RunStoreError`` saying
    why, where it was an internal error (NotADirectoryError, FileNotFoundError)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunStoreError(f"--out {str(run_dir)!r} is a file; give a directory for the run (it is made if missing)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunStoreError(f"--out {str(run_dir)!r}: cannot create the run directory ({_why(exc, run_dir)}); "
                            "give a directory that can be made and written (it is made if missing)") from None
    try:
        return RunLock(run_dir).acquire()
    except OSError as exc:
        raise RunStoreError(f"--out {str(run_dir)!r}: cannot write in the run directory ({_why(exc, run_dir)}); "
                            "give a directory that can be written") from None


def _why(exc: OSError, path: Path) -> str:
    """An OSError's reason, with the path it names where that is not ``path``: "Permission denied: 'a'"."""
    if not exc.strerror:
        return str(exc)
    return exc.strerror if exc.filename in (None, str(path)) else f"{exc.strerror}: {str(exc.filename)!r}"


def open_for_write(run_dir: str | Path) -> tuple[Store, RunLock]:
    """Create the run directory if needed, take its lock, open its store."""
    lock = lock_run(run_dir)
    run_dir = Path(run_dir)
    try:
        return Store.for_run(run_dir), lock
    except Exception:
        lock.release()
        raise
