"""In-process vLLM backend (``vllm:PATH``), for GPU machines with the ``vllm`` extra installed.

The prompt is rendered as on ``hf`` (a final assistant message is a partial turn, continued).
vLLM drops a stop string from the text and says which one ended a sample (``stop_reason``), which
step search and self-backtracking read. Per-request logits processors (``tip``, ``budget``'s
``min_think`` masking) exist only on vLLM's V0 engine, which calls each one per sequence per step
on that sequence's logits row (vLLM's ``(prompt_ids, output_ids, logits)``), not on a batch as
Hugging Face does: Ponder's processors are handed to it through ``V0LogitsProcessor``. On V1 (the
default since 0.8, the only engine since 0.11) this backend says it has no logits, so ``tip`` is
refused before any call, ``budget`` forces thinking with "Wait" as on a server, and a request that
brings logits processors anyway is a ``CapabilityError``. A prompt longer than the model's context
is a ``ContextLengthError``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import CapabilityError, ContextLengthError, ModelSpecError
from ..types import Capabilities, Generation, GenerationRequest, Sample, Usage
from .base import logprob_fields, reasoning_token_count, render_chat, sample_of, says_too_long, think_ids


def per_request_logits_processors(vllm: Any) -> bool:
    """Whether this vLLM takes ``SamplingParams(logits_processors=...)``: its V0 engine only."""
    try:
        major, minor = (int(x) for x in str(vllm.__version__).split(".")[:2])
    except ValueError:
        return False
    if (major, minor) >= (0, 11):
        return False  # V0 is gone
    if (major, minor) < (0, 8):
        return True  # V0 was the default
    return os.environ.get("VLLM_USE_V1", "1") == "0"


class V0LogitsProcessor:
    """One of Ponder's logits processors, written for Hugging Face's ``(input_ids [batch, seq],
    scores [batch, vocab]) -> scores``, in the shape vLLM's V0 engine calls a per-request one:
    ``(prompt_ids, output_ids, logits [vocab]) -> logits``, once per sequence per step (vLLM reads
    the parameter count to choose that over ``(output_ids, logits)``). The sequence's prompt and
    output become a batch of one row (on the logits' device) and its logits row that batch's scores.

    One adapter serves all the sequences of a request (``n`` > 1), as one processor serves all the
    rows of a request on ``hf``: Ponder's processors keep no state of a sequence. ``SwitchPenalty``
    finds where the current thought began in each call's tokens, the min-thinking mask counts the
    tokens after the prompt; what they keep is the prompt's length, learned on their first call,
    which sees the prompt alone (vLLM's first call for a sequence has no output yet), and which is
    the same for every sequence of the request, since they share the prompt. vLLM may also call
    the adapter for different sequences at once (``VLLM_LOGITS_PROCESSOR_THREADS``) or copy it per
    sequence; neither changes what it computes. A vLLM before 0.4.3 passes no prompt, ``(output_ids,
    logits)``: the output alone is then the processor's whole input, its first call an empty one.
    """

    def __init__(self, processor: Callable[[Any, Any], Any]) -> None:
        self.processor = processor

    def __call__(self, prompt_ids: Sequence[int], output_ids: Any, logits: Any = None) -> Any:
        import torch

        if logits is None:  # (output_ids, logits): a vLLM older than 0.4.3
            prompt_ids, output_ids, logits = (), prompt_ids, output_ids
        ids = torch.tensor([[*prompt_ids, *output_ids]], dtype=torch.long, device=logits.device)
        return self.processor(ids, logits[None])[0]


class VLLMBackend:
    """vLLM's offline ``LLM`` engine; sampling runs in a worker thread."""

    def __init__(self, path: str) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ModelSpecError("vllm:PATH needs vLLM and a GPU: pip install 'ponder[vllm]'; on a CPU "
                                 "machine use hf:PATH or an OpenAI-compatible server") from exc
        if not Path(path).expanduser().is_dir():
            raise ModelSpecError(f"vllm:{path}: not a model directory")
        self.name = f"vllm:{path}"
        self.llm = vllm.LLM(model=str(Path(path).expanduser()), enable_prefix_caching=True)
        self.tokenizer = self.llm.get_tokenizer()
        self.logits = per_request_logits_processors(vllm)
        self.think_ids = think_ids(self.tokenizer)
        self._params: int | None = None  # vLLM does not expose the parameter count cheaply

    def capabilities(self) -> Capabilities:
        return Capabilities(logits=self.logits, prefix_continuation=True, native_n=True, token_counts=True,
                            num_parameters=self._params, thinking_tags=("<think>", "</think>"))

    def render(self, request: GenerationRequest) -> str:
        return render_chat(self.tokenizer, request)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as vLLM will see it (no special tokens added): where ``budget``
        finds the end-of-thinking token that its ``min_think`` mask forbids (V0 engine)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as vLLM will see it: what a call claims of a budget near its end, and
        what ``budget`` forcing counts for the text it inserts."""
        return len(self.encode(text))

    async def generate(self, request: GenerationRequest) -> Generation:
        if request.logits_processors and not self.logits:
            raise CapabilityError(f"{self.name}: this vLLM (V1 engine) takes no per-request logits processors; "
                                  "use hf:PATH, embedded, or vLLM's V0 engine (VLLM_USE_V1=0, vLLM < 0.11)")
        return await asyncio.to_thread(self._generate, request)

    def _generate(self, request: GenerationRequest) -> Generation:
        from vllm import SamplingParams

        params: dict[str, Any] = dict(n=request.n, max_tokens=request.max_tokens, min_tokens=request.min_tokens,
                                      temperature=request.temperature, top_p=request.top_p, stop=request.stop or None,
                                      seed=request.seed, logprobs=0 if request.logprobs else None)
        if request.logits_processors:
            params["logits_processors"] = [V0LogitsProcessor(p) for p in request.logits_processors]
        prompt = self.render(request)
        try:
            out = self.llm.generate([prompt], SamplingParams(**params), use_tqdm=False)[0]
        except ValueError as exc:
            if says_too_long(str(exc)):
                raise ContextLengthError(f"{self.name}: {exc}") from exc
            raise
        samples = [self._sample(c, request) for c in out.outputs]
        reasoning = None
        if self.think_ids is not None:  # counted as on hf: the tokens inside <think>...</think>
            for s, c in zip(samples, out.outputs):
                s.reasoning_tokens = reasoning_token_count(prompt, list(c.token_ids), self.think_ids)
            reasoning = sum(s.reasoning_tokens or 0 for s in samples)
        usage = Usage(prompt_tokens=len(out.prompt_token_ids or ()), cached_prompt_tokens=out.num_cached_tokens,
                      completion_tokens=sum(len(c.token_ids) for c in out.outputs), reasoning_tokens=reasoning)
        return Generation(samples=samples, usage=usage)

    @staticmethod
    def _sample(c: Any, request: GenerationRequest) -> Sample:
        """vLLM's ``stop_reason``: a stop string (str), a stop token id (int) or None (end of turn)."""
        scored: dict[str, Any] = {}
        if c.logprobs:  # one {token id: Logprob} per generated token, the sampled one among them
            picked = [d[t] if t in d else next(iter(d.values())) for t, d in zip(c.token_ids, c.logprobs)]
            scored = logprob_fields([(p.decoded_token, p.logprob) for p in picked])
        return sample_of(c.text, {"finish_reason": c.finish_reason, "stop_reason": c.stop_reason}, request.stop,
                         token_ids=list(c.token_ids), completion_tokens=len(c.token_ids), **scored)
