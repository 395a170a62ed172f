"""Seconds per training step of the lab policy, by CPU threads and by number format.

    python benchmarks/lab_train_step.py [--steps 20] [--threads 1,2]

The policy recipe runs 7 800 optimizer steps of batch 32 (``recipe.POLICY_STAGES``) and the
issue asks for at most 20 minutes per recipe on 2 cores. This runs the recipe's own step (the
shipped policy, its examples, length-bucketed batches of 32, AdamW, clipping) the same number of
times in each setting, on the same batches, and prints seconds per step, the ratio to one thread
in float32, and what the policy recipe's steps alone would take at that speed (data generation
and export come on top). ``bf16`` runs the forward and the loss under CPU autocast to bfloat16
(the weights and the optimizer stay float32); its first-step loss is printed beside float32's so a
change of numbers shows. Only a measurement: the shipped recipe trains in float32, one thread.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from _args import positive_int, positive_ints, run  # noqa: E402  (benchmarks/_args.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=positive_int, default=20, help="timed steps per setting (after 3 warm-up steps)")
    ap.add_argument("--threads", type=positive_ints, default="1,2", help="comma-separated thread counts")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from ponder.backends import embedded_path
    from ponder.lab.data import build_examples, encode_examples
    from ponder.lab.recipe import POLICY_STAGES
    from ponder.lab.tokenizer import load_tokenizer
    from ponder.lab.train import DEFAULT_ARCH, _batches, _optimizer, policy_loss

    hf_logging.disable_progress_bar()
    recipe_steps = sum(s["steps"] for s in POLICY_STAGES)
    policy = embedded_path("policy")
    tok = load_tokenizer(policy)
    warm, timed, batch = 3, args.steps, 32
    examples = build_examples((warm + timed) * batch, seed=99, mix={"arith": 0.85, "countdown": 0.15})
    data = encode_examples(tok, examples, max_len=DEFAULT_ARCH["max_len"])
    gen = _batches([len(d[0]) for d in data], batch, random.Random(0))
    batches = [next(gen) for _ in range(warm + timed)]

    def run(threads: int, bf16: bool) -> tuple[float, float]:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(str(policy), dtype=torch.float32)
        model.train()
        opt = _optimizer(model, 1e-3)
        first_loss = float("nan")
        for i, idx in enumerate(batches):
            if i == warm:
                t0 = time.perf_counter()
            cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with cast:  # the loss is taken in float32 (policy_loss casts the logits)
                loss = policy_loss(model, data, idx, tok.pad_token_id)
            if i == 0:
                first_loss = loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        return (time.perf_counter() - t0) / timed, first_loss

    rows = []
    for threads in args.threads:
        for bf16 in (False, True):
            rows.append((threads, "bf16" if bf16 else "fp32", *run(threads, bf16)))
    base = rows[0][2]
    print(f"lab policy training step, batch {batch}, {timed} timed steps per setting "
          f"(policy recipe: {recipe_steps} steps)")
    print(f"{'threads':>7} {'format':>6} {'s/step':>8} {'speed-up':>8} {'recipe steps':>13} {'first loss':>10}")
    for threads, fmt, sec, loss in rows:
        print(f"{threads:>7} {fmt:>6} {sec:>8.3f} {base / sec:>7.2f}x {recipe_steps * sec / 60:>9.1f} min "
              f"{loss:>10.4f}")


if __name__ == "__main__":
    run(main)
