"""The Backend protocol and helpers every backend shares."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from ..types import Capabilities, Generation, GenerationRequest, Sample


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


def sample_of(full: str, choice: dict[str, Any], stop: list[str], **fields: Any) -> Sample:
    """A sample from a choice's whole text and its finish fields, streamed or not.

    A server that ignores stop strings has its text cut at the first one here. vLLM (``stop_reason``)
    and SGLang (``matched_stop``) say which stop string ended a choice; a server that drops stop
    strings without saying (the OpenAI API) leaves it unknown, and the sample says
    so (``stop_unknown``) rather than passing for one that ended at the end of its turn."""
    text, cut = truncate_at_stop(full, stop)
    reason = choice.get("finish_reason")
    finish = reason if reason in ("length", "budget") else "stop"  # budget: cut at the deadline
    said = choice.get("stop_reason") or choice.get("matched_stop")
    matched = said if isinstance(said, str) else None
    if matched is None and cut:
        matched = next(s for s in stop if s and full.startswith(s, len(text)))
    unknown = (bool(stop) and finish == "stop" and not cut
               and "stop_reason" not in choice and "matched_stop" not in choice)
    return Sample(text=text, finish_reason=finish, matched_stop=matched, stop_unknown=unknown, **fields)


def logprob_fields(pairs: list[tuple[str | None, float]]) -> dict[str, Any]:
    """A sample's ``logprobs`` and ``tokens`` (None where the server gave no token texts)."""
    if not pairs:
        return {}
    tokens = [t for t, _ in pairs]
    return {"logprobs": [x for _, x in pairs], "tokens": tokens if all(isinstance(t, str) for t in tokens) else None}


def count_thinking(prefix: str, text: str, tags: tuple[str, str]) -> bool:
    """Whether generation starts inside an open thinking span (prefix opened it, did not close)."""
    start, end = tags
    return prefix.rfind(start) > prefix.rfind(end)


def render_chat(tokenizer: Any, request: GenerationRequest) -> str:
    """The exact text a model sees: the chat template with its generation prompt, then the prefix.
    A final assistant message is a partial turn, continued (its text joins the prefix); with no
    other message the text is raw, behind the BOS once; a tokenizer without a chat template gets
    the messages joined by blank lines."""
    messages = list(request.messages)
    prefix = request.prefix
    if messages and messages[-1].get("role") == "assistant":
        prefix = messages[-1].get("content", "") + prefix
        messages = messages[:-1]
    bos = getattr(tokenizer, "bos_token", None) or ""
    if not messages:
        return ("" if prefix.startswith(bos) else bos) + prefix
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                             **request.template_kwargs) + prefix
    return bos + "\n\n".join(m.get("content", "") for m in messages) + "\n" + prefix


# how model servers and engines say a prompt does not fit: OpenAI and vLLM ("maximum context
# length", "maximum model length", max_model_len), SGLang ("context length"), llama.cpp ("context
# size"), Ponder's own proxy ("context window"), TGI
_TOO_LONG = re.compile(r"context (length|window|size)|max_model_len|maximum model length|"
                       r"tokens \+ `max_new_tokens` must be", re.I)


def says_too_long(message: str) -> bool:
    """Whether an error message says the prompt is longer than the model's context."""
    return bool(_TOO_LONG.search(message))
