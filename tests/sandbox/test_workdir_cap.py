"""The working directory's total size cap (``Limits.workdir_mb``): real programs filling it with many
files of a few MB each (each below ``file_size_mb``), or with empty files, see ENOSPC at the cap and
never write to the host's working directory under TMPDIR; normal programs still read the given files
(subdirectories included) and write their own."""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sandbox_helpers import as_user, free_uid, system_python
from sandbox_helpers import outside_dir  # noqa: F401  (fixture)

from ponder.sandbox import Limits, run_python, runner

CAP = Limits(wall_seconds=10, cpu_seconds=10, memory_mb=256, processes=32, output_bytes=20_000, workdir_mb=8)
MB = 1024 * 1024
REFUSED = ("no user namespace", "no mount namespace", "could not make mounts private", "no private /tmp")

# Writes 20 files of 1 MB in its cwd (20 MB in all, each far below file_size_mb), handling the error,
# then one more write it does not handle.
FILL = """
import errno, json, os
print(open('data/in.txt').read().strip())
written, err = 0, None
for i in range(20):
    try:
        with open(f'f{i}', 'wb') as f:
            f.write(b'x' * 1024**2)
        written += 1
    except OSError as e:
        err = e.errno
        break
print(json.dumps({"written": written, "errno": err}))
with open('last', 'wb') as f:
    f.write(b'y' * 1024**2)
"""


@pytest.fixture
def host_workdirs(monkeypatch):
    """What each run's host working directory held when the runner removed it: {relative path: size}."""
    seen: list[dict[str, int]] = []
    real = runner._remove

    def remove(workdir: str):
        root = Path(workdir)
        seen.append({str(p.relative_to(root)): (p.lstat().st_size if p.is_file() else -1) for p in root.rglob("*")})
        return real(workdir)

    monkeypatch.setattr(runner, "_remove", remove)
    return seen


def _skip_if_refused(r) -> None:
    """Skip where the machine refuses the mount namespace (the fallback must then say it is uncapped)."""
    if r.isolation.get("workdir_capped"):
        return
    refused = [n for n in r.notes if n.startswith(REFUSED)]
    assert refused, f"the working directory is not capped, yet no namespace was refused: {r.notes}"
    assert any("not size-capped" in n for n in r.notes), r.notes
    pytest.skip(f"the system refused the mount namespace or a private /tmp: {refused}")


def test_many_files_hit_the_cap_and_never_reach_the_host(host_workdirs):
    r = run_python(FILL, limits=CAP, files={"data/in.txt": "given file\n"})
    _skip_if_refused(r)
    lines = r.stdout.splitlines()
    assert lines and lines[0] == "given file", r.describe()  # main.py ran and read its given file
    got = json.loads(lines[1])
    assert got["errno"] == errno.ENOSPC, (got, r.describe())  # before: all 20 written, 20 MB on the host
    assert CAP.workdir_mb - 1 <= got["written"] <= CAP.workdir_mb, got
    assert r.status == "failed" and "No space left on device" in r.stderr, r.describe()
    assert any("working directory is full" in n and "workdir_mb=8" in n for n in r.notes), r.notes
    # the host's working directory held only what the runner put there: nothing the program wrote
    assert len(host_workdirs) == 1
    assert host_workdirs[0] == {"main.py": len(FILL.encode()), "data": -1, "data/in.txt": 11}, host_workdirs


def test_empty_files_hit_the_file_count_cap():
    """Empty files take no space but kernel memory: their number is capped too."""
    prog = ("import errno, os\nn = 0\ntry:\n    while n < 100000:\n        open(f'e{n}', 'w').close()\n"
            "        n += 1\nexcept OSError as e:\n    print(n, e.errno == errno.ENOSPC)\n")
    r = run_python(prog, limits=CAP)
    _skip_if_refused(r)
    assert r.status == "ok", r.describe()
    n, enospc = r.stdout.split()
    assert enospc == "True" and 4000 <= int(n) <= 4096, r.stdout
    assert any("working directory is full" in n and "number of files" in n for n in r.notes), r.notes


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
def test_empty_files_in_the_private_tmpfs_are_capped_too(where):
    """/tmp, /var/tmp and /dev/shm held 64 MB but any number of empty files (kernel memory)."""
    prog = ("import errno, os\nn = 0\ntry:\n    while n < 40000:\n        open(f'%s/e{n}', 'w').close()\n"
            "        n += 1\nexcept OSError as e:\n    print(n, e.errno == errno.ENOSPC)\n" % where)
    r = run_python(prog, limits=CAP)
    _skip_if_refused(r)
    assert r.status == "ok", r.describe()
    n, enospc = r.stdout.split()
    assert enospc == "True" and 16000 <= int(n) <= 16384, r.stdout  # before: all 40 000 made


