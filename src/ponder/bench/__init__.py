"""``ponder bench``: accuracy against compute at matched budgets, crash-safe in SQLite, with plots, an HTML
report and a cost planner.

runner.py   plan and run problem x strategy x seed units (pool strategies: one draw, subsampled k)
store.py    the SQLite (WAL) run store and its lock
subsample.py  unbiased subsampling of a pool and the compute-at-k rule
stats.py    accuracy, Wilson CI95, compute means, matched budgets
report.py / plots.py / html.py / format.py   tables, PNG plots, the self-contained HTML report
planner.py  cost per correct answer and crossover volume from a price table
cli.py      ``bench_command`` and ``report_command``; demo.py  the default ``make demo`` benchmark
"""

from __future__ import annotations

from .runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]
