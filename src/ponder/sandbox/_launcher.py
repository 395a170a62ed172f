"""The sandbox launcher: a small privileged-as-the-caller process that runs one program and cleans up.

Started by :mod:`ponder.sandbox.runner` as ``python -I -S _launcher.py CONFIG_JSON`` in a new session,
with an empty environment, the program's stdin/stdout/stderr already wired and a report pipe on
``CONFIG["report_fd"]``. It only uses the standard library (it runs with ``-S``).

What it does, in order:

1. becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so descendants that detach
   (double fork + ``setsid``) are reparented to it instead of escaping to init;
2. enters a new network namespace (no interfaces but a downed loopback) and a new mount namespace
   with private tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (the working directory is bind-mounted
   at ``/tmp/work``); as non-root it first enters a user namespace; each refusal is reported, not fatal;
3. forks the program: own process group, rlimits (address space, CPU, processes, file size, open
   files, no core files), an unprivileged uid of its own when running as root, ``no_new_privs``;
4. waits for it with the wall-clock deadline (``sigtimedwait``, no polling), or until told to stop
   (SIGTERM: output cap reached, or the caller died);
5. kills what is left: the program's process group, every process of the sandbox uid, and every
   descendant reparented to it, until it has no child left; then writes a JSON report and exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36
WORK_MOUNT = "/tmp/work"

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


def isolate(cfg: dict, info: dict) -> int:
    """Enter the network and mount namespaces (and a user namespace when not root).

    Returns a descriptor of the working directory opened inside the new mount namespace (a bind
    mount needs a source from the caller's own namespace), before /tmp is covered.
    """
    notes = info["notes"]
    root = os.geteuid() == 0
    want_net, hide = cfg["netns"], cfg["hide_dirs"]
    if not root:  # unprivileged: a user namespace grants the right to make the others
        uid, gid = os.geteuid(), os.getegid()
        flags = CLONE_NEWUSER | (CLONE_NEWNET if want_net else 0) | (CLONE_NEWNS if hide else 0)
        err = _call("unshare", flags)
        if err:
            notes.append(f"no user namespace ({err}): network and /tmp are not isolated")
            return _open_dir(cfg)
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            notes.append(f"user namespace maps refused: {exc}")
        info["network_isolated"] = want_net
        ns_ok = bool(hide)
    else:
        if want_net:
            err = _call("unshare", CLONE_NEWNET)
            info["network_isolated"] = err is None
            if err:
                notes.append(f"no network namespace ({err}): the program can reach the network")
        ns_ok = False
        if hide:
            err = _call("unshare", CLONE_NEWNS)
            if err:
                notes.append(f"no mount namespace ({err}): /tmp is shared with the host")
            ns_ok = err is None
    if not want_net:
        notes.append("network allowed by the caller")
    if ns_ok:
        # Never let our mounts propagate back to the host: make every mount private first.
        err = _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
        if err:
            notes.append(f"could not make mounts private ({err}): /tmp is shared with the host")
            return _open_dir(cfg)
        workfd = _open_dir(cfg)
        for d in hide:
            err = _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
            if err:
                notes.append(f"no private {d} ({err})")
            else:
                info["private_dirs"].append(d)
        return workfd
    return _open_dir(cfg)


def _open_dir(cfg: dict) -> int:
    return os.open(cfg["workdir"], os.O_RDONLY | os.O_DIRECTORY)


def bind_workdir(workfd: int, info: dict) -> str | None:
    """Bind the working directory at /tmp/work when /tmp is private; the path to chdir to, or None."""
    if "/tmp" not in info["private_dirs"]:
        return None
    try:
        os.mkdir(WORK_MOUNT, 0o700)
    except OSError as exc:
        info["notes"].append(f"no {WORK_MOUNT}: {exc}")
        return None
    err = _mount(f"/proc/self/fd/{workfd}", WORK_MOUNT, None, MS_BIND, None)
    if err:
        info["notes"].append(f"could not bind the working directory ({err})")
        return None
    return WORK_MOUNT


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


def _children() -> list[int]:
    """Pids whose parent is this process (including zombies)."""
    me, kids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            kids.append(int(entry))
    return kids


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


def cleanup(cfg: dict, child_pgid: int) -> int:
    """Kill the program's group, its uid and all reparented descendants; reap them. Returns leftovers."""
    leftovers = 0
    try:
        os.killpg(child_pgid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if cfg["uid"] is not None:
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
    """Reap every exited child (orphans reparented here too); True once the program itself has ended."""
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


def main() -> None:
    cfg = json.loads(sys.argv[1])
    os.set_inheritable(cfg["report_fd"], False)
    report = os.fdopen(cfg["report_fd"], "w")
    info: dict = {"network_isolated": False, "private_dirs": [], "notes": [], "subreaper": False,
                  "uid": cfg["uid"], "reason": None, "status": None, "cpu_seconds": None,
                  "max_rss_kb": None, "leftovers": 0, "error": None}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT})
        info["subreaper"] = _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        if not info["subreaper"]:
            info["notes"].append("not a subreaper: detached descendants may outlive the program")
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        workfd = isolate(cfg, info)
        workpath = bind_workdir(workfd, info)
        start = time.monotonic()
        deadline = start + cfg["wall"]
        pid = os.fork()
        if pid == 0:
            exec_program(cfg, workfd, workpath)
        while True:
            if _reap(pid, info):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                info["reason"] = "wall"
                break
            sig = signal.sigtimedwait({signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}, remaining)
            if sig is not None and sig.si_signo in (signal.SIGTERM, signal.SIGINT):
                info["reason"] = "stopped"
                break
        info["duration"] = time.monotonic() - start
        leftovers = cleanup(cfg, pid)
        if info["status"] is None:  # killed by us: collect the program's own status too
            leftovers -= 1
        info["leftovers"] = max(0, leftovers)
    except BaseException as exc:  # noqa: BLE001 - the caller reads the report
        info["error"] = f"{type(exc).__name__}: {exc}"
    report.write(json.dumps(info))
    report.close()


if __name__ == "__main__":
    main()
