"""Fixtures of the bench tests (imported by the test modules): a small JSONL task, a scripted backend, a run store filled by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.types import Capabilities, Generation, Sample, Usage


@pytest.fixture
def qa_jsonl(tmp_path: Path) -> Path:
    """Twelve sums as a JSONL task (``jsonl:PATH``); some answers are 42, which the scripted upstreams say."""
    path = tmp_path / "sums.jsonl"
    with path.open("w") as f:
        for i in range(12):
            a = 21 if i % 3 == 0 else i
            f.write(json.dumps({"id": f"q{i}", "question": f"What is {a}+{a}?", "answer": str(2 * a)}) + "\n")
    return path


class Cycling:
    """A scripted backend whose i-th sample of a call says ``answers[(seed + i) % len(answers)]``."""

    name = "cycling"

    def __init__(self, answers=("42", "42", "7"), prompt=10, completion=5):
        self.answers, self.prompt, self.completion = list(answers), prompt, completion
        self.requests = []

    def capabilities(self):
        return Capabilities(num_parameters=1000)

    async def generate(self, request):
        self.requests.append(request)
        base = request.seed or 0
        samples = [Sample(text=f"Answer: {self.answers[(base + i) % len(self.answers)]}", finish_reason="stop",
                          completion_tokens=self.completion) for i in range(request.n)]
        return Generation(samples, Usage(prompt_tokens=self.prompt, completion_tokens=self.completion * request.n))


@pytest.fixture
def cycling() -> Cycling:
    return Cycling()
