"""Between the wire and the library: chat messages in, thinking text split out, usage counted."""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from .schemas import ChatMessage

THINK_TAGS = ("<think>", "</think>")


def clean(text: str) -> str:
    """Lone UTF-16 surrogates (legal in JSON, not in UTF-8) become U+FFFD; pairs are joined."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def to_messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """OpenAI chat messages → Ponder's ``[{"role", "content"}]``; every turn kept, none flattened.
    A message's text parts are joined by newlines, as vLLM joins them."""
    out = []
    for m in messages:
        content = m.content if isinstance(m.content, str) else "\n".join(p.text for p in m.content)
        role = "system" if m.role == "developer" else m.role
        out.append({"role": role, "content": clean(content)})
    return out


class ThinkSplitter:
    """Routes streamed text to ``reasoning`` (inside ``<think>…</think>``) or ``content``, with tags
    split across deltas handled and the tags themselves dropped: a closing tag with no span open
    (a model that goes on thinking after an empty ``<think> </think>``) too. A span of nothing but
    blanks is no reasoning; the blanks that follow a span are not content."""

    def __init__(self, tags: tuple[str, str] = THINK_TAGS, inside: bool = False) -> None:
        self.open, self.close = tags
        self.inside = inside
        self._pending = ""
        self._held = ""  # the blanks a span began with, sent once something else follows them
        self._span_blank = False  # the span opened here and holds nothing but blanks so far
        self._after_close = False

    def feed(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf = self._pending + text
        self._pending = ""
        while buf:
            if self.inside:
                i, tag = buf.find(self.close), self.close
            else:  # the next opening tag, or a stray closing one before it
                i, tag = buf.find(self.open), self.open
                j = buf.find(self.close)
                if j >= 0 and (i < 0 or j < i):
                    i, tag = j, self.close
            if i >= 0:
                self._put(out, buf[:i])
                buf = buf[i + len(tag):]
                if tag == self.open or self.inside:
                    self.inside = not self.inside
                    self._span_blank, self._held = self.inside, ""
                    self._after_close = not self.inside
                continue
            keep = max(_partial_suffix(buf, self.close), 0 if self.inside else _partial_suffix(buf, self.open))
            self._put(out, buf[: len(buf) - keep])
            self._pending = buf[len(buf) - keep:]
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        self._put(out, self._pending)
        self._pending = ""
        return out

    def _put(self, out: list[tuple[str, str]], text: str) -> None:
        if not text:
            return
        if self.inside and self._span_blank:
            if not text.strip():
                self._held += text
                return
            text, self._held, self._span_blank = self._held + text, "", False
        if not self.inside and self._after_close:
            text = text.lstrip()
            if not text:
                return
            self._after_close = False
        out.append(("reasoning" if self.inside else "content", text))


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


def starts_inside_thinking(text: str, tags: tuple[str, str] = THINK_TAGS) -> bool:
    """A closing tag before any opening one: the span was opened in the prompt."""
    close = text.find(tags[1])
    if close < 0:
        return False
    opening = text.find(tags[0])
    return opening < 0 or opening > close


def usage_of(ledger: Ledger) -> dict[str, Any]:
    """OpenAI ``usage`` from a ledger: every call of every role, as the backends reported them. A
    count that some call did not report (``uncounted_calls``: a server that sends no usage, a
    stream left at a deadline, a call that failed) is null, as when no call reported it: the
    ledger's sum of the others is a lower bound, which the ``ponder`` ledger gives as one ("at
    least"), not a count to bill by."""
    calls = [e for e in ledger.entries if e.model_call]

    def counted(counter: str) -> int | None:
        return None if any(getattr(e, counter) is None for e in calls) else getattr(ledger, counter)

    prompt, completion = counted("prompt_tokens"), counted("completion_tokens")
    uncounted = ledger.uncounted_calls > 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": None if prompt is None or completion is None else prompt + completion,
        "prompt_tokens_details": {"cached_tokens": None if uncounted else ledger.cached_prompt_tokens},
        "completion_tokens_details": {"reasoning_tokens": None if uncounted else ledger.reasoning_tokens},
    }


def chat_logprobs(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The OpenAI ``logprobs`` of a choice, from the meta of a candidate of strategy none that asked
    for them: every generated token (the end of turn too), as the model server reported them (null
    where it returned none)."""
    lps, tokens = meta.get("logprobs"), meta.get("tokens")
    if lps is None:
        return None
    if tokens is None or len(tokens) != len(lps):
        tokens = [None] * len(lps)  # the backend gave no token texts
    return {"content": [{"token": t, "logprob": lp, "bytes": None if t is None else list(t.encode("utf-8")),
                         "top_logprobs": []} for t, lp in zip(tokens, lps)]}


def legacy_logprobs(chat: dict[str, Any] | None) -> dict[str, Any] | None:
    """A chat choice's ``logprobs`` in the completions API's form: ``tokens``, ``token_logprobs``,
    ``top_logprobs`` (null: alternatives are not returned) and ``text_offset`` (each token's start
    in the completion's text)."""
    if chat is None:
        return None
    tokens = [t["token"] for t in chat["content"]]
    offsets, at = [], 0
    for t in tokens:
        offsets.append(at)
        at += len(t or "")
    return {"tokens": tokens, "token_logprobs": [t["logprob"] for t in chat["content"]], "top_logprobs": None,
            "text_offset": offsets}


def ledger_summary(ledger: Ledger) -> dict[str, Any]:
    return {"summary": ledger.summary(), "totals": ledger.totals(),
            "by_role": {role: led.totals() for role, led in ledger.by_role().items()}}
