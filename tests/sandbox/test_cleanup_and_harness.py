"""Regressions of the sandbox's own machinery: the working directory's removal (deep trees, locked
directories, symlinks to host files), the status when output passes the cap, the uid-slot locks of
several Ponder processes, and the test harness under multiprocessing and with threads left
running."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import tempfile

import pytest
from sandbox_helpers import as_user, free_uid, system_python
from sandbox_helpers import outside_dir  # noqa: F401  (fixture)

from ponder.sandbox import Limits, runner
from ponder.sandbox.harness import arun_tests, run_tests

FAST = Limits(wall_seconds=4, cpu_seconds=4, memory_mb=256, processes=32, output_bytes=20_000)
DEEP = "import os\nfor _ in range({n}):\n    os.mkdir('d')\n    os.chdir('d')\n"


@pytest.fixture
def workdirs(monkeypatch):
    """The working directories the runs of a test were given (to check that each was removed)."""
    made: list[str] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    yield made
    for path in made:  # after a failure: leave nothing on the host (shutil's rmtree recurses)
        if os.path.lexists(path):
            runner._remove(path)


# -- removal of the working directory -----------------------------------------------------------
async def test_deep_tree_neither_raises_nor_stays(workdirs):
    """A program making a tree deeper than Python's recursion limit (and PATH_MAX): before, rmtree
    raised RecursionError out of arun_tests, failing asyncio.gather for every candidate, and the
    working directory stayed on the host."""
    good = "def f(x):\n    return x\n"
    bad = DEEP.format(n=2500) + good
    reps = await asyncio.gather(*(arun_tests(s, ["assert f(1) == 1"], limits=FAST) for s in (good, bad)))
    assert [r.status for r in reps] == ["passed", "passed"], [r.feedback() for r in reps]
    assert len(workdirs) == 2 and not any(os.path.lexists(p) for p in workdirs)


def test_remove_reports_instead_of_raising(tmp_path, monkeypatch):
    """What cannot be removed becomes a note, never an exception."""
    (tmp_path / "w" / "d").mkdir(parents=True)
    (tmp_path / "w" / "d" / "f").write_text("x")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "unlink", refuse)
    note = runner._remove(str(tmp_path / "w"))
    assert note and "could not be removed" in note and str(tmp_path / "w") in note
    monkeypatch.undo()
    assert runner._remove(str(tmp_path / "w")) is None and not (tmp_path / "w").exists()


def test_remove_never_follows_symlinks(tmp_path):
    """Links to a host directory and file, inside locked directories, are unlinked: the targets and
    their modes stay as they were (as root the modes cannot block the removal; see the non-root test)."""
    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    (host / "f.txt").write_text("keep")
    host.chmod(0o755)
    w = tmp_path / "w"
    (w / "d" / "e").mkdir(parents=True)
    (w / "d" / "dirlink").symlink_to(host)
    (w / "d" / "e" / "filelink").symlink_to(host / "f.txt")
    (w / "toplink").symlink_to(host / "sub")
    (w / "d" / "e").chmod(0)
    (w / "d").chmod(0o500)
    assert runner._remove(str(w)) is None and not w.exists()
    assert stat.S_IMODE(host.stat().st_mode) == 0o755 and (host / "f.txt").read_text() == "keep"
    assert sorted(p.name for p in host.iterdir()) == ["f.txt", "sub"]


CALLER = r"""
import json, os, stat, sys
from ponder.sandbox import Limits, run_python
host_dir, host_file = sys.argv[1], sys.argv[2]
progs = {
    "locked": "import os\nos.makedirs('d/e')\nopen('d/e/x', 'w').write('x')\nos.chmod('d/e', 0)\n"
              "os.chmod('d', 0)\nos.chmod('.', 0o500)\n",
    "links": f"import os\nos.mkdir('d')\nos.symlink({host_dir!r}, 'd/dl')\nos.symlink({host_file!r}, 'd/fl')\n"
             "os.chmod('d', 0o500)\n",
    "deep": "import os\nfor _ in range(1200):\n    os.mkdir('d')\n    os.chdir('d')\nos.chmod('.', 0)\n",
}
out = {}
for name, prog in progs.items():
    try:
        r = run_python(prog, limits=Limits(wall_seconds=5))
        out[name] = [r.status, r.notes]
    except BaseException as exc:
        out[name] = ["raised", f"{type(exc).__name__}: {exc}"]
