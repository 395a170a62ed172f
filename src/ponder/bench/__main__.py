"""``python -m ponder.bench bench ...`` / ``python -m ponder.bench report ...``: the bench commands without
the main CLI (used by the resume test's subprocess); errors become one line and exit code 2."""

from __future__ import annotations

import sys

from ..errors import PonderError
from .cli import err, make_app


def main(argv: list[str] | None = None) -> None:
    import typer

    try:
        make_app()(args=argv, standalone_mode=False)
    except PonderError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
