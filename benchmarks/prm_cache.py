"""PRM tokens for step beam search with and without the prefix score cache.

    python benchmarks/prm_cache.py [--limit 20] [--difficulty 6]

Runs the same beam search (same seeds) twice, with ``prm(cache=true)`` and ``prm(cache=false)``,
and prints the PRM tokens actually run through the model (prompt minus cached tokens, from the
ledger), the ratio (target >= 2x fewer) and whether the answers are identical.
"""

from __future__ import annotations

import argparse
import asyncio

from ponder import Engine
from ponder.strategies import build_strategy, run_strategy
from ponder.tasks import load_task
from _args import positive_int, run  # noqa: E402  (benchmarks/_args.py)


async def beam_prm_tokens(engine: Engine, spec: str, problems: list) -> tuple[int, int, list]:
    computed = total = 0
    answers = []
    for prob in problems:
        r = await run_strategy(build_strategy(spec), prob, engine.for_problem())
        prm = r.ledger.by_role().get("prm")
        if prm is not None:
            total += prm.prompt_tokens or 0
            computed += (prm.prompt_tokens or 0) - (prm.cached_prompt_tokens or 0)
        answers.append(r.answer)
    return computed, total, answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--limit", type=positive_int, default=20)
    ap.add_argument("--difficulty", type=positive_int, default=6)
    args = ap.parse_args()
    engine = Engine.from_spec(args.model)
    problems = load_task(f"arith?difficulty={args.difficulty}").problems(args.limit, 0)
    spec = "beam(n=8, width=2, seed=1, scorer=prm(cache={}))"
    with_c, tot_c, ans_c = asyncio.run(beam_prm_tokens(engine, spec.format("true"), problems))
    without, tot_n, ans_n = asyncio.run(beam_prm_tokens(engine, spec.format("false"), problems))
    print(f"beam(n=8, width=2) on arith difficulty {args.difficulty}, {len(problems)} problems")
    print(f"  PRM tokens run without cache: {without:,} (of {tot_n:,} read)")
    print(f"  PRM tokens run with cache:    {with_c:,} (of {tot_c:,} read)")
    print(f"  fewer with the cache: {without / max(1, with_c):.2f}x (target >= 2x); same answers: {ans_c == ans_n}")


if __name__ == "__main__":
    run(main)
