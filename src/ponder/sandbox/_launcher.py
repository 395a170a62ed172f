"""The sandbox launcher: a small privileged-as-the-caller process that runs one program and cleans up.

Started by :mod:`ponder.sandbox.runner` as ``python -I -S _launcher.py CONFIG_JSON`` in a new session,
with an empty environment, the program's stdin/stdout/stderr already wired and a report pipe on
``CONFIG["report_fd"]``. It only uses the standard library (it runs with ``-S``).

What it does, in order (every refusal by the kernel is reported in the notes, never fatal):

1. becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so descendants that detach
   (double fork + ``setsid``) are reparented to it instead of escaping to init;
2. as non-root, enters a user namespace first (it grants the right to make the others); then new
   network (no interfaces but a downed loopback), IPC (SysV shared memory, semaphores and message
   queues die with the run; as root shared memory is capped), PID (for its children) and mount
   namespaces. In the mount namespace: every mount becomes private, the working directory is bound
   onto itself, every other existing mount is remounted read-only (walking ``/proc/self/mountinfo``),
   then private tmpfs cover ``/tmp``, ``/var/tmp``, ``/dev/shm`` and the other world-writable
   directories (``/run/lock``...). The program's working directory is a tmpfs of its own at
   ``/tmp/work``, ``CONFIG["workdir_mb"]`` plus the size of the prepared files (``main.py`` and the
   caller's files, copied there with their modes and owners), with at most one file or directory per
   4 KB of that cap (4096 at least) beyond the prepared ones: a write past it fails with ENOSPC in the
   program, and the report notes that the cap was reached (memfds stay uncapped as a total). The
   host's working directory is then remounted read-only: the program never writes there. Those tmpfs
   are the only writable places. Without a private ``/tmp`` (or if that tmpfs cannot be made) the
   host's working directory is bound there (or used in place) instead, writable and capped by nothing
   but its file system, which the notes say;
3. forks an *init* process, PID 1 of the new PID namespace: it enters a nested mount namespace (so
   the launcher keeps the host's ``/proc``), mounts a fresh ``proc`` on ``/proc`` (the program sees
   only its own processes), makes itself non-dumpable, forks the program and reaps every orphan.
   When the program ends it kills what is left in the namespace (``kill(-1)``), counts it, sends
   the program's wait status and rusage to the launcher through a pipe and exits (the kernel then
   kills anything left in the namespace). Without a PID namespace the launcher forks the program
   itself, as before;
4. the program: own process group, rlimits (address space, CPU, processes, file size, open files,
   no core files), an unprivileged uid of its own when running as root, ``no_new_privs``;
5. waits with the wall-clock deadline (``sigtimedwait``, no polling), or until told to stop (SIGTERM:
   output cap reached, or the caller died);
6. kills what is left: SIGKILL to the init (which takes the whole PID namespace with it), or without
   one the program's process group, every process of the sandbox uid and every descendant
   reparented to the launcher, until it has no child left; then writes a JSON report and exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import signal
import stat
import sys
import time

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
CLONE_NEWIPC, CLONE_NEWPID = 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
# Per-mount flags a bind remount must repeat (in a user namespace they are locked: dropping one is EPERM).
KEEP_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "nosymfollow": 256,
              "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 38, 36
WORK_MOUNT = "/tmp/work"
MB, PAGE = 1024 * 1024, os.sysconf("SC_PAGE_SIZE")

_libc = ctypes.CDLL(None, use_errno=True)


def _call(fn: str, *args: object) -> str | None:
    """Call a libc function; None on success, else the error text."""
    if getattr(_libc, fn)(*args) != 0:
        err = ctypes.get_errno()
        return f"{fn}: {os.strerror(err)}"
    return None


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> str | None:
    enc = (lambda s: None if s is None else s.encode())
    return _call("mount", enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _unshare(flag: int, what: str, risk: str, notes: list) -> bool:
    err = _call("unshare", flag)
    if err:
        notes.append(f"no {what} namespace ({err}): {risk}")
    return err is None


def _mounts() -> list[tuple[str, list[str]]]:
    """(mount point, per-mount options) of every mount this process sees, parents first."""
    unescape = (lambda s: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s))
    with open("/proc/self/mountinfo") as f:
        return [(unescape(fields[4]), fields[5].split(",")) for fields in (line.split() for line in f)]


def _keep_flags(opts: list[str]) -> int:
    flags = 0
    for opt in opts:
        flags |= KEEP_FLAGS.get(opt, 0)
    return flags


def isolate(cfg: dict, info: dict) -> int:
    """Enter the namespaces (a user namespace first when not root) and build the mount view.

    Returns a descriptor of the working directory opened inside the new mount namespace (a bind
    mount needs a source from the caller's own namespace), before /tmp is covered.
    """
    notes = info["notes"]
    hide = cfg["hide_dirs"]
    if os.geteuid() != 0:  # unprivileged: a user namespace grants the right to make the others
        uid, gid = os.geteuid(), os.getegid()
        if not _unshare(CLONE_NEWUSER, "user", "network, /tmp, IPC and processes are not isolated", notes):
            return _open_dir(cfg)
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            notes.append(f"user namespace maps refused: {exc}")
    if cfg["netns"]:
        info["network_isolated"] = _unshare(CLONE_NEWNET, "network", "the program can reach the network", notes)
    else:
        notes.append("network allowed by the caller")
    info["ipc_isolated"] = _unshare(CLONE_NEWIPC, "IPC", "SysV and POSIX IPC objects are shared with the "
                                    "host and can outlive the run", notes)
    if info["ipc_isolated"] and os.geteuid() == 0 and cfg.get("shm_bytes"):
        try:  # the namespace's own limits: shared memory may not exceed the memory limit in total
            _write("/proc/sys/kernel/shmmax", str(cfg["shm_bytes"]))
            _write("/proc/sys/kernel/shmall", str(max(1, cfg["shm_bytes"] // os.sysconf("SC_PAGE_SIZE"))))
        except OSError as exc:
            notes.append(f"shared memory not capped: {exc}")
    # Only the children of this process enter it: the first one is its init (see run_init).
    info["pid_namespace"] = _unshare(CLONE_NEWPID, "PID", "the program sees and can signal host processes", notes)
    if not hide:
        return _open_dir(cfg)
    if not _unshare(CLONE_NEWNS, "mount", "/tmp and the file system are shared with the host", notes):
        return _open_dir(cfg)
    # Never let our mounts propagate back to the host: make every mount private first.
    err = _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    if err:
        notes.append(f"could not make mounts private ({err}): /tmp is shared with the host")
        return _open_dir(cfg)
    # The working directory becomes a mount of its own, left writable by the read-only pass below
    # (for the fallback where it is bound at /tmp/work or used in place: a bind keeps its mount's
    # flags); once copied to the capped /tmp/work it is remounted read-only (setup_workdir).
    workdir = os.path.realpath(cfg["workdir"])
    err = _mount(workdir, workdir, None, MS_BIND, None)
    workfd = _open_dir(cfg)
    if err:
        notes.append(f"file system left writable: could not bind the working directory ({err})")
    else:
        cfg["bound_workdir"] = workdir  # remounted read-only once copied to /tmp/work (setup_workdir)
        make_read_only({workdir}, info)
    for d in hide:
        # one file per 4 KB at most: empty files take no space but do take the kernel's memory
        size, inodes = ("64m", 16384) if d in cfg["big_dirs"] else ("1m", 256)
        err = _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes={inodes},mode=1777")
        if err:
            notes.append(f"no private {d} ({err})")
        else:
            info["private_dirs"].append(d)
    return workfd


def make_read_only(keep: set[str], info: dict) -> None:
    """Remount every mount but ``keep`` read-only (in this mount namespace only)."""
    notes, failed = info["notes"], []
    try:
        mounts = _mounts()
    except OSError as exc:
        notes.append(f"file system left writable: {exc}")
        return
    for target, opts in mounts:
        if target in keep or "ro" in opts:
            continue
        err = _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _keep_flags(opts), None)
        if err and not any(f.startswith(target + " (") for f in failed):
            failed.append(f"{target} ({err})")
    info["read_only"] = not failed
    if failed:
        notes.append("still writable: " + ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else ""))


def _open_dir(cfg: dict) -> int:
    return os.open(cfg["workdir"], os.O_RDONLY | os.O_DIRECTORY)


def _scan(workfd: int) -> tuple[list[tuple[str, os.stat_result]], int]:
    """The prepared tree under ``workfd``, parents first, as (relative path, lstat), and the bytes
    its files take on a tmpfs (whole pages)."""
    entries, need = [], 0
    for top, dirs, files, dfd in os.fwalk(".", dir_fd=workfd):
        for name in dirs + files:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            entries.append((os.path.normpath(os.path.join(top, name)), st))
            if stat.S_ISREG(st.st_mode):
                need += -(-st.st_size // PAGE) * PAGE
    return entries, need


def _copy_file(src: int, dst: int) -> None:
    while True:
        chunk = memoryview(os.read(src, MB))
        if not chunk:
            return
        while chunk:
            chunk = chunk[os.write(dst, chunk):]


def _copy_tree(cfg: dict, workfd: int, entries: list[tuple[str, os.stat_result]]) -> None:
    """Copy the prepared files into the fresh tmpfs at WORK_MOUNT, with their modes; as root, with
    their owners too (the sandbox uid; unprivileged, the files are the caller's, as the program is)."""
    chown = cfg["uid"] is not None
    dirs = [(".", os.fstat(workfd))]
    for rel, st in entries:
        path = os.path.join(WORK_MOUNT, rel)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(path, 0o700)
            dirs.append((rel, st))
            continue
        if stat.S_ISREG(st.st_mode):
            src = os.open(rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=workfd)
            try:
                dst = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    _copy_file(src, dst)
                finally:
                    os.close(dst)
            finally:
                os.close(src)
            os.chmod(path, stat.S_IMODE(st.st_mode))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(rel, dir_fd=workfd), path)
        else:
            continue
        if chown:
            os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    for rel, st in reversed(dirs):  # last, children first: a read-only directory stays fillable until then
        path = os.path.normpath(os.path.join(WORK_MOUNT, rel))
        if chown:
            os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, stat.S_IMODE(st.st_mode))


