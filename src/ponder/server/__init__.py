"""``ponder serve``: an OpenAI-compatible proxy that runs a Ponder strategy on every request.

Needs the ``serve`` extra (fastapi, uvicorn). ``create_app(ServerConfig(model=...))`` builds the
ASGI app; ``python -m ponder.server --model SPEC`` (or ``ponder serve``) runs it with uvicorn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "ServerConfig"]


def __getattr__(name: str) -> Any:  # fastapi is imported only when the server is used
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerConfig":
        from .config import ServerConfig

        return ServerConfig
    raise AttributeError(name)
