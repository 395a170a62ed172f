"""Self-backtracking's rules on scripted backends: where a rollback cuts, how a solution is
scored, and what samples the budget did not reach count for."""

from __future__ import annotations

import re
from typing import Callable

import pytest

from ponder import Budget, Engine, Problem
from ponder.strategies import build_strategy, run_strategy
from ponder.types import Capabilities, Generation, GenerationRequest, Sample, Usage
from scripted import ScriptedBackend


class ScoredBackend:
    """ScriptedBackend's twin that also returns token log-probs: a reply's tokens are its runs of
    newlines and its words with the spaces before them, each scored by ``logprob(token)``; the
    tokens of a stop string are generated (and scored) too, as a model's are. ``texts``: whether
    the samples carry their tokens' texts (else token ids only)."""

    name = "scored"
    supports_streaming = False

    def __init__(self, reply: Callable[[GenerationRequest, int], str], logprob: Callable[[str], float],
                 *, texts: bool = True) -> None:
        self.reply = reply
        self.logprob = logprob
        self.texts = texts
        self.requests: list[GenerationRequest] = []

    def capabilities(self) -> Capabilities:
        return Capabilities(logits=False, prefix_continuation=True, num_parameters=100)

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        samples = []
        for i in range(request.n):
            full = self.reply(request, i)
            tokens = tokenize(full)[: request.max_tokens]
            finish = "stop" if len(tokens) == len(tokenize(full)) else "length"
            text, matched = "".join(tokens), None
            for s in request.stop:
                if s in text:
                    text, matched = text[: text.index(s)], s
            samples.append(Sample(text=text, finish_reason=finish, completion_tokens=len(tokens),
                                  token_ids=list(range(len(tokens))), matched_stop=matched,
                                  logprobs=[self.logprob(t) for t in tokens] if request.logprobs else None,
                                  tokens=tokens if self.texts and request.logprobs else None))
        prompt = sum(len(m["content"].split()) for m in request.messages) + len(request.prefix.split())
        return Generation(samples, Usage(prompt_tokens=prompt,
                                         completion_tokens=sum(s.completion_tokens for s in samples)))


def tokenize(text: str) -> list[str]:
    return re.findall(r"\n+|[^\S\n]*\S+|\s+", text)


def problem() -> Problem:
    return Problem.from_question("Count to three", answer="3", answer_kind="string")


async def run(spec: str, backend, budget: Budget | None = None):
    engine = Engine(backend)
    if budget is not None:
        engine = engine.for_problem(budget)
    return await run_strategy(build_strategy(spec), problem(), engine)


async def test_a_rollback_keeps_all_of_a_many_character_delimiter():
    """Before, the rolled-back prefix kept the delimiter's first character: 'one\\n', not 'one\\n\\n'."""
    def reply(req, i):
        if req.prefix:
            return "two\n\nAnswer: 3"
        return "one\n\nbad step <backtrack>" if i == 0 else "one\n\ntwo\n\nAnswer: 3"

    backend = ScriptedBackend(reply)
    result = await run("backtrack(n=2, expansions=1, depth=1, delimiter='\\n\\n')", backend)
    assert result.trace["rollbacks"] == 1
    assert [r.prefix for r in backend.requests] == ["", "one\n\n"]
    assert result.answer == "3"


@pytest.mark.parametrize("texts", [True, False], ids=["token-texts", "token-ids-only"])
async def test_a_solution_is_scored_by_the_likelihood_of_its_whole_text(texts):
    """The path that rolled back to an unlikely first step ('odd;', log-prob -8) and then wrote a
    likely ending (' Answer: 7') is less likely than the one likely throughout (' Answer: 3').
    Before, only the ending after the rollback was scored, and '7' won."""
    def reply(req, i):
        if req.prefix:
            return " Answer: 7"
        return "odd; wrong <backtrack>" if i == 0 else "fine; Answer: 3"

    lps = {"odd;": -8.0, " 7": -0.1}
    backend = ScoredBackend(reply, lambda t: lps.get(t, -0.5), texts=texts)
    result = await run("backtrack(n=2, expansions=1, depth=1)", backend)
    assert [r.prefix for r in backend.requests] == ["", "odd;"]
    scores = {c.answer: c.score for c in result.candidates}
    assert scores["3"] == pytest.approx(-0.5)
    assert scores["7"] == pytest.approx((-8.0 - 0.5 - 0.1) / 3)  # 'odd;' | ' Answer:' ' 7'
    assert result.answer == "3" and "note" not in result.trace