def _seal_host_workdir(cfg: dict, workfd: int, info: dict) -> None:
    """Remount the bind of the host's working directory read-only: the program writes only to its copy."""
    bound = cfg.get("bound_workdir")
    if not bound:  # not bound: the whole file system was left writable, as the notes already say
        return
    try:
        opts = dict(_mounts()).get(bound, [])
    except OSError:
        opts = []
    err = _mount(None, f"/proc/self/fd/{workfd}", None, MS_BIND | MS_REMOUNT | MS_RDONLY | _keep_flags(opts), None)
    if err:
        info["notes"].append(f"the host's working directory stays writable at {bound} ({err}): what the "
                             "program writes there is not size-capped")


def setup_workdir(cfg: dict, workfd: int, info: dict) -> str | None:
    """Make the program's working directory when /tmp is private: a tmpfs at /tmp/work capped at
    ``workdir_mb`` beyond the prepared files, which are copied into it. The path to chdir to, or None
    (the host's working directory is used in place)."""
    notes = info["notes"]
    uncapped = ("the working directory is not size-capped ({}): what the program writes there goes to the "
                "host's TMPDIR, bounded only per file (file_size_mb)")
    if "/tmp" not in info["private_dirs"]:
        notes.append(uncapped.format("no private /tmp"))
        return None
    try:
        os.mkdir(WORK_MOUNT, 0o700)
    except OSError as exc:
        notes.append(uncapped.format(f"no {WORK_MOUNT}: {exc}"))
        return None
    entries, need = _scan(workfd)
    size = cfg["workdir_mb"] * MB + need
    inodes = max(4096, cfg["workdir_mb"] * (MB // 4096)) + len(entries)
    err = _mount("tmpfs", WORK_MOUNT, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes={inodes},mode=700")
    if err:
        notes.append(uncapped.format(f"no tmpfs for it: {err}"))
        err = _mount(f"/proc/self/fd/{workfd}", WORK_MOUNT, None, MS_BIND, None)
        if err:
            notes.append(f"could not bind the working directory ({err})")
            return None
        return WORK_MOUNT
    _copy_tree(cfg, workfd, entries)
    info["workdir_capped"] = True
    _seal_host_workdir(cfg, workfd, info)
    return WORK_MOUNT


def note_full_workdir(cfg: dict, info: dict) -> None:
    """After the run: say so when the capped working directory is full (the program saw ENOSPC)."""
    if not info["workdir_capped"]:
        return
    try:
        st = os.statvfs(WORK_MOUNT)
    except OSError:
        return
    what = "size" if st.f_bavail == 0 else "number of files" if st.f_favail == 0 else None
    if what:
        info["notes"].append(f"the working directory is full: it reached its cap ({what}, Limits.workdir_mb="
                             f"{cfg['workdir_mb']}); writes past it fail with ENOSPC (No space left on device)")


def exec_program(cfg: dict, workfd: int, workpath: str | None) -> None:
    """In the forked child: limits, identity, then exec. Never returns."""
    try:
        os.setpgid(0, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        if workpath:
            os.chdir(workpath)
        else:
            os.fchdir(workfd)
        lim = cfg["rlimits"]
        cpu = lim["cpu"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        for name, key in (("RLIMIT_AS", "as"), ("RLIMIT_FSIZE", "fsize"), ("RLIMIT_NOFILE", "nofile"),
                          ("RLIMIT_NPROC", "nproc"), ("RLIMIT_CORE", "core")):
            resource.setrlimit(getattr(resource, name), (lim[key], lim[key]))
        if cfg["uid"] is not None:
            os.setgroups([])
            os.setgid(cfg["gid"])
            os.setuid(cfg["uid"])
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.execve(cfg["argv"][0], cfg["argv"], {})
    except BaseException as exc:  # noqa: BLE001 - report and leave
        try:
            os.write(2, f"sandbox: could not start the program: {exc}\n".encode())
        finally:
            os._exit(127)


def run_init(cfg: dict, workfd: int, workpath: str | None, out: int) -> None:
    """PID 1 of the new PID namespace (a child of the launcher). Never returns.

    Sends two JSON lines on ``out``: its notes once the program is started, then the program's wait
    status, rusage and how many processes were still alive when it ended. Signals from inside the
    namespace cannot kill it (PID 1 without handlers); the launcher's SIGKILL kills the namespace.
    """
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the program may not read or trace its init
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        notes: list[str] = []
        # A mount namespace of its own, so the fresh /proc does not replace the launcher's (private
        # again: without the launcher's own mount namespace, mounts may still propagate to the host).
        err = _call("unshare", CLONE_NEWNS) or _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
        opts = [] if err else dict(_mounts()).get("/proc", [])  # a new proc repeats the old one's atime
        err = err or _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
                            | (_keep_flags(opts) & ~(MS_NOSUID | MS_NODEV | MS_NOEXEC)), None)
        if err:
            notes.append(f"no private /proc ({err}): the program can read host processes' command lines")
        pid = os.fork()
        if pid == 0:
            os.close(out)
            exec_program(cfg, workfd, workpath)
        os.write(out, (json.dumps({"notes": notes, "private_proc": err is None}) + "\n").encode())
        while True:  # reap orphans (all reparented here) until the program itself ends
            got, status, usage = os.wait4(-1, 0)
            if got == pid:
                break
        end = {"status": status, "cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss_kb": usage.ru_maxrss}
        leftovers = 0
        while True:  # kill everything else in the namespace and count it as it is reaped
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.wait4(-1, 0)
                leftovers += 1
            except ChildProcessError:
                break
        end["leftovers"] = leftovers
        os.write(out, (json.dumps(end) + "\n").encode())
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - the launcher reports it
        try:
            os.write(out, (json.dumps({"error": f"init: {type(exc).__name__}: {exc}"}) + "\n").encode())
        finally:
            os._exit(1)


def _children() -> list[int]:
    """Pids whose parent is this process (including zombies)."""
    return [pid for pid, ppid in _parents().items() if ppid == os.getpid()]


def _parents() -> dict[int, int]:
    """Every visible process and its parent (read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            parents[int(entry)] = int(fields[1])
    return parents


def _descendants(root: int) -> int:
    """How many processes descend from ``root``."""
    kids: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        kids.setdefault(ppid, []).append(pid)
    count, todo = 0, list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        count += 1
        todo.extend(kids.get(pid, []))
    return count


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (a helper that becomes ``uid`` and calls kill(-1, SIGKILL))."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def cleanup(cfg: dict, child_pgid: int, kill_uid: bool = True) -> int:
    """Kill the program's group, its uid and all reparented descendants; reap them. Returns leftovers."""
    leftovers = 0
    try:
        os.killpg(child_pgid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if cfg["uid"] is not None and kill_uid:
            _kill_uid(cfg["uid"])
        kids = _children()
        if not kids:
            break
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in kids:
            try:
                os.waitpid(pid, 0)
                leftovers += 1
            except ChildProcessError:
                pass
    return leftovers


def _reap(pid: int, info: dict) -> bool:
    """Reap every exited child (orphans reparented here too); True once ``pid`` itself has ended."""
    while True:
        try:
            got, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if got == 0:
            return False
        if got == pid:
            info["status"] = status
            info["cpu_seconds"] = usage.ru_utime + usage.ru_stime
            info["max_rss_kb"] = usage.ru_maxrss
            return True


def _wait(pid: int, info: dict, deadline: float) -> None:
    """Wait until ``pid`` ends, the deadline passes (reason ``wall``) or SIGTERM/SIGINT (``stopped``)."""
    while not _reap(pid, info):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            info["reason"] = "wall"
            return
        sig = signal.sigtimedwait({signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}, remaining)
        if sig is not None and sig.si_signo in (signal.SIGTERM, signal.SIGINT):
            info["reason"] = "stopped"
            return


def _run_with_init(cfg: dict, info: dict, workfd: int, workpath: str | None, start: float) -> None:
    """Fork the namespace's init, wait, kill the namespace; the program's outcome comes from the pipe."""
    rfd, wfd = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(rfd)
        run_init(cfg, workfd, workpath, wfd)
    os.close(wfd)
    own: dict = {"reason": None}
    _wait(init, own, start + cfg["wall"])
    info["reason"], info["duration"] = own["reason"], time.monotonic() - start
    if own.get("status") is None:  # wall or stopped: count what is alive (the program among them)
        info["leftovers"] = max(0, _descendants(init) - 1)
        os.kill(init, signal.SIGKILL)  # the kernel kills every process of the namespace with it
    cleanup(cfg, init, kill_uid=False)  # reaps the init; a fork here would fail once it is gone
    with os.fdopen(rfd, "rb") as f:
        lines = [json.loads(line) for line in f.read().splitlines() if line.strip()]
    for msg in lines:
        info["notes"].extend(msg.pop("notes", []))
        if msg.get("error"):
            raise RuntimeError(msg["error"])
        info.update(msg)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    os.set_inheritable(cfg["report_fd"], False)
    report = os.fdopen(cfg["report_fd"], "w")
    info: dict = {"network_isolated": False, "ipc_isolated": False, "pid_namespace": False,
                  "private_proc": False, "read_only": False, "private_dirs": [], "notes": [], "subreaper": False,
                  "uid": cfg["uid"], "reason": None, "status": None, "cpu_seconds": None,
                  "max_rss_kb": None, "leftovers": 0, "workdir_capped": False, "error": None}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT})
        info["subreaper"] = _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        if not info["subreaper"]:
            info["notes"].append("not a subreaper: detached descendants may outlive the program")
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        workfd = isolate(cfg, info)
        workpath = setup_workdir(cfg, workfd, info)
        start = time.monotonic()
        if info["pid_namespace"]:
            _run_with_init(cfg, info, workfd, workpath, start)
        else:
            pid = os.fork()
            if pid == 0:
                exec_program(cfg, workfd, workpath)
            _wait(pid, info, start + cfg["wall"])
            info["duration"] = time.monotonic() - start
            leftovers = cleanup(cfg, pid)
            if info["status"] is None:  # killed by us: collect the program's own status too
                leftovers -= 1
            info["leftovers"] = max(0, leftovers)
        note_full_workdir(cfg, info)
    except BaseException as exc:  # noqa: BLE001 - the caller reads the report
        info["error"] = f"{type(exc).__name__}: {exc}"
    report.write(json.dumps(info))
    report.close()


if __name__ == "__main__":
    main()
