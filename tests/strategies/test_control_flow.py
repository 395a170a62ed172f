"""Control flow of the strategies on a scripted backend: rounds, stopping, selection, ledger roles."""

from __future__ import annotations

import math

import pytest

from ponder import CapabilityError, Engine, Problem, StrategySpecError
from ponder.strategies import build_strategy, run_strategy
from scripted import ScriptedBackend


def problem(answer="7", **kw):
    return Problem.from_question("What is 3+4?", answer=answer, **kw)


async def run(spec, backend, prob=None, budget=None):
    engine = Engine(backend)
    if budget is not None:
        engine = engine.for_problem(budget)
    return await run_strategy(build_strategy(spec), prob or problem(), engine)


async def test_sc_votes_over_equivalent_answers_not_raw_text():
    answers = ["Answer: 7", "Answer: 7.0", "Answer: 8", "so Answer: \\frac{14}{2}", "Answer: 8"]
    r = await run("sc(n=5)", ScriptedBackend(lambda req, i: answers[i]))
    assert r.answer in ("7", "7.0") and r.correct
    assert r.trace["votes"] == {"7": 3, "8": 2}


async def test_sc_tie_goes_to_the_first_seen_answer():
    answers = ["Answer: 8", "Answer: 7", "Answer: 7", "Answer: 8"]
    r = await run("sc(n=4)", ScriptedBackend(lambda req, i: answers[i]))
    assert r.answer == "8"


async def test_asc_stops_early_when_unanimous_and_samples_all_when_split():
    backend = ScriptedBackend(lambda req, i: "Answer: 7")
    r = await run("asc(max_n=16, batch=1)", backend)
    # Beta criterion: 3 agreeing votes give P = 15/16 < 0.95, 4 give 31/32 >= 0.95, so the
    # first call draws 4 (fewer could not stop) and then batch by batch
    assert r.trace["samples"] == 4 and [q.n for q in backend.requests] == [4] and r.answer == "7"
    assert r.trace["rounds"] == 1  # sampling rounds (a round of budget forcing is several calls)
    mixed = ScriptedBackend(lambda req, i: "Answer: 8" if len(mixed.requests) == 1 and i == 0 else "Answer: 7")
    r1 = await run("asc(max_n=16, batch=1)", mixed)
    # 3 vs 1 after the first call; one more 7 per call until P(7 leads) >= 0.95: (6, 1) gives 0.965
    assert [q.n for q in mixed.requests] == [4, 1, 1, 1] and r1.answer == "7"
    drawn = iter(range(100))
    split = ScriptedBackend(lambda req, i: f"Answer: {next(drawn) % 2}")  # 0, 1, 0, 1, ...
    r2 = await run("asc(max_n=8, batch=2)", split)
    assert r2.trace["samples"] == 8
    w = ScriptedBackend(lambda req, i: "Answer: 7")
    r3 = await run("asc(rule=window, window=4, batch=2)", w)
    assert r3.trace["samples"] == 4
    # at threshold 0.99 the first call draws 6, then 2 a call; after 10 samples 7 leads 8 by 5 with
    # 6 left (not settled: P = 0.98 < 0.99), after 12 by 7 with 4 left: no sample could change the vote
    order = iter("7787978777778777")
    lead = ScriptedBackend(lambda req, i: f"Answer: {next(order)}")
    r4 = await run("asc(max_n=16, batch=2, threshold=0.99)", lead)
    assert [q.n for q in lead.requests] == [6, 2, 2, 2] and r4.answer == "7"
    assert r4.trace["votes"] == {"7": 9, "8": 2, "9": 1} and r4.trace["confidence"] == 1.0


def test_asc_window_larger_than_max_n_is_an_error():
    """The window rule could never fill its window: before, it silently behaved as sc."""
    with pytest.raises(StrategySpecError, match="^asc: window=20 is larger than max_n=8: the window rule"):
        build_strategy("asc(rule=window, window=20, max_n=8)")
    assert build_strategy("asc(rule=window, window=8, max_n=8)").params.window == 8
    assert build_strategy("asc(rule=beta, window=20, max_n=8)").params.rule == "beta"  # window unused


