"""Local Hugging Face backend (``hf:PATH`` and ``embedded``).

Loads a model directory offline with ``AutoModelForCausalLM`` / ``AutoTokenizer`` and decodes with
its own sampling loop so that the ``n`` samples of one prompt share a single prefill: the prompt is
encoded once, its KV cache is repeated ``n`` times, and the ``n`` continuations are decoded as one
batch (finished rows are dropped from the batch). Concurrent requests join that batch too
(``hf_batch``: continuous batching). Generation runs in a decoder thread, off the event loop. Token
counts in the ledger are exact.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import ContextLengthError, ModelSpecError
from ..types import Capabilities, Generation, GenerationRequest, Sample
from .base import (TOKENIZER_FORMS, check_tokenizer_files, reasoning_token_count, render_chat, think_ids,
                   truncate_at_stop)
from .hf_batch import BatchDecoder, TokenCallback


def check_model_dir(path: Path) -> None:
    if not path.exists():
        raise ModelSpecError(f"model directory {str(path)!r} does not exist (hf:PATH needs a local "
                             "Hugging Face model directory with config.json)")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelSpecError(f"{str(path)!r} is not a Hugging Face model directory: no config.json "
                             "(hf:PATH needs a directory saved with save_pretrained)")
    check_tokenizer_files(path)


class HFBackend:
    """A local transformers causal LM."""

    def __init__(self, path: str | Path, *, name: str | None = None, dtype: str = "float32",
                 device: str = "cpu") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from transformers.utils import logging as hf_logging

        from .hf_spec import DTYPES, resolve_device

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every load of a local model
        self.path = Path(path).expanduser()
        check_model_dir(self.path)
        self.name = name or f"hf:{self.path}"
        if dtype not in DTYPES:
            raise ModelSpecError(f"dtype={dtype!r}: accepted {', '.join(DTYPES)}")
        device = resolve_device(device)
        # whatever fails while loading the files (a missing tokenizer, weights that do not fit
        # config.json, a truncated safetensors file) is the model directory's fault, not Ponder's
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelSpecError(f"cannot load the tokenizer of {str(self.path)!r}: {load_failure(exc)}") from exc
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # no table of missing weights: the error below names them
        try:
            self.model, info = AutoModelForCausalLM.from_pretrained(
                self.path, local_files_only=True, dtype="auto" if dtype == "auto" else getattr(torch, dtype),
                output_loading_info=True)
        except Exception as exc:  # noqa: BLE001
            if "Unrecognized configuration class" in str(exc):  # its message lists every causal LM config
                raise ModelSpecError(not_causal_lm(self.path)) from None
            raise ModelSpecError(f"cannot load a causal LM from {str(self.path)!r}: {load_failure(exc)}") from exc
        finally:
            hf_logging.set_verbosity(verbosity)
        if info.get("missing_keys"):  # loaded as a causal LM, its output head would be random
            raise ModelSpecError(not_causal_lm(self.path, sorted(info["missing_keys"])))
        self.model.to(device)
        self.model.eval()
        self.device = device
        self.threads = _threads_for(int(self.model.num_parameters()))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ponder-hf")
        self._decoder = BatchDecoder(self)
        self._lock = threading.Lock()
        self.prefix_cache_size = 64  # entries kept for prefix reuse ...
        self.prefix_cache_tokens = 32_768  # ... and the tokens they may hold together
        self._prefix_cache: OrderedDict[tuple[int, ...], tuple[Any, Any]] = OrderedDict()
        self.eos_ids = self._eos_ids()
        self.think_ids = think_ids(self.tokenizer)
        self.context_length = _context_length(self.model.config)
        self._caps = Capabilities(
            logits=True,
            prefix_continuation=True,
            native_n=True,
            token_counts=True,
            num_parameters=int(self.model.num_parameters()),
            thinking_tags=("<think>", "</think>") if self.think_ids else None,
        )

    # -- set-up helpers ---------------------------------------------------------------------
    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        return ids

    def check_fits(self, n_tokens: int, *, generate: bool) -> None:
        """Refuse a sequence longer than the model's positions: past them a model with rotary
        positions writes garbage and one with learned positions fails with an index error."""
        limit = self.context_length
        if limit is not None and (n_tokens >= limit if generate else n_tokens > limit):
            room = ", leaving no room to generate" if generate and n_tokens <= limit else ""
            raise ContextLengthError(f"the prompt is {n_tokens} tokens; the context window of {self.name} "
                                     f"holds at most {limit}{room}")

    supports_streaming = True

    def capabilities(self) -> Capabilities:
        return self._caps

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    # -- prompts ----------------------------------------------------------------------------
    def render(self, request: GenerationRequest) -> str:
        """The exact text the model sees: chat template with generation prompt, then the prefix."""
        return render_chat(self.tokenizer, request)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])  # check_fits says it

    def prompt_ids(self, text: str) -> list[int]:
        """The tokens of a rendered prompt. An empty prompt (no messages, no prefix, no BOS text)
        starts from the BOS token where the tokenizer has one; a prompt that encodes to no tokens
        otherwise is an error: the model would answer a prompt it never saw."""
        ids = self.encode(text)
        if ids:
            return ids
        bos = self.tokenizer.bos_token_id
        if not text and isinstance(bos, int):
            return [bos]
        if not text:
            raise ModelSpecError(f"the prompt is empty and the tokenizer of {self.name} has no BOS token to "
                                 "start from: give a message or a prefix")
        raise ModelSpecError(f"the tokenizer of {self.name} encodes the prompt ({len(text)} characters) to no "
                             f"tokens: it is empty or not this model's (save the model's own {TOKENIZER_FORMS} "
                             "with it)")

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    # -- generation -------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest, on_token: TokenCallback | None = None) -> Generation:
        job = self._decoder.submit(request, on_token)
        try:
            return await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()  # the caller went away (a client disconnected): stop decoding for it
            raise

    def generate_sync(self, request: GenerationRequest, on_token: TokenCallback | None = None) -> Generation:
        return self._decoder.submit(request, on_token).future.result()

    def _prefill(self, ids: list[int]) -> tuple[Any, Any, int]:
        """KV cache and last logits for ``ids``, reusing the longest cached common prefix.

        Step search and budget forcing continue the same text again and again: the prompt's
        common prefix with an earlier request is not encoded again (it is reported as cached
        prompt tokens in the ledger).
        """
        import torch

        exact = self._prefix_cache.get(tuple(ids))
        if exact is not None:
            self._prefix_cache.move_to_end(tuple(ids))
            return copy_cache(exact[0]), exact[1].clone(), len(ids)
        cache, start = self._reusable(ids)
        out = self.model(input_ids=torch.tensor([ids[start:]], device=self.device), past_key_values=cache,
                         use_cache=True)
        logits = out.logits[:, -1, :].float()
        self._remember(ids, out.past_key_values, logits)
        return out.past_key_values, logits, start

    def _reusable(self, ids: list[int], limit: int | None = None) -> tuple[Any, int]:
        """A copy of the cache of the longest common prefix (>= 16 tokens, at most ``limit``) and
        its length."""
        best_key, best_len = None, 0
        for key in self._prefix_cache:
            m = _common_prefix(key, ids)
            if m > best_len:
                best_key, best_len = key, m
        if limit is not None:
            best_len = min(best_len, limit)
        if best_key is None or best_len < 16:
            return None, 0
        start = min(best_len, len(ids) - 1)  # at least one token runs to give the next logits
        cache = copy_cache(self._prefix_cache[best_key][0])
        extra = cache.get_seq_length() - start
        try:
            if extra > 0:
                cache.crop(-extra)  # transformers 5: a negative count removes that many tokens
        except (ValueError, RuntimeError):  # caches that cannot roll back (sliding windows, ...)
            return None, 0
        return cache, start

    def _remember(self, ids: list[int], cache: Any, last_logits: Any) -> None:
        self._prefix_cache[tuple(ids)] = (copy_cache(cache), last_logits.clone())
        while len(self._prefix_cache) > self.prefix_cache_size or (
                len(self._prefix_cache) > 1 and sum(map(len, self._prefix_cache)) > self.prefix_cache_tokens):
            self._prefix_cache.popitem(last=False)

    def stop_after(self, ids: list[int], min_tokens: int) -> int:
        """The characters of ``ids`` that no stop string may end in: those of the tokens before
        token ``min_tokens`` (a sample does not stop before it has ``min_tokens`` tokens)."""
        return len(self.decode(ids[: min_tokens - 1])) if min_tokens > 1 else 0

    def _emit(self, on_token: TokenCallback, i: int, ids: list[int], emitted: str, stop: list[str],
              final: bool, after: int = 0) -> str:
        """Stream the new text of sample ``i``, holding back what could still become a stop string
        (one ending past ``after`` characters: see ``stop_after``)."""
        text, _ = truncate_at_stop(self.decode(ids), stop, after)
        if not final and stop:
            hold = max(len(s) for s in stop) - 1
            text = text[: max(len(emitted), len(text) - hold)]
        if text.endswith("\ufffd") and not final:  # an incomplete UTF-8 sequence: wait for more
            return emitted
        if len(text) > len(emitted) and text.startswith(emitted):
            on_token(i, text[len(emitted):])
            return text
        return emitted

    def _pick(self, scores: Any, temperature: float, top_p: float, rngs: list[random.Random]) -> Any:
        """A token for each row of ``scores``, drawn by inverse transform with one uniform from that
        row's own generator (``rngs``, one per row), so that a row's token depends on its sample's
        seed only, not on the rows it was drawn with."""
        import torch

        # Below 1e-5 sampling is argmax up to rounding, and a tinier temperature (3e-132 is valid
        # input) underflows to 0 in float32 and makes the distribution NaN.
        if temperature < 1e-5:
            return scores.argmax(dim=-1)
        probs = torch.softmax(scores / temperature, dim=-1)
        if top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            cum = sorted_p.cumsum(dim=-1)
            sorted_p[(cum - sorted_p) > top_p] = 0.0
            probs = torch.zeros_like(probs).scatter(1, order, sorted_p)
        cum = probs.double().cumsum(dim=-1)
        u = torch.tensor([g.random() for g in rngs], dtype=torch.float64, device=cum.device) * cum[:, -1]
        # the first token whose cumulative mass passes u: never one of probability 0
        return torch.searchsorted(cum, u[:, None], right=True)[:, 0].clamp_(max=cum.shape[-1] - 1)

    def _sample(self, prompt_text: str, ids: list[int], logps: list[float] | None, finish: str,
                stop: list[str], min_tokens: int = 0) -> Sample:
        text_ids = ids[:-1] if ids and ids[-1] in self.eos_ids else ids
        full = self.decode(text_ids)
        text, cut = truncate_at_stop(full, stop, self.stop_after(text_ids, min_tokens))
        matched = next((s for s in stop if s and full[len(text):].startswith(s)), None) if cut else None
        if matched is not None:  # its text ends at a stop string, whatever ended the decoding after it
            finish = "stop"
        reasoning = None if self.think_ids is None else reasoning_token_count(prompt_text, list(ids), self.think_ids)
        tokens = [self.decode([t]) for t in ids] if logps is not None else None
        return Sample(text=text, finish_reason=finish, token_ids=list(ids), logprobs=logps,  # type: ignore[arg-type]
                      tokens=tokens, completion_tokens=len(ids), reasoning_tokens=reasoning, matched_stop=matched)

    # -- raw access for scorers -------------------------------------------------------------
    def forward_logits_sync(self, ids: list[int]) -> Any:
        """Next-token logits at every position of ``ids`` (1 x L x V), for PRMs and logprob scoring."""
        import torch

        self.check_fits(len(ids), generate=False)
        with self._lock, torch.inference_mode():
            torch.set_num_threads(self.threads)
            return self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0].float()

    def forward_tail_sync(self, ids: list[int], limit: int | None = None) -> tuple[Any, int]:
        """Logits at positions ``start..len(ids)-1`` (``start`` = the reused cached prefix length,
        at most ``limit``: the first position whose logits the caller needs).

        A PRM scoring a beam that grew by one step runs only the new step's tokens.
        """
        import torch

        self.check_fits(len(ids), generate=False)
        with self._lock, torch.inference_mode():
            torch.set_num_threads(self.threads)
            cache, start = self._reusable(ids, limit)
            out = self.model(input_ids=torch.tensor([ids[start:]], device=self.device), past_key_values=cache,
                             use_cache=True)
            logits = out.logits[0].float()
            self._remember(ids, out.past_key_values, logits[-1:])
            return logits, start

    async def forward_tail(self, ids: list[int], limit: int | None = None) -> tuple[Any, int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.forward_tail_sync, ids, limit)

    async def forward_logits(self, ids: list[int]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.forward_logits_sync, ids)


def load_failure(exc: Exception) -> str:
    """What failed while loading, in one line: the error's type and message, and for weights whose
    sizes differ from config.json (transformers points at a report it logged) what that means."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "mismatched_sizes" in text:
        return "the sizes of its weights do not match its config.json"
    return text if isinstance(exc, (OSError, ValueError, KeyError)) else f"{type(exc).__name__}: {text}"


