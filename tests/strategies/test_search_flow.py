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
    # one connected path down from the root: each chosen node's parent is the chosen node above it
    by_id = {n["id"]: n for n in nodes}
    assert chosen[0] is nodes[0]
    for above, below in zip(chosen, chosen[1:]):
        assert by_id[below["parent"]] is above and below["depth"] == above["depth"] + 1
    # and it is the path of the right steps (mcts may stop it above the answer its rollout found)
    steps = [n["step"] for n in chosen[1:]]
    assert len(steps) >= 3 and steps == [" 1;", " 2;", " 3;", " Answer: 3"][: len(steps)], steps
    # every call is in the ledger and its counts add up to the backend's own counts
    assert engine.ledger.calls == len(backend.requests)
    assert engine.ledger.completion_tokens == sum(len(backend.reply(r, i).split()) for r in backend.requests
                                                  for i in range(r.n))


async def test_beam_keeps_identical_beams_once():
    backend = ScriptedBackend(lambda req, i: " Answer: 3" if req.prefix.count(";") >= 3 else f" {req.prefix.count(';') + 1};")
    result, _ = await run("beam(n=4, width=2, scorer=exact)", backend)
    depth1 = [n for n in result.trace["nodes"] if n["depth"] == 1]
    assert len(depth1) == 1  # four identical first steps collapse into one beam


@pytest.mark.parametrize("name", ["beam", "dvts", "tot", "mcts", "backtrack"])
def test_an_empty_step_delimiter_is_an_error(name):
    """An empty delimiter was taken: every text 'ends a step' there, and a rollback cut nothing."""
    with pytest.raises(StrategySpecError, match=f"^{name}: delimiter: String should have at least 1 character"):
        build_strategy(f"{name}(delimiter='')")


async def test_width_larger_than_n_is_an_error():
    with pytest.raises(StrategySpecError, match="^beam: width=8 is larger than n=4"):
        build_strategy("beam(n=4, width=8)")


async def test_missing_delimiter_degrades_to_whole_samples_and_says_so():
    backend = ScriptedBackend(lambda req, i: "Answer: 3")
    result, _ = await run("beam(n=2, width=1, scorer=exact, delimiter='@@')", backend)
    assert result.answer == "3"
    assert "never occurred: the search degraded to whole samples" in result.trace["note"]
    # samples longer than step_tokens are cut into pieces: the note says that, not "whole samples"
    backend = ScriptedBackend(lambda req, i: "one two three four five six seven Answer: 3")
    result, _ = await run("beam(n=2, width=1, scorer=exact, delimiter='@@', step_tokens=4)", backend)
    assert "never occurred: the samples were cut into steps of step_tokens=4 tokens" in result.trace["note"]


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


def rollouts_finish(req, i):
    """Steps '1.i;' '2.i;' ... that never end the turn; a rollout (no stop strings) finishes with 3."""
    done = req.prefix.count(";")
    return " and so on. Answer: 3" if not req.stop else f" {done + 1}.{i};"


async def test_mcts_keeps_each_rollout_once_and_expands_the_simulated_node_later():
    """A simulation backs up its value and its path is a candidate once; it is no child of its node.
    Before, the rollout was the node's only child, terminal: UCT picked it, selection stopped there,
    the node was never expanded, and later iterations called no model and re-counted the rollout."""
    backend = ScriptedBackend(rollouts_finish)
    result, _ = await run("mcts(iterations=6, children=2, scorer=exact)", backend)
    expansions = [r for r in backend.requests if r.stop]
    rollouts = [r for r in backend.requests if not r.stop]
    assert len(expansions) == len(rollouts) == 6  # every iteration expands a node and simulates a child
    ids = [c.meta["node"] for c in result.candidates]
    assert len(ids) == len(set(ids)) == 6 and all(c.meta["rollout"] for c in result.candidates)
    nodes = result.trace["nodes"]
    assert nodes[0]["visits"] == 6 and not any(n["terminal"] for n in nodes)  # rollouts are not tree nodes
    simulated = [n for n in nodes if n.get("rollout")]  # each rollout is recorded on its node
    assert len(simulated) == 6 and all(n["rollout"].endswith("Answer: 3") for n in simulated)
    assert nodes[1].get("rollout") and any(n["parent"] == 1 for n in nodes)  # simulated first, expanded later
    assert result.answer == "3" and result.correct and result.trace["iterations"] == 6


async def test_mcts_stops_when_the_tree_is_exhausted_and_visits_a_finished_node_once():
    backend = ScriptedBackend(lambda req, i: f" Answer: {3 + 6 * i}")  # every first step ends the turn
    result, _ = await run("mcts(iterations=10, children=2, scorer=exact)", backend)
    assert [c.answer for c in result.candidates] == ["3", "9"] and result.answer == "3"  # each answer once
    assert len(backend.requests) == 1 and result.trace["iterations"] == 2  # the root expanded, each answer visited
    assert "exhausted after 2 of 10 iterations" in result.trace["note"] and not result.budget_exhausted