async def test_asc_window_rule_checks_sequential_windows_that_do_not_overlap():
    """ESC (arXiv 2401.10480) splits the samples into windows one after another and stops after a
    window whose answers all agree. Before, after the first window the rule drew ``batch`` (2) at a
    time and checked the latest 4 samples each time: 1 2 1 1 | 1 1 stopped after 6 on the
    overlapping window 1 1 1 1, where ESC's windows 1211 / 1122 / 2233 never agree."""
    order = iter("121111222233")
    split = ScriptedBackend(lambda req, i: f"Answer: {next(order)}")
    r = await run("asc(rule=window, window=4, batch=2, max_n=12)", split)
    assert [q.n for q in split.requests] == [4, 4, 4] and r.trace["samples"] == 12 and r.trace["rounds"] == 3
    assert r.answer == "1" and r.trace["votes"] == {"1": 5, "2": 5, "3": 2}  # the vote over all 12: a tie, first seen
    # a later window that agrees stops sampling
    order2 = iter("1211" "3333")
    later = ScriptedBackend(lambda req, i: f"Answer: {next(order2)}")
    r2 = await run("asc(rule=window, window=4, max_n=16)", later)
    assert [q.n for q in later.requests] == [4, 4] and r2.trace["samples"] == 8
    assert r2.answer == "3" and r2.trace["confidence"] == 1.0


def test_wbon_with_every_weight_zero_is_the_plain_majority():
    """A judge that gave no rating scores 0 (or None): with every weight 0, the tie of the weighted
    tally went to the first answer (7), not the majority (9). Ties now go to the larger group,
    then to the first seen."""
    from ponder.types import Candidate

    for scores in ([0.0, 0.0, 0.0], [None, None, None]):
        pool = [Candidate(text=a, answer=a, score=s) for a, s in zip(["7", "9", "9"], scores)]
        r = build_strategy("wbon(n=3, scorer=judge)").decide(problem(), pool)
        assert r.answer == "9" and r.text == "9", scores
    # equal tallies and equal counts: the first seen still wins; a larger tally wins over more members
    pool = [Candidate(text=a, answer=a, score=s) for a, s in [("7", 0.5), ("9", 0.5), ("9", 0.0), ("7", 0.0)]]
    assert build_strategy("wbon(n=4, scorer=judge)").decide(problem(), pool).answer == "7"
    pool = [Candidate(text=a, answer=a, score=s) for a, s in [("7", 0.9), ("9", 0.2), ("9", 0.2)]]
    assert build_strategy("wbon(n=3, scorer=judge)").decide(problem(), pool).answer == "7"


async def test_bon_exact_picks_the_checked_answer_and_wbon_weighs_groups():
    answers = ["Answer: 5", "Answer: 5", "Answer: 7", "Answer: 5"]
    prob = problem(checker=None)
    prob.checker = lambda a: a == "7"
    r = await run("bon(n=4, scorer=exact)", ScriptedBackend(lambda req, i: answers[i]), prob)
    assert r.answer == "7" and r.trace["chosen"] == 2
    assert [e.role for e in r.ledger.entries] == ["policy"]
    r2 = await run("wbon(n=4, scorer=exact)", ScriptedBackend(lambda req, i: answers[i]), prob)
    assert r2.answer == "7"  # one group of weight 1 beats three of weight 0
    r3 = await run("sc(n=4)", ScriptedBackend(lambda req, i: answers[i]), prob)
    assert r3.answer == "5"


def test_wbon_weighs_a_log_probability_by_its_probability():
    """logprob scores are mean log-probabilities (<= 0): summed as they are, every sample agreeing
    with an answer counted against it, and one sample at -0.5 outweighed three at -0.2."""
    from ponder.types import Candidate

    pool = [Candidate(text=str(i), answer=a, score=s)
            for i, (a, s) in enumerate([("848", -0.2), ("848", -0.2), ("848", -0.2), ("700", -0.5)])]
    r = build_strategy("wbon(n=4, scorer=logprob)").decide(problem(), pool)
    assert r.answer == "848" and r.trace["weights"] == {"848": round(3 * math.exp(-0.2), 4),
                                                        "700": round(math.exp(-0.5), 4)}
    # other scorers' scores are weights as they are
    assert build_strategy("wbon(n=4, scorer=prm)").decide(problem(), pool).answer == "700"


async def test_judge_reads_the_rating_not_a_number_of_its_working():
    """A judge that works the problem first: the rating is the labelled one or the last number
    (before, the first number from 1 to 10 was read: '12+7=19' rated 7)."""
    from ponder.scorers.judge import read_rating

    def reply(req, i):
        content = req.messages[-1]["content"]
        if content.startswith("You are grading"):
            return ("12+7=19, 19*3=57, so 33 is wrong. Rating: 1" if "Answer: 33" in content
                    else "3+4 is 7, right. 6")
        return ["Answer: 33", "Answer: 7"][i]

    prob = problem()
    r = await run("bon(n=2, scorer=judge)", ScriptedBackend(reply), prob)
    assert r.answer == "7" and [c.score for c in r.candidates] == [0.1, 0.6]
    assert [read_rating(t) for t in ("8/10", "Score: 9.", "I rate it 7 out of 10", "3.5", "none", "x=5+3")] == \
        [8, 9, 7, None, None, None]


