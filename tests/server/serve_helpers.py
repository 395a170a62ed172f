"""Helpers of the proxy tests: `ponder serve` and a fake upstream as real subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from ponder.backends import embedded_path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no answer from {url} within {timeout}s")


def lab_model_ready() -> bool:
    return (embedded_path("policy") / "config.json").is_file()


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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


@contextmanager
def transformers_serve(model_dir: Path) -> Iterator[str]:
    """`transformers serve MODEL_DIR` on a free loopback port; yields its /v1 base URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen([str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- fixtures (imported by the test modules: a conftest.py here would shadow tests/conftest.py) --------
@pytest.fixture(scope="session")
def model_dir(tiny_model_dir: Path) -> Path:
    """The lab model once it is trained and shipped; until then the tiny random model."""
    return embedded_path("policy") if lab_model_ready() else tiny_model_dir


@pytest.fixture(scope="session")
def model_spec(model_dir: Path) -> str:
    return "embedded" if lab_model_ready() else f"hf:{model_dir}"
