"""The request and response bodies of the OpenAI-compatible API (pydantic), as documented in
``/openapi.json``. Ponder's own request fields: ``strategy``, ``thinking`` and ``budget``."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

INT64 = 2**63 - 1


# Strict types, as the OpenAI API checks them: "10" is not a number, true is not an n, "yes" is not
# a bool (a number field takes an integer, a float field an integer or a float).
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True)
    type: Literal["text"]
    text: str


class ChatMessage(_Open):
    """A message; ``developer`` is read as ``system``. Content: text, or a list of text parts."""

    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list[TextPart]]
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts_only(cls, value: Any, info: ValidationInfo) -> Any:
        """An image or audio part gets one clear error instead of the union's two; an assistant
        turn's null content (what clients send beside tool calls) is empty text."""
        if value is None:
            if info.data.get("role") == "assistant":
                return ""
            raise ValueError("content is required; it may be null only in an assistant message")
        if isinstance(value, list):
            for part in value:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                if kind != "text":
                    raise ValueError(f"only text content parts are supported, got a part of type {kind!r}")
        return value


class StreamOptions(_Open):
    include_usage: bool | None = None


class ThinkingConfig(_Closed):
    """Anthropic-style: ``{"type": "enabled", "budget_tokens": N}`` runs budget forcing with N
    thinking tokens; ``{"type": "disabled"}`` runs the ``none`` effort of the effort map."""

    type: Literal["enabled", "disabled"]
    budget_tokens: int | None = Field(None, ge=1, le=INT64)


class BudgetRequest(_Closed):
    """Limits of this request's compute, up to the server's ceilings."""

    max_tokens: int | None = Field(None, ge=1, le=INT64, description="prompt + completion tokens over every call")
    max_calls: int | None = Field(None, ge=1, le=INT64)
    max_seconds: float | None = Field(None, gt=0, le=1e9)


class ChatCompletionRequest(_Open):
    """``POST /v1/chat/completions``. Fields of the OpenAI API not listed here are accepted and,
    when set, reported in ``ponder.ignored_params`` of the response."""

    model: str = Field(..., max_length=512)
    messages: list[ChatMessage] = Field(..., min_length=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)  # 0 would keep no token (vLLM refuses it too)
    n: int | None = Field(None, ge=1, le=INT64)
    max_tokens: int | None = Field(None, ge=1, le=INT64)
    max_completion_tokens: int | None = Field(None, ge=1, le=INT64)
    min_tokens: int | None = Field(None, ge=0, le=INT64, description="vLLM's extension: no end of turn before this")
    continue_final_message: bool | None = Field(None, description=(
        "vLLM's extension, accepted as such: a final assistant message is the start of the answer, "
        "which the model continues (Ponder does so whether or not this is set)"))
    add_generation_prompt: bool | None = Field(None, description=(
        "vLLM's extension, accepted with continue_final_message (false: no new assistant turn)"))
    stop: Union[str, list[str], None] = Field(None)
    seed: int | None = Field(None, ge=-(2**63), le=INT64)
    logprobs: bool | None = Field(None, description=(
        "each generated token's log-probability; with strategy none only (another strategy's answer is "
        "not one sample of the model)"))
    top_logprobs: int | None = Field(None, ge=0, le=20, description="only 0: alternatives are not returned")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    strategy: str | None = Field(None, max_length=4096, description="a strategy spec, e.g. sc(n=8)")
    reasoning_effort: Literal["none", "low", "medium", "high"] | None = None
    thinking: ThinkingConfig | None = None
    budget: BudgetRequest | None = None


class CompletionRequest(_Open):
    """``POST /v1/completions``: the model continues ``prompt``, raw text (its BOS is put before it
    unless the prompt begins with it), as one pass-through call (strategy ``none``): what
    ``tokenizer=`` clients, such as another Ponder's step search, and evaluation harnesses send."""

    model: str = Field(..., max_length=512)
    prompt: Union[str, list[str]] = Field(..., description="one prompt (a list of one is accepted)")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)  # 0 would keep no token (vLLM refuses it too)
    n: int | None = Field(None, ge=1, le=INT64)
    max_tokens: int | None = Field(None, ge=1, le=INT64, description=(
        "16 when not given, as in the OpenAI API (or this server's ceiling, if lower)"))
    min_tokens: int | None = Field(None, ge=0, le=INT64)
    stop: Union[str, list[str], None] = Field(None)
    seed: int | None = Field(None, ge=-(2**63), le=INT64)
    logprobs: int | None = Field(None, ge=0, le=1, description=(
        "0 or 1: each generated token's log-probability (alternatives are not returned)"))
    echo: bool | None = Field(None, description="not supported: the prompt is not returned")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    strategy: str | None = Field(None, max_length=4096, description="only none: a raw prompt has no question")
    budget: BudgetRequest | None = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        """One clear error for a batch of prompts or a prompt of token ids."""
        if isinstance(value, list):
            if value and all(isinstance(v, int) or isinstance(v, list) for v in value):
                raise ValueError("prompts of token ids are not supported; send the prompt as text")
            if len(value) != 1:
                raise ValueError(f"one prompt per request, got a list of {len(value)}")
            return value[0]
        return value


# -- responses ------------------------------------------------------------------------------------
class CachedTokens(BaseModel):
    cached_tokens: int | None = None


class ReasoningTokens(BaseModel):
    reasoning_tokens: int | None = None


class UsageOut(BaseModel):
    """Every token the strategy spent, over all its model calls (``null``: the backend did not say)."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    prompt_tokens_details: CachedTokens
    completion_tokens_details: ReasoningTokens


class PonderInfo(BaseModel):
    strategy: str = Field(..., description="the strategy spec that ran, with the request's parameters applied")
    source: Literal["strategy", "thinking", "reasoning_effort", "default"]
    answer: str | None = None
    answers: list[str | None] = Field(default_factory=list)
    budget_exhausted: bool
    stop_reason: str | None = Field(None, description="why the strategy stopped early (a budget, the context window)")
    ignored_params: list[str] = Field(default_factory=list)
    ledger: dict[str, Any]


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None
    reasoning_content: str | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    stop_reason: str | None = Field(None, description=(
        "as vLLM: the stop string that ended the choice, null when the model ended its turn; given "
        "with strategy none (the client's stop strings), and absent where the model server did not say"))
    logprobs: dict | None = Field(None, description=(
        "with logprobs=true: {content: [{token, logprob, bytes, top_logprobs}]}; null where the model "
        "server gave none"))


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    ponder: PonderInfo
    system_fingerprint: str | None = None


class TextChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    stop_reason: str | None = Field(None, description="as in a chat choice")
    logprobs: dict | None = Field(None, description=(
        "with logprobs: {tokens, token_logprobs, top_logprobs: null, text_offset (from the completion's start)}"))


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChoice]
    usage: UsageOut
    ponder: PonderInfo
    system_fingerprint: str | None = None


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"]