async def test_exact_scorer_without_checker_is_a_clear_error_before_any_call():
    backend = ScriptedBackend(lambda req, i: "Answer: 7")
    with pytest.raises(StrategySpecError, match="checker"):
        await run("bon(n=2, scorer=exact)", backend, problem())
    assert backend.requests == []


async def test_budget_forcing_carries_the_remaining_budget_exactly():
    # the model always thinks 10 words then closes its thinking
    def reply(req, i):
        if req.prefix.endswith("Final Answer:"):
            return " 7"
        return "one two three four five six seven eight nine ten </think>"

    backend = ScriptedBackend(reply)
    r = await run("budget(think=25, wait=5)", backend)
    thinking_calls = [q for q in backend.requests if "</think>" in q.stop]
    # each round spends 11 generated tokens (10 words and the closing tag) plus 1 for "Wait"
    assert [q.max_tokens for q in thinking_calls] == [25, 13, 1]
    assert r.trace["thinking_tokens"] == 25 and r.trace["forced_end"]
    assert r.answer == "7"
    assert r.candidates[0].text.count("Wait") == 2


async def test_budget_min_think_suppresses_early_ending_and_wait_zero_answers_at_once():
    def reply(req, i):
        return " 7" if req.prefix.endswith("Final Answer:") else "a b c </think>"

    backend = ScriptedBackend(reply)
    r = await run("budget(think=100, min_think=8)", backend)
    assert r.trace["thinking_tokens"] >= 8 and r.trace["waits"] == 0
    backend2 = ScriptedBackend(reply)
    r2 = await run("budget(think=100, wait=0)", backend2)
    assert len(backend2.requests) == 2 and r2.trace["thinking_tokens"] == 4
    with pytest.raises(StrategySpecError, match="^budget: min_think=20 is more than think=10"):
        build_strategy("budget(think=10, min_think=20)")


async def test_budget_needs_prefix_continuation_and_tip_needs_logits():
    no_prefix = ScriptedBackend(lambda req, i: "x", prefix=False)
    with pytest.raises(CapabilityError, match="prefix continuation"):
        await run("budget(think=10)", no_prefix)
    with pytest.raises(CapabilityError, match="logits"):
        await run("tip", ScriptedBackend(lambda req, i: "x"))
    assert no_prefix.requests == []


async def test_think_off_writes_an_empty_thinking_span():
    backend = ScriptedBackend(lambda req, i: "Answer: 7")
    r = await run("think(mode=off)", backend)
    assert backend.requests[0].prefix == "<think> </think>"
    assert backend.requests[0].template_kwargs == {"enable_thinking": False}
    assert r.answer == "7"
    with pytest.raises(StrategySpecError, match="^think: mode=budget needs tokens=N"):
        build_strategy("think(mode=budget)")
    with pytest.raises(StrategySpecError, match="^think: tokens=5 is a thinking budget, used only with mode=budget"):
        build_strategy("think(mode=off, tokens=5)")


async def test_refine_stops_when_the_critique_is_clean_and_records_roles():
    def reply(req, i):
        last = req.messages[-1]["content"]
        if last.startswith("Review"):
            critiques = sum(1 for q in backend.requests if q.messages[-1]["content"].startswith("Review"))
            return "Step 1 is wrong." if critiques == 1 else "NO ISSUES"
        if last.startswith("Feedback"):
            return "Fixed. Answer: 7"
        return "Answer: 8"

    backend = ScriptedBackend(reply)
    r = await run("refine(rounds=4)", backend)
    assert r.answer == "7" and len(r.trace["rounds"]) == 2 and r.trace["rounds"][-1]["clean"]
    assert [e.role for e in r.ledger.entries] == ["policy", "critic", "policy", "critic"]


