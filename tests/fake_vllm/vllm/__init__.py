"""A stand-in for the part of vLLM's offline API that Ponder's ``vllm`` backend uses, for tests on
machines without a GPU (vLLM cannot be installed there). Generation is real: the lab model through
Ponder's ``hf`` backend. What is vLLM's is the interface: ``LLM(model=...)``, ``get_tokenizer()``,
``generate(prompts, SamplingParams, use_tqdm=)``, its output objects (the fields of
``vllm/outputs.py``: ``CompletionOutput`` with the stop string dropped from ``text`` and named in
``stop_reason``, ``RequestOutput``), ``logprobs=0`` as one ``{token id: Logprob}`` per token, and
the V1 engine's refusals, with vLLM's messages: per-request logits processors, and a prompt longer
than the model's context.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__version__ = "0.11.0"  # a V1-only vLLM


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

    def get_tokenizer(self) -> Any:
        return self._hf.tokenizer

    def generate(self, prompts: list[str], params: SamplingParams, use_tqdm: bool = True) -> list[RequestOutput]:
        from ponder.types import GenerationRequest

        if params.logits_processors:
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
                                        logprobs=params.logprobs is not None)
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
