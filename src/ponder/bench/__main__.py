"""``python -m ponder.bench bench ...`` / ``python -m ponder.bench report ...``: the bench commands without
the main CLI (used by the resume test's subprocess); errors become one line and exit code 2."""

from __future__ import annotations

from ..cli_run import run_app
from .cli import make_app


def main(argv: list[str] | None = None) -> None:
    run_app(make_app(), argv)


if __name__ == "__main__":
    main()
