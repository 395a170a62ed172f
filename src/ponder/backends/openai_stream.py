"""Streamed chat and completion chunks → the text of one sample, piece by piece.

Chunks arrive as the server's decoded JSON (``http=direct``) or as the openai SDK's objects
(``sdk_chunk`` reads the same fields from them). Reasoning deltas (``reasoning_content``, or
``reasoning`` as some servers name it) are wrapped in ``<think>…</think>`` so the sample's text
reads as the model's own thinking followed by its answer.
"""

from __future__ import annotations

from typing import Any


def reasoning_of(message: dict[str, Any]) -> str | None:
    """The thinking text of a message or delta: ``reasoning_content``, or ``reasoning`` as newer
    vLLM names it."""
    return message.get("reasoning_content") or message.get("reasoning")


def sdk_chunk(chunk: Any) -> dict[str, Any]:
    """The fields of an SDK stream chunk that a sample needs, shaped as the server's JSON."""
    usage = getattr(chunk, "usage", None)
    choices = []
    for ch in chunk.choices or []:
        delta = getattr(ch, "delta", None)
        if delta is None:  # a completions chunk
            choices.append({"text": ch.text, "finish_reason": ch.finish_reason})
            continue
        extra = getattr(delta, "model_extra", None) or {}
        choices.append({"finish_reason": ch.finish_reason, "delta": {
            "content": delta.content,
            "reasoning_content": getattr(delta, "reasoning_content", None) or extra.get("reasoning_content"),
            "reasoning": extra.get("reasoning")}})
    return {"usage": usage.model_dump() if usage is not None else None, "choices": choices}


class Assembler:
    """Feeds on chunks; gives the text pieces to pass on, and keeps the finish reason and usage."""

    def __init__(self, completions: bool) -> None:
        self.completions = completions
        self.thinking = False
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[str]:
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        pieces = []
        for ch in chunk.get("choices") or []:
            if self.completions:
                piece = ch.get("text") or ""
            else:
                delta = ch.get("delta") or {}
                reasoning = reasoning_of(delta)
                piece = ""
                if reasoning:
                    piece = ("" if self.thinking else "<think>") + reasoning
                    self.thinking = True
                if delta.get("content"):
                    piece += ("</think>" if self.thinking else "") + delta["content"]
                    self.thinking = False
            if ch.get("finish_reason"):
                self.finish = ch["finish_reason"]
            if piece:
                pieces.append(piece)
        return pieces

    def close(self) -> str:
        """What the text still needs at the end: the close of thinking left open."""
        if self.thinking:
            self.thinking = False
            return "</think>"
        return ""
