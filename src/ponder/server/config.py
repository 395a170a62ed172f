"""Configuration of ``ponder serve``: the model, the default strategy, security and limits."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import BudgetError, PonderError, StrategySpecError
from ..thinking import EffortMap

DEFAULT_STRATEGY = "none"
CONFIG_ENV = "PONDER_SERVE_CONFIG"  # how ``--workers`` hands the configuration to its worker processes


class ServerConfigError(PonderError, ValueError):
    """A setting of ``ponder serve`` that the server cannot run with (a blank API key)."""


@dataclass
class ServerConfig:
    """Everything ``create_app`` needs. Limits are per request unless said otherwise.

    ``api_key``: clients must send ``Authorization: Bearer KEY`` (all endpoints but /health); None:
    no key. A blank key is refused: read as no key, ``--api-key "$KEY"`` with KEY unset served
    everyone.
    ``max_concurrency``: requests in progress at once; one more is answered 429 with Retry-After.
    ``timeout``: seconds a request may run before it is cancelled and answered 504.
    ``max_n`` / ``max_tokens``: ceilings of the request's ``n`` and ``max_tokens``.
    ``max_runs``: ceiling of the runs one request's strategy may start (``Strategy.runs`` times
    ``n``): nested strategies multiply, so a short spec could otherwise start billions.
    ``max_request_tokens``: the token budget of one request (prompt + completion over every call
    the strategy makes); a request may ask for less through ``budget``.
    ``max_body_bytes``: request bodies above this are answered 413.
    ``allow_models``: model specs a request's strategy may name (a PRM, a judge, an editor) besides
    the served model, the shipped ``embedded`` and ``embedded-prm``, and those named in the default
    strategy and the effort map; any other is refused (400), so a request cannot make the server
    load a path or call a URL of its choosing (with the server's upstream key).
    """

    model: str = "embedded"
    served_model_name: str | None = None
    api_key: str | None = None
    default_strategy: str = DEFAULT_STRATEGY
    effort_map: EffortMap = field(default_factory=EffortMap)
    max_concurrency: int = 64
    timeout: float = 600.0
    max_n: int = 16
    max_runs: int = 4096
    max_tokens: int = 32768
    max_request_tokens: int = 1_000_000
    max_body_bytes: int = 4 * 1024 * 1024
    keepalive_seconds: float = 15.0
    allow_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "max_n", "max_runs", "max_tokens", "max_request_tokens", "max_body_bytes"):
            if int(getattr(self, name)) <= 0:
                raise BudgetError(f"{name.replace('_', '-')} must be a positive number, got {getattr(self, name)!r}")
        if not self.timeout > 0:  # NaN too
            raise BudgetError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.api_key is not None and not self.api_key.strip():
            raise ServerConfigError("the API key is blank (from --api-key or PONDER_API_KEY), which would leave the "
                                    "server open to anyone; give a key, or omit --api-key and unset "
                                    "PONDER_API_KEY to run without one")
        if not self.default_strategy or not self.default_strategy.strip():
            raise StrategySpecError("the default strategy is empty; give e.g. none, cot or sc(n=8)")
        self.allow_models = tuple(s.strip() for s in self.allow_models if s and s.strip())

    def allowed_models(self) -> frozenset[str]:
        """The model specs a request's strategy may name (besides the shipped ones): the served
        model, ``allow_models``, and those named in the server's own strategies."""
        from ..strategies.spec import named_models, parse_spec

        own = [self.default_strategy, *(getattr(self.effort_map, e) for e in type(self.effort_map).model_fields)]
        return frozenset({self.model.strip(), *self.allow_models}.union(*(named_models(parse_spec(s)) for s in own)))

    @property
    def model_id(self) -> str:
        """The name clients see in /v1/models and send as ``model``: never a URL or a key."""
        if self.served_model_name:
            return self.served_model_name
        spec = self.model.strip()
        if spec.startswith("openai:"):
            body = spec[len("openai:"):].split("?", 1)[0]
            at = max(body.rfind("@http://"), body.rfind("@https://"))
            return body[:at] if at > 0 else body
        if spec.startswith(("hf:", "vllm:")):
            return Path(spec.split(":", 1)[1].split("?", 1)[0]).expanduser().name or spec  # not its options
        return spec


def config_to_env(config: ServerConfig, log_level: str) -> None:
    """Put ``config`` where worker processes started by uvicorn find it (they inherit the environment)."""
    data = {f.name: getattr(config, f.name) for f in fields(config)}
    data["effort_map"] = config.effort_map.model_dump()
    os.environ[CONFIG_ENV] = json.dumps({"config": data, "log_level": log_level})


def config_from_env() -> tuple[ServerConfig, str]:
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"{CONFIG_ENV} is not set: this factory is for the workers of `ponder serve --workers`")
    data = json.loads(raw)
    cfg = data["config"]
    cfg["effort_map"] = EffortMap(**cfg["effort_map"])
    return ServerConfig(**cfg), data["log_level"]


def load_effort_map(path: str | None) -> EffortMap:
    return EffortMap() if path is None else EffortMap.from_file(path)
