"""In-process vLLM backend (``vllm:PATH``), for GPU machines with the ``vllm`` extra installed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..errors import ModelSpecError
from ..types import Capabilities, Generation, GenerationRequest, Sample, Usage
from .base import truncate_at_stop


class VLLMBackend:
    """vLLM's offline ``LLM`` engine; sampling runs in a worker thread."""

    def __init__(self, path: str) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ModelSpecError("vllm:PATH needs vLLM and a GPU: pip install 'ponder[vllm]'; on a CPU "
                                 "machine use hf:PATH or an OpenAI-compatible server") from exc
        if not Path(path).expanduser().is_dir():
            raise ModelSpecError(f"vllm:{path}: not a model directory")
        self.name = f"vllm:{path}"
        self.llm = LLM(model=str(Path(path).expanduser()), enable_prefix_caching=True)
        self.tokenizer = self.llm.get_tokenizer()
        self._params: int | None = None  # vLLM does not expose the parameter count cheaply

    def capabilities(self) -> Capabilities:
        return Capabilities(logits=True, prefix_continuation=True, native_n=True, token_counts=True,
                            num_parameters=self._params, thinking_tags=("<think>", "</think>"))

    async def generate(self, request: GenerationRequest) -> Generation:
        return await asyncio.to_thread(self._generate, request)

    def _generate(self, request: GenerationRequest) -> Generation:
        from vllm import SamplingParams

        messages = list(request.messages)
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                    **request.template_kwargs) + request.prefix
        params: dict[str, Any] = dict(n=request.n, max_tokens=request.max_tokens, min_tokens=request.min_tokens,
                                      temperature=request.temperature, top_p=request.top_p, stop=request.stop or None,
                                      seed=request.seed, logprobs=0 if request.logprobs else None)
        if request.logits_processors:
            params["logits_processors"] = request.logits_processors
        out = self.llm.generate([prompt], SamplingParams(**params), use_tqdm=False)[0]
        samples = []
        for c in out.outputs:
            text, _ = truncate_at_stop(c.text, request.stop)
            lps = [next(iter(d.values())).logprob for d in c.logprobs] if c.logprobs else None
            samples.append(Sample(text=text, finish_reason="length" if c.finish_reason == "length" else "stop",
                                  token_ids=list(c.token_ids), logprobs=lps, completion_tokens=len(c.token_ids)))
        usage = Usage(prompt_tokens=len(out.prompt_token_ids), cached_prompt_tokens=out.num_cached_tokens,
                      completion_tokens=sum(len(c.token_ids) for c in out.outputs))
        return Generation(samples=samples, usage=usage)
