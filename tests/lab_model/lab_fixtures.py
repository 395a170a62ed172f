"""Shared pieces for the tests that show strategies doing their job on the shipped lab models."""

from __future__ import annotations

import asyncio

import pytest

from ponder import Engine
from ponder.strategies import build_strategy, run_strategy
from ponder.tasks import load_task


@pytest.fixture(scope="session")
def lab_engine() -> Engine:
    return Engine.from_spec("embedded")


def problems(task: str, limit: int, seed: int = 0) -> list:
    return load_task(task).problems(limit, seed)


def run_all(engine: Engine, spec: str, probs: list, seed: int = 0) -> list:
    """Run ``spec`` on every problem (seeded per problem when the strategy takes a seed)."""

    async def go() -> list:
        out = []
        for i, p in enumerate(probs):
            strategy = build_strategy(spec)
            target = strategy
            if "seed" not in type(target.params).model_fields and getattr(target.params, "of", None) is not None:
                target = target.params.of  # a modifier such as tip: seed the strategy it wraps
            if "seed" in type(target.params).model_fields:
                target.params.seed = seed * 10_000 + i
            out.append(await run_strategy(strategy, p, engine.for_problem()))
        return out

    return asyncio.run(go())


def accuracy(results: list) -> float:
    return sum(bool(r.correct) for r in results) / len(results)


def tokens(results: list, role: str | None = None) -> float:
    total = 0
    for r in results:
        led = r.ledger.by_role().get(role) if role else r.ledger
        total += (led.total_tokens or 0) if led is not None else 0
    return total / len(results)


class CountingBackend:
    """The real lab backend, observed: every ``generate`` is delegated to it, and the calls it
    answers, the prompt tokens it reports and the token ids it returns are counted here."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.calls = self.prompt_tokens = self.completion_tokens = 0

    def __getattr__(self, name):  # everything else (name, render, capabilities, ...) as the backend's
        return getattr(self._backend, name)

    async def generate(self, request, on_token=None):
        generation = await (self._backend.generate(request) if on_token is None
                            else self._backend.generate(request, on_token=on_token))
        self.calls += len(generation.parts) or 1
        self.prompt_tokens += generation.usage.prompt_tokens
        self.completion_tokens += sum(len(s.token_ids) for s in generation.samples)  # the ids it sampled
        return generation
