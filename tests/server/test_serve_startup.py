"""What ``ponder serve`` refuses before it listens: the server's own strategies that cannot run on
its model, and an API key given blank. Run in this process as the command runs (``uvicorn.run``
replaced, so a server that would start only records that it would)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from ponder.server import ServerConfig  # noqa: E402

UPSTREAM = "openai:embedded@http://127.0.0.1:9/v1"  # nothing listens there: nothing here calls it


@pytest.fixture()
def started(monkeypatch):
    """The apps ``uvicorn.run`` was given: a server that passes its checks starts no server here."""
    import uvicorn

    apps: list = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: apps.append(app))
    monkeypatch.delenv("PONDER_API_KEY", raising=False)
    return apps


def serve(capsys, *args: str) -> tuple[int, str]:
    """``ponder serve ARGS`` as the command runs it: (exit code, stderr)."""
    from ponder.cli import app
    from ponder.cli_run import run_app

    try:
        run_app(app, ["serve", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


# -- the server's own strategies are checked against its model at start ------------------------
@pytest.mark.parametrize("spec, needles", [
    ("beam(n=2,width=2)", ["default strategy beam(", "prefix continuation"]),
    ("bon(n=2, scorer=prm(model=hf:/nonexist))", ["default strategy bon(", "/nonexist", "ponder_prm.json"]),
])
def test_a_default_strategy_the_model_cannot_run_is_refused_at_start(capsys, started, spec, needles):
    """It started, then answered every request that named no strategy 400 param=strategy, though
    the client had sent none; ``ponder solve`` refuses the same spec at once."""
    code, err = serve(capsys, "-m", UPSTREAM, "-s", spec)
    assert_one_line_error(code, err, *needles)
    assert started == []


def test_an_effort_map_strategy_the_model_cannot_run_is_refused_at_start(tmp_path, capsys, started):
    path = tmp_path / "effort.json"
    path.write_text(json.dumps({"high": "beam(n=2,width=2)"}))
    code, err = serve(capsys, "-m", UPSTREAM, "--effort-map", str(path))
    assert_one_line_error(code, err, "reasoning_effort high", "beam(", "prefix continuation")
    assert started == []


@pytest.mark.parametrize("default, effort", [("sc(n=64, of=sc(n=64))", None), ("sc(n=2)", "sc(n=64, of=sc(n=64))")])
def test_a_strategy_of_its_own_above_max_runs_is_refused_at_start(tmp_path, capsys, started, default, effort):
    """The default was checked against ``--max-runs``; an effort map's strategy was not, so the
    server started and refused every request with that reasoning_effort."""
    args = ["-m", UPSTREAM, "-s", default, "--max-runs", "1000"]
    if effort:
        path = tmp_path / "effort.json"
        path.write_text(json.dumps({"high": effort}))
        args += ["--effort-map", str(path)]
    code, err = serve(capsys, *args)
    assert_one_line_error(code, err, "4,096 runs", "--max-runs 1,000",
                          "reasoning_effort high" if effort else "default strategy")
    assert started == []


def test_create_app_checks_the_default_strategy():
    from ponder.errors import CapabilityError
    from ponder.server import create_app

    with pytest.raises(CapabilityError, match="default strategy beam"):
        create_app(ServerConfig(model=UPSTREAM, default_strategy="beam(n=2,width=2)"))


def test_strategies_the_model_can_run_still_start(tmp_path, capsys, started):
    path = tmp_path / "effort.json"
    path.write_text(json.dumps({"high": "bon(n=4, scorer=vote)"}))
    code, err = serve(capsys, "-m", UPSTREAM, "-s", "sc(n=2)", "--effort-map", str(path))
    assert code == 0 and len(started) == 1, err


# -- a blank API key is refused, not read as no key --------------------------------------------
@pytest.mark.parametrize("key", ["", " ", "\t"])
def test_a_blank_api_key_is_refused(capsys, started, key):
    """``--api-key " "`` (or ``--api-key "$KEY"`` with KEY unset) ran the server with no
    authentication at all; only a log line said so."""
    code, err = serve(capsys, "-m", UPSTREAM, "--api-key", key)
    assert_one_line_error(code, err, "--api-key", "omit")
    assert started == []


@pytest.mark.parametrize("key", ["", "  "])
def test_a_blank_api_key_in_the_environment_is_refused(capsys, started, monkeypatch, key):
    monkeypatch.setenv("PONDER_API_KEY", key)
    code, err = serve(capsys, "-m", UPSTREAM)
    assert_one_line_error(code, err, "PONDER_API_KEY", "unset")
    assert started == []


def test_no_api_key_given_serves_without_one(capsys, caplog, started):
    caplog.set_level("INFO", logger="ponder.server")
    code, err = serve(capsys, "-m", UPSTREAM)
    assert code == 0 and len(started) == 1, err
    assert started[0].state.config.api_key is None and "without an API key" in caplog.text


def test_an_api_key_in_the_environment_is_used(capsys, started, monkeypatch):
    monkeypatch.setenv("PONDER_API_KEY", "s3cret-key")
    code, err = serve(capsys, "-m", UPSTREAM)
    assert code == 0 and started[0].state.config.api_key == "s3cret-key", err


def test_server_config_refuses_a_blank_api_key():
    from ponder.errors import PonderError

    with pytest.raises(PonderError, match="omit"):
        ServerConfig(api_key="  ")
    assert ServerConfig(api_key=None).api_key is None
