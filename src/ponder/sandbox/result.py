"""What a sandboxed run may use (:class:`Limits`) and what it did (:class:`ExecResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "timeout", "memory", "crashed", "output_limit"]
STATUSES: tuple[str, ...] = ("ok", "failed", "timeout", "memory", "crashed", "output_limit")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run.

    ``wall_seconds``: wall clock, after which the whole process tree is killed (status ``timeout``);
    ``cpu_seconds``: CPU time per process (RLIMIT_CPU; ``timeout`` too); ``memory_mb``: address space
    *per process* (RLIMIT_AS; ``memory``); ``processes``: processes and threads of the run
    (RLIMIT_NPROC on a uid of its own when Ponder runs as root); ``file_size_mb``: largest file it may
    write (RLIMIT_FSIZE, anywhere, memfds included); ``open_files``: descriptors per process
    (RLIMIT_NOFILE); ``output_bytes``: stdout and stderr are each captured up to this many bytes,
    beyond which the run is stopped (``output_limit``); ``network``: allow the network (default: a
    namespace without one); ``python``: the interpreter to run (default: Ponder's own if the sandbox
    uid can run it, else the system ``python3``, with a note in ``ExecResult.notes``); ``workdir_mb``:
    what the program may write in its working directory beyond the files it is given (``main.py`` and
    ``files``), and at most one file or directory per 4 KB of it (4096 at least): a write past it fails
    with ENOSPC (``No space left on device``, status ``failed`` unless the program handles it, and a
    note in ``ExecResult.notes``).

    ``memory_mb`` is not a total (there is no cgroup, nor a disk quota). What a run can hold, all of
    it released when the run ends: ``processes`` x ``memory_mb`` of address space; its private tmpfs
    (64 MB and 16 384 files each for ``/tmp``, ``/var/tmp`` and ``/dev/shm``, 1 MB and 256 files for the
    others); SysV shared memory
    (capped at ``memory_mb`` when Ponder runs as root); files made with ``memfd_create``, which are
    RAM but not address space, up to ``file_size_mb`` each and ``open_files`` of them per process
    (``processes`` x ``open_files`` x ``file_size_mb`` in all, uncapped as a total); and the working
    directory, a tmpfs of its own (RAM) of ``workdir_mb`` plus the given files: the program never
    writes to the host's copy under ``TMPDIR``. Where the system refuses the mount namespace or a
    private ``/tmp``, the program works in the host's directory under ``TMPDIR`` (which on a tmpfs
    means RAM), whose total size is then capped by nothing but its file system (``file_size_mb``
    bounds each file, not their number): ``ExecResult.notes`` says so and ``ExecResult.isolation``
    has ``workdir_capped`` false.
    """

    wall_seconds: float = 10.0
    cpu_seconds: float = 10.0
    memory_mb: int = 1024
    processes: int = 64
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 1_000_000
    network: bool = False
    python: str | None = None
    workdir_mb: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "processes", "file_size_mb", "open_files",
                     "output_bytes", "workdir_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")


@dataclass
class ExecResult:
    """One sandboxed run.

    ``status``: ``ok`` (exit 0), ``failed`` (non-zero exit), ``timeout`` (wall or CPU limit),
    ``memory`` (MemoryError or allocation failure under the memory limit), ``crashed`` (killed by a
    signal such as SIGSEGV), ``output_limit`` (printed more than ``Limits.output_bytes``).
    ``stdout``/``stderr`` are decoded as UTF-8 with invalid bytes replaced; when cut they end with a
    ``[... truncated ...]`` marker and ``*_truncated`` is set. ``network_isolated`` says whether the
    program ran without network access; ``isolation`` lists each mechanism and whether it held;
    ``notes`` says in words what the OS refused (and if the working directory could not be removed).
    ``leftovers`` counts processes still alive when the program ended (detached children), all of
    which were killed.
    """

    status: Status
    exit_code: int | None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration: float = 0.0
    cpu_seconds: float | None = None
    max_rss_kb: int | None = None
    network_isolated: bool = False
    isolation: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    leftovers: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, tail: int = 800) -> str:
        """A short human-readable account: status, exit and the end of stderr."""
        how = f"exit code {self.exit_code}" if self.signal is None else f"signal {self.signal}"
        text = f"{self.status} ({how}, {self.duration:.2f}s)"
        if self.stderr.strip():
            text += "\n" + self.stderr[-tail:].rstrip()
        return text
