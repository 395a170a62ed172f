"""Helpers for sandbox tests: leftover-process scans, a host canary directory, the datasets path."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import pytest

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
