"""Byte-level BPE tokenizer for the lab models, with a chat template.

* pre-tokenizer: ``Digits(individual_digits=True)`` then ``ByteLevel`` (no prefix
  space), decoder ``ByteLevel``: any text round-trips exactly.
* special tokens (single ids): ``<s>`` (BOS), ``<|end|>`` (EOS, closes every chat
  turn), ``<pad>``, ``<|system|>``, ``<|user|>``, ``<|assistant|>``.
* added non-special tokens (single ids, kept by ``decode``): ``<think>``,
  ``</think>``, ``<backtrack>``, ``<step>`` (PRM step tag), ``Wait``, ``Alternatively``.

Chat rendering (``CHAT_TEMPLATE``; BOS is emitted by the template itself)::

    <s><|system|>\\n{system}<|end|>\\n<|user|>\\n{question}<|end|>\\n<|assistant|>\\n

An assistant turn is ``{text}<|end|>\\n``; generation stops at ``<|end|>``.
"""

from __future__ import annotations

import random
from pathlib import Path

BOS, EOS, PAD = "<s>", "<|end|>", "<pad>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
SPECIAL_TOKENS = [PAD, BOS, EOS] + ROLE_TOKENS
STEP_TAG = "<step>"
ADDED_TOKENS = ["<think>", "</think>", "<backtrack>", STEP_TAG, "Wait", "Alternatively"]
VOCAB_SIZE = 512

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def render_chat(messages: list[dict], add_generation_prompt: bool = True) -> str:
    """Pure-Python equivalent of ``CHAT_TEMPLATE`` (fast path for training data)."""
    out = [BOS]
    for m in messages:
        out.append(f"<|{m['role']}|>\n{m['content']}{EOS}\n")
    if add_generation_prompt:
        out.append("<|assistant|>\n")
    return "".join(out)


def _corpus(seed: int, n: int) -> list[str]:
    from .data import build_examples
    from .prompts import COT_VARIANTS, DRAFT_VARIANTS, ENGLISH_SNIPPETS

    texts = []
    for ex in build_examples(n, seed):
        texts.append(render_chat(ex.messages) + ex.text + EOS)
    texts += (ENGLISH_SNIPPETS + COT_VARIANTS + DRAFT_VARIANTS) * 20
    random.Random(seed).shuffle(texts)
    return texts


def build_tokenizer(seed: int = 0, n_texts: int = 6000, vocab_size: int = VOCAB_SIZE):
    """Train the BPE on lab traces plus English instructions; returns a transformers tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed, n_texts), trainer=trainer)
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in ADDED_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=512,  # train.DEFAULT_ARCH's max_len; export writes the model's own
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def save_tokenizer(tokenizer, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def verify_tokenizer(tokenizer) -> None:
    """Assert the invariants the rest of Ponder relies on (raises AssertionError)."""
    samples = [
        "Let's think step by step.", "  odd  spacing\tand\nnewlines ", "Ünïcödé ✓ 漢字 🙂",
        "<think> 567-227=340; 340-134=206 </think> Answer: 206", "Wait, Alternatively, 12345",
    ]
    for s in samples:
        ids = tokenizer.encode(s, add_special_tokens=False)
        assert tokenizer.decode(ids) == s, (s, tokenizer.decode(ids))
    for t in SPECIAL_TOKENS + ADDED_TOKENS:
        ids = tokenizer.encode(t, add_special_tokens=False)
        assert len(ids) == 1, (t, ids)
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    rendered = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert rendered == render_chat(msgs), rendered
    ids = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    assert ids[0] == tokenizer.bos_token_id, ids
