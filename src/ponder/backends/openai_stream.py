"""A server's choices → samples: streamed chat and completion chunks assembled piece by piece, and
what every choice, streamed or not, says of its tokens (``token_logprobs``) and whether it was cut
short (``cut_short``); ``base.sample_of`` reads how it ended.

Chunks arrive as the server's decoded JSON (``http=direct``) or as the openai SDK's objects
(``sdk_chunk`` reads the same fields from them). Reasoning deltas (``reasoning_content``, or
``reasoning`` as some servers name it) are wrapped in ``<think>…</think>`` so the sample's text
reads as the model's own thinking followed by its answer (a thought cut short stays open).
"""

from __future__ import annotations

from typing import Any

from .base import logprob_fields


def reasoning_of(message: dict[str, Any]) -> str | None:
    """The thinking text of a message or delta: ``reasoning_content``, or ``reasoning`` as newer
    vLLM names it."""
    return message.get("reasoning_content") or message.get("reasoning")


def token_logprobs(lp: dict[str, Any], completions: bool) -> list[tuple[str | None, float]]:
    """(token text, log-probability) pairs from a choice's ``logprobs`` (chat: ``content``;
    completions: ``tokens`` and ``token_logprobs``, whose null first entry of an echo is skipped)."""
    if not isinstance(lp, dict):
        return []
    if completions:
        values = lp.get("token_logprobs") or []
        texts = lp.get("tokens") or [None] * len(values)
        return [(t, float(x)) for t, x in zip(texts, values) if isinstance(x, (int, float))]
    return [(item.get("token"), float(item["logprob"])) for item in lp.get("content") or []
            if isinstance(item, dict) and isinstance(item.get("logprob"), (int, float))]


def cut_short(choice: dict[str, Any]) -> bool:
    """The choice was cut before the model ended its turn (by the token limit, or by a stop string
    the server names): thinking it left open stays open, no ``</think>`` is made up for it."""
    said = choice.get("stop_reason") or choice.get("matched_stop")
    return choice.get("finish_reason") in ("length", "budget") or isinstance(said, str)


def sdk_chunk(chunk: Any) -> dict[str, Any]:
    """The fields of an SDK stream chunk that a sample needs, shaped as the server's JSON."""
    usage = getattr(chunk, "usage", None)
    choices = []
    for ch in chunk.choices or []:
        delta = getattr(ch, "delta", None)
        said = {k: v for k, v in (getattr(ch, "model_extra", None) or {}).items() if k in _STOP_FIELDS}
        lp = getattr(ch, "logprobs", None)
        if lp is not None:
            said["logprobs"] = lp if isinstance(lp, dict) else lp.model_dump()
        index = getattr(ch, "index", 0) or 0  # which choice of n this piece belongs to
        if delta is None:  # a completions chunk
            choices.append({"index": index, "text": ch.text, "finish_reason": ch.finish_reason, **said})
            continue
        extra = getattr(delta, "model_extra", None) or {}
        choices.append({"index": index, "finish_reason": ch.finish_reason, **said, "delta": {
            "content": delta.content,
            "reasoning_content": getattr(delta, "reasoning_content", None) or extra.get("reasoning_content"),
            "reasoning": extra.get("reasoning")}})
    return {"usage": usage.model_dump() if usage is not None else None, "choices": choices}


_STOP_FIELDS = ("stop_reason", "matched_stop")


class Assembler:
    """One choice of a stream: feeds on its entries in the chunks, gives the text pieces to pass on,
    and keeps its finish fields (the finish reason, and which stop string ended the text where the
    server says) and token log-probabilities."""

    def __init__(self, completions: bool) -> None:
        self.completions = completions
        self.thinking = False
        self.finish: dict[str, Any] = {}
        self.logprobs: list[float] = []
        self.tokens: list[str | None] = []

    def feed(self, ch: dict[str, Any]) -> str:
        """The text piece of one chunk's entry for this choice ("" when it carries none)."""
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
        self._logprobs(ch.get("logprobs") or {})
        if ch.get("finish_reason"):
            self.finish = {k: ch[k] for k in ("finish_reason", *_STOP_FIELDS) if k in ch}
        return piece

    def _logprobs(self, lp: dict[str, Any]) -> None:
        for t, x in token_logprobs(lp, self.completions):
            self.tokens.append(t)
            self.logprobs.append(x)

    def sample_fields(self, asked: bool) -> dict[str, Any]:
        """The token log-probabilities the stream carried, when the request asked for them."""
        return logprob_fields(list(zip(self.tokens, self.logprobs))) if asked else {}

    def close(self) -> str:
        """What the text still needs at the end: the close of thinking left open by a server that
        split the thinking out (not when the choice was cut short inside it)."""
        if self.thinking and not cut_short(self.finish):
            self.thinking = False
            return "</think>"
        return ""
