"""The hf backend on a GPU (``hf:PATH?device=cuda&dtype=...``): the shipped lab models, loaded on CUDA
in each dtype, generate, sample, score and search as they do on the CPU.

Skipped where torch sees no GPU (CI has none); run on a machine with one as
``python -m pytest tests/test_hf_gpu.py``.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import torch

from ponder import Engine, GenerationRequest
from ponder.backends import load_backend
from ponder.backends.hf import HFBackend
from ponder.lab import POLICY_DIR
from ponder.strategies import build_strategy, run_strategy
from ponder.tasks import load_task

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU that torch sees")

PRM_DIR = POLICY_DIR.parent / "prm"
GPU = f"hf:{POLICY_DIR}?device=cuda"


def problems(task: str, limit: int) -> list:
    return load_task(task).problems(limit, 0)


def greedy_texts(backend, probs) -> list[str]:
    async def go():
        reqs = [GenerationRequest(messages=p.messages, max_tokens=200, temperature=0.0) for p in probs]
        return await asyncio.gather(*(backend.generate(r) for r in reqs))

    return [g.samples[0].text for g in asyncio.run(go())]


def accuracy(probs, texts) -> float:
    from ponder.answers import extract_answer
    from ponder.strategies.base import grade

    return sum(bool(grade(p, extract_answer(t, kind=p.answer_kind).value)) for p, t in zip(probs, texts)) / len(probs)


def run(spec: str, problem, engine: Engine):
    return asyncio.run(run_strategy(build_strategy(spec), problem, engine.for_problem()))


@pytest.fixture(scope="module")
def gpu_engine() -> Engine:
    return Engine.from_spec(GPU)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_the_model_is_loaded_on_the_gpu_in_the_dtype_asked(dtype):
    backend = load_backend(f"{GPU}&dtype={dtype}", cache=False)
    params = list(backend.model.parameters())
    assert {p.device.type for p in params} == {"cuda"}
    assert {p.dtype for p in params} == {getattr(torch, dtype)}
    assert backend.device == "cuda"
    assert HFBackend(POLICY_DIR, device="auto").device == "cuda:0"


def test_greedy_on_the_gpu_writes_what_the_cpu_writes():
    """float32 on the GPU follows the CPU's greedy path; half precision keeps its accuracy."""
    probs = problems("arith", 40)
    cpu = greedy_texts(load_backend("embedded"), probs)
    gpu = greedy_texts(load_backend(GPU), probs)
    same = sum(a == b for a, b in zip(cpu, gpu))
    assert same >= 36, f"{same} of 40 greedy answers on the GPU were the CPU's"
    base = accuracy(probs, cpu)
    assert base >= 0.5
    for dtype in ("bfloat16", "float16"):
        half = greedy_texts(load_backend(f"{GPU}&dtype={dtype}"), probs)
        assert accuracy(probs, half) >= base - 0.1, (dtype, accuracy(probs, half), base)


def test_seeded_samples_on_the_gpu_do_not_depend_on_how_they_were_drawn():
    backend = load_backend(GPU)
    [problem] = problems("arith", 1)

    def req(**kw):
        return GenerationRequest(messages=problem.messages, max_tokens=120, temperature=1.0, **kw)

    together = [s.token_ids for s in backend.generate_sync(req(n=6, seed=5)).samples]
    alone = [backend.generate_sync(req(n=1, seed=5 + i)).samples[0].token_ids for i in range(6)]
    assert together == alone
    assert len({tuple(t) for t in together}) > 1  # they are samples, not one text six times


def test_best_of_n_by_likelihood_on_the_gpu_scores_as_a_forward_pass(gpu_engine):
    """The sampling call's log-probabilities and a forward pass on the GPU agree (the forward pass
    gathered its token ids from a CPU tensor before, which CUDA refuses)."""
    from ponder.scorers.logprob import LogprobScorer

    [problem] = problems("arith", 1)
    result = run("bon(n=6, scorer=logprob, seed=3)", problem, gpu_engine)
    for cand in result.candidates:
        cand.meta.pop("logprobs")
    again = asyncio.run(LogprobScorer().score(problem, result.candidates, gpu_engine.for_problem()))
    assert max(abs(a - b) for a, b in zip(result.trace["scores"], again)) < 1e-3


def test_the_prm_on_the_gpu_scores_as_on_the_cpu(gpu_engine):
    from ponder.scorers import build_scorer

    probs = problems("arith?difficulty=5", 4)
    texts = [run("cot", p, gpu_engine).candidates[0].text for p in probs]
    on_cpu = build_scorer("prm(cache=false)")
    on_gpu = build_scorer(f"prm(model='hf:{PRM_DIR}?device=cuda')")
    for p, text in zip(probs, texts):
        cut = text.index(";") + 1  # scored once for a prefix, then whole: the second reuses the cache
        for part in (text[:cut], text):
            a = asyncio.run(on_cpu.step_scores(p, part, gpu_engine.for_problem()))
            b = asyncio.run(on_gpu.step_scores(p, part, gpu_engine.for_problem()))
            assert len(a) == len(b) > 0 and max(abs(x - y) for x, y in zip(a, b)) < 1e-3, (a, b)


def test_budget_forcing_and_the_switch_penalty_on_the_gpu(gpu_engine):
    for p in problems("arith?difficulty=6", 6):
        meta = run("budget(think=24, wait=2, answer_prompt='Answer:')", p, gpu_engine).candidates[0].meta
        assert meta["thinking_tokens"] <= 24 and (meta["forced_end"] or meta["waits"] == 2)

    def switches(alpha: int) -> int:
        total = 0
        for i, p in enumerate(problems("countdown", 12)):
            result = run(f"tip(alpha={alpha}, of=sc(n=8, temperature=1.0, seed={i}))", p, gpu_engine)
            total += sum(len(re.findall("Alternatively", c.text)) for c in result.candidates)
        return total

    free, penalised = switches(0), switches(3)
    assert free > 0 and penalised < free, (penalised, free)


def test_a_beam_search_on_the_gpu_continues_from_cached_prefixes(gpu_engine):
    prm = f"prm(model='hf:{PRM_DIR}?device=cuda')"
    results = [run(f"beam(n=4, width=2, max_steps=8, scorer={prm})", p, gpu_engine)
               for p in problems("arith?difficulty=5", 4)]
    for r in results:
        roles = r.ledger.by_role()
        assert set(roles) == {"policy", "prm"} and roles["prm"].cached_prompt_tokens > 0
        assert r.answer is not None
    assert sum(bool(r.correct) for r in results) >= 2