out["modes"] = [oct(stat.S_IMODE(os.stat(p).st_mode)) for p in (host_dir, host_file)]
out["left"] = sorted(p for p in os.listdir(os.environ["TMPDIR"]) if p.startswith("ponder-sbx-"))
print(json.dumps(out))
"""


def test_nonroot_cleanup_of_locked_dirs_and_links(outside_dir):
    """As an ordinary user: a directory chmod 0 made the cleanup raise TypeError (its onerror called
    os.open with a path) and stay; a symlink in a read-only directory made it chmod the link's target,
    a host directory of the user, to 0700. Run as a spare uid through setpriv."""
    uid, python = free_uid(), system_python()
    if os.geteuid() != 0 or uid is None or python is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, setpriv and a system python3 to run the caller as a spare unprivileged uid")
    home, shared = outside_dir / "home", outside_dir / "shared"
    for d in (home, shared):
        d.mkdir()
        d.chmod(0o755)
    (shared / "notes.txt").write_text("user data\n")
    (shared / "notes.txt").chmod(0o644)
    (outside_dir / "caller.py").write_text(CALLER)
    for p in (outside_dir, home, shared, shared / "notes.txt"):
        os.chown(p, uid, uid)
    try:
        proc = as_user(uid, [python, str(outside_dir / "caller.py"), str(shared), str(shared / "notes.txt")],
                       cwd=str(home), env={"TMPDIR": str(home)})
        assert proc.returncode == 0, proc.stderr[-1500:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        if any("no user namespace" in n for n in out["locked"][1]):
            pytest.skip(f"the system refuses namespaces to unprivileged users: {out['locked'][1]}")
        assert [out[k][0] for k in ("locked", "links", "deep")] == ["ok", "ok", "ok"], out
        assert out["modes"] == ["0o755", "0o644"], out
        assert out["left"] == [], out
    finally:
        for p in home.glob("ponder-sbx-*"):  # after a failure
            runner._remove(str(p))


# -- output cap ---------------------------------------------------------------------------------
def test_output_over_the_cap_is_never_ok():
    """The program wrote past the cap and exited before the launcher got the stop signal (its report
    says the program ended by itself): before, that came back ``ok`` with ``stdout_truncated``."""
    lim = Limits(output_bytes=1000)
    report = {"reason": None, "status": 0, "cpu_seconds": 0.01}
    r = runner._result(report, (b"x" * 1000, True), (b"", False), 0.1, lim)
    assert r.status == "output_limit" and r.stdout_truncated
    r = runner._result(report, (b"", False), (b"e" * 1000, True), 0.1, lim)
    assert r.status == "output_limit" and r.stderr_truncated
    assert runner._result(report, (b"x" * 1000, False), (b"", False), 0.1, lim).status == "ok"


# -- uid slots ----------------------------------------------------------------------------------
def test_slots_are_shared_by_processes_with_different_tmpdirs(tmp_path, monkeypatch):
    """Two Ponder processes with different TMPDIRs kept their slot locks apart, so both could claim
    one sandbox uid (and claiming it kills the other's program): the locks live in one fixed place."""
    if runner.uid_base() is None:
        pytest.skip("uid slots are used only when running as root")
    monkeypatch.setattr(runner.secrets, "randbelow", lambda n: 7)  # both start looking at one slot
    slots = []
    try:
        for sub in ("a", "b"):
            (tmp_path / sub).mkdir()
            monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / sub))
            slots.append(runner._Slot())
        assert slots[0].uid != slots[1].uid
    finally:
        for s in slots:
            s.release()
    lock_dir = runner.slot_lock_dir()
    st = os.lstat(lock_dir)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and st.st_mode & 0o022 == 0
    assert not lock_dir.startswith(str(tmp_path))


# -- harness --------------------------------------------------------------------------------
SPAWN = """
import multiprocessing as mp

def square(x):
    return x * x

def squares(xs, method="spawn"):
    with mp.get_context(method).Pool(2) as pool:
        return pool.map(square, xs)
"""


def test_spawn_pool_maps_a_solution_function():
    """With spawn (and forkserver, Linux's default from Python 3.14) every worker imports main.py as
    __mp_main__: the harness ran all tests again in each, and a worker must find ``solution``."""
    tests = ["assert squares([1, 2, 3]) == [1, 4, 9]", "assert squares([]) == []",
             "assert squares([4], 'forkserver') == [16]"]
    rep = run_tests(SPAWN, tests, limits=Limits(wall_seconds=8, cpu_seconds=8, processes=64))
    assert rep.status == "passed", rep.feedback()
    out = rep.execution.stdout
    assert out.count('{"kind": "loaded"}') == 1 and out.count('{"kind": "done"}') == 1, out


def test_thread_left_running_after_the_tests():
    """A non-daemon thread still running when every test passed kept the interpreter alive until the
    wall limit: ``timeout``. The harness now exits as soon as it has reported."""
    sol = ("import threading, time\ndef f(x):\n    threading.Thread(target=time.sleep, args=(100,)).start()\n"
           "    return x\n")
    rep = run_tests(sol, ["assert f(1) == 1"], limits=Limits(wall_seconds=3, cpu_seconds=3))
    assert rep.status == "passed" and rep.execution.status == "ok", rep.feedback()
    assert rep.execution.duration < 2.5
