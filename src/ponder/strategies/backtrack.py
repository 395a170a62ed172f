"""Self-backtracking: when the model emits ``<backtrack>``, roll back one step and re-expand.

Paper: Yang et al., "Step Back to Leap Forward: Self-Backtracking for Boosting Reasoning of Language
Models", arXiv 2502.04404. Expansion: n samples; a sample that emits the backtrack token is cut
there, its last step is dropped, and the shorter prefix is expanded again (a visited set keeps a
prefix from being expanded twice, ``depth`` bounds the backtracks per path). Selection:
length-normalised log-likelihood of each completed solution, equal answers merged (their
likelihoods summed); from a model server that returns no log-probabilities, a plain majority
vote, which the trace's note says. Defaults: n = 8 and temperature 0.7 (ours; the paper sweeps
N), backtrack depth b = 2 per path, two re-expansions of each rolled-back prefix.

A rolled-back prefix keeps all of its last delimiter (``\n\n``, not ``\n``) and carries the
log-probs of the tokens that wrote it, so that a solution's likelihood is that of its whole
text, not of the part after its last rollback only (which would rank an unlikely prefix with a
likely ending above a solution likely throughout). Samples the budget did not reach are
candidates with no text and no answer: they neither vote nor make the selection a majority vote.
"""

from __future__ import annotations

import math
from collections import defaultdict

from pydantic import Field

from ..engine import Engine
from ..errors import BudgetExhausted
from ..types import Candidate, GenerationRequest, Problem, Result, Sample
from .base import CUT, Params, Strategy, answer_of, cut_by_budget
from .stepping import undrawn

Scored = list[tuple[int, float]] | None
"""The log-probs of the tokens that wrote a path's text, each with where in that text its token
starts; None where the model server gave none."""


class BacktrackParams(Params):
    n: int = Field(8, gt=0, le=256)
    expansions: int = Field(2, gt=0, le=64)
    depth: int = Field(2, ge=0, le=16)
    token: str = "<backtrack>"
    delimiter: str = Field(";", min_length=1)
    max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    seed: int | None = None


class SelfBacktracking(Strategy):
    name = "backtrack"
    summary = "self-backtracking: on <backtrack>, drop the last step and re-expand; pick by normalised likelihood"
    paper = "arXiv 2502.04404"
    Params = BacktrackParams

    def check(self, engine: Engine) -> None:
        engine.require("prefix_continuation", "backtrack (re-expanding from an earlier step)")

    async def run(self, problem: Problem, engine: Engine) -> Result:
        p: BacktrackParams = self.params  # type: ignore[assignment]
        queue: list[tuple[str, int, Scored]] = [("", 0, [])]
        visited = {""}
        done: list[Candidate] = []
        rollbacks, calls, exhausted = 0, 0, False
        try:
            while queue:
                prefix, used, scored = queue.pop(0)
                k = p.n if not prefix else p.expansions
                seed = None if p.seed is None else p.seed + calls
                calls += 1
                samples = await engine.generate(GenerationRequest(
                    messages=problem.messages, prefix=prefix, n=k, stop=[p.token], max_tokens=p.max_tokens,
                    temperature=p.temperature, seed=seed, logprobs=True))
                for s in samples:
                    if undrawn(s):
                        done.append(Candidate.not_drawn(backtracks=used))
                        continue
                    text = prefix + s.text
                    if s.matched_stop == p.token:
                        rollbacks += 1
                        back = _step_back(text, p.delimiter)
                        if used < p.depth and back not in visited:
                            visited.add(back)
                            queue.append((back, used + 1, _kept(engine, prefix, scored, s, p.delimiter, len(back))))
                        continue
                    ans = answer_of(problem, text, cut=s.finish_reason in CUT).value
                    done.append(Candidate(text=text, answer=ans, finish_reason=s.finish_reason,
                                          score=_mean(scored, s.logprobs), meta={"backtracks": used}))
        except BudgetExhausted:
            exhausted = True
        return self.select(problem, done, exhausted, rollbacks)

    def select(self, problem: Problem, done: list[Candidate], exhausted: bool, rollbacks: int) -> Result:
        from ..answers import group_answers

        exhausted = exhausted or cut_by_budget(done)
        groups = group_answers([c.answer for c in done], kind=problem.answer_kind)
        if not groups:
            return Result(answer=None, text=done[0].text if done else "", strategy=self.spec, candidates=done,
                          budget_exhausted=exhausted, trace={"rollbacks": rollbacks})
        # only the candidates that vote (those with an answer) say whether the server gave
        # log-probabilities: a sample the budget did not reach has none, and no answer
        unweighed = any(done[i].score is None for g in groups for i in g)
        if unweighed:  # the server returned no log-probabilities: each solution counts once
            mass = [float(len(g)) for g in groups]
        else:
            mass = [sum(math.exp(done[i].score) for i in g) for g in groups]  # type: ignore[arg-type]
        best = max(range(len(groups)), key=lambda g: (mass[g], -min(groups[g])))
        rep = max(groups[best], key=lambda i: -math.inf if done[i].score is None else done[i].score)
        merged: dict[str, float] = defaultdict(float)
        for g, m in zip(groups, mass):
            merged[str(done[g[0]].answer)] = round(m, 4)
        trace: dict = {"rollbacks": rollbacks, "answer_mass": dict(merged)}
        if unweighed:
            trace["note"] = ("the model server returned no token log-probabilities, so the solutions were not "
                             "weighed by their likelihood: a plain majority vote chose the answer")
        return Result(answer=done[rep].answer, text=done[rep].text, strategy=self.spec, candidates=done,
                      budget_exhausted=exhausted, trace=trace)


