"""Canonical instruction strings used to train (and later prompt) the lab policy.

Strategies should reuse these exact strings; the policy was also trained on the
paraphrases listed in ``COT_VARIANTS`` / ``DRAFT_VARIANTS`` so it generalises a
little to other wordings.  An instruction may be given as the system message or
prefixed to the user message (separated by a newline); both were trained.
"""

COT_INSTRUCTION = "Let's think step by step."
DRAFT_INSTRUCTION = (
    "Think step by step, but only keep a minimum draft for each thinking step, "
    "with 5 words at most."
)

COT_VARIANTS = [
    COT_INSTRUCTION,
    "Let's think step by step",
    "Think step by step.",
    "Let us work this out step by step.",
    "Reason step by step before answering.",
    "Show your reasoning step by step.",
    "Solve it step by step.",
]

DRAFT_VARIANTS = [
    DRAFT_INSTRUCTION,
    "Think step by step, but only keep a minimum draft for each thinking step.",
    "Only keep a minimum draft for each thinking step, with 5 words at most.",
    "Be brief: keep only a short draft of each step.",
    "Think briefly, writing at most 5 words per step.",
    "Keep a minimal draft of each step.",
]

# Generic English sentences mixed into the tokenizer corpus so arbitrary
# instructions tokenize into sensible pieces (the tokenizer is byte-level anyway).
ENGLISH_SNIPPETS = [
    "You are a helpful assistant.",
    "You are a careful math assistant. Answer concisely.",
    "Please solve the following problem and put the final answer after 'Answer:'.",
    "Let's verify the answer before we finish.",
    "Wait, let me check that again.",
    "Alternatively, we could try a different approach.",
    "The answer is",
    "What is the result of this computation?",
    "Explain your reasoning, then give the final answer.",
    "First, compute the value. Then, check it. Finally, report it.",
    "Hello! How are you today?",
    "Think carefully about each step and double-check your arithmetic.",
    "Use the numbers to make the target number.",
    "Here is a question for you:",
    "Give only the final answer.",
    "This is a test of reasoning with a small language model.",
    "Summarize the solution in one sentence.",
    "Is the following step correct? Yes or no.",
]

__all__ = [
    "COT_INSTRUCTION",
    "DRAFT_INSTRUCTION",
    "COT_VARIANTS",
    "DRAFT_VARIANTS",
    "ENGLISH_SNIPPETS",
]
