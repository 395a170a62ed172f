"""``ponder serve``: the command. ``serve_command`` is a typer command to mount in the main app
(``app.command("serve")(serve_command)``); ``python -m ponder.server`` runs it on its own."""

from __future__ import annotations

import logging
import os
from enum import Enum
from typing import Optional

import typer

from ..errors import ModelSpecError


class LogLevel(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def serve_command(
    model: str = typer.Option("embedded", "--model", "-m",
                              help="embedded | hf:PATH | openai:MODEL@URL[,URL2] (an upstream server or a pool)"),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="PONDER_API_KEY", show_envvar=True,
                                          help="Clients must send Authorization: Bearer KEY. Omit it (and "
                                               "leave PONDER_API_KEY unset) to serve without a key."),
    default_strategy: str = typer.Option("none", "--default-strategy", "-s",
                                         help="Strategy when a request names none, e.g. none, cot, sc(n=8)."),
    max_concurrency: int = typer.Option(64, "--max-concurrency", min=1,
                                        help="Requests in progress at once (per worker); one more gets 429."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds a request may run before a 504."),
    effort_map: Optional[str] = typer.Option(None, "--effort-map",
                                             help='JSON file {"none": SPEC, "low": SPEC, "medium": SPEC, "high": SPEC}.'),
    max_n: int = typer.Option(16, "--max-n", min=1, help="Ceiling of a request's n."),
    max_runs: int = typer.Option(4096, "--max-runs", min=1,
                                 help="Ceiling of the runs a request's strategy may start (n through nested "
                                      "strategies, times the request's n)."),
    max_tokens: int = typer.Option(32768, "--max-tokens", help="Ceiling of a request's max_tokens."),
    max_request_tokens: int = typer.Option(1_000_000, "--max-request-tokens",
                                           help="Token budget of one request over all its model calls."),
    max_body_bytes: int = typer.Option(4 * 1024 * 1024, "--max-body-bytes", help="Larger bodies get 413."),
    served_model_name: Optional[str] = typer.Option(None, "--served-model-name",
                                                    help="Model name in /v1/models (default: from --model)."),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", case_sensitive=False, help="How much to log."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request."),
    allow_model: Optional[list[str]] = typer.Option(
        None, "--allow-model", help="A model spec a request's strategy may name (a PRM, a judge), besides the "
                                    "served model, embedded, embedded-prm and those in the server's own "
                                    "strategies; repeat for more. Any other is refused."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Server processes (an openai: upstream only); each admits "
                                     "--max-concurrency requests."),
) -> None:
    """Serve an OpenAI-compatible API that runs a strategy on every request."""
    import uvicorn

    from .app import configure_logging, create_app
    from .config import ServerConfig, config_to_env, load_effort_map

    if workers > 1 and not model.strip().startswith("openai:"):
        raise ModelSpecError(f"--workers {workers} needs an upstream model (openai:MODEL@URL); {model!r} would be "
                             "loaded once in every worker process: serve a local model with one worker")
    if api_key is None and os.environ.get("PONDER_API_KEY") is not None:
        api_key = os.environ["PONDER_API_KEY"]  # set but empty, which the option's reading takes for unset
    config = ServerConfig(model=model, served_model_name=served_model_name, api_key=api_key,
                          default_strategy=default_strategy, effort_map=load_effort_map(effort_map),
                          max_concurrency=max_concurrency, timeout=timeout, max_n=max_n, max_runs=max_runs,
                          max_tokens=max_tokens, max_request_tokens=max_request_tokens, max_body_bytes=max_body_bytes,
                          allow_models=tuple(allow_model or ()))
    level = log_level.value
    configure_logging(level)
    app = create_app(config)  # also checks the model and strategies before any worker starts
    auth = "with an API key" if config.api_key else "without an API key"
    logging.getLogger("ponder.server").info("serving %s on http://%s:%d (%s, default strategy %s, %d worker%s)",
                                            config.model_id, host, port, auth, config.default_strategy,
                                            workers, "s" if workers > 1 else "")
    common = dict(host=host, port=port, log_level=level, access_log=access_log,
                  timeout_graceful_shutdown=5)
    if workers == 1:
        uvicorn.run(app, **common)
        return
    config_to_env(config, level)
    uvicorn.run("ponder.server.app:app_from_env", factory=True, workers=workers, **common)


def main(argv: list[str] | None = None) -> None:
    """``python -m ponder.server ...``: Ponder's errors become one line and exit code 2."""
    from ..cli_run import run_app

    app = typer.Typer(add_completion=False)
    app.command()(serve_command)
    run_app(app, argv)
