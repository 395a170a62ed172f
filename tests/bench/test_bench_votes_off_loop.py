"""A slow vote (math answers compared by sympy) does not stop the benchmark's other units."""

from __future__ import annotations

import asyncio
import json
import time

from ponder.bench.runner import BenchConfig, run_bench
from ponder.engine import Engine
from ponder.types import Capabilities, Generation, Sample, Usage


class Polynomials:
    """Every sample of a call a different polynomial: grouping 16 of them takes math-verify seconds."""

    name = "polynomials"

    def capabilities(self):
        return Capabilities(num_parameters=1000)

    async def generate(self, request):
        samples = [Sample(text=f"The answer is $x^{{{i + 2}}} + {i + 1}x - 1$.", finish_reason="stop",
                          completion_tokens=5) for i in range(request.n)]
        return Generation(samples, Usage(prompt_tokens=10, completion_tokens=5 * request.n))


async def test_votes_run_off_the_event_loop(tmp_path):
    task = tmp_path / "polys.jsonl"
    task.write_text("".join(json.dumps({"id": f"q{i}", "question": "Which polynomial?", "answer": "x^2+x-1"}) + "\n"
                            for i in range(2)))
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    start = time.monotonic()
    summary = await run_bench(BenchConfig(model="scripted", task=f"jsonl:{task}", strategies="sc(n=1..16)", limit=2,
                                          out=str(tmp_path / "run"), progress=False, concurrency=2),
                              engine=Engine(Polynomials()))
    total = time.monotonic() - start
    done.set()
    await beat
    assert summary is not None
    # the votes took most of the run; the loop still turned about every 10 ms (inline, one gap was the run)
    assert total > 0.5 and max(gaps) < total / 3, (max(gaps), total)
