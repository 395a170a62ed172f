"""The strategy targets of the lab issues, measured on the shipped lab models (prints figures).

    python benchmarks/lab_targets.py [--limit 40]

Each line names a target and prints both sides of the comparison, so a change to the lab models
shows at once which targets hold. Comparisons "at equal tokens" give the baseline at least the
search method's mean ledger tokens (its n doubles until it does).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lab_model"))

from lab_fixtures import accuracy, problems, run_all, tokens  # noqa: E402

from ponder import Engine  # noqa: E402
from ponder.lab.engine_eval import evaluate  # noqa: E402


def sc_at_least(engine: Engine, probs: list, budget: float) -> tuple[int, list]:
    n = 1
    while True:
        res = run_all(engine, f"sc(n={n}, temperature=1.0)", probs)
        if tokens(res) >= budget or n >= 64:
            return n, res
        n *= 2


def line(target: str, ok: bool, detail: str) -> None:
    print(f"[{'met' if ok else 'NOT met':>7}] {target}: {detail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=40)
    args = ap.parse_args()
    n = args.limit
    engine = Engine.from_spec("embedded")

    rep = asyncio.run(evaluate("embedded", "arith", limit=n, seed=0, max_n=16, scorer="prm"))
    r16 = rep.by_n[16]
    line("sc(16) >= one sample + 8 points", r16["majority"] >= r16["one_sample"] + 0.08,
         f"one {r16['one_sample']:.1%}, majority {r16['majority']:.1%}")
    line("bon(16, prm) > sc(16), same samples", r16["best_of_n"] > r16["majority"],
         f"best-of-16 {r16['best_of_n']:.1%}, majority {r16['majority']:.1%}")

    probs = problems("arith", n)
    w0 = run_all(engine, "budget(think=256, wait=0, answer_prompt='Answer:')", probs)
    w2 = run_all(engine, "budget(think=256, wait=2, answer_prompt='Answer:')", probs)
    line("budget(wait=2) > budget(wait=0)", accuracy(w2) > accuracy(w0),
         f"wait=2 {accuracy(w2):.1%}, wait=0 {accuracy(w0):.1%}")

    cd = problems("countdown", n)
    sw = [sum(len(re.findall("Alternatively", c.text)) for r in run_all(engine, f"tip(alpha={a}, of=sc(n=8, temperature=1.0))", cd)
              for c in r.candidates) for a in (0, 3)]
    line("tip(alpha=3) lowers switch words", sw[1] < sw[0], f"alpha=0: {sw[0]}, alpha=3: {sw[1]} switches")

    hard = problems("arith?difficulty=7", n)
    beam = run_all(engine, "beam(n=8, width=2, max_steps=12)", hard)
    k, sc = sc_at_least(engine, hard, tokens(beam))
    line("beam(prm) > sc at equal tokens (arith, 7 ops)", accuracy(beam) > accuracy(sc),
         f"beam {accuracy(beam):.1%} at {tokens(beam):.0f} tokens, sc(n={k}) {accuracy(sc):.1%} at {tokens(sc):.0f}")
    for spec in ("tot(breadth=3, proposals=3, depth=4)", "mcts(iterations=8, children=3)"):
        res = run_all(engine, spec, cd)
        k, sc = sc_at_least(engine, cd, tokens(res))
        line(f"{spec.split('(')[0]} > sc at equal tokens (countdown)", accuracy(res) > accuracy(sc),
             f"{accuracy(res):.1%} at {tokens(res):.0f} tokens, sc(n={k}) {accuracy(sc):.1%} at {tokens(sc):.0f}")
    greedy = run_all(engine, "cot", hard)
    back = run_all(engine, "backtrack(n=4, expansions=2, depth=2)", hard)
    line("backtrack > greedy (arith, 7 ops)", accuracy(back) > accuracy(greedy),
         f"backtrack {accuracy(back):.1%}, greedy {accuracy(greedy):.1%}")


if __name__ == "__main__":
    main()
