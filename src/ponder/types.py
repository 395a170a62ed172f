"""Core data objects shared by every layer: problems, requests, samples, candidates, results."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from .ledger import Ledger

FinishReason = Literal["stop", "length", "budget"]


@dataclass
class Problem:
    """One problem: chat messages, an optional gold answer, and task metadata.

    ``answer_kind`` tells extraction and equivalence how to read answers (``auto``, ``math``,
    ``gsm8k``, ``number``, ``string``, ``code``). ``checker``, where a task has one, grades an
    extracted answer exactly (used by the ``exact`` scorer and by graders); ``progress_checker``,
    where a task can judge an unfinished solution (the lab tasks), says whether a partial answer
    text is right so far, the exact value of a partial path for step-level search.
    """

    id: str
    messages: list[dict[str, str]]
    answer: str | None = None
    answer_kind: str = "auto"
    meta: dict[str, Any] = field(default_factory=dict)
    checker: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)
    progress_checker: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_question(
        cls,
        question: str,
        *,
        answer: str | None = None,
        id: str = "q0",
        system: str | None = None,
        answer_kind: str = "auto",
        **meta: Any,
    ) -> "Problem":
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": question})
        return cls(id=id, messages=messages, answer=answer, answer_kind=answer_kind, meta=meta)

    @property
    def question(self) -> str:
        """The last user message: what is being asked."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return m.get("content", "")
        return ""


@dataclass
class GenerationRequest:
    """What a strategy asks of a model.

    ``prefix`` is a partial assistant message that the model continues (budget forcing and step
    search need it; see ``Capabilities.prefix_continuation``). ``logits_processors`` follow the
    Hugging Face convention ``(input_ids, scores) -> scores`` and work on backends with logits access
    (``hf``; ``vllm`` on its V0 engine, through an adapter of its per-sequence call).
    ``deadline`` is a ``time.monotonic()`` instant (the engine sets it from a ``max_seconds``
    budget): the hf backend stops decoding there and the openai backend stops reading the call's
    stream, the samples ending with finish reason ``budget``; vllm runs the call to its end.
    """

    messages: list[dict[str, str]]
    prefix: str = ""
    n: int = 1
    max_tokens: int = 512
    min_tokens: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    logprobs: bool = False
    logits_processors: list[Callable[..., Any]] = field(default_factory=list)
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None

    def __post_init__(self) -> None:
        """Refuse values no backend can honour, naming the field, the value and what is accepted
        (each backend would otherwise read them its own way: greedy for a negative temperature, one
        sample for ``n=0``, or a bare torch error). A single stop string is taken as a list of one,
        as the OpenAI API takes it; empty stop strings stop nothing and are dropped."""
        _check_whole("n", self.n, 1)
        _check_whole("max_tokens", self.max_tokens, 0)
        _check_whole("min_tokens", self.min_tokens, 0)
        if not _is_number(self.temperature) or not 0 <= self.temperature < math.inf:
            raise ValueError(f"temperature={self.temperature!r} is not accepted: give a finite number >= 0 "
                             "(0 is greedy decoding)")
        if not _is_number(self.top_p) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p!r} is not accepted: give a number above 0 and at most 1")
        if self.seed is not None and not (_is_whole(self.seed) and -(2**63) <= self.seed < 2**63):
            raise ValueError(f"seed={self.seed!r} is not accepted: give None or a whole number from -2**63 "
                             "to 2**63 - 1 (a 64-bit seed)")
        self.stop = _stop_list(self.stop)

    def replace(self, **changes: Any) -> "GenerationRequest":
        return dataclasses.replace(self, **changes)


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_whole(name: str, value: Any, least: int) -> None:
    if not (_is_whole(value) and value >= least):
        raise ValueError(f"{name}={value!r} is not accepted: give a whole number >= {least}")


def _stop_list(stop: Any) -> list[str]:
    """``stop`` as a list of non-empty strings: a string is one stop string, not its characters."""
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
        raise ValueError(f"stop={stop!r} is not accepted: give a string or a list of strings")
    return [s for s in stop if s]


