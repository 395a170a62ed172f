"""The Backend protocol and helpers every backend shares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ModelSpecError
from ..types import Capabilities, Generation, GenerationRequest, Sample


@runtime_checkable
class Backend(Protocol):
    """A model behind Ponder. ``name`` is what the ledger records as the model."""

    name: str

    async def generate(self, request: GenerationRequest) -> Generation: ...

    def capabilities(self) -> Capabilities: ...


# the files a tokenizer is read from (besides any *.model or *.tiktoken file): fast tokenizers,
# sentencepiece models, BPE vocabularies (vocab.json with merges.txt), WordPiece vocabularies
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")
TOKENIZER_FORMS = "tokenizer.json, tokenizer.model, vocab.json with merges.txt, vocab.txt, *.model or *.tiktoken"


PRM_CONFIG = "ponder_prm.json"  # what makes a model directory a step-tag process reward model's


def is_reward_model(path: str | Path) -> bool:
    """Whether the model directory ``path`` holds a process reward model (its ``ponder_prm.json``):
    it scores steps and writes no answers, so it is no policy, judge or editor."""
    return (Path(path).expanduser() / PRM_CONFIG).is_file()


def check_tokenizer_files(path: Path) -> None:
    """Refuse a model or tokenizer directory without tokenizer files. From config.json alone
    transformers builds an empty tokenizer for some models (GPT-2, Qwen2: every prompt encodes to no
    tokens, and the model answered a prompt it never saw) and asks others (Llama) to install
    sentencepiece."""
    if any((path / name).is_file() for name in TOKENIZER_FILES) or any(
            f.is_file() for pattern in ("*.model", "*.tiktoken") for f in path.glob(pattern)):
        return
    raise ModelSpecError(f"{str(path)!r} has no tokenizer files (accepted: {TOKENIZER_FORMS}); save the "
                         "model's tokenizer there (tokenizer.save_pretrained(PATH))")


def truncate_at_stop(text: str, stop: list[str], after: int = 0) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string (excluded, as in the OpenAI API); ``after``: only a
    stop string that ends past that many characters counts (one that ended within the first
    ``min_tokens`` tokens did not stop the sample)."""
    cut = -1
    for s in stop:
        if not s:
            continue
        i = text.find(s, max(0, after - len(s) + 1))
        if i >= 0 and (cut < 0 or i < cut):
            cut = i
    return (text[:cut], True) if cut >= 0 else (text, False)


def sample_of(full: str, choice: dict[str, Any], stop: list[str], **fields: Any) -> Sample:
    """A sample from a choice's whole text and its finish fields, streamed or not.

    A server that ignores stop strings has its text cut at the first one here. vLLM (``stop_reason``)
    and SGLang (``matched_stop``) say which stop string ended a choice; a server that drops stop
    strings without saying (the OpenAI API) leaves it unknown, and the sample says
    so (``stop_unknown``) rather than passing for one that ended at the end of its turn. A choice
    without a finish reason (``null``, or none: its stream ended early) was cut: ``length``."""
    text, cut = truncate_at_stop(full, stop)
    reason = choice.get("finish_reason")
    # budget: cut at the deadline; no finish reason at all (a stream or an answer that ended before
    # the choice did): cut, so that only what it finished writing answers
    finish = reason if reason in ("length", "budget") else "length" if reason is None else "stop"
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


def think_ids(tokenizer: Any) -> tuple[int, int] | None:
    """The ids of ``<think>`` and ``</think>`` where the tokenizer has them as tokens."""
    vocab = tokenizer.get_vocab()
    if "<think>" in vocab and "</think>" in vocab:
        return vocab["<think>"], vocab["</think>"]
    return None


def reasoning_token_count(prompt_text: str, ids: list[int], tags: tuple[int, int]) -> int:
    """The generated tokens ``ids`` inside a thinking span (its tags counted): thinking may open in
    the prompt (a continuation) or in the sample; a close before any open, in a turn whose thinking
    was never closed, ends thinking the model began without a tag (as the proxy shows it; after a
    forced end of thinking, a second close is the answer's)."""
    start, end = tags
    inside = prompt_text.rfind("<think>") > prompt_text.rfind("</think>")
    if "</think>" not in prompt_text and end in ids and (start not in ids or ids.index(start) > ids.index(end)):
        inside = True
    count = 0
    for tok in ids:
        if tok == start:
            inside = True
        if inside:
            count += 1
        if tok == end:
            inside = False
    return count


def partial_turn(request: GenerationRequest) -> tuple[list[dict[str, str]], str]:
    """``(messages, partial)``: the messages before the assistant turn being continued, and that
    turn's text so far: a final assistant message (a partial turn) joined to the ``prefix``."""
    messages = list(request.messages)
    prefix = request.prefix
    if messages and messages[-1].get("role") == "assistant":
        prefix = (messages[-1].get("content") or "") + prefix
        messages = messages[:-1]
    return messages, prefix


def render_chat(tokenizer: Any, request: GenerationRequest) -> str:
    """The exact text a model sees: the chat template with its generation prompt, then the prefix.
    A final assistant message is a partial turn, continued (its text joins the prefix); with no
    other message the text is raw, behind the BOS once; a tokenizer without a chat template gets
    the messages joined by blank lines."""
    messages, prefix = partial_turn(request)
    bos = getattr(tokenizer, "bos_token", None) or ""
    if not messages:
        return ("" if prefix.startswith(bos) else bos) + prefix
    if getattr(tokenizer, "chat_template", None):
        return _templated(tokenizer, messages, request.template_kwargs) + prefix
    return bos + "\n\n".join(m.get("content", "") for m in messages) + "\n" + prefix


def _templated(tokenizer: Any, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> str:
    """The chat template applied to ``messages`` with its generation prompt. A template that refuses
    them (Gemma's raises "System role not supported" on a system message) gets them again with the
    system text folded into the first user turn, as other toolkits do; one that refuses those too
    is a ModelSpecError naming the model and the template's message."""
    from jinja2 import TemplateError

    def apply(msgs: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False, **kwargs)

    try:
        return apply(messages)
    except TemplateError as exc:
        failure = exc
        folded = fold_system(messages)
        if folded is not messages:
            try:
                return apply(folded)
            except TemplateError as again:
                failure = again
    model = getattr(tokenizer, "name_or_path", "") or "this model"
    raise ModelSpecError(f"the chat template of {model} cannot render these messages: {failure}") from failure


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``messages`` with their leading system messages folded into the first user turn (system
    text, blank line, user text), for chat templates without a system role; ``messages`` itself
    when it has no system message first."""
    lead = 0
    while lead < len(messages) and messages[lead].get("role") == "system":
        lead += 1
    if not lead:
        return messages
    system = "\n\n".join(m.get("content", "") for m in messages[:lead])
    rest = list(messages[lead:])
    for i, m in enumerate(rest):
        if m.get("role") == "user":
            rest[i] = {**m, "content": f"{system}\n\n{m.get('content', '')}"}
            return rest
    return [{"role": "user", "content": system}, *rest]


# how model servers and engines say a prompt does not fit: OpenAI and vLLM ("maximum context
# length", "maximum model length", max_model_len), SGLang ("context length"), llama.cpp ("context
# size"), Ponder's own proxy ("context window"), TGI
_TOO_LONG = re.compile(r"context (length|window|size)|max_model_len|maximum model length|"
                       r"tokens \+ `max_new_tokens` must be", re.I)


def says_too_long(message: str) -> bool:
    """Whether an error message says the prompt is longer than the model's context."""
    return bool(_TOO_LONG.search(message))