@pytest.mark.parametrize("texts", [True, False], ids=["token-texts", "token-ids-only"])
async def test_a_rollback_into_the_prefix_keeps_the_log_probs_of_what_remains(texts):
    """A sample that backtracks at once after 'a\\n\\nb\\n\\n' drops step 'b', which an earlier sample
    wrote: the prefix 'a\\n\\n' keeps that sample's log-probs of 'a' and '\\n\\n' only."""
    def reply(req, i):
        return {"": "a\n\nb\n\nc <backtrack>", "a\n\nb\n\n": "<backtrack>"}.get(req.prefix, "Answer: 3")

    lps = {"a": -1.0, "\n\n": -2.0, "b": -4.0, "Answer:": -0.25, " 3": -0.75}
    backend = ScoredBackend(reply, lambda t: lps.get(t, -3.0), texts=texts)
    result = await run("backtrack(n=1, expansions=1, depth=2, delimiter='\\n\\n')", backend)
    assert [r.prefix for r in backend.requests] == ["", "a\n\nb\n\n", "a\n\n"]
    [c] = result.candidates
    assert c.text == "a\n\nAnswer: 3" and c.score == pytest.approx((-1.0 - 2.0 - 0.25 - 0.75) / 4)


async def test_samples_the_budget_did_not_reach_neither_vote_nor_turn_off_the_likelihoods():
    """Under a short token budget the Engine draws the samples in waves and fills in those it could
    not draw with empty ones (finish reason 'budget', no log-probs). Before, one of them turned the
    selection into a majority vote and the note said the server gave no log-probabilities."""
    backend = ScoredBackend(lambda req, i: "Answer: 3", lambda t: -0.1)
    # the prompt is 3 tokens: the first wave (one sample, 2 tokens) leaves 1, too few for another call
    result = await run("backtrack(n=3, expansions=1)", backend, Budget(max_tokens=6))
    reasons = [c.finish_reason for c in result.candidates]
    assert reasons == ["stop", "budget", "budget"] and len(backend.requests) == 1, reasons
    assert all(c.answer is None and c.text == "" for c in result.candidates if c.score is None)
    assert "note" not in result.trace
    assert result.trace["answer_mass"] == {"3": pytest.approx(0.9048, abs=1e-4)}
    assert result.answer == "3" and result.budget_exhausted


async def test_a_server_without_log_probs_still_gets_a_majority_vote_that_says_so():
    result = await run("backtrack(n=3, expansions=1)", ScriptedBackend(lambda req, i: " Answer: 3"))
    assert result.answer == "3" and result.trace["answer_mass"] == {"3": 3.0}
    assert "no token log-probabilities" in result.trace["note"]


@pytest.mark.parametrize("text, delimiter, back", [
    (" 1; 5; ", ";", " 1;"),  # the wrong step 5 ended in its ';': it is the one dropped (it stayed)
    (" 1; 5", ";", " 1;"),
    ("1\n\n5\n\n", "\n\n", "1\n\n"),
    ("1\n\n5", "\n\n", "1\n\n"),
    ("5;", ";", ""),
    ("<think> 1+2=3; 3*4=13 ", ";", "<think> 1+2=3;"),  # the lab policy's form: the token before its ';'
])
def test_a_roll_back_drops_the_last_step_whatever_its_delimiter(text, delimiter, back):
    from ponder.strategies.backtrack import _step_back

    assert _step_back(text, delimiter) == back