@dataclass
class Sample:
    """One generated continuation. ``text`` excludes the prefix and any matched stop string."""

    text: str
    finish_reason: FinishReason
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    tokens: list[str] | None = None  # the text of each token that ``logprobs`` scores, where known
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    matched_stop: str | None = None  # the stop string that ended it, where the backend says
    # the server ended it with "stop" but did not say whether at a stop string or at the end of the
    # turn (it drops stop strings and has no vLLM-style stop_reason): matched_stop None is a guess
    stop_unknown: bool = False

    @classmethod
    def not_drawn(cls) -> "Sample":
        """A sample the budget did not pay for: empty, no tokens, finish reason ``budget``."""
        return cls(text="", finish_reason="budget", completion_tokens=0)


@dataclass
class Usage:
    """Token counts of one backend call, as reported; ``None`` means the backend did not say."""

    prompt_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    retries: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        def add(a: int | None, b: int | None) -> int | None:
            if a is None and b is None:
                return None
            return (a or 0) + (b or 0)

        return Usage(
            prompt_tokens=add(self.prompt_tokens, other.prompt_tokens),
            cached_prompt_tokens=add(self.cached_prompt_tokens, other.cached_prompt_tokens),
            completion_tokens=add(self.completion_tokens, other.completion_tokens),
            reasoning_tokens=add(self.reasoning_tokens, other.reasoning_tokens),
            retries=self.retries + other.retries,
        )


@dataclass
class Generation:
    """What a backend returns for one request: the samples and the call's usage.

    A backend that served the request with several calls (n samples from a server that ignores
    ``n``: one call each) lists each call's own generation in ``parts``, with its ``wall_seconds``,
    so that the ledger has an entry per call: each call paid for its prompt."""

    samples: list[Sample]
    usage: Usage
    parts: list[Generation] = field(default_factory=list)
    wall_seconds: float | None = None  # a part's own time (the engine times a whole request itself)


@dataclass
class Capabilities:
    """What a backend can do; strategies check these before their first call."""

    logits: bool = False
    prefix_continuation: bool = False
    native_n: bool = False
    token_counts: bool = True
    num_parameters: int | None = None
    thinking_tags: tuple[str, str] | None = None


@dataclass
class Candidate:
    """An answer a strategy considered: its text, extracted answer and score(s)."""

    text: str
    answer: str | None
    finish_reason: str = "stop"
    score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def not_drawn(cls, **meta: Any) -> "Candidate":
        """A candidate the budget did not reach: no text, no answer, finish reason ``budget``."""
        return cls(text="", answer=None, finish_reason="budget", meta=meta)

    def to_dict(self) -> dict[str, Any]:
        """The candidate as plain data; ``meta`` keys that start with ``_`` are bookkeeping for
        Ponder's own use (a scorer's cost record for the bench) and are left out."""
        out = dataclasses.asdict(self)
        out["meta"] = {k: v for k, v in out["meta"].items() if not k.startswith("_")}
        return out


@dataclass
class Result:
    """What a strategy returns. ``budget_exhausted`` says the budget ran out before it finished."""

    answer: str | None
    text: str
    strategy: str
    candidates: list[Candidate] = field(default_factory=list)
    trace: dict[str, Any] | None = None
    ledger: Ledger | None = None
    budget_exhausted: bool = False
    stop_reason: str | None = None  # why it stopped early, when budget_exhausted
    correct: bool | None = None
    problem_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; a non-finite number (a score of -inf for an empty sample) is None, so
        strict JSON parsers read it."""
        return finite({
            "problem_id": self.problem_id,
            "strategy": self.strategy,
            "answer": self.answer,
            "correct": self.correct,
            "budget_exhausted": self.budget_exhausted,
            "stop_reason": self.stop_reason,
            "text": self.text,
            "candidates": [c.to_dict() for c in self.candidates],
            "trace": self.trace,
            "ledger": self.ledger.to_dict() if self.ledger is not None else None,
        })


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float in it (in dicts, lists and tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
