"""Real hostile programs in the sandbox: each must end within its limit, with the right status,
leaving no process behind and the host directories untouched."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from sandbox_helpers import as_user, free_uid, processes_with, snapshot, system_python
from sandbox_helpers import canary, outside_dir  # noqa: F401  (fixtures)

from ponder.sandbox import Limits, run_python, runner
from ponder.sandbox.runner import POOL_SIZE, pids_of_uid, uid_base

FAST = Limits(wall_seconds=2, cpu_seconds=1, memory_mb=256, processes=32, output_bytes=20_000)

# (id, program, expected status, extra check on (result, context)); ``M`` is argv[1], the marker.
SPAWN = "import subprocess, sys\n"
SLEEPER = "[sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]]"
CASES = [
    ("fork_bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     "timeout", None),
    ("fork_bomb_exits", "import os\nwhile True:\n    os.fork()\n", ("failed", "timeout"), None),
    ("spawn_bomb", SPAWN + "while True:\n    try:\n        subprocess.Popen(" + SLEEPER + ")\n"
     "    except OSError:\n        pass\n", "timeout", None),
    ("memory_hog_block", "x = bytearray(8 * 1024**3)\n", "memory", None),
    ("memory_hog_grow", "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024**2))\n", "memory", None),
    ("infinite_loop", "while True:\n    pass\n", "timeout", lambda r, c: r.cpu_seconds is None or r.duration < 2.5),
    ("sleep_forever", "import time\ntime.sleep(10**6)\n", "timeout", None),
    ("huge_stdout", "while True:\n    print('x' * 1000)\n", "output_limit",
     lambda r, c: r.stdout_truncated and "truncated" in r.stdout and len(r.stdout) < 21_000),
    ("huge_stderr", "import sys\nwhile True:\n    sys.stderr.write('e' * 4096)\n", "output_limit",
     lambda r, c: r.stderr_truncated),
    ("write_outside", "import os\nfor p in [{canary!r} + '/evil.txt', {canary!r} + '/keep.txt', '/etc/evil',"
     " '/root/evil', '/evil']:\n    try:\n        open(p, 'w').write('x')\n        print('WROTE', p)\n"
     "    except OSError as e:\n        print('refused', p, type(e).__name__)\n", "ok",
     lambda r, c: "WROTE" not in r.stdout and r.stdout.count("refused") == 5),
    ("write_host_tmp", "open({tmp!r} + '/evil.txt', 'w').write('x')\nopen('/tmp/ponder-evil-' + __import__('sys')"
     ".argv[1], 'w').write('x')\n", ("ok", "failed"),
     lambda r, c: not Path(f"/tmp/ponder-evil-{c['marker']}").exists()),
    ("delete_files", "import os, shutil\nfor f in (lambda: os.remove({canary!r} + '/keep.txt'), lambda: "
     "shutil.rmtree({canary!r}), lambda: os.rename({canary!r} + '/sub', '/tmp/x')):\n    try:\n        f()\n"
     "        print('DELETED')\n    except OSError as e:\n        print('refused', type(e).__name__)\n", "ok",
     lambda r, c: "DELETED" not in r.stdout),
    ("read_parent_env", "import os\nprint(dict(os.environ))\nfor pid in ({ppid}, os.getppid()):\n    try:\n"
     "        print(open(f'/proc/{{pid}}/environ', 'rb').read())\n    except OSError as e:\n"
     "        print('refused', type(e).__name__)\n", "ok",
     lambda r, c: c["secret"] not in r.stdout and r.stdout.count("refused") == 2),
    ("network_tcp", "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
     "s.sendall(b'leak')\nprint('CONNECTED')\n", "failed",
     lambda r, c: "CONNECTED" not in r.stdout and not c["accepted"] and r.network_isolated),
    ("network_udp_out", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
     "s.sendto(b'x', ('8.8.8.8', 53))\nprint('SENT')\n", "failed",
     lambda r, c: "SENT" not in r.stdout and "unreachable" in r.stderr.lower()),
    ("detached_double_fork", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
     "        time.sleep(600)\n    os._exit(0)\nprint('parent done')\n", "ok",
     lambda r, c: r.leftovers >= 1 and "parent done" in r.stdout),
    ("detached_popen", SPAWN + "for _ in range(3):\n    subprocess.Popen(" + SLEEPER + ", start_new_session=True)\n",
     "ok", lambda r, c: r.leftovers >= 3),
    ("ignore_sigterm", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
     "signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n", "timeout", None),
    ("close_stdout_exit", "import os, sys\nprint('before', flush=True)\nos.close(1)\n"
     "sys.stderr.write('still here\\n')\nos._exit(0)\n", "ok",
     lambda r, c: "before" in r.stdout and "still here" in r.stderr),
    ("close_all_output_hang", "import os, time\nprint('bye', flush=True)\nos.close(1)\nos.close(2)\n"
     "time.sleep(600)\n", "timeout", lambda r, c: "bye" in r.stdout),
    ("recursion_bomb", "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return list(map(f, [n + 1]))\n"
     "f(0)\n", "crashed", lambda r, c: r.signal == 11),
    ("recursion_error", "def f():\n    return f()\nf()\n", "failed", lambda r, c: "RecursionError" in r.stderr),
    ("os_exit_nonzero", "import os\nprint('x', flush=True)\nos._exit(3)\n", "failed", lambda r, c: r.exit_code == 3),
    ("os_exit_zero", "import os\nos._exit(0)\n", "ok", lambda r, c: r.exit_code == 0),
    ("ctypes_null", "import ctypes\nctypes.string_at(0)\n", "crashed", lambda r, c: r.signal == 11),
    ("abort", "import os\nos.abort()\n", "crashed", lambda r, c: r.signal == 6),
    ("kill_own_group", "import os, signal\nos.killpg(0, signal.SIGKILL)\n", "crashed", lambda r, c: r.signal == 9),
    ("big_file", "with open('big', 'wb') as f:\n    f.write(b'x' * (64 * 1024**2))\n", "failed",
     lambda r, c: "File too large" in r.stderr),
    ("fill_tmp", "with open('/tmp/fill', 'wb') as f:\n    for _ in range(200):\n        f.write(b'x' * 1024**2)\n",
     "failed", lambda r, c: "No space left" in r.stderr or "File too large" in r.stderr),
    ("thread_bomb", "import threading, time\nfor _ in range(100000):\n"
     "    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n", "failed",
     lambda r, c: "thread" in r.stderr.lower()),
    ("stdin_closed", "print(input())\n", "failed", lambda r, c: "EOFError" in r.stderr),
    ("setuid_root", "import os\nos.setuid(0)\nprint('ROOT')\n", "failed", lambda r, c: "ROOT" not in r.stdout),
    ("kill_everything", "import os, signal\nfor pid in (os.getppid(), 1, {ppid}):\n    try:\n"
     "        os.kill(pid, signal.SIGKILL)\n        print('KILLED', pid)\n    except OSError as e:\n"
     "        print('refused', type(e).__name__)\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n"
     "    pass\nprint('alive')\n", "ok",
     lambda r, c: "KILLED" not in r.stdout and "alive" in r.stdout),
    ("non_utf8_output", "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\x00 end\\n')\n", "ok",
     lambda r, c: "\ufffd" in r.stdout and r.stdout.startswith("ok ")),
    ("syntax_error", "def f(:\n    pass\n", "failed", lambda r, c: "SyntaxError" in r.stderr),
    ("lock_own_dir", "import os\nos.makedirs('d/e')\nopen('d/e/f', 'w').write('x')\nos.chmod('d/e', 0)\n"
     "os.chmod('d', 0)\nos.chmod('.', 0o500)\n", "ok", None),
    ("cpu_children", "import multiprocessing as mp\ndef burn():\n    while True:\n        pass\n"
     "if __name__ == '__main__':\n    ps = [mp.Process(target=burn) for _ in range(4)]\n"
     "    [p.start() for p in ps]\n    [p.join() for p in ps]\n", "timeout", None),
    ("mount_escape", "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "print(libc.unshare(0x00020000), libc.mount(b'none', b'/', b'tmpfs', 0, None))\n", "ok",
     lambda r, c: r.stdout.strip() == "-1 -1"),
]


@pytest.fixture
def listener():
    """A TCP server on the host loopback that records whether anything connected."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    state = {"accepted": False, "stop": False}

    def serve():
        while not state["stop"]:
            try:
                conn, _ = srv.accept()
                state["accepted"] = True
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], state
    state["stop"] = True
    t.join()
    srv.close()


