"""The ``execution`` scorer: candidates' programs run in the real sandbox against a real HumanEval
problem's public tests; best-of-N by it picks the program the hidden tests accept."""

from __future__ import annotations

import pytest
from helpers import DATASETS

from ponder import Engine, Problem, StrategySpecError
from ponder.strategies import build_strategy, run_strategy
from ponder.tasks.base import load_task
from ponder.types import Capabilities, Generation, Sample, Usage

RIGHT = ("def has_close_elements(numbers, threshold):\n"
         "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
WRONG = "def has_close_elements(numbers, threshold):\n    return False\n"
HANGS = "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n"
BROKEN = "def has_close_elements(numbers, threshold) return False\n"


class Programs:
    """Sample i of a call is the i-th program, in a fenced block as a code model writes it."""

    name = "programs"

    def __init__(self, programs):
        self.programs, self.requests = programs, []

    def capabilities(self):
        return Capabilities()

    async def generate(self, request):
        self.requests.append(request)
        texts = [f"Here is my solution.\n```python\n{p}```\n" for p in self.programs[: request.n]]
        usage = Usage(prompt_tokens=30, completion_tokens=20 * len(texts))
        return Generation([Sample(t, "stop") for t in texts], usage)


@pytest.fixture(scope="module")
def humaneval_0():
    [p] = load_task(f"humaneval:{DATASETS / 'HumanEval.jsonl.gz'}").problems(1)
    assert p.id == "HumanEval/0" and len(p.meta["public_tests"]) >= 2
    return p


@pytest.mark.parametrize("spec", ["bon(n=4, scorer=execution(per_test=1))", "wbon(n=4, scorer=execution(per_test=1))"])
async def test_best_of_n_by_public_tests_picks_the_program_the_hidden_tests_accept(humaneval_0, spec):
    backend = Programs([WRONG, HANGS, BROKEN, RIGHT])
    result = await run_strategy(build_strategy(spec), humaneval_0, Engine(backend))
    assert result.correct is True and result.answer.strip() == RIGHT.strip()
    scores = [c.score for c in result.candidates]
    assert scores[3] == 1.0 and max(scores[:3]) < 1.0 and scores[2] == 0.0
    assert [c.meta["execution"] for c in result.candidates] == ["failed", "timeout", "syntax_error", "passed"]
    [run] = [e for e in result.ledger.entries if e.role == "execution"]
    assert run.n == 4 and run.wall_seconds > 0 and not run.prompt_tokens  # seconds, no tokens
    assert result.ledger.calls == 1 and "(4 sandbox runs)" in result.ledger.summary()  # runs are not calls
    # the first draw (wrong) wins by its position alone without the scorer
    voted = await run_strategy(build_strategy("sc(n=4)"), humaneval_0, Engine(Programs([WRONG, RIGHT])))
    assert voted.correct is False


async def test_every_strategy_grades_the_block_that_defines_the_entry_point(humaneval_0):
    """A reply with the solution and then a block that tests it: sc, bon and greedy graded the test
    block (the last with a def) while S* and the execution scorer took the solution."""
    test_block = "def test_it():\n    assert has_close_elements([1.0, 2.0], 0.5) is False\n"
    result = await run_strategy(build_strategy("sc(n=1)"), humaneval_0, Engine(Programs([RIGHT + "```\n```python\n" + test_block])))
    assert result.answer.strip() == RIGHT.strip() and result.correct is True


async def test_without_public_tests_a_program_that_loads_beats_one_that_does_not(humaneval_0):
    bare = Problem(id="bare", messages=humaneval_0.messages, answer_kind="code",
                   meta={**humaneval_0.meta, "public_tests": []}, checker=humaneval_0.checker)
    result = await run_strategy(build_strategy("bon(n=2, scorer=execution)"), bare, Engine(Programs([BROKEN, WRONG])))
    assert [c.score for c in result.candidates] == [0.0, 1.0] and result.answer.strip() == WRONG.strip()


async def test_a_problem_that_wants_no_code_is_refused_before_any_call():
    backend = Programs([RIGHT])
    with pytest.raises(StrategySpecError, match=r"^scorer execution runs programs .* problem 'q' wants an answer of kind 'math'"):
        await run_strategy(build_strategy("bon(n=2, scorer=execution)"),
                           Problem.from_question("2+2?", answer="4", id="q", answer_kind="math"), Engine(backend))
    assert backend.requests == []


async def test_on_a_real_tiny_model(tiny_model_dir, humaneval_0):
    from ponder.backends.hf import HFBackend

    spec = "bon(n=2, scorer=execution(per_test=1), of=cot(max_tokens=12, temperature=1.0))"
    result = await run_strategy(build_strategy(spec), humaneval_0, Engine(HFBackend(tiny_model_dir)))
    # random weights write no program (no code block): nothing is run, and it is graded wrong
    assert [c.answer for c in result.candidates] == [None, None] and result.correct is False
    assert [c.meta["unscored"] for c in result.candidates] == ["no answer to score"] * 2
    assert [e.role for e in result.ledger.entries] == ["policy"]
