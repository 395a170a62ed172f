"""What the budget cut or never drew is no step, no rating, no vote, and no answer that replaces one
found before; and the result says the budget cut it (scripted backend, exact token budgets)."""

from __future__ import annotations

import pytest

from ponder import Budget, Engine, Problem
from ponder.strategies import build_strategy, run_strategy
from ponder.strategies.stepping import Stepper
from scripted import ScriptedBackend


def problem() -> Problem:
    p = Problem.from_question("What is 3 * 7?", answer="21", answer_kind="number")
    p.checker = lambda a: a == "21"
    return p


def reply(req, i):
    c = req.messages[-1]["content"]
    if c.startswith("Here is a problem"):
        return "fix the last step"
    if "Draft response" in c:
        return "Let me redo this whole thing again very carefully now Answer: 21"
    if c.startswith("You are grading"):
        return "3 out of 10"
    if "Can this partial" in c or "Is this solution" in c:
        return "impossible no wait sure"
    return "Answer: 21"


def stepper_reply(req, i):
    if "Can this partial" in req.messages[-1]["content"] or "Is this solution" in req.messages[-1]["content"]:
        return "impossible no wait sure"
    return " Answer: 21" if req.prefix else " one two three four five six;"


async def run(spec, backend, tokens):
    engine = Engine(backend).for_problem(Budget(max_tokens=tokens))
    return await run_strategy(build_strategy(spec), problem(), engine)


async def test_feedback_edit_keeps_the_drafts_answer_over_an_edit_the_budget_cut():
    """The editor's call gets 1 token (finish 'budget'): before, its unanswered text replaced the
    draft's answer 21 and the result said budget_exhausted=False."""
    r = await run("feedback_edit(n=1, feedbacks=1, seed=0)", ScriptedBackend(reply), 73)
    editor = [e for e in r.ledger.entries if e.role == "editor"]
    assert editor and editor[0].finish_reasons == ["budget"]
    assert r.answer == "21" and r.budget_exhausted
    assert "the budget cut the edits" in r.trace["note"]


async def test_an_expansion_leaves_out_the_samples_the_budget_did_not_draw():
    backend = ScriptedBackend(lambda req, i: " a;")
    engine = Engine(backend).for_problem(Budget(max_tokens=6))
    stepper = Stepper(problem(), engine, delimiter=";", step_tokens=8, temperature=0.8, seed=0)
    steps = await stepper.expand("", 3)
    assert steps and all(s.text for s in steps) and len(steps) < 3
    assert stepper.budget_cut


@pytest.mark.parametrize("spec,tokens", [("dvts(n=4, width=2, max_steps=3, scorer=exact, seed=0)", 12),
                                         ("beam(n=2, width=1, max_steps=1, scorer=exact, seed=0)", 8)])
async def test_step_search_makes_no_step_of_an_undrawn_sample_and_labels_a_cut_step_budget(spec, tokens):
    """Before, an undrawn sample became a node with an empty step; beam returned the step the
    budget cut ('one two three') as 'length' and said budget_exhausted=False."""
    r = await run(spec, ScriptedBackend(stepper_reply), tokens)
    assert [n["id"] for n in r.trace["nodes"] if n["id"] and n["step"] == ""] == []
    assert r.budget_exhausted
    cut = [c for c in r.candidates if c.meta["node"] and r.trace["nodes"][c.meta["node"]]["step"].strip() in
           ("one two three", "one two three four five")]
    if spec.startswith("beam"):
        assert [(c.text.strip(), c.finish_reason) for c in r.candidates] == [("one two three", "budget")]
    assert all(c.finish_reason == "budget" for c in cut)


async def test_mcts_makes_no_step_of_an_undrawn_sample():
    def counter(req, i):
        done = req.prefix.count(";")
        if done >= 3:
            return " Answer: 21"
        return " x;" if done == 0 and i % 2 == 1 else f" {done + 1};"
    for tokens in range(4, 40, 2):
        r = await run("mcts(iterations=4, children=2, scorer=exact, seed=0)", ScriptedBackend(counter), tokens)
        assert [n["id"] for n in r.trace["nodes"] if n["id"] and n["step"] == ""] == [], tokens
        assert r.budget_exhausted, tokens


async def test_judge_does_not_read_a_rating_from_a_reply_the_budget_cut():
    """The judge's reply '3 out of 10' is cut to '3 out' (finish 'budget'): before, it scored 0.3
    and the result said budget_exhausted=False."""
    r = await run("bon(n=1, scorer=judge, seed=0)", ScriptedBackend(reply), 55)
    judge = [e for e in r.ledger.entries if e.role == "judge"]
    assert judge and judge[0].finish_reasons == ["budget"]
    assert r.candidates[0].score is None and r.answer == "21" and r.budget_exhausted


async def test_tot_value_prompt_counts_no_vote_of_a_cut_reply():
    """The value reply 'impossible no wait sure' is cut to 'impossible': before, it counted 0.001."""
    r = await run("tot(breadth=1, proposals=1, depth=1, value=llm, seed=0)", ScriptedBackend(stepper_reply), 43)
    value = [e for e in r.ledger.entries if e.role == "value"]
    assert value and value[0].finish_reasons == ["budget"]
    node = r.trace["nodes"][1]
    assert node["score"] == 0.0 and node["value_cut_by_budget"]
    assert r.budget_exhausted
