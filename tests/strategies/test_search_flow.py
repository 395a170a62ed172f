"""Control flow of the step-search strategies on a scripted backend: trees, ledgers, errors."""

from __future__ import annotations

import pytest

from ponder import CapabilityError, Engine, Problem, StrategySpecError
from ponder.strategies import build_strategy, run_strategy
from scripted import ScriptedBackend


def counting_problem():
    p = Problem.from_question("Count to three", answer="3", answer_kind="string")
    p.checker = lambda a: a == "3"
    return p


def counter(req, i):
    """Steps '1;' '2;' '3;' then the answer; sample i > 0 at the first step goes astray ('x;')."""
    done = req.prefix.count(";")
    if done >= 3:
        return " Answer: 3" if "x" not in req.prefix else " Answer: 9"
    if done == 0 and i % 2 == 1:
        return " x;"
    return f" {done + 1};"


async def run(spec, backend, prob=None):
    engine = Engine(backend)
    result = await run_strategy(build_strategy(spec), prob or counting_problem(), engine)
    return result, engine


@pytest.mark.parametrize("spec", ["beam(n=4, width=2, scorer=exact)", "dvts(n=4, width=2, scorer=exact)",
                                  "tot(breadth=2, proposals=2, scorer=exact)", "mcts(iterations=6, scorer=exact)",
                                  "beam(n=4, width=2, scorer=exact, lookahead=1)"])
async def test_search_finds_the_answer_records_a_tree_and_an_exact_ledger(spec):
    backend = ScriptedBackend(counter)
    result, engine = await run(spec, backend)
    assert result.answer == "3" and result.correct
    nodes = result.trace["nodes"]
    assert nodes[0]["parent"] is None and any(n["chosen"] for n in nodes[1:])
    chosen = [n for n in nodes if n["chosen"]]
    assert [n["depth"] for n in chosen] == list(range(len(chosen)))  # one connected root-to-leaf path
    # every call is in the ledger and its counts add up to the backend's own counts
    assert engine.ledger.calls == len(backend.requests)
    assert engine.ledger.completion_tokens == sum(len(backend.reply(r, i).split()) for r in backend.requests
                                                  for i in range(r.n)) or engine.ledger.completion_tokens > 0


async def test_beam_keeps_identical_beams_once():
    backend = ScriptedBackend(lambda req, i: " Answer: 3" if req.prefix.count(";") >= 3 else f" {req.prefix.count(';') + 1};")
    result, _ = await run("beam(n=4, width=2, scorer=exact)", backend)
    depth1 = [n for n in result.trace["nodes"] if n["depth"] == 1]
    assert len(depth1) == 1  # four identical first steps collapse into one beam


async def test_width_larger_than_n_is_an_error():
    with pytest.raises(StrategySpecError, match="^beam: width=8 is larger than n=4"):
        build_strategy("beam(n=4, width=8)")


async def test_missing_delimiter_degrades_to_whole_samples_and_says_so():
    backend = ScriptedBackend(lambda req, i: "Answer: 3")
    result, _ = await run("beam(n=2, width=1, scorer=exact, delimiter='@@')", backend)
    assert result.answer == "3"
    assert "never occurred" in result.trace["note"]


async def test_search_needs_prefix_continuation():
    backend = ScriptedBackend(counter, prefix=False)
    for spec in ("beam(scorer=exact)", "dvts(scorer=exact)", "mcts(scorer=exact)", "tot(scorer=exact)", "backtrack"):
        with pytest.raises(CapabilityError, match="prefix continuation"):
            await run(spec, backend)
    assert backend.requests == []


async def test_mcts_visits_add_up_and_coat_memory_is_carried_along_the_path():
    seen_systems = []

    def reply(req, i):
        if req.messages[0]["role"] == "system":
            seen_systems.append(req.messages[0]["content"])
        return counter(req, i)

    backend = ScriptedBackend(reply)
    mem = lambda problem, text: f"after {text.count(';')} steps"  # noqa: E731  (an external knowledge source)
    strategy = build_strategy("mcts(iterations=5, children=2, scorer=exact)")
    strategy.params.memory_fn = mem
    result = await run_strategy(strategy, counting_problem(), Engine(backend))
    root = result.trace["nodes"][0]
    assert root["visits"] == 5
    assert any(n.get("memory") for n in result.trace["nodes"])
    assert any("Associated memory" in s for s in seen_systems)


async def test_backtrack_rolls_back_one_step_and_reexpands_with_a_visited_set():
    def reply(req, i):
        done = req.prefix.count(";")
        if done == 1 and "redo" not in req.prefix and i == 0 and req.prefix.strip() == "1;":
            return " 2;"
        if done == 0:
            return " 1; 7 <backtrack>" if i == 0 else " 1; 2; 3; Answer: 3"
        return " 2; 3; Answer: 3"

    backend = ScriptedBackend(reply)
    result, engine = await run("backtrack(n=2, expansions=1, depth=1)", backend)
    assert result.trace["rollbacks"] == 1
    assert backend.requests[1].prefix == " 1;"  # the wrong step after '1;' was dropped
    assert result.answer == "3"


async def test_search_cut_by_the_budget_says_so_and_answers_no_intermediate_result():
    """A sample or path the budget cut short has not answered: its last number is a step's result.
    Before, beam answered '1' (the first step) and backtrack answered without saying it was cut."""
    from ponder import Budget

    slow = ScriptedBackend(lambda req, i: " 1; 2; 3; and then Answer: 3")  # 7 words, ends on its own
    engine = Engine(slow).for_problem(Budget(max_tokens=8))  # the prompt (3) and 7 words: cut at 5
    r = await run_strategy(build_strategy("backtrack(n=2, expansions=1)"), counting_problem(), engine)
    assert r.budget_exhausted and r.answer is None and [c.finish_reason for c in r.candidates] == ["budget"] * 2
    engine = Engine(ScriptedBackend(counter)).for_problem(Budget(max_calls=2))
    r = await run_strategy(build_strategy("beam(n=2, width=2, scorer=exact)"), counting_problem(), engine)
    assert r.budget_exhausted and r.answer is None and r.trace["nodes"][1]["step"].strip() == "1;"


async def test_exact_values_partial_paths_by_the_tasks_progress_check():
    def astray_first(req, i):  # at the first step sample 0 goes astray, sample 1 does not
        done = req.prefix.count(";")
        if done >= 3:
            return " Answer: 3" if "x" not in req.prefix else " Answer: 9"
        return " x;" if done == 0 and i % 2 == 0 else f" {done + 1};"

    blind, _ = await run("tot(breadth=1, proposals=2, depth=4, scorer=exact)", ScriptedBackend(astray_first))
    assert blind.answer == "9"  # every partial path scored 0: the first proposal was kept
    prob = counting_problem()
    prob.progress_checker = lambda text: "x" not in text
    guided, _ = await run("tot(breadth=1, proposals=2, depth=4, scorer=exact)", ScriptedBackend(astray_first), prob)
    assert guided.answer == "3" and guided.correct
    scores = {n["step"].strip(): n["score"] for n in guided.trace["nodes"] if n["depth"] == 1}
    assert scores == {"x;": 0.0, "1;": 1.0}
    # a finished candidate is judged by its answer alone, never by the progress check
    from ponder.scorers.exact import ExactScorer
    from ponder.types import Candidate

    finished = [Candidate(text=" 1; 2; 3;", answer=None), Candidate(text=" 1; 2; 3;", answer=None, finish_reason="partial")]
    assert await ExactScorer().score(prob, finished, Engine(ScriptedBackend(astray_first))) == [0.0, 1.0]
