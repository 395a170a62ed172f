"""What the tests of the ``ponder lab`` commands share: a tiny architecture to train in a few
seconds, the command run in this process as ``ponder`` runs it, and the one-line error check."""

from __future__ import annotations

TINY_ARCH = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "max_len": 512}


def lab(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``ponder lab ARGS`` in this process as the ``ponder`` command does: (exit code, stdout, stderr)."""
    from ponder.cli import app
    from ponder.cli_run import run_app

    try:
        run_app(app, ["lab", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert needle in err and err.startswith("error: "), err
    assert len(err.strip().splitlines()) == 1 and "internal error" not in err, err