async def test_refine_is_not_stopped_by_its_phrase_inside_a_critique_that_names_a_mistake():
    """Before, a critique that merely contained the phrase was clean: 'Step 1 has no issues, but
    step 2 is wrong' stopped refinement with the wrong answer."""
    def reply(req, i):
        last = req.messages[-1]["content"]
        if last.startswith("Review"):
            critiques = sum(1 for q in backend.requests if q.messages[-1]["content"].startswith("Review"))
            return ("Step 1 has no issues, but step 2 is wrong: 3+4 is 7." if critiques == 1
                    else "I checked every step.\n**No issues.**")
        if last.startswith("Feedback"):
            return "Fixed. Answer: 7"
        return "Answer: 8"

    backend = ScriptedBackend(reply)
    r = await run("refine(rounds=4)", backend)
    assert r.answer == "7" and [x["clean"] for x in r.trace["rounds"]] == [False, True]


async def test_refine_runs_all_rounds_without_a_clean_critique():
    backend = ScriptedBackend(lambda req, i: "Bad." if req.messages[-1]["content"].startswith("Review") else "Answer: 8")
    r = await run("refine(rounds=3)", backend)
    assert len(r.trace["rounds"]) == 3 and len(r.candidates) == 4
    # Self-Refine keeps the history: each critique and revision sees the earlier versions and critiques
    assert [len(q.messages) for q in backend.requests[1:]] == [3, 5, 7, 9, 11, 13]
    assert [m["content"] for m in backend.requests[-1].messages[1::2]] == ["Answer: 8", "Bad."] * 3
    backend.requests.clear()
    await run("refine(rounds=3, history=false)", backend)
    assert [len(q.messages) for q in backend.requests[1:]] == [3, 5] * 3


def test_refine_blank_stop_phrase_is_an_error():
    """A blank stop phrase is in (nearly) every critique: before, refinement always stopped after the first."""
    for phrase in ("''", "' '"):
        with pytest.raises(StrategySpecError, match=rf"^refine: stop_phrase={phrase} is blank"):
            build_strategy(f"refine(stop_phrase={phrase})")


async def test_feedback_edit_fans_out_and_selects_by_vote():
    def reply(req, i):
        content = req.messages[-1]["content"]
        if "Give concise, specific feedback" in content:
            return f"feedback {i}"
        if "Rewrite the response" in content:
            return "Answer: 7" if "feedback 0" in content else "Answer: 6"
        return "Answer: 5"

    backend = ScriptedBackend(reply)
    r = await run("feedback_edit(n=3, feedbacks=2, edits=2)", backend)
    roles = [e.role for e in r.ledger.entries]
    assert roles.count("policy") == 1 and roles.count("feedback") == 3 and roles.count("editor") == 6
    assert len(r.candidates) == 12 and r.answer in ("7", "6")
    assert r.trace["drafts"] == ["5", "5", "5"]


async def test_budget_forcing_under_one_call_answers_without_thinking():
    """Under max_calls=1 the one call is the answer's (before, it went to thinking and the run
    answered nothing), as under a token budget too small to think."""
    from ponder import Budget

    backend = ScriptedBackend(lambda req, i: "3+4=7" if req.stop else " 7")
    r = await run("budget(think=60, answer_prompt='Answer:')", backend, budget=Budget(max_calls=1))
    assert r.answer == "7" and r.ledger.calls == 1 and r.budget_exhausted
    assert r.trace["thinking_tokens"] == 0 and r.trace["forced_end"]


async def test_think_with_a_budget_keeps_budget_forcings_trace():
    backend = ScriptedBackend(lambda req, i: "3+4=7 </think>" if req.stop else "Answer: 7")
    r = await run("think(mode=budget, tokens=20)", backend)
    assert r.answer == "7" and r.strategy == "think(mode=budget, tokens=20)"
    assert r.trace["thinking_tokens"] == 2 and r.trace["waits"] == 0  # before: no trace at all


async def test_budget_exhaustion_returns_best_so_far():
    from ponder import Budget

    backend = ScriptedBackend(lambda req, i: "Answer: 7" if i == 0 else "Answer: 8")
    r = await run("asc(max_n=16, batch=3)", backend, budget=Budget(max_calls=2))
    assert r.budget_exhausted and r.answer == "8" and r.ledger.calls == 2  # 4 of the 6 samples drawn


