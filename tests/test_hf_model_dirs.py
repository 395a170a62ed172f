"""Model directories that hf:PATH must refuse or read right: no tokenizer files, checkpoints that
are no causal LM, chat templates that open the thinking themselves, and the spec's dtype and device
options (tiny random models built here)."""

from __future__ import annotations

import shutil

import pytest

from ponder import Engine, GenerationRequest, ModelSpecError
from ponder.backends import load_backend, resolve_local_path
from ponder.backends.hf import HFBackend
from tiny_model import save_tiny_model

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def without_tokenizer(model_dir):
    for name in TOKENIZER_FILES:
        (model_dir / name).unlink()
    return model_dir


def with_tokenizer_of(model_dir, source):
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, model_dir / name)
    return model_dir


# -- tokenizers ------------------------------------------------------------------------------------

def test_a_gpt2_directory_without_tokenizer_files_is_refused(tmp_path):
    """transformers builds an empty tokenizer from a GPT-2 config alone: every prompt encoded to no
    tokens and the model answered from token id 0."""
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(
        tmp_path / "gpt2")
    with pytest.raises(ModelSpecError, match=r"'.*gpt2' has no tokenizer files \(accepted: tokenizer.json, "):
        load_backend(f"hf:{tmp_path / 'gpt2'}", cache=False)


def test_a_llama_directory_without_tokenizer_files_is_refused_without_asking_for_sentencepiece(tmp_path):
    model_dir = without_tokenizer(save_tiny_model(tmp_path / "llama"))
    with pytest.raises(ModelSpecError, match="has no tokenizer files") as err:
        HFBackend(model_dir)
    assert "sentencepiece" not in str(err.value)


def test_an_openai_tokenizer_directory_without_tokenizer_files_is_refused(tmp_path):
    """The same for ``openai:...?tokenizer=DIR`` (it loads when a prompt is first rendered; no
    server is reached here)."""
    import asyncio

    from transformers import GPT2Config

    GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=1, n_head=2).save_pretrained(tmp_path / "tok")
    engine = Engine.from_spec(f"openai:m@http://127.0.0.1:9/v1?tokenizer={tmp_path / 'tok'}&retries=0&timeout=1")
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], prefix="<think>", max_tokens=5)
    with pytest.raises(ModelSpecError, match=r"tokenizer=.*cannot load a tokenizer .*has no tokenizer files"):
        asyncio.run(engine.generate(request))


def test_a_prompt_that_encodes_to_no_tokens_is_an_error(tiny_model_dir, monkeypatch):
    backend = HFBackend(tiny_model_dir)
    monkeypatch.setattr(backend, "encode", lambda text: [])
    request = GenerationRequest(messages=[{"role": "user", "content": "2+2?"}], max_tokens=4)
    with pytest.raises(ModelSpecError, match=r"encodes the prompt \(\d+ characters\) to no tokens"):
        backend.generate_sync(request)


# -- checkpoints that are no causal LM ------------------------------------------------------------

def classifier(kind, vocab):
    from transformers import (BertConfig, BertForSequenceClassification, Qwen2Config,
                              Qwen2ForTokenClassification)

    if kind == "Qwen2ForTokenClassification":  # a PRM-style token classifier
        return Qwen2ForTokenClassification(Qwen2Config(
            vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=128, num_labels=2))
    return BertForSequenceClassification(BertConfig(  # a reward-model-style sequence classifier
        vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128))


@pytest.mark.parametrize("kind, missing", [("Qwen2ForTokenClassification", "lm_head.weight"),
                                           ("BertForSequenceClassification", "cls.predictions")])
def test_a_classifier_is_no_policy(tmp_path, tiny_model_dir, kind, missing):
    """Loaded as a causal LM it got a random output head and wrote garbage, with exit code 0."""
    model_dir = tmp_path / kind
    classifier(kind, 300).save_pretrained(model_dir)
    with_tokenizer_of(model_dir, tiny_model_dir)
    with pytest.raises(ModelSpecError, match=f"not a causal language model: its config.json says {kind} .*"
                                             f"lacks the weights .*{missing}.*hf:PATH needs a causal LM"):
        HFBackend(model_dir)


def test_a_causal_lm_that_lacks_weights_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    model_dir = save_tiny_model(tmp_path / "partial")
    weights = load_file(model_dir / "model.safetensors")
    del weights["model.norm.weight"]
    save_file(weights, model_dir / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelSpecError, match=r"\(LlamaForCausalLM\) lacks the weights model.norm.weight: they "
                                             "would be random"):
        HFBackend(model_dir)


def test_an_encoder_decoder_is_refused_in_one_short_line(tmp_path, tiny_model_dir):
    from transformers import T5Config, T5ForConditionalGeneration

    model_dir = tmp_path / "t5"
    T5ForConditionalGeneration(T5Config(vocab_size=300, d_model=32, d_ff=64, num_layers=1, num_heads=2,
                                        d_kv=16)).save_pretrained(model_dir)
    with_tokenizer_of(model_dir, tiny_model_dir)
    with pytest.raises(ModelSpecError, match=r"T5ForConditionalGeneration \(model_type t5\)") as err:
        HFBackend(model_dir)
    assert len(str(err.value)) < 400 and "\n" not in str(err.value)  # it listed ~3 KB of config classes


