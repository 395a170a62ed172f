"""Canonical instruction strings used by the prompting strategies (and taught to the lab model)."""

from __future__ import annotations

# Kojima et al., "Large Language Models are Zero-Shot Reasoners" (arXiv 2205.11916).
COT_INSTRUCTION = "Let's think step by step."

# Xu et al., "Chain of Draft: Thinking Faster by Writing Less" (arXiv 2502.18600), its system prompt
# without the '####' separator sentence: Ponder reads the answer after 'Answer:' or '####'.
DRAFT_INSTRUCTION = (
    "Think step by step, but only keep a minimum draft for each thinking step, with 5 words at most."
)


def with_instruction(messages: list[dict[str, str]], instruction: str) -> list[dict[str, str]]:
    """Put ``instruction`` in the system message (prepended to an existing one), keeping the rest."""
    if not instruction:
        return list(messages)
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{instruction}\n{first.get('content', '')}".strip()
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
