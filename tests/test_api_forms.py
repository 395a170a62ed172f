"""What a user meets first in the library and the CLI, as an audit of them found it: the spec
forms a user types, the messages that name what exists, ``ponder.solve`` where an event loop runs,
and the trace of an answer that came from an mcts rollout."""

from __future__ import annotations

import asyncio

import pytest

import ponder
from ponder.errors import PonderError, StrategySpecError
from ponder.strategies import REGISTRY, build_strategy, describe_params
from ponder.strategies.spec import parse_spec


def test_solve_inside_a_running_event_loop_says_to_await_asolve():
    """It raised a bare RuntimeError from asyncio.run (and warned of a coroutine never awaited):
    a notebook always runs a loop."""
    async def notebook_cell():
        return ponder.solve("Compute left to right: 1+2")

    with pytest.raises(PonderError, match=r"await ponder\.asolve"):
        asyncio.run(notebook_cell())


def test_a_range_does_not_reach_into_a_bare_model_path():
    """``model=hf:/data/ckpt-1..2`` was read as 'hf:/data/ckpt-__range__'(1, 2)."""
    spec = parse_spec("bon(n=2, scorer=prm(model=hf:/data/ckpt-1..2))")
    assert spec.args["scorer"].args["model"] == "hf:/data/ckpt-1..2"
    assert parse_spec("sc(n=1..4)").args["n"].lo == 1  # ranges as before


@pytest.mark.parametrize("text, key, value", [("sc(n=8, seed=+1)", "seed", 1), ("sc(temperature=+0.5)", "temperature", 0.5),
                                              ("sc(seed=-1)", "seed", -1)])
def test_a_sign_before_a_number(text, key, value):
    assert parse_spec(text).args[key] == value


@pytest.mark.parametrize("text", ["sc(n=1+2)", "sc(n={1: 2})", "sc(seed=10**3)"])
def test_a_value_that_cannot_be_read_says_what_a_value_can_be(text):
    with pytest.raises(StrategySpecError, match="a value is a number .* a list .* a range"):
        parse_spec(text)


@pytest.mark.parametrize("scorer", ["3", "[prm]", "none"])
def test_a_scorer_that_is_not_a_name_lists_the_scorers(scorer):
    with pytest.raises(StrategySpecError, match="available: exact, execution, judge, logprob, orm, prm, vote"):
        build_strategy(f"bon(n=2, scorer={scorer})")


def test_one_string_where_a_list_of_strings_is_wanted():
    """``none(stop=';')`` and ``tip(words=Alternatively)`` were refused as "not a valid list"; the
    OpenAI API takes one stop string too."""
    assert build_strategy("none(stop=';')").params.stop == [";"]
    assert build_strategy("tip(words=Alternatively)").params.words == ["Alternatively"]
    assert build_strategy("tip(words=[Wait, Hmm])").params.words == ["Wait", "Hmm"]


def test_defaults_are_listed_as_they_are_typed():
    """``ponder strategies`` and the "Keys of" errors printed Python (rollout=True, delimiter=;,
    model=None, words=['Alternatively']), which cannot be typed back as a spec."""
    listed = {name: describe_params(cls) for name, cls in REGISTRY.items()}
    assert "delimiter=';'" in listed["backtrack"] and "seed=none" in listed["sc"]
    assert "words=[Alternatively]" in listed["tip"] and "rollout=true" in listed["mcts"]
    for text in listed.values():
        assert "True" not in text and "None" not in text and "False" not in text, text
    for name, text in listed.items():  # the defaults typed back are the defaults
        if text != "(none)":
            assert build_strategy(f"{name}({text})").params == REGISTRY[name].Params(), name
    with pytest.raises(StrategySpecError, match=r"Keys of prm: model=embedded-prm, agg=last, cache=true"):
        build_strategy("bon(n=2, scorer=prm(agg=bad))")


def test_the_trace_of_an_mcts_answer_shows_the_rollout_it_came_from():
    from ponder.cli import format_tree

    trace = {"nodes": [
        {"id": 0, "parent": None, "step": "", "score": None, "visits": 2, "terminal": False, "chosen": True},
        {"id": 1, "parent": 0, "step": "<think> 5-3=2;", "score": 0.9, "visits": 2, "terminal": False,
         "chosen": True, "rollout": " 2*7=14 </think> Answer: 14", "rollout_score": 0.8},
        {"id": 2, "parent": 1, "step": " 2+7=9;", "score": 0.4, "visits": 1, "terminal": False, "chosen": False,
         "rollout": " 9 </think> Answer: 9", "rollout_score": 0.1}]}
    lines = format_tree(trace).splitlines()
    assert lines[1] == "*   (rollout) 2*7=14 </think> Answer: 14  score=0.800"
    assert not any("Answer: 9" in line for line in lines)  # only the chosen node's rollout


def test_a_budget_left_no_larger_than_the_prompt_says_so():
    """It read "39 left, fewer than the next call's prompt of about 39"."""
    r = ponder.solve("Compute left to right: 305-129+368-375", budget={"max_tokens": 39})
    assert r.budget_exhausted and "fewer than" not in (r.stop_reason or "")
