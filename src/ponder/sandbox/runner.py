"""Run untrusted Python in a separate, limited, isolated process: ``run_python`` and ``arun_python``.

Each run gets a fresh working directory under ``TMPDIR`` (removed afterwards, following no symlink;
if something cannot be removed, ``ExecResult.notes`` says so), an empty environment, closed stdin
unless given, captured and capped stdout/stderr, and the launcher in ``_launcher.py`` between Ponder
and the program (network, IPC, PID and mount namespaces with a read-only file system but for private
tmpfs, among them the program's working directory, a copy of the prepared one capped at
``Limits.workdir_mb``, a private ``/proc``, rlimits, subreaper, cleanup; see the launcher's
docstring). Both as root and as an ordinary user. When Ponder runs as root, each concurrent
run also gets an unprivileged uid of its own (a slot claimed with a lock file in one directory for
the whole machine, ``/run/ponder-sandbox`` where it can be made, see :func:`slot_lock_dir`, so
parallel runs in several Ponder processes never share one, whatever their TMPDIR): the process limit
then counts only that run, the program cannot touch files it does not own, and every process of that
uid is killed when the run ends.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import os
import secrets
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import PonderError
from .result import ExecResult, Limits

LAUNCHER = str(Path(__file__).with_name("_launcher.py"))
POOL_SIZE = 256
UID_BASES = (420_000, 62_000)
HIDE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # private tmpfs of 64 MB each
# Other world-writable places of common systems, covered by a small tmpfs too (in case the file system
# cannot be made read-only): nothing written there reaches the host.
EXTRA_HIDE_DIRS = ("/run/lock", "/var/lock", "/var/crash", "/dev/mqueue")
TRUNCATION = "\n[... output truncated at {n} bytes ...]"
GRACE_SECONDS = 15.0
# Where the uid-slot locks live (see slot_lock_dir): fixed paths, not the caller's TMPDIR.
SLOT_LOCK_DIRS = ("/run/ponder-sandbox", "/dev/shm/ponder-sandbox", "/var/tmp/ponder-sandbox")


class SandboxError(PonderError):
    """The sandbox itself could not run a program (not the program failing)."""


# -- concurrency ------------------------------------------------------------------------------
_max_parallel = max(2, min(32, 2 * (os.cpu_count() or 1)))
_gate = threading.BoundedSemaphore(_max_parallel)
_executor: ThreadPoolExecutor | None = None
_state_lock = threading.Lock()


def configure(max_parallel: int) -> None:
    """Set how many programs may run at once (process-wide; call while none is running)."""
    global _max_parallel, _gate, _executor
    if max_parallel <= 0:
        raise ValueError(f"max_parallel must be positive, got {max_parallel}")
    with _state_lock:
        _max_parallel, _gate = max_parallel, threading.BoundedSemaphore(max_parallel)
        old, _executor = _executor, None
    if old is not None:
        old.shutdown(wait=False)


def max_parallel() -> int:
    return _max_parallel


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _state_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_max_parallel, thread_name_prefix="ponder-sandbox")
        return _executor


# -- identities ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def uid_base() -> int | None:
    """First uid of the sandbox pool when running as root (and the uids are mapped), else None."""
    if os.geteuid() != 0:
        return None
    try:
        ranges = [tuple(int(x) for x in line.split()) for line in open("/proc/self/uid_map") if line.strip()]
    except OSError:
        ranges = [(0, 0, 2**32 - 1)]
    for base in UID_BASES:
        if any(inside <= base and base + POOL_SIZE + 1 < inside + count for inside, _, count in ranges):
            return base
    return None


def slot_lock_dir() -> str:
    """The directory of the uid-slot lock files: one place for every Ponder process of the machine,
    whatever its TMPDIR (two places would let two processes claim one uid, and claiming a slot kills
    the processes of its uid). The first of ``SLOT_LOCK_DIRS`` that is, or can be made, a real
    directory of our own that nobody else may write; else one under the temporary directory."""
    for d in (*SLOT_LOCK_DIRS, os.path.join(tempfile.gettempdir(), "ponder-sandbox-slots")):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        try:
            st = os.lstat(d)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022:
            return d
    raise SandboxError("no usable directory for the sandbox's uid-slot locks (tried "
                       + ", ".join(SLOT_LOCK_DIRS) + " and the temporary directory)")


class _Slot:
    """A claimed uid of the pool, held by an exclusive lock file until released."""

    def __init__(self) -> None:
        base = uid_base()
        self.uid: int | None = None
        self._fd: int | None = None
        if base is None:
            return
        lock_dir = Path(slot_lock_dir())
        start = secrets.randbelow(POOL_SIZE)
        for k in range(POOL_SIZE):
            i = (start + k) % POOL_SIZE
            fd = os.open(lock_dir / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = base + i, fd
            kill_uid(self.uid)  # anything a crashed earlier owner left behind
            return
        raise SandboxError(f"all {POOL_SIZE} sandbox uid slots are busy")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def pids_of_uid(uid: int) -> list[int]:
    """Processes whose real uid is ``uid`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            if int(line.split()[1]) == uid:
                                found.append(int(entry))
                            break
            except (OSError, ValueError, IndexError):
                continue
    return found


def kill_uid(uid: int, rounds: int = 50) -> int:
    """SIGKILL every process of ``uid`` until none is left; returns how many were signalled."""
    killed = 0
    for _ in range(rounds):
        pids = pids_of_uid(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.01)  # let the kernel tear them down before looking again
    return killed


_interpreters: dict[tuple[str | None, int | None], str] = {}


def interpreter(requested: str | None, uid: int | None) -> str:
    """The Python the program runs under: one the sandbox uid can actually start.

    Without ``requested``, Ponder's own interpreter if it can, else the system's ``python3`` (see
    :func:`interpreter_note`: that one may not see the packages of Ponder's environment)."""
    key = (requested, None if uid is None else uid_base())
    if key in _interpreters:
        return _interpreters[key]
    candidates = [requested] if requested else [os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
                                                 "/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
    tried = []
    for cand in candidates:
        if not cand or not os.path.exists(cand):
            continue
        probe_uid = None if uid is None else (uid_base() or 0) + POOL_SIZE  # outside the slots
        kwargs = {} if probe_uid is None else {"user": probe_uid, "group": probe_uid, "extra_groups": []}
        try:
            r = subprocess.run([cand, "-E", "-s", "-c", "import json, math, ctypes, signal"], env={},
                               cwd="/", capture_output=True, timeout=30, **kwargs)
            if r.returncode == 0:
                _interpreters[key] = cand
                return cand
            tried.append(f"{cand}: exit {r.returncode}")
        except (OSError, subprocess.SubprocessError) as exc:
            tried.append(f"{cand}: {exc}")
    raise SandboxError("no Python interpreter that the sandbox user can run: " + "; ".join(tried))


def interpreter_note(python: str, requested: str | None) -> str | None:
    """Words for ExecResult.notes when ``python`` is a fallback, not Ponder's own interpreter."""
    own = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    if requested or python == own:
        return None
    return (f"the program runs under {python}, not Ponder's own Python ({own}, which the sandbox user "
            "cannot start): packages of Ponder's environment are not available to it")


def _hidden_dirs(python: str) -> tuple[list[str], list[str]]:
    """The directories to cover with a private tmpfs (real paths, existing, not holding the
    interpreter), and which of them get the large size."""
    hide, big = [], []
    for d in HIDE_DIRS + EXTRA_HIDE_DIRS:
        real = os.path.realpath(d)
        if real in hide or not os.path.isdir(real) or os.path.realpath(python).startswith(real + "/"):
            continue
        hide.append(real)
        if d in HIDE_DIRS:
            big.append(real)
    return hide, big


def _user_process_count() -> int:
    return len(pids_of_uid(os.getuid()))


# -- running ------------------------------------------------------------------------------------
def run_python(code: str, *, stdin: str | bytes | None = None, limits: Limits | None = None,
               files: dict[str, str | bytes] | None = None, args: list[str] | tuple[str, ...] = ()) -> ExecResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox and return what happened (never raises for the
    program's own failures). ``files`` are written next to it; ``args`` follow it on the command line."""
    limits = limits or Limits()
    with _gate:
        slot = _Slot()
        try:
            return _run(code, stdin, limits, files or {}, list(args), slot.uid)
        finally:
            if slot.uid is not None:
                kill_uid(slot.uid)
            slot.release()


async def arun_python(code: str, *, stdin: str | bytes | None = None, limits: Limits | None = None,
                      files: dict[str, str | bytes] | None = None,
                      args: list[str] | tuple[str, ...] = ()) -> ExecResult:
    """``run_python`` without blocking the event loop; at most ``max_parallel()`` run at once."""
    loop = asyncio.get_running_loop()
    call = functools.partial(run_python, code, stdin=stdin, limits=limits, files=files, args=args)
    return await loop.run_in_executor(_pool(), call)


def _prepare(workdir: str, code: str, files: dict[str, str | bytes], uid: int | None) -> None:
    for name, content in {**files, "main.py": code}.items():
        if os.path.isabs(name) or ".." in Path(name).parts:
            raise ValueError(f"sandbox file names must be relative and stay inside: {name!r}")
        path = Path(workdir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        if uid is not None:
            os.chown(path, uid, uid)
    if uid is not None:
        for root, dirs, _ in os.walk(workdir):
            for d in dirs:
                os.chown(os.path.join(root, d), uid, uid)
        os.chown(workdir, uid, uid)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _remove(workdir: str) -> str | None:
    """Delete the working directory; None when done, else a note saying what stayed (never raises:
    a failed cleanup must not fail the run, or every run gathered with it)."""
    try:
        _clear(workdir)
        os.rmdir(workdir)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"the working directory {workdir} could not be removed: {type(exc).__name__}: {exc}"


def _clear(workdir: str) -> None:
    """Empty ``workdir`` without recursion and without following a symlink.

    A program may leave a tree deeper than the recursion limit and PATH_MAX, directories without
    permissions (which matter when not root) and links to host files. The walk holds one directory
    descriptor at a time: down into a subdirectory by name, back up by ``..`` (checked to be the
    directory it came from); modes are changed only on real directories, symlinks are unlinked.
    """
    fd = _open_dir(workdir, None)
    stack: list[tuple[str, int, int, list[str]]] = []  # (name, its parent's device, inode, subdirs to do)
    try:
        subdirs = _unlink_files(fd)
        while True:
            if subdirs:
                name = subdirs.pop()
                child = _open_dir(name, fd)
                st = os.fstat(fd)
                stack.append((name, st.st_dev, st.st_ino, subdirs))
                os.close(fd)
                fd = child
                subdirs = _unlink_files(fd)
                continue
            if not stack:
                return
            name, dev, ino, subdirs = stack.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (dev, ino):
                raise OSError(f"a directory moved during the removal (at {name!r})")
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def _unlink_files(fd: int) -> list[str]:
    """Unlink every entry of the directory ``fd`` but its subdirectories; returns their names."""
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    for name, is_dir in entries:
        if not is_dir:
            os.unlink(name, dir_fd=fd)
    return [name for name, is_dir in entries if is_dir]


def _open_dir(name: str, dir_fd: int | None) -> int:
    """Open a real directory (never through a symlink), owner rwx: its entries can then be removed."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:  # mode 0 (not root): chmod the directory itself, found without following
        path = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{path}", 0o700)
        finally:
            os.close(path)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        if os.geteuid() != 0 and os.fstat(fd).st_mode & 0o700 != 0o700:
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _run(code: str, stdin: str | bytes | None, limits: Limits, files: dict[str, str | bytes],
         args: list[str], uid: int | None) -> ExecResult:
    python = interpreter(limits.python, uid)
    workdir = tempfile.mkdtemp(prefix="ponder-sbx-")
    stdin_file = None
    try:
        _prepare(workdir, code, files, uid)
        hide, big = _hidden_dirs(python)
        mb = 1024 * 1024
        nproc = limits.processes if uid is not None else _user_process_count() + limits.processes
        report_r, report_w = os.pipe()
        cfg = {"workdir": workdir, "argv": [python, "-E", "-s", "-B", "main.py", *args], "uid": uid, "gid": uid,
               "wall": limits.wall_seconds, "netns": not limits.network, "hide_dirs": hide, "big_dirs": big,
               "report_fd": report_w, "shm_bytes": limits.memory_mb * mb, "workdir_mb": limits.workdir_mb,
               "rlimits": {"cpu": max(1, int(round(limits.cpu_seconds))), "as": limits.memory_mb * mb,
                           "fsize": limits.file_size_mb * mb, "nofile": limits.open_files, "nproc": nproc,
                           "core": 0}}
        if stdin is None:
            stdin_arg: int | object = subprocess.DEVNULL
        else:
            stdin_file = tempfile.TemporaryFile()
            stdin_file.write(stdin.encode("utf-8") if isinstance(stdin, str) else stdin)
            stdin_file.seek(0)
            stdin_arg = stdin_file
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", LAUNCHER, json.dumps(cfg)], stdin=stdin_arg,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(report_w,), env={},
                                    cwd="/", start_new_session=True)
        finally:
            os.close(report_w)
        started = time.monotonic()
        out, err, report_raw = _collect(proc, report_r, limits, started)
        duration = time.monotonic() - started
    finally:
        if stdin_file is not None:
            stdin_file.close()
        left = _remove(workdir)
    try:
        report = json.loads(report_raw.decode("utf-8") or "{}")
    except ValueError:
        report = {}
    if report.get("error") or "reason" not in report:
        raise SandboxError(f"the sandbox launcher failed: {report.get('error') or 'no report'}; "
                           f"stderr: {err[0][-500:].decode('utf-8', 'replace')}")
    for note in (interpreter_note(python, limits.python), left):
        if note:
            report.setdefault("notes", []).append(note)
    return _result(report, out, err, duration, limits)


def _collect(proc: subprocess.Popen, report_r: int, limits: Limits, started: float):
    """Read stdout, stderr (each up to the cap) and the launcher's report until all are closed."""
    cap = limits.output_bytes
    bufs = {"out": bytearray(), "err": bytearray(), "rep": bytearray()}
    over = {"out": False, "err": False}
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    sel.register(report_r, selectors.EVENT_READ, "rep")
    hard_deadline = started + limits.wall_seconds + GRACE_SECONDS
    stopped = False
    try:
        while sel.get_map():
            remaining = hard_deadline - time.monotonic()
            if remaining <= 0:  # the launcher itself is stuck: kill everything from here
                _force_kill(proc)
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 65536)
                name = key.data
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = bufs[name]
                if name == "rep":
                    buf.extend(chunk)
                    continue
                room = max(0, cap - len(buf))
                buf.extend(chunk[:room])
                if len(chunk) > room and not over[name]:
                    over[name] = True
                    if not stopped:
                        stopped = True
                        try:
                            proc.send_signal(signal.SIGTERM)
                        except OSError:
                            pass
    finally:
        sel.close()
        os.close(report_r)
        proc.stdout.close()
        proc.stderr.close()
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _force_kill(proc)
            proc.wait()
    return (bytes(bufs["out"]), over["out"]), (bytes(bufs["err"]), over["err"]), bytes(bufs["rep"])


def _force_kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def _text(data: bytes, truncated: bool, cap: int) -> str:
    text = data.decode("utf-8", errors="replace")
    return text + TRUNCATION.format(n=cap) if truncated else text


_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")


def _result(report: dict, out: tuple[bytes, bool], err: tuple[bytes, bool], duration: float,
            limits: Limits) -> ExecResult:
    status_word = report.get("status")
    exit_code = sig = None
    if status_word is not None:
        if os.WIFSIGNALED(status_word):
            sig = os.WTERMSIG(status_word)
        else:
            exit_code = os.WEXITSTATUS(status_word)
    stderr_tail = err[0][-4000:].decode("utf-8", "replace")
    cpu = report.get("cpu_seconds")
    if out[1] or err[1]:  # past the cap, whether or not the program ended before it was stopped
        status = "output_limit"
    elif report.get("reason") == "wall":
        status = "timeout"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu is not None and cpu >= limits.cpu_seconds - 0.5):
        status = "timeout"
    elif (exit_code not in (0, None) or sig is not None) and any(s in stderr_tail for s in _MEMORY_SIGNS):
        status = "memory"
    elif sig is not None:
        status = "crashed"
    elif exit_code == 0:
        status = "ok"
    else:
        status = "failed"
    private = report.get("private_dirs", [])
    isolation = {"network_namespace": bool(report.get("network_isolated")), "private_tmp": "/tmp" in private,
                 "ipc_namespace": bool(report.get("ipc_isolated")), "pid_namespace": bool(report.get("pid_namespace")),
                 "private_proc": bool(report.get("private_proc")), "read_only_fs": bool(report.get("read_only")),
                 "own_uid": report.get("uid") is not None, "subreaper": bool(report.get("subreaper")),
                 "workdir_capped": bool(report.get("workdir_capped")),
                 "rlimits": True, "empty_environment": True}
    return ExecResult(status=status, exit_code=exit_code, signal=sig,
                      stdout=_text(out[0], out[1], limits.output_bytes),
                      stderr=_text(err[0], err[1], limits.output_bytes),
                      stdout_truncated=out[1], stderr_truncated=err[1], duration=duration, cpu_seconds=cpu,
                      max_rss_kb=report.get("max_rss_kb"), network_isolated=bool(report.get("network_isolated")),
                      isolation=isolation, notes=list(report.get("notes", [])), leftovers=int(report.get("leftovers", 0)))
