"""Mixing task traces into chat training examples with loss masks.

Each example is a list of chat messages (optional system instruction, user
question, possibly with the instruction prefixed) and assistant *parts*
``(text, trainable)``.  Instruction styles decide the trace style: a draft
instruction gives a draft trace, otherwise a full trace in one of the
behaviour styles (plain, ``Wait,`` verification, ``Alternatively,`` switch,
``<backtrack>``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .prompts import COT_VARIANTS, DRAFT_VARIANTS
from .tasks import TASKS, LabProblem

PROMPT_STYLES = {"plain": 0.40, "cot_system": 0.15, "cot_prefix": 0.15,
                 "draft_system": 0.15, "draft_prefix": 0.15}
TRACE_STYLES = {"full": 0.52, "verify": 0.18, "switch": 0.14, "backtrack": 0.16}
DEFAULT_MIX = {"arith": 0.7, "countdown": 0.3}


@dataclass
class Example:
    problem: LabProblem
    messages: list[dict]
    parts: list[tuple[str, bool]]
    style: str

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.parts)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_messages(question: str, prompt_style: str, rng: random.Random) -> tuple[list[dict], bool]:
    """Chat messages for a prompt style; returns ``(messages, wants_draft)``."""
    if prompt_style == "plain":
        return [{"role": "user", "content": question}], False
    kind, where = prompt_style.split("_")
    instr = rng.choice(DRAFT_VARIANTS if kind == "draft" else COT_VARIANTS)
    if where == "system":
        msgs = [{"role": "system", "content": instr}, {"role": "user", "content": question}]
    else:
        msgs = [{"role": "user", "content": f"{instr}\n{question}"}]
    return msgs, kind == "draft"


def training_problems(n: int, seed: int, mix: dict[str, float] | None = None) -> list[LabProblem]:
    """``n`` problems mixed over tasks and their training difficulties."""
    mix = mix or DEFAULT_MIX
    rng = random.Random(f"mix:{seed}")
    out: list[LabProblem] = []
    total = sum(mix.values())
    for name, w in mix.items():
        task = TASKS[name]
        k = round(n * w / total)
        diffs = getattr(task, "TRAIN_DIFFICULTIES", task.DEFAULT_DIFFICULTIES)
        per = -(-k // len(diffs))
        probs = []
        for d in diffs:
            probs += task.generate(per, seed=seed * 7919 + 101, difficulty=d)
        rng.shuffle(probs)
        out += probs[:k]
    rng.shuffle(out)
    return out[:n]


def build_examples(n: int, seed: int, mix: dict[str, float] | None = None,
                   prompt_styles: dict[str, float] | None = None,
                   trace_styles: dict[str, float] | None = None) -> list[Example]:
    """``n`` training examples (deterministic per seed)."""
    rng = random.Random(f"examples:{seed}")
    out = []
    for p in training_problems(n, seed, mix):
        msgs, draft = make_messages(p.question, _pick(rng, prompt_styles or PROMPT_STYLES), rng)
        style = "draft" if draft else _pick(rng, trace_styles or TRACE_STYLES)
        task = TASKS[p.meta["task"]]
        out.append(Example(p, msgs, task.trace_parts(p, rng, style), style))
    return out


def encode_examples(tokenizer, examples: list[Example], max_len: int = 512):
    """Token ids and labels (-100 outside trainable assistant tokens) per example.

    The sequence is ``render_chat(messages) + assistant_text + <|end|>``; labels
    cover the assistant text (minus untrainable parts) and the closing ``<|end|>``.
    """
    from .tokenizer import EOS, render_chat

    texts, spans = [], []
    for ex in examples:
        prompt = render_chat(ex.messages)
        pos = len(prompt)
        masked = []
        for t, trainable in ex.parts:
            if not trainable:
                masked.append((pos, pos + len(t)))
            pos += len(t)
        texts.append(prompt + ex.text + EOS)
        spans.append((len(prompt), masked))
    encs = tokenizer._tokenizer.encode_batch(texts, add_special_tokens=False)
    out = []
    for enc, (start, masked) in zip(encs, spans):
        ids = enc.ids[:max_len]
        labels = []
        for (a, b), tid in zip(enc.offsets[:max_len], ids):
            ok = a >= start and not any(a < e and b > s for s, e in masked)
            labels.append(tid if ok else -100)
        out.append((ids, labels))
    return out
