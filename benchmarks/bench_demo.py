"""The default ``ponder bench`` demo (what ``make demo`` runs): the embedded lab model on lab ``arith`` with
every lab strategy that exists; prints the tables and the path of the HTML report.

Usage: python benchmarks/bench_demo.py [OUT_DIR] [LIMIT]
"""

from __future__ import annotations

import sys
import time

from ponder.bench.demo import DEMO_LIMIT, run_default_demo

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else DEMO_LIMIT
    start = time.perf_counter()
    path = run_default_demo(out, limit=limit)
    print(f"demo finished in {time.perf_counter() - start:.0f}s; open {path}")
