"""The default ``ponder bench`` demo (what ``make demo`` runs): the embedded lab model on lab ``arith`` with
every lab strategy that exists; prints the tables and the path of the HTML report.

Usage: python benchmarks/bench_demo.py [OUT_DIR] [LIMIT]
"""

from __future__ import annotations

import argparse
import time

from _args import positive_int, run

from ponder.bench.demo import DEMO_LIMIT, run_default_demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="runs/demo", help="run directory (an earlier demo run there is replaced)")
    ap.add_argument("limit", nargs="?", type=positive_int, default=DEMO_LIMIT, help="problems")
    args = ap.parse_args()
    start = time.perf_counter()
    path = run_default_demo(args.out, limit=args.limit)
    print(f"demo finished in {time.perf_counter() - start:.0f}s; open {path}")


if __name__ == "__main__":
    run(main)