def _no_pool_processes() -> bool:
    base = uid_base()
    return base is None or not any(pids_of_uid(u) for u in range(base, base + POOL_SIZE))


@pytest.mark.parametrize("name,program,expected,check", CASES, ids=[c[0] for c in CASES])
def test_hostile_program(name, program, expected, check, canary, tmp_path, listener, monkeypatch):
    marker = f"ponder-hostile-{uuid.uuid4().hex}"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("PONDER_TEST_SECRET", secret)
    port, state = listener
    (tmp_path / "host.txt").write_text("host")
    before, before_tmp = snapshot(canary), snapshot(tmp_path)
    code = program.format(canary=str(canary), tmp=str(tmp_path), port=port, ppid=os.getpid())
    start = time.monotonic()
    r = run_python(code, limits=FAST, args=[marker])
    elapsed = time.monotonic() - start
    ctx = {"marker": marker, "secret": secret, "accepted": state["accepted"]}
    assert r.status in ((expected,) if isinstance(expected, str) else expected), (name, r.describe())
    assert elapsed < FAST.wall_seconds + 4, f"{name} took {elapsed:.1f}s"
    assert r.duration <= FAST.wall_seconds + 1
    if check is not None:
        assert check(r, ctx), (name, r)
    assert processes_with(marker) == [], f"{name} left processes behind"
    assert _no_pool_processes(), f"{name} left processes of a sandbox uid"
    assert snapshot(canary) == before and snapshot(tmp_path) == before_tmp, f"{name} touched a host directory"
    assert secret not in r.stdout + r.stderr


