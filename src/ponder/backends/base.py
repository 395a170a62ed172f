"""The Backend protocol and helpers every backend shares."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..types import Capabilities, Generation, GenerationRequest


@runtime_checkable
class Backend(Protocol):
    """A model behind Ponder. ``name`` is what the ledger records as the model."""

    name: str

    async def generate(self, request: GenerationRequest) -> Generation: ...

    def capabilities(self) -> Capabilities: ...


def truncate_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string (excluded, as in the OpenAI API)."""
    cut = -1
    for s in stop:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (cut < 0 or i < cut):
            cut = i
    return (text[:cut], True) if cut >= 0 else (text, False)


def count_thinking(prefix: str, text: str, tags: tuple[str, str]) -> bool:
    """Whether generation starts inside an open thinking span (prefix opened it, did not close)."""
    start, end = tags
    return prefix.rfind(start) > prefix.rfind(end)
