"""The Python entry points: ``solve`` and ``asolve``."""

from __future__ import annotations

import asyncio
from typing import Any

from .budget import Budget
from .engine import Engine
from .errors import BudgetError, PonderError, QuestionError
from .types import Problem, Result


def _budget(budget: Budget | dict[str, Any] | None) -> Budget:
    if budget is None:
        return Budget()
    if isinstance(budget, Budget):
        return budget.fresh()
    if not isinstance(budget, dict):
        raise BudgetError(f"budget must be a dict such as {{'max_tokens': 2000}} (keys max_tokens, max_calls, "
                          f"max_seconds) or a ponder.Budget, got {type(budget).__name__} {budget!r}")
    return Budget.from_dict(budget)


async def asolve(
    question: str | Problem,
    *,
    model: str | Engine = "embedded",
    strategy: Any = "cot",
    budget: Budget | dict[str, Any] | None = None,
    answer: str | None = None,
) -> Result:
    """Solve one question with a strategy on a model; the Result carries its ledger.

    ``model`` is a model spec (``embedded``, ``hf:PATH``, ``openai:MODEL@URL``, ``vllm:PATH``) or an
    Engine (whose budget's limits apply, afresh, unless ``budget`` is given, and whose streaming hooks
    see the run); ``strategy`` a spec such as ``"sc(n=16)"`` or a Strategy; ``budget`` a Budget or a
    dict with ``max_tokens`` / ``max_calls`` / ``max_seconds``.
    """
    from .strategies import build_strategy, run_strategy

    if not isinstance(question, (str, Problem)):
        raise TypeError(f"question must be a string or a ponder.Problem, got {type(question).__name__}")
    if isinstance(question, str) and not question.strip():
        raise QuestionError("the question is empty; give the text to answer, e.g. "
                            "'Compute left to right: 12+30*2'")
    strat = build_strategy(strategy)
    if isinstance(model, Engine):  # its limits (afresh) unless a budget is given, and its streaming hooks
        engine = model.for_problem(None if budget is None else _budget(budget), on_token=model.on_token,
                                   on_choice_token=model.on_choice_token, on_call=model.on_call)
    else:
        engine = Engine.from_spec(model).for_problem(_budget(budget))
    problem = question if isinstance(question, Problem) else Problem.from_question(question, answer=answer)
    return await run_strategy(strat, problem, engine)


def solve(
    question: str | Problem,
    *,
    model: str | Engine = "embedded",
    strategy: Any = "cot",
    budget: Budget | dict[str, Any] | None = None,
    answer: str | None = None,
) -> Result:
    """Synchronous ``asolve``, for code with no event loop running (a script). Where one runs (a
    Jupyter notebook, an async application) ``await ponder.asolve(...)`` instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(asolve(question, model=model, strategy=strategy, budget=budget, answer=answer))
    raise PonderError("ponder.solve cannot run inside a running event loop (a Jupyter notebook, an async "
                      "application): use `await ponder.asolve(...)`, which takes the same arguments")