def not_causal_lm(path: Path, missing: list[str] | None = None) -> str:
    """Why the checkpoint in ``path`` is no policy: what its config.json says it is (a classifier,
    a reward model, an encoder-decoder) and, where transformers loaded it as a causal LM anyway,
    the weights it lacks for that (they would be random, and so would every token)."""
    import json

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    archs = config.get("architectures") if isinstance(config, dict) else None
    what = ", ".join(map(str, archs)) if isinstance(archs, list) and archs else "no architectures"
    kind = config.get("model_type", "unknown") if isinstance(config, dict) else "unknown"
    lacks = ""
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        lacks = f"; loaded as one it lacks the weights {shown}"
        if isinstance(archs, list) and archs and all(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
            return (f"the checkpoint in {str(path)!r} ({what}) lacks the weights {shown}: they would be "
                    "random, and so would every token (hf:PATH needs a complete causal LM)")
    return (f"{str(path)!r} is not a causal language model: its config.json says {what} (model_type "
            f"{kind}){lacks}. hf:PATH needs a causal LM (an architecture such as LlamaForCausalLM or "
            "GPT2LMHeadModel)")


def copy_cache(cache: Any) -> Any:
    """A copy of a KV cache that its user may extend or crop without touching the original. A
    cache of plain ``DynamicLayer``s only ever rebinds its tensors (``update`` concatenates,
    ``crop`` slices; nothing writes into them), so new layer objects sharing the tensors are
    enough: a deep copy cost 20 times as much, a share of search strategies' time. Other caches
    are copied whole."""
    import copy

    from .hf_batch import plain_cache

    if not plain_cache(cache):
        return copy.deepcopy(cache)
    new = copy.copy(cache)
    new.layers = [copy.copy(layer) for layer in cache.layers]
    return new


def _common_prefix(a: tuple[int, ...], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _context_length(config: Any) -> int | None:
    """The most positions the model takes, from its config (None when the config does not say)."""
    text_config = getattr(config, "get_text_config", None)
    config = text_config() if callable(text_config) else config  # multimodal configs nest it
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _threads_for(num_parameters: int) -> int:
    """CPU threads for this model's matrix work (``PONDER_TORCH_THREADS`` overrides).

    A small model's matrices are too small to split: with two or more threads, each step waits on
    a barrier, and when another process holds a core the step stalls (measured here: a 1 M-parameter
    model decoded 16 samples in 75 s with 2 threads on a busy 2-core machine, 0.2 s with 1). Models
    under 100 M parameters therefore use one thread; larger ones keep torch's default.
    """
    import os

    import torch

    env = os.environ.get("PONDER_TORCH_THREADS")
    if env:
        return max(1, int(env))
    global _DEFAULT_THREADS
    if _DEFAULT_THREADS is None:  # torch's own default, before any backend changed it
        _DEFAULT_THREADS = torch.get_num_threads()
    return 1 if num_parameters < 100_000_000 else _DEFAULT_THREADS


_DEFAULT_THREADS: int | None = None