def _step_back(text: str, delimiter: str) -> str:
    """``text`` without its last step: up to the end of the ``delimiter`` before it (all of it,
    however many characters); "" where there is none. A last step that its delimiter ended (``1;
    5; <backtrack>``, or with ``\n\n``, ``1\n\n5\n\n``) is the one dropped, trailing whitespace
    set aside: before, with ``;`` the cut fell after it and the wrong step stayed."""
    body = text.rstrip()
    end = delimiter.strip()
    if end and body.endswith(end):
        body = body[: -len(end)]
    cut = body.rfind(delimiter)
    return text[: cut + len(delimiter)] if cut >= 0 else ""


def _mean(scored: Scored, logprobs: list[float] | None) -> float | None:
    """The length-normalised log-likelihood of a solution: its prefix's tokens and its own."""
    if scored is None or logprobs is None or not (scored or logprobs):
        return None
    return (sum(lp for _, lp in scored) + sum(logprobs)) / (len(scored) + len(logprobs))


def _kept(engine: Engine, prefix: str, scored: Scored, sample: Sample, delimiter: str, cut: int) -> Scored:
    """The log-probs of the tokens that wrote ``(prefix + sample.text)[:cut]``: those of ``prefix``
    (``scored``) and of ``sample`` that start before ``cut`` (a token across it wrote some of the
    kept text and counts with it)."""
    if scored is None or (cut > len(prefix) and sample.logprobs is None):
        return None
    kept = [t for t in scored if t[0] < cut]
    if cut > len(prefix):
        kept += [(at, lp) for at, lp in zip(_starts(engine, prefix, sample, delimiter), sample.logprobs or [])
                 if at < cut]
    return kept


def _starts(engine: Engine, prefix: str, sample: Sample, delimiter: str) -> list[int]:
    """Where in ``prefix + sample.text`` each token that ``sample.logprobs`` scores starts.

    Exact where the sample has its tokens' texts and they spell its text (the tokens past it
    wrote the stop string). Else (token ids only, or token texts that do not spell the text, as
    where a character is split across tokens) approximate, step by step: the tokens up to the end
    of each ``delimiter`` are the backend's count of the text up to there (about 4 characters a
    token where it cannot count), each placed at the start of its step. A cut falls at the end of a
    delimiter, so it splits the tokens where that count does; the count may differ from the
    model's own split by a token or so at the edges."""
    logprobs = sample.logprobs or []
    tokens = sample.tokens
    if tokens is not None and len(tokens) == len(logprobs) and "".join(tokens).startswith(sample.text):
        starts, at = [], len(prefix)
        for t in tokens:
            starts.append(at)
            at += len(t)
        return starts
    text = prefix + sample.text
    ends, i = [], text.find(delimiter)
    while delimiter and i >= 0:
        if i + len(delimiter) > len(prefix):
            ends.append(i + len(delimiter))
        i = text.find(delimiter, i + 1)
    starts, at, k = [], len(prefix), 0
    for end in ends:
        upto = max(k, min(len(logprobs), engine.estimate_tokens(text[len(prefix): end])))
        starts += [at] * (upto - k)
        at, k = end, upto
    return starts + [at] * (len(logprobs) - k)
