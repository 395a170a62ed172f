"""Tasks: where problems come from and how answers are graded.

A task spec names a task and, for file-backed tasks, the path the user gives:
  ``arith`` / ``countdown`` (lab tasks, generated; options ``?difficulty=5``)
  ``gsm8k:PATH``  ``math500:PATH``  ``game24:PATH``  ``humaneval:PATH``
  ``code:PATH`` (JSONL with prompt, public_tests, hidden_tests, optional entry_point)
  ``jsonl:PATH?question=FIELD&answer=FIELD[&kind=math]``  (any JSONL with question and answer fields)
Datasets are never downloaded: the files are read from the given path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl

from ..errors import PonderError
from ..types import Problem


class TaskSpecError(PonderError, ValueError):
    """A task spec names an unknown task, a missing file, or bad options."""


@dataclass
class Task:
    """A named source of problems with a grader (each Problem carries its checker or gold answer)."""

    name: str
    load: Callable[[int | None, int], list[Problem]]  # (limit, seed) -> problems
    spec: str = ""

    def problems(self, limit: int | None = None, seed: int = 0) -> list[Problem]:
        problems = self.load(limit, seed)
        seen: dict[str, int] = {}
        for p in problems:  # results are stored and compared by problem id: two of one id would merge
            seen[p.id] = seen.get(p.id, 0) + 1
        twice = [f"{pid!r} ({k} times)" for pid, k in seen.items() if k > 1]
        if twice:
            raise TaskSpecError(f"{self.spec or self.name}: problem ids must be unique; these repeat: "
                                f"{', '.join(twice[:3])}{' ...' if len(twice) > 3 else ''}; give each "
                                "record its own id, or leave the id field out to number the records")
        return problems


TASK_FORMS = ("arith, countdown (lab, generated), gsm8k:PATH, math500:PATH, game24:PATH, humaneval:PATH, "
              "code:PATH, jsonl:PATH?question=FIELD&answer=FIELD")

_LOADERS: dict[str, Callable[[str | None, dict[str, str]], Task]] = {}


def register_task(name: str) -> Callable:
    def deco(fn: Callable[[str | None, dict[str, str]], Task]) -> Callable:
        _LOADERS[name] = fn
        return fn

    return deco


def split_task_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """``name[:PATH][?k=v&...]`` → (name, path, options)."""
    options: dict[str, str] = {}
    if "?" in spec:
        spec, query = spec.split("?", 1)
        options = dict(parse_qsl(query, keep_blank_values=True))
    name, _, path = spec.partition(":")
    return name.strip(), (path.strip() or None), options


def load_task(spec: str) -> Task:
    """A Task from its spec; unknown names and missing files are clear errors."""
    from . import datasets, lab  # noqa: F401  (registration)

    try:
        from . import humaneval  # noqa: F401
    except ImportError:
        pass
    name, path, options = split_task_spec(spec)
    loader = _LOADERS.get(name)
    if loader is None:
        raise TaskSpecError(f"unknown task {name!r}; accepted: {TASK_FORMS}")
    task = loader(path, options)
    task.spec = spec
    return task


def require_file(name: str, path: str | None) -> Path:
    if not path:
        raise TaskSpecError(f"task {name} reads a file: write {name}:PATH")
    p = Path(path).expanduser()
    if not p.is_file():
        raise TaskSpecError(f"task {name}: no file at {str(p)!r}")
    return p


def require_options(task: str, options: dict[str, str], accepted: tuple[str, ...] = ()) -> None:
    """Refuse options ``task`` does not read: a typo (``&answr=b``) was ignored silently, and the
    task ran with the defaults it was meant to replace."""
    unknown = sorted(set(options) - set(accepted))
    if unknown and not accepted:
        raise TaskSpecError(f"task {task} takes no options, got {unknown}")
    if unknown:
        raise TaskSpecError(f"unknown option(s) {unknown} of task {task}; accepted: {', '.join(accepted)}")


def no_records(path: Path, form: str, fields: tuple[str, ...] = ()) -> TaskSpecError:
    """The error for a task file that holds no record: a benchmark of no problems measures nothing
    (it ran, reported an empty table and exited 0)."""
    named = f" with the fields {', '.join(map(repr, fields))}" if fields else ""
    return TaskSpecError(f"{path}: no records; the task reads {form}{named}")


def read_jsonl(path: Path, fields: tuple[str, ...] = ()) -> list[dict]:
    """The rows of a JSONL file (plain, or gzip when it ends in .gz); a bad line names its number,
    a file without a row is refused (naming ``fields``, those its task reads)."""
    import io
    import json

    rows = []
    for n, line in enumerate(io.StringIO(read_text(path), newline=None), 1):  # newlines as a text-mode file's
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise TaskSpecError(f"{path}:{n}: not JSON ({exc.msg})") from None
    if not rows:
        raise no_records(path, "one JSON object per line", fields)
    return rows


def read_text(path: Path) -> str:
    """A task file's text: UTF-8, gunzipped first when its name ends in .gz. A file that cannot be
    read, a damaged or truncated gzip file and bytes that are not UTF-8 are errors naming the file
    (they were an EOFError the CLI took for Ctrl-C, or an internal error)."""
    import gzip
    import zlib

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TaskSpecError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            why = "it ends before its compressed data does: cut short?" if isinstance(exc, EOFError) else str(exc)
            raise TaskSpecError(f"{path}: not readable as gzip ({why}); a file whose name ends in .gz is read "
                                "as gzip-compressed, any other as plain UTF-8 text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise TaskSpecError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); "
                            "task files are read as UTF-8: convert it first (e.g. iconv -t UTF-8)") from None


def require_fields(task: str, path: Path, n: int, row: object, names: tuple[str, ...], hint: str = "") -> dict:
    """Record ``n`` (1-based) of ``task``'s file, refused with the fields it reads when it lacks one
    or one is empty (JSON ``null``, a CSV row short of it), and ``hint``, what to do about it. (A
    ``null`` answer was the gold answer "None", and a short CSV row a TypeError.)"""
    have = sorted(map(str, row)) if isinstance(row, dict) else []  # a CSV row may hold the key None
    missing = [f for f in names if f not in have]
    empty = [f for f in names if f not in missing and isinstance(row, dict) and row.get(f) is None]
    if empty and not missing:
        raise TaskSpecError(f"{path}: record {n}: field {', '.join(map(repr, empty))} is empty (null, or the row "
                            f"ends before it); {task} reads {', '.join(map(repr, names))}{hint}")
    if missing:
        what = f"has no field {', '.join(map(repr, missing))}" if isinstance(row, dict) else \
            f"is {'an' if type(row).__name__[0] in 'aeiou' else 'a'} {type(row).__name__}, not an object"
        shown = ", ".join(repr(f if len(f) <= 40 else f[:40] + "...") for f in have[:10])
        raise TaskSpecError(f"{path}: record {n} {what}; {task} reads {', '.join(map(repr, names))} "
                            f"(its fields: {shown or 'none'}{', ...' if len(have) > 10 else ''}){hint}")
    return row  # type: ignore[return-value]


def take(problems: list[Problem], limit: int | None) -> list[Problem]:
    if limit is not None and limit <= 0:
        raise TaskSpecError(f"limit must be positive, got {limit}")
    return problems if limit is None else problems[:limit]
