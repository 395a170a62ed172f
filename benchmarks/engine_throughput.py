"""Engine throughput on the hf backend: sc(n=16) through the Engine against 16 sequential
single-sample calls (how optillm samples) and one raw ``model.generate(num_return_sequences=16)``;
then 16 *different* prompts (a server's concurrent clients, a bench running problems at once) sent
concurrently, which continuous batching decodes together, against the same 16 calls one by one.

Every arm decodes exactly ``--tokens`` tokens per sample (min = max), with the same model, prompts
and seeds, so the ratios compare decoding machinery, not lucky sample lengths.

    python benchmarks/engine_throughput.py [--model embedded] [--tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ponder import Engine, GenerationRequest
from ponder.backends import load_backend
from ponder.backends.hf import HFBackend
from _args import positive_int, run  # noqa: E402  (benchmarks/_args.py)

QUESTION = "Q: 567-227-134*4+24"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--tokens", type=positive_int, default=128)
    ap.add_argument("--n", type=positive_int, default=16)
    ap.add_argument("--repeats", type=positive_int, default=3)
    args = ap.parse_args()

    import torch

    backend = load_backend(args.model)
    if not isinstance(backend, HFBackend):  # the raw generate() arm needs the model in this process
        ap.error(f"--model {args.model}: this benchmark compares decoding on the hf backend (hf:DIR or embedded), "
                 "whose model runs in this process")
    req = GenerationRequest(messages=[{"role": "user", "content": QUESTION}], n=args.n, max_tokens=args.tokens,
                            min_tokens=args.tokens, temperature=1.0, seed=0)

    def engine_sc() -> None:
        engine = Engine(backend)
        samples = asyncio.run(engine.generate(req))
        assert len(samples) == args.n and engine.ledger.completion_tokens == args.n * args.tokens

    def sequential() -> None:
        engine = Engine(backend)

        async def go() -> None:
            for i in range(args.n):
                await engine.generate(req.replace(n=1, seed=i))

        asyncio.run(go())
        assert engine.ledger.calls == args.n

    ids = torch.tensor([backend.encode(backend.render(req))])
    model = backend.model

    def raw() -> None:
        torch.set_num_threads(backend.threads)  # the same thread count as the Engine's backend
        torch.manual_seed(0)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0,
                                 top_p=1.0, top_k=0, max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                                 num_return_sequences=args.n, pad_token_id=backend.tokenizer.pad_token_id)
        assert out.shape == (args.n, ids.shape[1] + args.tokens)

    prompts = [f"Q: {100 + 37 * i}-{11 + i}*{2 + i % 7}+{i * 13 % 90}" for i in range(args.n)]
    reqs = [req.replace(messages=[{"role": "user", "content": q}], n=1, seed=i) for i, q in enumerate(prompts)]

    def concurrent_prompts() -> None:
        engine = Engine(backend)

        async def go() -> None:
            await asyncio.gather(*(engine.generate(r) for r in reqs))

        asyncio.run(go())
        assert engine.ledger.completion_tokens == args.n * args.tokens

    def one_by_one() -> None:
        engine = Engine(backend)

        async def go() -> None:
            for r in reqs:
                await engine.generate(r)

        asyncio.run(go())

    engine_sc()  # warm-up
    raw()
    t_engine = best_of(engine_sc, args.repeats)
    t_seq = best_of(sequential, max(1, args.repeats - 1))
    t_raw = best_of(raw, args.repeats)
    total = args.n * args.tokens
    print(f"model {backend.name} ({backend.capabilities().num_parameters:,} parameters), "
          f"n={args.n}, {args.tokens} tokens per sample, torch threads {backend.threads} in every arm")
    for label, t in [("Engine sc(n=16), one shared prefill", t_engine),
                     ("16 sequential single-sample calls", t_seq),
                     ("raw model.generate(num_return_sequences=16)", t_raw)]:
        print(f"  {label:<46} {t:7.3f} s   {total / t:8.0f} tokens/s")
    print(f"  speed-up over sequential: {t_seq / t_engine:.2f}x   (target >= 6x)")
    print(f"  Engine time / raw limit:  {t_engine / t_raw:.2f}x   (target <= 1.25x)")
    concurrent_prompts()  # warm-up
    t_conc = best_of(concurrent_prompts, args.repeats)
    t_one = best_of(one_by_one, max(1, args.repeats - 1))
    print(f"{args.n} different prompts, one sample each:")
    for label, t in [(f"{args.n} concurrent calls (continuous batching)", t_conc),
                     (f"{args.n} calls one by one", t_one)]:
        print(f"  {label:<46} {t:7.3f} s   {total / t:8.0f} tokens/s")
    print(f"  speed-up of batching across requests: {t_one / t_conc:.2f}x")


if __name__ == "__main__":
    run(main)
