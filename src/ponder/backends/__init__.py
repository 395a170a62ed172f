"""Backends and the model-spec parser.

Model specs users type:
  ``embedded``            the lab policy shipped in the package (``embedded-prm``: the lab PRM)
  ``hf:PATH``             a local Hugging Face model directory; options after ``?``:
                          ``dtype=auto|float32|bfloat16|float16`` (default float32),
                          ``device=cpu|cuda|cuda:N|auto`` (default cpu)
  ``openai:MODEL@URL``    any OpenAI-compatible server; ``URL1,URL2`` for a pool; options after
                          ``?``: ``tokenizer=PATH`` (continuation through /completions),
                          ``continue=vllm`` (server-side continuation), ``params=7e9``,
                          ``concurrency=16``, ``timeout=60``, ``retries=4``, ``api_key_env=NAME``,
                          ``http=httpx|aiohttp|direct``, ``token_limit=max_completion_tokens``
                          (the README's model-spec table says what each does)
  ``vllm:PATH``           in-process vLLM on a GPU
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelSpecError
from .base import Backend

MODEL_SPEC_FORMS = "embedded, embedded-prm, hf:PATH, openai:MODEL@URL, vllm:PATH"

_CACHE: dict[str, Backend] = {}


def embedded_path(which: str = "policy") -> Path:
    """Directory of a model shipped with the package (``policy`` or ``prm``)."""
    return Path(__file__).resolve().parent.parent / "lab" / "models" / which


def resolve_local_path(spec: str) -> Path | None:
    """The model directory a local spec points to, or None for remote specs."""
    if spec == "embedded":
        return embedded_path("policy")
    if spec == "embedded-prm":
        return embedded_path("prm")
    if spec.startswith("hf:"):
        from .hf_spec import parse_hf_spec

        return parse_hf_spec(spec).path
    return None


def load_backend(spec: str, *, cache: bool = True) -> Backend:
    """Turn a model spec into a Backend (local models are loaded once per process)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"empty model spec; accepted forms: {MODEL_SPEC_FORMS}")
    spec = spec.strip()
    if cache and spec in _CACHE:
        return _CACHE[spec]
    if spec in ("embedded", "embedded-prm") or spec.startswith("hf:"):
        from .hf import HFBackend
        from .hf_spec import HFSpec, parse_hf_spec

        # the shipped models take no options: float32 on the CPU
        parsed = parse_hf_spec(spec) if spec.startswith("hf:") else HFSpec(embedded_path(
            "prm" if spec == "embedded-prm" else "policy"))
        backend: Backend = HFBackend(parsed.path, name=spec if spec.startswith("embedded") else None,
                                     dtype=parsed.dtype, device=parsed.device)
    elif spec.startswith("openai:"):
        from .openai import OpenAIBackend

        backend = OpenAIBackend.from_spec(spec)
    elif spec.startswith("vllm:"):
        from .vllm import VLLMBackend

        backend = VLLMBackend(spec[5:])
    else:
        raise ModelSpecError(f"unknown model spec {spec!r}; accepted forms: {MODEL_SPEC_FORMS}")
    if cache:
        _CACHE[spec] = backend
    return backend


__all__ = ["Backend", "load_backend", "embedded_path", "resolve_local_path", "MODEL_SPEC_FORMS"]