def test_the_lab_prm_still_loads_for_its_scorer():
    from ponder import Problem
    from ponder.lab import PRM_DIR
    from ponder.scorers.prm import PRMScorer

    scorer = PRMScorer()
    scorer.check(Engine.from_spec("embedded"))
    assert scorer._backend.path == PRM_DIR
    assert scorer.input_ids(Problem.from_question("1+1?"), "1+1=2;")


# -- chat templates that open the thinking --------------------------------------------------------

R1_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
               "{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}")


@pytest.mark.parametrize("spec", ["budget(think=6, seed=0)", "think(mode=budget, tokens=6, max_tokens=4)"])
def test_budget_forcing_does_not_open_the_thinking_a_template_opened(tmp_path, spec):
    from ponder import solve

    backend = HFBackend(save_tiny_model(tmp_path / "r1", chat_template=R1_TEMPLATE))
    prompts = []
    render = backend.render
    backend.render = lambda request: prompts.append(render(request)) or prompts[-1]
    result = solve("What is 2+2?", model=Engine(backend), strategy=spec)
    # the thinking call goes on from the template's own open tag (before: "<think>\n<think>"), and
    # the answer call from the thinking it wrote
    assert prompts[0].endswith("<|assistant|><think>\n") and len(prompts) >= 2, prompts
    assert all(p.startswith(prompts[0]) for p in prompts)
    thinking = result.ledger.entries[0]
    # every token of the thinking call is a thinking token, in the ledger and in the trace
    assert result.trace["thinking_tokens"] == thinking.completion_tokens == thinking.reasoning_tokens
    assert prompts[-1].rstrip().endswith("</think>" if "mode=budget" in spec else "</think> Final Answer:")


QWEN3_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
                  "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking is defined and not "
                  "enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}")


@pytest.mark.parametrize("template, ends", [(R1_TEMPLATE, "<|assistant|><think>\n </think>"),
                                            (QWEN3_TEMPLATE, "<|assistant|><think>\n\n</think>\n\n")])
def test_thinking_off_writes_one_empty_thinking_span(tmp_path, template, ends):
    """think(mode=off) added "<think> </think>" after what the template wrote: after its open tag
    (R1 distills) or after the empty span it wrote itself (Qwen3 with enable_thinking false)."""
    from ponder import solve

    backend = HFBackend(save_tiny_model(tmp_path / "m", chat_template=template))
    prompts = []
    render = backend.render
    backend.render = lambda request: prompts.append(render(request)) or prompts[-1]
    solve("What is 2+2?", model=Engine(backend), strategy="think(mode=off, max_tokens=4)")
    assert prompts[-1].endswith(ends) and prompts[-1].count("<think>") == 1, prompts


# -- dtype and device ---------------------------------------------------------------------------

def test_hf_spec_options_pick_dtype_and_device(tmp_path):
    import torch

    model_dir = save_tiny_model(tmp_path / "bf16", dtype="bfloat16")
    assert load_backend(f"hf:{model_dir}", cache=False).model.dtype == torch.float32  # the default
    auto = load_backend(f"hf:{model_dir}?dtype=auto&device=cpu", cache=False)
    assert auto.model.dtype == torch.bfloat16 and auto.model.device.type == "cpu"
    half = load_backend(f"hf:{model_dir}?dtype=float16", cache=False)
    assert half.model.dtype == torch.float16
    assert auto.generate_sync(GenerationRequest(messages=[{"role": "user", "content": "2+2?"}],
                                                max_tokens=3)).samples[0].token_ids
    assert resolve_local_path(f"hf:{model_dir}?dtype=auto") == model_dir


def test_the_lab_models_stay_float32_on_the_cpu():
    import torch

    backend = load_backend("embedded-prm", cache=False)  # float16 on disk
    assert backend.model.dtype == torch.float32 and backend.device == "cpu"


@pytest.mark.parametrize("option, needle", [
    ("precision=fp16", r"unknown option\(s\) \['precision'\] in .*; accepted: dtype, device"),
    ("dtype=float64", r"dtype= accepts auto, float32, bfloat16, float16 .*got 'float64'"),
    ("device=gpu", r"device= accepts cpu, cuda, cuda:N, auto, got 'gpu'"),
    ("dtype", r"option 'dtype' in .* has no value"),
])
def test_a_bad_hf_spec_option_is_named_with_what_is_accepted(tiny_model_dir, option, needle):
    with pytest.raises(ModelSpecError, match=needle):
        load_backend(f"hf:{tiny_model_dir}?{option}", cache=False)


def test_a_gpu_that_torch_does_not_see_is_a_clear_error(tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(ModelSpecError, match="device=cuda:0 names a GPU, but torch sees no GPU; use device=cpu"):
        load_backend(f"hf:{tiny_model_dir}?device=cuda:0", cache=False)
    assert load_backend(f"hf:{tiny_model_dir}?device=auto", cache=False).device == "cpu"