async def test_samples_finished_before_the_budget_ran_out_are_kept():
    """Budget forcing draws its samples at once, two calls each (thinking, then the answer). When
    the budget stops one sample, the others' work is kept: before, the first BudgetExhausted threw
    all of it away (and the other samples ran on unseen), so sc answered nothing."""
    from ponder import Budget

    backend = ScriptedBackend(lambda req, i: "3+4=7" if req.stop else " 7")
    r = await run("sc(n=3, of=budget(think=30, answer_prompt='Answer:'))", backend, budget=Budget(max_calls=4))
    assert r.answer == "7" and r.budget_exhausted and r.ledger.calls == 4
    assert [c.answer for c in r.candidates] == ["7", "7", None]
    assert [c.finish_reason for c in r.candidates][2] == "budget"
    # feedback_edit keeps the edits made before the budget ran out
    fe = "feedback_edit(n=2, feedbacks=1, edits=2)"
    r = await run(fe, ScriptedBackend(lambda req, i: "Answer: 7"), budget=Budget(max_calls=4))
    assert r.budget_exhausted and r.answer == "7" and r.trace["edited"] == 2


async def test_a_candidate_too_long_for_the_prm_is_left_unscored_and_the_rest_still_ranked():
    """The lab PRM reads 512 tokens. A sample longer than that (a rambling one) is not scored, and
    no PRM call is spent on it; the other samples are still scored and ranked, so one long
    sample does not reduce best-of-n to "the first candidate with an answer"."""
    rambling = "<think> " + "; ".join(["3+4=8"] * 150) + " </think> Answer: 8"
    right = "<think> 3+4=7 </think> Answer: 7"
    slip = "<think> 3+4=9 </think> Answer: 9"
    replies = [rambling, slip, right, slip]
    prob = Problem.from_question("Compute left to right: 3+4", answer="7")
    r = await run("bon(n=4, scorer=prm)", ScriptedBackend(lambda req, i: replies[i]), prob)
    assert r.answer == "7" and r.trace["chosen"] == 2 and not r.budget_exhausted
    assert r.trace["scores"][0] is None and all(s is not None for s in r.trace["scores"][1:])
    assert "reads at most 512" in r.trace["unscored"][0] and "unscored" not in r.candidates[2].meta
    assert [e.role for e in r.ledger.entries] == ["policy", "prm", "prm"]  # the repeated slip: from the cache
    w = await run("wbon(n=4, scorer=prm)", ScriptedBackend(lambda req, i: replies[i]), prob)
    # weighted voting: the unscored sample weighs nothing, the others their scores
    assert not w.budget_exhausted and w.trace["weights"]["8"] == 0
    assert w.trace["weights"]["7"] == round(r.trace["scores"][2], 4) > 0


async def test_budget_forcing_keeps_a_call_and_tokens_for_its_answer():
    """wait=2 takes four calls (three thinking, one answer). Under three, the thinking ends after
    the second so that the answer is still written; before, the third call went to a Wait, the
    answer call was refused and the run answered nothing, as it did when its thinking took the
    tokens the answer needed."""
    from ponder import Budget

    backend = ScriptedBackend(lambda req, i: "3+4=7" if req.stop else " 7")
    spec = "budget(think=60, wait=2, answer_prompt='Answer:')"
    r = await run(spec, backend, budget=Budget(max_calls=3))
    assert r.answer == "7" and r.ledger.calls == 3 and r.trace["waits"] == 1
    assert r.budget_exhausted and r.stop_reason == "call budget of 3 spent"
    r = await run(spec, backend)
    assert r.answer == "7" and r.ledger.calls == 4 and not r.budget_exhausted
    # thinking that would run on: each thinking call is kept short of what the answer needs
    backend = ScriptedBackend(lambda req, i: "1+1=2 " * 40 if req.stop else " 2")
    r = await run("budget(think=200, answer_prompt='Answer:')", backend, budget=Budget(max_tokens=80))
    assert r.answer == "2" and r.budget_exhausted and r.ledger.total_tokens <= 80


async def test_refine_keeps_its_last_answer_when_the_budget_cuts_a_revision():
    """A revision the budget cut before its answer is no answer: refine returns the draft's and
    says the budget ran out (before: no answer, and budget_exhausted False)."""
    from ponder import Budget

    def reply(req, i):  # the draft, the critique, the revision
        last = req.messages[-1]["content"]
        if last.startswith("Review the solution"):
            return "The answer is wrong, check it."
        if last.startswith("Feedback on your solution"):
            return "Let me redo it step by step carefully: 3 plus 4 is seven so Answer: 7"
        return "3+4=7. Answer: 7"

    r = await run("refine(rounds=1)", ScriptedBackend(reply), budget=Budget(max_tokens=115))
    assert r.answer == "7" and r.budget_exhausted and r.trace["chosen_version"] == 0
    assert [c.finish_reason for c in r.candidates] == ["stop", "budget"]
