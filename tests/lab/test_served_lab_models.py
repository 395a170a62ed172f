"""The shipped lab models through the OpenAI path: `transformers serve` hosting them, the openai SDK
(inside Ponder's openai backend) as client, continuation through the completions endpoint."""

from __future__ import annotations

from ponder import Engine, GenerationRequest
from ponder.backends import embedded_path, load_backend
from servers import transformers_serve


async def test_embedded_policy_served_by_transformers_serve_answers_arith():
    path = embedded_path("policy")
    with transformers_serve(path) as url:
        engine = Engine(load_backend(f"openai:{path}@{url}?tokenizer={path}", cache=False))
        messages = [{"role": "user", "content": "Compute left to right: 55-15-19"}]
        [s] = await engine.generate(GenerationRequest(messages=messages, prefix="<think> 55-15=40;",
                                                      max_tokens=40, temperature=0.0))
        entry = engine.ledger.entries[0]
        assert entry.prompt_tokens and entry.prompt_tokens > 10 and entry.completion_tokens
        assert "40-19=21" in s.text and "21" in s.text.split("Answer:")[-1]
