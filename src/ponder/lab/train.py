"""Training loops and export for the lab policy and PRM (plain PyTorch).

``train_policy`` trains a small ``LlamaForCausalLM`` on mixed task traces
(loss only on trainable assistant tokens, AdamW, warmup + cosine schedule);
``train_prm`` initialises a copy of the policy and trains it as a
Math-Shepherd style PRM on step-tagged traces (two-way ``+``/``-`` loss at the
step-tag positions).  Both export with ``save_pretrained`` (safetensors,
float16 weights) plus the tokenizer and a ``generation_config.json``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from ..errors import ModelSpecError, PonderError

# One intra-op thread: on a shared 2-core machine two threads were measured 3-15x
# slower per step than one (thread barriers stall whenever a core is busy elsewhere).
DEFAULT_THREADS = int(os.environ.get("PONDER_LAB_THREADS", "1"))
DEFAULT_ARCH = {"d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 512, "max_len": 512}


def log(msg: str) -> None:
    """A progress line, on stderr: stdout is the commands' result (``lab train`` prints JSON there)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class LabError(PonderError, ValueError):
    """A lab command was given something it cannot use (an output path it cannot write, ...)."""


# What a lab training writes in its --out (``export``: save_pretrained's weights and configs, the
# tokenizer's files; ``lab_training.json``; a PRM's ``ponder_prm.json``): the files a later training
# into the same directory may replace.
LAB_OUTPUTS = frozenset({
    "config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "chat_template.jinja", "lab_training.json", "ponder_prm.json"})
TRAINING_RECORD = "lab_training.json"


def check_out_dir(out_dir: str | Path) -> Path:
    """Make ``out_dir`` (parents too) and check that files can be written in it, before any
    training: a model is exported there only at the end.

    An empty ``out_dir`` is refused (it would be the current directory). A directory that holds
    files must be a previous lab training's output (its ``lab_training.json`` and only the files
    a training writes, ``LAB_OUTPUTS``): the new model replaces those, and ``export`` removes the
    one the new model would otherwise inherit (``ponder_prm.json`` under a policy). Anything else
    is refused rather than overwritten or left beside the new model; nothing is deleted here."""
    if not str(out_dir).strip():
        raise LabError("--out is empty; give a directory for the model (it is made if missing)")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise LabError(f"--out {str(out)!r} is a file; give a directory for the model (it is made if missing)")
    try:
        held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    except OSError as exc:
        raise LabError(f"--out {str(out)!r} cannot be read ({exc.strerror or exc}); give a directory "
                       "that can be made and written to") from exc
    foreign = [name for name in held if name not in LAB_OUTPUTS]
    if foreign or (held and TRAINING_RECORD not in held):
        what = (f"files a lab training does not write ({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''})"
                if foreign else f"files but no {TRAINING_RECORD} (not a lab training's output)")
        raise LabError(f"--out {str(out)!r} holds {what}; give a new or empty directory, or one a lab training "
                       "wrote (its model is then replaced); nothing was deleted")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise LabError(f"--out {str(out)!r} cannot be written ({exc.strerror or exc}); give a directory "
                       "that can be made and written to") from exc
    return out


def check_policy_dir(path: str | Path, option: str = "--policy", optional: bool = True) -> None:
    """Refuse, before any work, a ``--policy`` that is not a lab policy: it must be a model
    directory whose config and tokenizer load, the tokenizer the lab's (its special tokens
    and chat template), with weights, and not a PRM (``ponder_prm.json``: a PRM started from
    would be trained again as if it were the policy, and sampled as one). ``optional``: the
    message may say to leave ``--policy`` out (the shipped policy is the default)."""
    from ..backends.base import is_reward_model
    from .evaluate import check_model_files
    from .tokenizer import verify_tokenizer

    tok = check_model_files(path, option)
    shipped = ", or leave --policy out for the shipped one" if optional and option == "--policy" else ""
    if is_reward_model(path):
        raise ModelSpecError(f"{option} {str(path)!r} is a process reward model (its directory holds "
                             "ponder_prm.json), not a policy; give a policy saved by ponder lab train --kind "
                             f"policy{shipped}")
    try:
        verify_tokenizer(tok)
    except Exception as exc:  # noqa: BLE001 - an AssertionError naming the token or text that failed
        raise ModelSpecError(f"{option} {str(path)!r} is not a lab policy: its tokenizer lacks the lab's "
                             f"special tokens or chat template ({' '.join(str(exc).split())[:120]}); give "
                             f"a policy saved by ponder lab train{shipped}") from exc


def make_model(tokenizer, d_model=128, n_layers=4, n_heads=4, d_ff=512, max_len=512, seed=0):
    """A fresh ``LlamaForCausalLM`` sized for CPU training (tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=d_model, intermediate_size=d_ff,
        num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_heads,
        max_position_embeddings=max_len, tie_word_embeddings=True, rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, rope_theta=10000.0,
    )
    return LlamaForCausalLM(cfg)


def _batches(lengths: list[int], batch_size: int, rng: random.Random, bucket: int = 50):
    """Endless random batches of indices; similar lengths are grouped to save padding."""
    n = len(lengths)
    while True:
        idx = list(range(n))
        rng.shuffle(idx)
        batches = []
        for c in range(0, n, batch_size * bucket):
            chunk = sorted(idx[c:c + batch_size * bucket], key=lambda i: lengths[i])
            batches += [chunk[i:i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size)]
        rng.shuffle(batches)
        yield from batches


def _pad(seqs: list[list[int]], value: int):
    import torch

    L = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (L - len(s)) for s in seqs], dtype=torch.long)


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _optimizer(model, lr: float, weight_decay: float = 0.05):
    import torch

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


def export(model, tokenizer, out_dir: str | Path, extra_files: dict[str, dict] | None = None,
           generation: bool = True) -> None:
    """Save weights (float16 safetensors), tokenizer, generation config and extra JSON files.

    ``save_pretrained`` writes the weights' dtype into config.json (``"dtype": "float16"``), so a
    plain ``AutoModelForCausalLM.from_pretrained`` computes in float16; Ponder's loaders ask for
    ``dtype=torch.float32`` (what the models were trained and evaluated in). A ``ponder_prm.json``
    that an earlier training left in ``out_dir`` goes unless this export writes one: a policy
    trained over a PRM's directory would otherwise be read as a PRM."""
    import torch
    from transformers import GenerationConfig

    out = check_out_dir(out_dir)
    model = model.to(torch.float16)
    if generation:
        model.generation_config = GenerationConfig(
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, do_sample=True, temperature=1.0, top_p=1.0,
            top_k=0, max_new_tokens=384,
        )
    if "ponder_prm.json" not in (extra_files or {}):  # a PRM's, left by an earlier training into out
        (out / "ponder_prm.json").unlink(missing_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    model.to(torch.float32)
    tokenizer.model_max_length = model.config.max_position_embeddings  # what the model takes
    tokenizer.save_pretrained(out)
    for name, obj in (extra_files or {}).items():
        (out / name).write_text(json.dumps(obj, indent=2) + "\n")


def _fit(model, loss_of, lengths: list[int], *, steps: int, batch_size: int, lr: float, warmup: int,
         rng: random.Random, log_every: int, label: str) -> float:
    """The training loop both models share: AdamW, warm-up then cosine, clipping, an EMA of the loss.

    ``loss_of(batch_indices)`` computes one batch's loss; returns the final EMA loss.
    """
    import torch

    opt = _optimizer(model, lr)
    model.train()
    batches = _batches(lengths, batch_size, rng)
    t0 = time.time()
    ema = None
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, steps, lr, warmup)
        loss = loss_of(next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % log_every == 0 or step == steps - 1:
            log(f"{label} {step} loss {ema:.4f} lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
    model.eval()
    return float(ema if ema is not None else float("nan"))


def train_policy(out_dir: str | Path, steps: int = 1500, seed: int = 0, batch_size: int = 64,
                 lr: float = 2e-3, task: str = "mix", arch: dict | None = None,
                 n_examples: int | None = None, warmup: int = 100, log_every: int = 50,
                 tokenizer_dir: str | Path | None = None, init_from: str | Path | None = None,
                 mix: dict[str, float] | None = None, data_seed: int | None = None,
                 trace_styles: dict[str, float] | None = None,
                 threads: int = DEFAULT_THREADS) -> dict:
    """Train the policy on ``task`` (``arith``, ``countdown`` or ``mix``) and export it.

    ``init_from`` continues from an exported checkpoint (its tokenizer is reused);
    ``mix`` overrides the task weights of ``mix``; ``data_seed`` the example seed (default
    ``seed + 1``; the summary and ``lab_training.json`` record the one used);
    ``trace_styles`` the behaviour-style weights (default ``data.TRACE_STYLES``).

    Returns a summary dict (steps, seconds, final loss, parameter count).
    """
    import torch

    from .data import DEFAULT_MIX, build_examples, encode_examples
    from .tokenizer import build_tokenizer, load_tokenizer, verify_tokenizer

    check_out_dir(out_dir)  # before the work, not when exporting at the end
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    arch = {**DEFAULT_ARCH, **(arch or {})}
    if init_from:
        tokenizer_dir = init_from
    tok = load_tokenizer(tokenizer_dir) if tokenizer_dir else build_tokenizer(seed=seed)
    verify_tokenizer(tok)
    mix = (mix or DEFAULT_MIX) if task == "mix" else {task: 1.0}
    n_examples = n_examples or steps * batch_size
    t0 = time.time()
    data_seed = seed + 1 if data_seed is None else data_seed
    examples = build_examples(n_examples, seed=data_seed, mix=mix, trace_styles=trace_styles)
    data = encode_examples(tok, examples, max_len=arch["max_len"])
    log(f"built {len(data)} examples in {time.time() - t0:.1f}s")
    if init_from:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(init_from), dtype=torch.float32)
    else:
        model = make_model(tok, seed=seed, **arch)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model parameters: {n_params}")
    def lm_loss(idx: list[int]):
        return policy_loss(model, data, idx, tok.pad_token_id)

    t0 = time.time()
    ema = _fit(model, lm_loss, [len(d[0]) for d in data], steps=steps, batch_size=batch_size, lr=lr,
               warmup=warmup, rng=rng, log_every=log_every, label="step")
    export(model, tok, out_dir)
    summary = {"kind": "policy", "task": task, "mix": mix, "steps": steps,
               "init_from": "previous stage" if init_from else None, "batch_size": batch_size,
               "seed": seed, "data_seed": data_seed, "lr": lr, "arch": arch, "trace_styles": trace_styles,
               "params": n_params,
               "seconds": round(time.time() - t0, 1), "final_loss": round(ema, 4)}
    (Path(out_dir) / "lab_training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def policy_loss(model, data: list, idx: list[int], pad_id: int):
    """The policy's training loss on the examples ``idx`` of ``data`` (token ids, labels): next-token
    cross-entropy on the trainable assistant tokens, the batch padded with ``pad_id``."""
    import torch

    ids = _pad([data[i][0] for i in idx], pad_id)
    labels = _pad([data[i][1] for i in idx], -100)
    mask = (ids != pad_id).long()
    logits = model(input_ids=ids, attention_mask=mask).logits
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)).float(), labels[:, 1:].reshape(-1), ignore_index=-100)


def deepen(model, extra_layers: int, seed: int = 0):
    """``model`` with ``extra_layers`` new decoder layers on top, started as the identity
    (their attention and MLP output projections are zero), so it computes what it did.

    A step check is a comparison of what the model predicts at each result digit with the
    digit written; the policy computes its prediction in its last layer, so reading the
    comparison at a later tag needs layers the policy does not have.  The result is a plain
    ``LlamaForCausalLM`` with more layers.
    """
    import copy

    import torch

    if extra_layers <= 0:
        return model
    torch.manual_seed(seed)
    cfg = copy.deepcopy(model.config)
    n = cfg.num_hidden_layers
    cfg.num_hidden_layers = n + extra_layers
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = list(cfg.layer_types) + [cfg.layer_types[-1]] * extra_layers
    deeper = type(model)(cfg)
    missing, unexpected = deeper.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(".layers." in k and int(k.split(".layers.")[1].split(".")[0]) >= n
                                  for k in missing), (missing, unexpected)
    with torch.no_grad():
        for layer in deeper.model.layers[n:]:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return deeper


def prm_example_ids(tokenizer, messages: list[dict], assistant_text: str, step_tag: str):
    """Token ids of the PRM input and the positions of its step tags."""
    from .tasks import insert_step_tags
    from .tokenizer import render_chat

    text = render_chat(messages) + insert_step_tags(assistant_text, step_tag)
    ids = tokenizer.encode(text, add_special_tokens=False)
    tag_id = tokenizer.convert_tokens_to_ids(step_tag)
    return ids, [i for i, t in enumerate(ids) if t == tag_id]


def train_prm(out_dir: str | Path, policy_dir: str | Path, steps: int = 600, seed: int = 0,
              batch_size: int = 32, lr: float = 1e-3, n_onpolicy: int = 1200,
              samples_per_problem: int = 4, n_synthetic: int = 12000, warmup: int = 50,
              log_every: int = 50, threads: int = DEFAULT_THREADS,
              init_from: str | Path | None = None, lm_weight: float = 0.0, n_drill: int = 0,
              extra_layers: int = 0, digit_labels: bool = False,
              synthetic_styles: dict[str, float] | None = None,
              task_mix: dict[str, float] | None = None, operand_labels: bool | tuple[str, ...] = False,
              tag_weight: float = 1.0) -> dict:
    """Train a step-tag PRM initialised from the policy and export it (with ``ponder_prm.json``).

    Training data: synthetic traces (all behaviour styles, with and without
    injected slips) plus on-policy samples of the policy, all labelled exactly
    by the tasks' ``step_labels``.  ``lm_weight > 0`` adds the language-model loss on
    the assistant tokens of fully correct traces, so the arithmetic the PRM inherited
    from the policy (what it needs to check a step) is kept while it learns to judge.
    ``n_drill`` adds step-check drills and ``digit_labels`` labels every written result
    digit too (``prm_data.drill_items``); ``extra_layers`` stacks identity-initialised
    layers on the starting model (``deepen``), room to compare a result with the model's
    own prediction and carry the verdict to the tag; ``synthetic_styles`` weights the
    synthetic traces' behaviours (default ``prm_data.SYNTHETIC_STYLES``), ``task_mix`` the
    tasks' shares of the traces and samples; ``operand_labels`` labels the operands,
    operators and answer digits of arith traces by whether they agree with the question
    (``prm_data.chain_token_labels``; for countdown, whether each number is still available,
    ``prm_data.available_token_labels``; ``True`` or the names of the tasks); ``tag_weight``
    weighs the step tags' loss against the digits' and operands'.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from .prm_data import PRM_SPEC, build_prm_dataset

    check_out_dir(out_dir)  # before the work, not when exporting at the end
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    from .tokenizer import load_tokenizer

    tok = load_tokenizer(policy_dir)
    t0 = time.time()
    data_seed = seed + 7
    data = build_prm_dataset(tok, policy_dir, seed=data_seed, n_onpolicy=n_onpolicy,
                             samples_per_problem=samples_per_problem, n_synthetic=n_synthetic,
                             n_drill=n_drill, digit_labels=digit_labels,
                             synthetic_styles=synthetic_styles, task_mix=task_mix,
                             operand_labels=operand_labels)
    log(f"PRM dataset: {len(data)} sequences in {time.time() - t0:.0f}s")
    model = AutoModelForCausalLM.from_pretrained(str(init_from or policy_dir), dtype=torch.float32)
    model = deepen(model, extra_layers, seed)
    good = tok.convert_tokens_to_ids(PRM_SPEC["good_token"])
    bad = tok.convert_tokens_to_ids(PRM_SPEC["bad_token"])
    tag_id = tok.convert_tokens_to_ids(PRM_SPEC["step_tag"])

    def tag_loss(idx: list[int]):
        ids = _pad([data[i][0] for i in idx], tok.pad_token_id)
        mask = (ids != tok.pad_token_id).long()
        rows, cols, ys, ws = [], [], [], []
        for r, i in enumerate(idx):
            for pos, y in zip(data[i][1], data[i][2]):
                rows.append(r)
                cols.append(pos)
                ys.append(0 if y else 1)
                ws.append(tag_weight if data[i][0][pos] == tag_id else 1.0)
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        h = hidden[torch.tensor(rows), torch.tensor(cols)]
        logits = model.lm_head(h)[:, [good, bad]]
        ce = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(ys), reduction="none")
        w = torch.tensor(ws)
        loss = (ce * w).sum() / w.sum()
        correct = [(r, data[i]) for r, i in enumerate(idx) if all(data[i][2])]
        if lm_weight and correct:
            targets = torch.full_like(ids, -100)
            for r, (seq, _, _, start) in correct:
                targets[r, start:len(seq)] = torch.tensor(seq[start:])
            targets[targets == tag_id] = -100
            lm = model.lm_head(hidden[:, :-1]).float()
            loss = loss + lm_weight * torch.nn.functional.cross_entropy(
                lm.reshape(-1, lm.size(-1)), targets[:, 1:].reshape(-1), ignore_index=-100)
        return loss

    t0 = time.time()
    ema = _fit(model, tag_loss, [len(d[0]) for d in data], steps=steps, batch_size=batch_size, lr=lr,
               warmup=warmup, rng=rng, log_every=log_every, label="prm step")
    export(model, tok, out_dir, extra_files={"ponder_prm.json": PRM_SPEC}, generation=False)
    summary = {"kind": "prm", "steps": steps, "batch_size": batch_size, "seed": seed,
               "data_seed": data_seed, "lr": lr,
               "sequences": len(data), "seconds": round(time.time() - t0, 1),
               "final_loss": round(ema, 4), "init": "previous PRM stage" if init_from else "policy",
               "lm_weight": lm_weight, "n_onpolicy": n_onpolicy, "n_synthetic": n_synthetic,
               "n_drill": n_drill, "extra_layers": extra_layers, "digit_labels": digit_labels,
               "task_mix": task_mix, "operand_labels": operand_labels, "tag_weight": tag_weight,
               "layers": model.config.num_hidden_layers}
    (Path(out_dir) / "lab_training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