def test_given_files_and_outputs_still_work(host_workdirs):
    files = {"in.txt": "hello\n", "sub/dir/data.json": json.dumps({"k": [1, 2, 3]}), "blob.bin": bytes(range(256))}
    prog = ("import json, os\nprint(open('in.txt').read().strip())\nprint(json.load(open('sub/dir/data.json'))['k'])\n"
            "print(open('blob.bin', 'rb').read() == bytes(range(256)))\n"
            "with open('out.txt', 'w') as f:\n    f.write('result')\nprint(open('out.txt').read())\n"
            "os.makedirs('o/p')\nopen('o/p/q', 'w').write('x')\nprint(sorted(os.listdir('.')))\n")
    r = run_python(prog, limits=CAP, files=files)
    _skip_if_refused(r)
    assert r.status == "ok", r.describe()
    assert r.stdout.splitlines() == ["hello", "[1, 2, 3]", "True", "result",
                                     "['blob.bin', 'in.txt', 'main.py', 'o', 'out.txt', 'sub']"], r.stdout
    assert not any("full" in n or "size-capped" in n for n in r.notes), r.notes
    assert "out.txt" not in host_workdirs[0] and "o" not in host_workdirs[0]


def test_given_files_do_not_count_against_the_cap():
    """Files the caller gives larger than ``workdir_mb`` are copied in whole; the program may still
    write ``workdir_mb`` beyond them."""
    prog = ("import os\nprint(os.path.getsize('big.bin'))\nn = 0\ntry:\n    for n in range(1, 6):\n"
            "        open(f'w{n}', 'wb').write(b'x' * 1024**2)\nexcept OSError:\n    n -= 1\nprint(n)\n")
    r = run_python(prog, limits=Limits(wall_seconds=10, workdir_mb=4), files={"big.bin": b"z" * (6 * MB)})
    _skip_if_refused(r)
    assert r.status == "ok", r.describe()
    assert r.stdout.split() == [str(6 * MB), "3"] or r.stdout.split() == [str(6 * MB), "4"], r.stdout


def test_host_workdir_is_read_only_to_the_program(outside_dir, monkeypatch, host_workdirs):
    """With TMPDIR outside the hidden directories, the host's working directory is reachable at its own
    path: it is read-only there, so the cap cannot be bypassed through it."""
    monkeypatch.setattr(tempfile, "mkdtemp", functools.partial(tempfile.mkdtemp, dir=str(outside_dir)))
    prog = ("import glob, sys\nfor d in glob.glob(sys.argv[1] + '/ponder-sbx-*'):\n    try:\n"
            "        open(d + '/evil', 'w').write('x')\n        print('WROTE', d)\n    except OSError as e:\n"
            "        print('refused', type(e).__name__)\n")
    r = run_python(prog, limits=CAP, args=[str(outside_dir)])
    _skip_if_refused(r)
    assert r.status == "ok" and "WROTE" not in r.stdout, r.describe()
    assert r.stdout.startswith("refused"), r.stdout  # it found its host directory and could not write
    assert set(host_workdirs[0]) == {"main.py"}


def test_without_private_tmp_the_notes_say_uncapped(monkeypatch, host_workdirs):
    """Where there is no private /tmp (here: nothing to hide, as when the system refuses the mount
    namespace) the program works in the host's directory as before, and the result says it is uncapped."""
    monkeypatch.setattr(runner, "_hidden_dirs", lambda python: ([], []))
    r = run_python("open('out.txt', 'w').write('x')\nprint(open('in.txt').read())\n", limits=CAP,
                   files={"in.txt": "given"})
    assert r.status == "ok" and r.stdout == "given\n", r.describe()
    assert not r.isolation["workdir_capped"] and not r.isolation["private_tmp"]
    assert any("working directory is not size-capped (no private /tmp)" in n for n in r.notes), r.notes
    assert set(host_workdirs[0]) == {"main.py", "in.txt", "out.txt"}


@pytest.mark.parametrize("mb", [0, -1])
def test_workdir_mb_must_be_positive(mb):
    with pytest.raises(ValueError, match=f"sandbox limit workdir_mb must be positive, got {mb}"):
        Limits(workdir_mb=mb)


CALLER = r"""
import json, sys
from ponder.sandbox import Limits, run_python
r = run_python(sys.argv[1], limits=Limits(wall_seconds=10, workdir_mb=8), files={"data/in.txt": "given file\n"})
print(json.dumps({"status": r.status, "stdout": r.stdout, "stderr": r.stderr[-500:], "notes": r.notes,
                  "isolation": r.isolation}))
"""


def test_nonroot_cap(outside_dir):
    """As an ordinary user (user namespace, no uid of its own): the same cap, the files readable."""
    uid, python = free_uid(), system_python()
    if os.geteuid() != 0 or uid is None or python is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, setpriv and a system python3 to run the caller as a spare unprivileged uid")
    home = outside_dir / "home"
    home.mkdir()
    (outside_dir / "caller.py").write_text(CALLER)
    for p in (outside_dir, home):
        os.chown(p, uid, uid)
    proc = as_user(uid, [python, str(outside_dir / "caller.py"), FILL], cwd=str(home), env={"TMPDIR": str(home)})
    assert proc.returncode == 0, proc.stderr[-1500:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out["isolation"]["workdir_capped"] and any(n.startswith(REFUSED) for n in out["notes"]):
        pytest.skip(f"the system refuses the namespaces to unprivileged users: {out['notes']}")
    lines = out["stdout"].splitlines()
    assert lines[0] == "given file" and json.loads(lines[1])["errno"] == errno.ENOSPC, out
    assert 7 <= json.loads(lines[1])["written"] <= 8, out
    assert out["status"] == "failed" and any("working directory is full" in n for n in out["notes"]), out
    assert list(home.glob("ponder-sbx-*")) == []
