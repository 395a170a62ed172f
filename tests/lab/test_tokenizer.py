"""The shipped tokenizer round-trips arbitrary text and keeps special tokens whole."""

import pytest

pytest.importorskip("transformers")

from ponder.lab import POLICY_DIR, PRM_DIR  # noqa: E402
from ponder.lab.tokenizer import ADDED_TOKENS, SPECIAL_TOKENS, render_chat  # noqa: E402

TEXTS = [
    "Let's think step by step.",
    "Think step by step, but only keep a minimum draft for each thinking step, with 5 words at most.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines",
    "Ünïcödé — 漢字 🙂 ∑",
    "<think> 567-227=340; 340-134=206 </think> Answer: 206",
    "Wait, Alternatively, Waiting WAIT <backtrack><step>",
    "1234567890 3.14159 -42 1/3",
    "",
]


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(POLICY_DIR))


@pytest.mark.parametrize("text", TEXTS)
def test_roundtrip(tok, text):
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text


def test_digits_are_single(tok):
    ids = tok.encode("9876", add_special_tokens=False)
    assert [tok.decode([i]) for i in ids] == ["9", "8", "7", "6"]


def test_special_tokens_single_ids(tok):
    for t in SPECIAL_TOKENS + ADDED_TOKENS:
        ids = tok.encode(t, add_special_tokens=False)
        assert len(ids) == 1, t
        assert tok.convert_ids_to_tokens(ids[0]) == t
    for t in ("+", "-", ";"):
        assert len(tok.encode(t, add_special_tokens=False)) == 1
    ids = tok.encode(" 848 Wait, 206*4=824", add_special_tokens=False)
    assert tok.convert_tokens_to_ids("Wait") in ids
    assert tok.bos_token == "<s>" and tok.eos_token == "<|end|>" and tok.pad_token == "<pad>"
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3


def test_chat_template(tok):
    msgs = [{"role": "system", "content": "Let's think step by step."},
            {"role": "user", "content": "Compute left to right: 1+2"},
            {"role": "assistant", "content": "<think> 1+2=3 </think> Answer: 3"},
            {"role": "user", "content": "And 3+4?"}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text == render_chat(msgs)
    assert text.startswith("<s><|system|>\nLet's think step by step.<|end|>\n<|user|>\n")
    assert text.endswith("<|user|>\nAnd 3+4?<|end|>\n<|assistant|>\n")
    ids = tok.apply_chat_template(msgs[:2], add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):
        ids = ids["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    no_gen = tok.apply_chat_template(msgs[:2], add_generation_prompt=False, tokenize=False)
    assert not no_gen.endswith("<|assistant|>\n")


def test_prm_tokenizer_matches_policy(tok):
    from transformers import AutoTokenizer

    prm_tok = AutoTokenizer.from_pretrained(str(PRM_DIR))
    assert prm_tok.get_vocab() == tok.get_vocab()


def test_training_encoding_matches_template(tok):
    from ponder.lab.data import build_examples, encode_examples

    for ex, (ids, labels) in zip(build_examples(20, seed=9), encode_examples(tok, build_examples(20, seed=9))):
        full = tok.apply_chat_template(ex.messages + [{"role": "assistant", "content": ex.text}],
                                       tokenize=False)
        assert full.endswith(ex.text + "<|end|>\n")
        assert tok.encode(full, add_special_tokens=False)[: len(ids)] == ids
        prompt = tok.apply_chat_template(ex.messages, add_generation_prompt=True, tokenize=False)
        n_prompt = len(tok.encode(prompt, add_special_tokens=False))
        assert all(x == -100 for x in labels[:n_prompt])
        assert labels[-1] == tok.eos_token_id
