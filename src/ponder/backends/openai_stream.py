"""A server's choices → samples: streamed chat and completion chunks assembled piece by piece, and
what every choice, streamed or not, says of its tokens (``token_logprobs``) and whether it was cut
short (``cut_short``); ``base.sample_of`` reads how it ended.

Chunks arrive as the server's decoded JSON (``http=direct``) or as the openai SDK's objects
(``sdk_chunk`` reads the same fields from them). Reasoning deltas (``reasoning_content``, or
``reasoning`` as some servers name it, or a content part of type ``thinking``) are wrapped in
``<think>…</think>`` so the sample's text reads as the model's own thinking followed by its answer (a
thought cut short stays open). A call that continues a prefix gets the text as the model wrote it
after the prefix: a reasoning parser (vLLM's deepseek_r1) gives all of a continuation that has no
``</think>`` as reasoning, that of an open thought (budget forcing after "Wait") as of an answer after
a closed one, so no ``<think>`` is added, and the ``</think>`` it took out is put back before the
answer that follows. A choice the stream ended before it
finished (no finish reason: a proxy that closed the response early) was cut, finish reason
``length``, so that only what it finished writing answers.
"""

from __future__ import annotations

from typing import Any, Callable

from ..types import Sample
from .base import logprob_fields, sample_of


def reasoning_of(message: dict[str, Any]) -> str | None:
    """The thinking text of a message or delta: ``reasoning_content``, or ``reasoning`` as newer
    vLLM names it."""
    return message.get("reasoning_content") or message.get("reasoning")


def content_of(content: Any) -> tuple[str, str]:
    """(text, thinking) of a message's or delta's ``content``: a string, or a list of typed parts
    (Mistral's Magistral: ``text`` parts, and ``thinking`` parts that hold parts of their own)."""
    if content is None:
        return "", ""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return str(content), ""
    text: list[str] = []
    thinking: list[str] = []
    for part in content:
        if isinstance(part, str):
            text.append(part)
        elif isinstance(part, dict):
            if part.get("type") == "thinking":
                inner = part.get("thinking")
                thinking.append("".join(content_of(inner)) if isinstance(inner, list) else str(inner or ""))
            elif isinstance(part.get("text"), str):
                text.append(part["text"])
    return "".join(text), "".join(thinking)


def with_thinking(reasoning: str | None, text: str, cut: bool, continued: bool) -> str:
    """A message's text with the thinking the server split out before it, in ``<think>…</think>``
    (no ``</think>`` for a thought cut short that the model did not close); for a call that
    continued a prefix, as the model wrote it: the reasoning, then the ``</think>`` the parser
    took out and the answer, if any."""
    if not reasoning:
        return text
    if continued:
        return reasoning + (f"</think>{text}" if text else "")
    return "<think>" + reasoning + ("" if cut and not text else f"</think>{text}")


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

    def __init__(self, completions: bool, continued: bool = False) -> None:
        self.completions = completions
        self.thinking = False  # in reasoning deltas (a </think> is due before the answer)
        self.continued = continued  # the call continues a prefix: no <think> added, none closed at the end
        self.finish: dict[str, Any] = {}
        self.logprobs: list[float] = []
        self.tokens: list[str | None] = []

    def feed(self, ch: dict[str, Any]) -> str:
        """The text piece of one chunk's entry for this choice ("" when it carries none)."""
        if self.completions:
            piece = ch.get("text") or ""
        else:
            delta = ch.get("delta") or {}
            content = delta.get("content")
            reasoning = reasoning_of(delta)
            if content is not None and not isinstance(content, str):  # typed parts
                content, thought = content_of(content)
                reasoning = (reasoning or "") + thought
            piece = ""
            if reasoning:
                piece = ("" if self.thinking or self.continued else "<think>") + reasoning
                self.thinking = True
            if content:
                piece += ("</think>" if self.thinking else "") + content
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
        if self.thinking and not self.continued and not cut_short(self.finish):
            self.thinking = False
            return "</think>"
        return ""


class StreamRead:
    """What one attempt at a streamed call has read: each choice's assembler and text pieces (by
    the choice's index), the usage, and whether a piece was passed on yet."""

    def __init__(self, completions: bool, continued: bool = False) -> None:
        self.completions = completions
        self.continued = continued
        self.outs: dict[int, Assembler] = {}
        self.parts: dict[int, list[str]] = {}
        self.usage: Any = None
        self.delivered = False

    def _out(self, i: int) -> Assembler:
        out = self.outs.get(i)
        if out is None:
            out = self.outs[i] = Assembler(self.completions, self.continued)
        return out

    def feed(self, chunk: dict[str, Any], on_token: Callable[[int, str], None]) -> None:
        self.usage = chunk.get("usage") or self.usage
        for ch in chunk.get("choices") or []:  # each choice on its own, by its index
            i = ch.get("index") or 0
            piece = self._out(i).feed(ch)
            if piece:
                self.parts.setdefault(i, []).append(piece)
                self.delivered = True
                on_token(i, piece)

    def going(self, n: int) -> list[int]:
        """The choices of ``n`` not finished yet."""
        return [i for i in range(max(1, n)) if i not in self.outs or not self.outs[i].finish]

    def leave(self, n: int) -> None:
        """The time is up: the choices still going end here, finish reason ``budget``."""
        for i in self.going(n):
            self._out(i).finish = {"finish_reason": "budget"}

    def end(self, on_token: Callable[[int, str], None]) -> None:
        """The stream is over: a choice it did not finish was cut (``length``); a thought a
        finished choice left open is closed."""
        for i, out in self.outs.items():
            if not out.finish:
                out.finish = {"finish_reason": "length"}
            tail = out.close()
            if tail:
                self.parts.setdefault(i, []).append(tail)
                on_token(i, tail)

    def samples(self, stop: list[str], logprobs: bool) -> list[Sample]:
        return [sample_of("".join(self.parts.get(i, [])), self.outs[i].finish, stop,
                          **self.outs[i].sample_fields(logprobs)) for i in sorted(self.outs)]
