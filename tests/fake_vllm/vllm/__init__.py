"""A stand-in for the part of vLLM's offline API that Ponder's ``vllm`` backend uses, for tests on
machines without a GPU (vLLM cannot be installed there). Generation is real: the lab model through
Ponder's ``hf`` backend. What is vLLM's is the interface: ``LLM(model=...)``, ``get_tokenizer()``,
``generate(prompts, SamplingParams, use_tqdm=)``, its output objects (the fields of
``vllm/outputs.py``: ``CompletionOutput`` with the stop string dropped from ``text`` and named in
``stop_reason``, ``RequestOutput``), ``logprobs=0`` as one ``{token id: Logprob}`` per token, and
the V1 engine's refusals, with vLLM's messages: per-request logits processors, and a prompt longer
than the model's context. A test that sets ``__version__`` (and ``VLLM_USE_V1``) before making an
``LLM`` gets the V0 engine where that vLLM had it: per-request logits processors called as V0
calls them (``vllm/model_executor/layers/logits_processor.py``), once per sequence per step, on
that sequence's logits row, as ``(prompt_ids, output_ids, row)`` for a function of three
parameters and ``(output_ids, row)`` otherwise (always, before vLLM 0.4.3), the ids as tuples.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable

__version__ = "0.11.0"  # a V1-only vLLM


def _version() -> tuple[int, ...]:
    return tuple(int(x) for x in __version__.split(".")[:3])


def _v0_engine() -> bool:
    """vLLM's choice of engine: V0 before 0.8, V1 by default from 0.8 (V0 with VLLM_USE_V1=0), V1 from 0.11."""
    if _version() >= (0, 11):
        return False
    return _version() < (0, 8) or os.environ.get("VLLM_USE_V1", "1") == "0"


def _called_as_v0(processor: Callable[..., Any], prompt_len: int) -> Callable[[Any, Any], Any]:
    """``processor`` as the hf backend calls a processor (a batch of the request's sequences),
    calling it as vLLM V0 does: per sequence, on its 1-D logits row, with tuples of token ids."""
    with_prompt = _version() >= (0, 4, 3) and len(inspect.signature(processor).parameters) == 3

    def per_sequence(input_ids: Any, scores: Any) -> Any:
        for row in range(scores.shape[0]):
            ids = tuple(input_ids[row].tolist())
            prompt, output = ids[:prompt_len], ids[prompt_len:]
            if with_prompt:
                scores[row] = processor(prompt, output, scores[row])
            else:
                scores[row] = processor(output, scores[row])
        return scores

    return per_sequence


@dataclass
class SamplingParams:
    n: int = 1
    max_tokens: int | None = 16
    min_tokens: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] | None = None
    seed: int | None = None
    logprobs: int | None = None
    logits_processors: list[Any] | None = None


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = True
    num_cached_tokens: int | None = None


class LLM:
    def __init__(self, model: str, enable_prefix_caching: bool = False, **_: Any) -> None:
        from ponder.backends.hf import HFBackend

        self._hf = HFBackend(model)
        self.calls = 0
        self.v0 = _v0_engine()
        self.processor_calls = 0  # per-request logits processors' calls (V0): one a sequence a step each

    def get_tokenizer(self) -> Any:
        return self._hf.tokenizer

    def generate(self, prompts: list[str], params: SamplingParams, use_tqdm: bool = True) -> list[RequestOutput]:
        from ponder.types import GenerationRequest

        if params.logits_processors and not self.v0:
            raise ValueError("vLLM V1 does not support per request user provided logits processors.")
        outs = []
        for k, prompt in enumerate(prompts):
            ids = self._hf.encode(prompt)
            limit = self._hf.context_length
            if limit is not None and len(ids) >= limit:
                raise ValueError(f"The decoder prompt (length {len(ids)}) is longer than the maximum model length "
                                 f"of {limit}. Make sure that `max_model_len` is no smaller than the number of "
                                 "text tokens.")
            request = GenerationRequest(messages=[], prefix=prompt, n=params.n, max_tokens=params.max_tokens or 16,
                                        min_tokens=params.min_tokens, temperature=params.temperature,
                                        top_p=params.top_p, stop=list(params.stop or []), seed=params.seed,
                                        logprobs=params.logprobs is not None,
                                        logits_processors=[self._counted(_called_as_v0(p, len(ids)))
                                                           for p in params.logits_processors or ()])
            self.calls += 1
            gen = asyncio.run(self._hf.generate(request))
            outputs = []
            for i, s in enumerate(gen.samples):
                lps = None
                if params.logprobs is not None:
                    lps = [{t: Logprob(lp, 1, tok)} for t, lp, tok in zip(s.token_ids, s.logprobs, s.tokens)]
                outputs.append(CompletionOutput(index=i, text=s.text, token_ids=list(s.token_ids),
                                                cumulative_logprob=sum(s.logprobs) if s.logprobs else None,
                                                logprobs=lps, finish_reason=s.finish_reason,
                                                stop_reason=s.matched_stop))
            outs.append(RequestOutput(request_id=str(k), prompt=prompt, prompt_token_ids=ids, outputs=outputs,
                                      num_cached_tokens=gen.usage.cached_prompt_tokens))
        return outs

    def _counted(self, processor: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def counted(input_ids: Any, scores: Any) -> Any:
            self.processor_calls += scores.shape[0]
            return processor(input_ids, scores)

        return counted