async def test_mcts_without_rollouts_and_no_finished_path_does_not_claim_a_budget():
    """rollout=false and no step ended the answer: the best partial path's answer (none here),
    said in the note. Before, the result said the budget ran out (stop_reason 'budget spent')."""
    backend = ScriptedBackend(rollouts_finish)
    result, _ = await run("mcts(iterations=2, children=2, rollout=false, scorer=exact)", backend)
    assert not result.budget_exhausted and result.stop_reason is None
    assert result.answer is None and result.candidates and "no path finished in 2 iterations" in result.trace["note"]


async def test_tot_value_llm_values_every_state_with_the_value_prompt_and_loads_no_scorer():
    """value=llm: the final completions are valued by the (last-step) value prompt too. Before, they
    were scored by the PRM (loaded and charged) and ranked against the prompt's 1/0.5/0."""
    def reply(req, i):
        prompt = req.messages[-1]["content"]
        if "final answer correct" in prompt:
            return "sure" if "Answer: 3" in prompt else "impossible"
        if "Reply with one word" in prompt:
            return "likely"
        if not req.stop:  # the greedy completion of a kept state
            return " 3; Answer: 9" if "x" in req.prefix else " 3; Answer: 3"
        return counter(req, i)

    strategy = build_strategy("tot(breadth=2, proposals=2, depth=2, value=llm)")
    backend = ScriptedBackend(reply)
    result = await run_strategy(strategy, counting_problem(), Engine(backend))
    assert {e.role for e in result.ledger.entries} == {"policy", "value"}  # no 'prm'
    assert result.answer == "3" and result.candidates and strategy.scorer is None
    # the paper's 3 samples a state, sure 20, likely 1, impossible 0.001 (it was one greedy reply, 1/0.5/0)
    assert {round(c.score, 6) for c in result.candidates} <= {60.0, 0.003} and max(c.score for c in result.candidates) == 60
    valued = [r for r in backend.requests if "Reply with one word" in r.messages[-1]["content"]]
    assert valued and all(r.n == 3 and r.temperature == 0.7 for r in valued)
    assert any("final answer correct" in r.messages[-1]["content"] for r in backend.requests)


@pytest.mark.parametrize("key", ["n=4", "width=2", "lookahead=1", "max_steps=3"])
def test_tot_refuses_beam_keys_it_does_not_use(key):
    with pytest.raises(StrategySpecError, match=rf"^tot: unknown key '{key.split('=')[0]}'"):
        build_strategy(f"tot({key})")


def test_tot_value_llm_refuses_a_scorer_it_would_not_use():
    with pytest.raises(StrategySpecError, match="^tot: scorer=exact is not used with value=llm"):
        build_strategy("tot(value=llm, scorer=exact)")


def test_dvts_select_takes_best_or_vote():
    assert build_strategy("dvts").params.select == "vote"
    with pytest.raises(StrategySpecError, match=r"select: Input should be 'best' or 'vote' \(got 'foo'\)"):
        build_strategy("dvts(select=foo)")


def game24_problem(tmp_path, puzzle):
    from ponder.tasks.base import load_task

    csv = tmp_path / "game24.csv"
    csv.write_text(f"Rank,Puzzles\n1,{puzzle}\n")
    return load_task(f"game24:{csv}").problems(limit=1, seed=0)[0]


FRACTION_STEPS = [" 1/5=1/5;", " 5-1/5=24/5;", " 5*24/5=24;"]


def fractions_24(req, i):
    """On 1 5 5 5: sample 0 of each step goes astray (5-5=0: 24 is out of reach); sample 1 takes
    the only way, through fractions; a rollout (no stop strings) finishes the path it is on."""
    done = req.prefix.count(";")
    answer = " Answer: 5+5+5+1" if "5-5=0" in req.prefix else " Answer: 5*(5-1/5)"
    if not req.stop:
        return "".join(FRACTION_STEPS[done:]) + answer if "5-5=0" not in req.prefix else answer
    if done >= 3:
        return answer
    return " 5-5=0;" if i % 2 == 0 else FRACTION_STEPS[done]


@pytest.mark.parametrize("spec", ["tot(breadth=1, proposals=2, depth=4, scorer=exact)",
                                  "mcts(iterations=3, children=2, scorer=exact)"])
async def test_exact_search_keeps_a_game24_path_through_fractions(tmp_path, spec):
    """Game of 24 allows fractional intermediates (1 5 5 5 = 5*(5-1/5)); the exact check of a
    partial path did not, so search valued its only solution 0 and kept the dead end."""
    prob = game24_problem(tmp_path, "1 5 5 5")
    result, _ = await run(spec, ScriptedBackend(fractions_24), prob)
    assert result.answer == "5*(5-1/5)" and result.correct
    assert prob.progress_checker("<think> 1/5=1/5; 5-1/5=24/5;") and not prob.progress_checker("<think> 5-5=0;")


