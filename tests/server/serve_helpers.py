"""Helpers of the proxy tests: `ponder serve` and a fake upstream as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from helpers import free_port  # noqa: F401  (used by the test modules)
from ponder.backends import embedded_path
from servers import stop, transformers_serve, wait_http  # noqa: F401  (used by the test modules)

HERE = Path(__file__).resolve().parent


@dataclass
class Served:
    url: str  # the /v1 base URL
    log: Path
    proc: subprocess.Popen

    @property
    def root(self) -> str:
        return self.url[: -len("/v1")]

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def ponder_serve(model: str, *args: str, env: dict[str, str] | None = None, log_dir: Path) -> Iterator[Served]:
    """`python -m ponder.server --model MODEL ARGS` on a free loopback port (stand-in for `ponder serve`)."""
    port = free_port()
    log = log_dir / f"ponder-serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ponder.server", "--model", model, "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=120)
        yield Served(f"http://127.0.0.1:{port}/v1", log, proc)
    finally:
        stop(proc)


@contextmanager
def fake_upstream(expected_key: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_upstream.py"), str(port), expected_key],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


# -- fixtures (imported by the test modules: a conftest.py here would shadow tests/conftest.py) --------
@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The embedded lab policy's directory (what `transformers serve` hosts)."""
    return embedded_path("policy")


@pytest.fixture(scope="session")
def model_spec() -> str:
    return "embedded"
