"""The bench's rich progress bar (stderr): units done, ETA, running accuracy, tokens so far, failures."""

from __future__ import annotations

from typing import Any


class BenchProgress:
    """A progress bar over problem x strategy x seed units; a no-op when ``enabled`` is false."""

    def __init__(self, total: int, done: int = 0, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.tokens = 0
        self.correct_sum = 0.0
        self.graded = 0
        self.failed = 0
        self.uncounted = False  # a call whose tokens its backend did not count
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "BenchProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("[bold]bench[/bold]"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("units"), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), TextColumn("{task.description}"),
                                      console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self._describe(), total=self.total, completed=self.done)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def _describe(self) -> str:
        acc = f"{self.correct_sum / self.graded:.1%}" if self.graded else "–"
        fail = f" · [red]{self.failed} failed[/red]" if self.failed else ""
        return f"acc {acc} · {'≥ ' if self.uncounted else ''}{self.tokens:,} tokens{fail}"

    def add_tokens(self, n: int, counted: bool = True) -> None:
        """Tokens of a finished call; ``counted=False``: its backend did not count them all (the
        total then reads as a lower bound, "≥")."""
        self.tokens += n
        self.uncounted = self.uncounted or not counted
        self._refresh()

    def unit_done(self, correct: float | None, failed: bool = False) -> None:
        self.done += 1
        if correct is not None:
            self.correct_sum += correct
            self.graded += 1
        self.failed += int(failed)
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, description=self._describe())

    def _refresh(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=self._describe())
