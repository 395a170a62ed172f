"""Helpers for sandbox tests: leftover-process scans, host canary directories, running as another
user, the datasets path."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

import ponder

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1].parent / "shared" / "datasets"  # <repo root>/../shared/datasets


def processes_with(marker: str) -> list[int]:
    """Pids (other than ours) whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content hash and mode: equal snapshots mean untouched."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = f"{digest}:{oct(st.st_mode)}:{st.st_uid}"
    return out


@pytest.fixture
def canary():
    """A host directory outside /tmp (inside tests/sandbox, removed afterwards) with files to protect."""
    root = HERE / f".canary-{uuid.uuid4().hex[:8]}"
    (root / "sub").mkdir(parents=True)
    (root / "keep.txt").write_text("precious\n")
    (root / "sub" / "data.bin").write_bytes(os.urandom(64))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # covered by the sandbox's private tmpfs


@pytest.fixture
def outside_dir():
    """A fresh directory outside every directory the sandbox hides (so a write there would reach the
    host), traversable by any uid; in tests/sandbox when it qualifies, else under /run or /var/lib."""
    for base in (HERE, Path("/run"), Path("/var/lib")):
        real = os.path.realpath(base)
        if (not base.is_dir() or not os.access(base, os.W_OK)
                or any(real == h or real.startswith(h + "/") for h in HIDDEN)
                or not all(os.stat(p).st_mode & 0o001 for p in [real, *Path(real).parents])):
            continue
        root = Path(tempfile.mkdtemp(prefix=".ponder-outside-", dir=real))
        root.chmod(0o755)
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    pytest.skip("no writable directory outside /tmp, /var/tmp, /dev/shm and /run/lock")


def free_uid() -> int | None:
    """An unprivileged uid with no process, outside the sandbox's uid pools (or None)."""
    from ponder.sandbox.runner import pids_of_uid

    start = 50_000 + int.from_bytes(os.urandom(2), "little") % 9_000
    for uid in range(start, start + 100):
        if not pids_of_uid(uid):
            return uid
    return None


def system_python() -> str | None:
    """A Python that another uid can start (Ponder's own may live under /root)."""
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.access(cand, os.X_OK):
            return cand
    return None


def as_user(uid: int, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` as ``uid`` (setpriv), with Ponder's source on the path and nothing else."""
    src = str(Path(ponder.__file__).resolve().parents[1])
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin", **kwargs.pop("env", {})}
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv], env=env,
                          capture_output=True, text=True, timeout=60, **kwargs)