def test_isolation_is_reported():
    r = run_python("print('hi')")
    assert r.status == "ok" and r.stdout == "hi\n" and r.exit_code == 0
    assert set(r.isolation) >= {"network_namespace", "private_tmp", "own_uid", "subreaper"}
    assert r.network_isolated == r.isolation["network_namespace"]
    if not r.network_isolated:  # the OS refused: the result must say so in words
        assert any("network" in n for n in r.notes)
    import tempfile

    fresh = [p for p in Path(tempfile.gettempdir()).glob("ponder-sbx-*") if p.stat().st_mtime > time.time() - 60]
    assert fresh == []  # every working directory is removed after its run


# -- namespaces and the file system ------------------------------------------------------------
def test_private_proc_hides_host_processes():
    """/proc inside shows only the run's own processes: no host command line (``--api-key``) leaks."""
    secret = f"sk-{uuid.uuid4().hex}"
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--api-key", secret])
    try:
        prog = ("import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\nprint('PIDS', len(pids))\n"
                "for p in pids:\n    try:\n        print(open(f'/proc/{p}/cmdline', 'rb').read())\n"
                "    except OSError:\n        pass\n")
        r = run_python(prog, limits=FAST)
    finally:
        host.kill()
        host.wait()
    assert r.status == "ok", r.describe()
    if any(n.startswith(("no PID namespace", "no private /proc", "no user namespace")) for n in r.notes):
        pytest.skip(f"the system refused a PID namespace or a private /proc: {r.notes}")
    assert secret not in r.stdout
    assert int(r.stdout.split()[1]) <= 3, r.stdout  # the init, the program (and nothing of the host)


def _shm_exists(key: int) -> int:
    """The id of the host's SysV shared memory segment with ``key``, or -1."""
    return ctypes.CDLL(None, use_errno=True).shmget(key, ctypes.c_size_t(0), 0)


def test_sysv_shared_memory_dies_with_the_run():
    """A SysV segment (memory outside RLIMIT_AS) created in a run does not outlive it."""
    key = 0x5000_0000 + int.from_bytes(os.urandom(3), "little")
    prog = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"
            "libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]\n"
            f"sid = libc.shmget({key}, ctypes.c_size_t(32 * 1024**2), 0o1000 | 0o666)\n"
            "addr = libc.shmat(sid, None, 0)\nctypes.memset(addr, 1, 32 * 1024**2)\n"
            "libc.shmdt(ctypes.c_void_p(addr))\nprint('created', sid)\n")
    try:
        r = run_python(prog, limits=FAST)
        assert r.status == "ok" and "created" in r.stdout, r.describe()
        assert _shm_exists(key) == -1, "the run's shared memory segment outlived it"
    finally:
        sid = _shm_exists(key)
        if sid != -1:
            ctypes.CDLL(None).shmctl(sid, 0, None)  # IPC_RMID: clean up after a failure


WRITES = ("import os, sys\nfor p in sys.argv[1:]:\n    try:\n        with open(p, 'w') as f:\n"
          "            f.write('x')\n        print('WROTE', p)\n    except OSError as e:\n"
          "        print('refused', p, type(e).__name__)\n")