async def test_a_greedy_rollout_through_a_prefix_is_reused_only_where_it_is_the_models_own():
    """Stepper.rollout answers a greedy rollout from an earlier one that passed through its prefix,
    with no call; not for other messages, a sampled rollout, a smaller budget, a rollout cut at
    its budget, or a prefix the earlier one did not start from."""
    from ponder.strategies.stepping import Stepper

    def chain(req, i):  # the greedy continuation of any prefix: the steps still to come
        done = req.prefix.count(";")
        return "".join(f" {k};" for k in range(done + 1, 4)) + " Answer: 3"

    backend = ScriptedBackend(chain)
    engine = Engine(backend)
    stepper = Stepper(counting_problem(), engine, delimiter=";", step_tokens=8, temperature=0.8, seed=1)
    assert (await stepper.rollout(" 1;", max_tokens=10)).text == " 2; 3; Answer: 3"
    assert (await stepper.rollout(" 1; 2;", max_tokens=10)).text == " 3; Answer: 3"  # the rest of the first
    assert (await stepper.rollout(" 1; 2;", max_tokens=20)).text == " 3; Answer: 3"  # a larger budget: the same
    assert (len(backend.requests), stepper.reused_rollouts, stepper.calls) == (1, 2, 3)
    await stepper.rollout(" 1; 2;", max_tokens=2)  # cut at a smaller budget: a call
    await stepper.rollout("", max_tokens=10)  # from before the first one started: a call
    await stepper.rollout(" 1; 2;", max_tokens=10, temperature=0.5)  # sampled: a call
    stepper.problem = Problem.from_question("Count to four", answer="4", answer_kind="string")
    await stepper.rollout(" 1; 2;", max_tokens=10)  # other messages: a call
    assert (len(backend.requests), stepper.reused_rollouts) == (5, 2)
    short = Stepper(counting_problem(), engine, delimiter=";", step_tokens=8, temperature=0.8)
    await short.rollout(" 1;", max_tokens=2)  # cut at its budget: its text is not a whole rollout
    await short.rollout(" 1; 2;", max_tokens=2)
    assert short.reused_rollouts == 0


@pytest.mark.parametrize("spec", ["mcts(iterations=1, children=1, rollout_tokens=4, scorer=exact)",
                                  "tot(breadth=1, proposals=1, depth=1, step_tokens=1, scorer=exact)"])
async def test_a_rollout_cut_short_has_not_answered(spec):
    """A rollout that its tokens cut is an unfinished path: its last number is no answer (it was
    taken as one: the path was marked finished whatever ended the rollout)."""
    def reply(req, i):
        return " 1;" if req.stop else " 2; 3; then 40 and 50 more, Answer: 3"  # a step; a long rollout

    backend = ScriptedBackend(reply)
    result, _ = await run(spec, backend)
    rolled = [c for c in result.candidates if c.text.endswith("3;") or "40" in c.text]
    assert rolled and all(c.finish_reason == "length" and not c.meta["terminal"] for c in rolled), result.candidates
    assert result.answer is None and not result.correct


async def test_a_rollout_the_budget_cut_stops_the_search_and_says_so():
    from ponder import Budget

    def reply(req, i):
        return " 1;" if req.stop else " 2; 3; Answer: 3"

    backend = ScriptedBackend(reply)
    engine = Engine(backend, budget=Budget(max_tokens=10))  # the step takes 8 (prompt 7, 1 token): 2 are left
    result = await run_strategy(build_strategy("mcts(iterations=8, children=1, scorer=exact)"), counting_problem(),
                                engine)
    assert [q.max_tokens for q in backend.requests] == [7, 2]  # the rollout was cut to what the budget left
    assert result.budget_exhausted and result.trace["iterations"] == 1
    assert [c.finish_reason for c in result.candidates] == ["budget"] and result.answer is None  # the budget cut the rollout


async def test_a_rollout_sees_the_memories_of_its_own_path():
    """CoAT: a node's rollout is drawn with the memories along its path, its own included (it was
    drawn with what the last expansion left: its parent's path, without the node's own)."""
    seen: list[tuple[str, str]] = []

    def reply(req, i):
        system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
        if not req.stop:  # a rollout
            seen.append((req.prefix, system))
        return counter(req, i)

    strategy = build_strategy("mcts(iterations=3, children=1, scorer=exact)")
    strategy.params.memory_fn = lambda problem, text: f"memory of {text.strip()!r}"
    await run_strategy(strategy, counting_problem(), Engine(ScriptedBackend(reply)))
    assert seen
    for prefix, system in seen:  # every memory of the path down to the rolled-out node, and no other
        steps = prefix.split(";")[:-1]
        wanted = [f"memory of {';'.join(steps[:k + 1]).strip() + ';'!r}" for k in range(len(steps))]
        assert [line[2:] for line in system.splitlines()[1:]] == wanted, (prefix, system)


async def test_each_dvts_subtree_chooses_its_first_step_too():
    """search-and-learn's DVTS starts every subtree at the root and keeps the best of its width
    first steps; the first step was one unchosen sample a subtree (sample 1's 'x;' went astray)."""
    result, _ = await run("dvts(n=4, width=2, scorer=exact)", ScriptedBackend(counter))
    assert [c.answer for c in result.candidates] == ["3", "3"]
    assert sum(n["depth"] == 1 for n in result.trace["nodes"]) == 4