def test_writes_outside_workdir_do_not_persist(outside_dir, monkeypatch):
    """Nothing but the working directory and the private tmpfs is writable: a world-writable host
    directory (here one outside /tmp, holding the working directory too) and /run/lock stay untouched,
    while the working directory, /tmp and /dev/null still work."""
    outside_dir.chmod(0o1777)  # the sandbox uid could write there if the file system let it
    monkeypatch.setattr(tempfile, "mkdtemp", functools.partial(tempfile.mkdtemp, dir=str(outside_dir)))
    marker = uuid.uuid4().hex
    targets = [f"{outside_dir}/evil-{marker}", f"/run/lock/ponder-evil-{marker}", f"/var/lock/ponder-evil2-{marker}"]
    before = snapshot(outside_dir)
    try:
        r = run_python(WRITES, limits=FAST, args=["ok.txt", "/dev/null", "/tmp/ok", *targets])
        assert r.status == "ok", r.describe()
        assert all(f"WROTE {p}" in r.stdout for p in ("ok.txt", "/dev/null", "/tmp/ok")), r.stdout
        assert [p for p in targets if os.path.exists(p)] == [], r.stdout
        assert snapshot(outside_dir) == before
    finally:
        for p in targets:
            if os.path.lexists(p):
                os.remove(p)


KILLER = r"""
import json, subprocess, sys, time
from ponder.sandbox import run_python
victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
prog = "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n" + sys.argv[2]
r = run_python(prog, args=sys.argv[3:])
time.sleep(0.3)
print(json.dumps({"victim": victim.poll(), "status": r.status, "stdout": r.stdout, "stderr": r.stderr,
                  "isolation": r.isolation, "notes": r.notes}))
victim.kill()
"""


def test_nonroot_kill_all_and_writes_stay_inside(outside_dir):
    """As an ordinary user, a program's kill(-1, SIGKILL) kills neither its caller nor another process
    of the user, and the user's own files outside the working directory are read-only to it (with the
    working directory itself, not under /tmp here, writable). Run as a spare uid through setpriv."""
    uid, python = free_uid(), system_python()
    if os.geteuid() != 0 or uid is None or python is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, setpriv and a system python3 to run the caller as a spare unprivileged uid")
    probe = as_user(uid, [python, "-c", "from ponder.sandbox import run_python; print(run_python('pass').notes)"],
                    cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"the spare uid cannot run Ponder's source: {probe.stderr[-300:]}")
    if "no user namespace" in probe.stdout or "no PID namespace" in probe.stdout:  # kill(-1) would hit us
        pytest.skip(f"the system refuses the namespaces to unprivileged users: {probe.stdout}")
    os.chown(outside_dir, uid, uid)
    (outside_dir / "home").mkdir()
    os.chown(outside_dir / "home", uid, uid)
    (outside_dir / "caller.py").write_text(KILLER)
    (outside_dir / "home" / "keep.txt").write_text("user data\n")
    os.chown(outside_dir / "home" / "keep.txt", uid, uid)
    before = snapshot(outside_dir / "home")
    other = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", python, "-c",
                              "import time; time.sleep(60)"])
    try:
        home = outside_dir / "home"
        proc = as_user(uid, [python, str(outside_dir / "caller.py"), "x", WRITES, "ok.txt",
                             f"{home}/evil.txt", f"{home}/keep.txt"], cwd=str(home), env={"TMPDIR": str(home)})
        time.sleep(0.2)
        assert proc.returncode == 0, f"the caller died: {proc.returncode} {proc.stderr[-800:]}"
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["victim"] is None, "kill(-1) in the sandbox killed a child of the caller"
        assert other.poll() is None, "kill(-1) in the sandbox killed another process of the user"
        assert out["status"] == "ok" and "WROTE ok.txt" in out["stdout"], out
        assert "WROTE" not in out["stdout"].replace("WROTE ok.txt", ""), out["stdout"]
        assert snapshot(home) == before
    finally:
        other.kill()
        other.wait()


def test_fallback_interpreter_is_noted(monkeypatch):
    """When the program cannot run under Ponder's own Python, the result says so in its notes."""
    own = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    other = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")
                  if os.access(p, os.X_OK) and os.path.realpath(p) != own), None)
    if other is None:
        pytest.skip("no second Python on this system")
    monkeypatch.setattr(runner, "interpreter", lambda requested, uid: requested or other)
    r = run_python("print('hi')", limits=FAST)
    assert r.status == "ok" and any(other in n and "not Ponder's own" in n for n in r.notes), r.notes
    r = run_python("print('hi')", limits=Limits(wall_seconds=2, python=other))  # asked for: no note
    assert r.status == "ok" and not any("not Ponder's own" in n for n in r.notes), r.notes
