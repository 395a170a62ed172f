"""``prm`` and ``orm``: process reward models in the step-tag format (Math-Shepherd style).

A step-tag PRM is a causal LM that reads the question and the solution with a tag token after each
step; its next-token distribution at each tag, restricted to a good and a bad token, is the
probability that the solution is correct so far. The model directory says how in
``ponder_prm.json``: ``{"format": "step-tag", "step_tag": "...", "good_token": "+",
"bad_token": "-", "step_delimiter": ";"}`` — the lab PRM ships one; for another PRM of this format
write that file next to its weights. The tag goes after each delimiter, or with ``"tag_position":
"before"`` before it, after ``"tag_separator"`` (default none): Math-Shepherd's
``Step 1: ... ки\nStep 2: ... ки`` is ``{"step_tag": "ки", "step_delimiter": "\n",
"tag_position": "before", "tag_separator": " ", "good_token": "+", "bad_token": "-"}``.
Step scores are aggregated by ``last`` / ``min`` / ``prod`` / ``mean``. ``orm`` is the outcome
score: the PRM's score at the final tag.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
from array import array
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

from ..backends import load_backend, resolve_local_path
from ..backends.base import PRM_CONFIG
from ..engine import Engine
from ..errors import BudgetExhausted, ModelSpecError
from ..types import Candidate, GenerationRequest, Problem, Usage
from .base import SCORING, Scorer, ScorerParams, scores_so_far

_MEMOS = itertools.count(1)  # one id per scorer instance: the memo its records belong to


class PRMParams(ScorerParams):
    model: str = "embedded-prm"
    agg: Literal["last", "min", "prod", "mean"] = "last"
    cache: bool = True


def read_prm_config(spec: str) -> dict[str, Any]:
    path = resolve_local_path(spec)
    if path is None:
        raise ModelSpecError(f"a PRM must be a local model directory (hf:PATH or embedded-prm), got {spec!r}")
    if not Path(path).is_dir():
        raise ModelSpecError(f"PRM {spec!r}: {str(path)!r} does not exist or is not a directory; a PRM is a local "
                             "model directory with ponder_prm.json (hf:PATH, or embedded-prm)")
    cfg_path = Path(path) / PRM_CONFIG
    if not cfg_path.is_file():
        raise ModelSpecError(
            f"{str(path)!r} is not a process reward model Ponder can read: no {PRM_CONFIG} (it says "
            '{"format": "step-tag", "step_tag": ..., "good_token": "+", "bad_token": "-", "step_delimiter": ...})')
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    missing = {"step_tag", "good_token", "bad_token", "step_delimiter"} - set(cfg)
    if cfg.get("format") != "step-tag" or missing:
        raise ModelSpecError(f"{cfg_path}: format must be 'step-tag' with step_tag, good_token, bad_token and "
                             f"step_delimiter (missing {sorted(missing)})")
    if cfg.setdefault("tag_position", "after") not in ("after", "before"):
        raise ModelSpecError(f"{cfg_path}: tag_position must be 'after' or 'before' (the step delimiter), "
                             f"got {cfg['tag_position']!r}")
    if not isinstance(cfg.setdefault("tag_separator", ""), str):
        raise ModelSpecError(f"{cfg_path}: tag_separator must be a string (put before the tag), "
                             f"got {cfg['tag_separator']!r}")
    return cfg


def aggregate(steps: list[float], how: str) -> float:
    if not steps:
        return 0.0
    if how == "last":
        return steps[-1]
    if how == "min":
        return min(steps)
    if how == "prod":
        return math.prod(steps)
    return sum(steps) / len(steps)


def tag_steps(text: str, delimiter: str, tag: str, *, before: bool = False, separator: str = "") -> str:
    """Insert ``separator + tag`` after every ``delimiter`` (``before``: before it) and at the end
    (the PRM input format). A text that ends with its delimiter (an unfinished path of a step
    search) ends with that step's tag: a second tag there would be a score of an empty step, read
    where no training text has one."""
    body = text.rstrip()
    mark = separator + tag
    if before:
        tagged = body.replace(delimiter, mark + delimiter)
        return tagged if body.endswith(delimiter) else tagged + mark
    tagged = body.replace(delimiter, delimiter + mark)
    return tagged if body.endswith(delimiter) else tagged + mark


class PRMScorer(Scorer):
    name = "prm"
    summary = "process reward model (step-tag format): per-step scores aggregated by last/min/prod/mean"
    role = "prm"
    Params = PRMParams

    def __init__(self, params: PRMParams | None = None) -> None:
        super().__init__(params)
        self._backend: Any = None
        self._cfg: dict[str, Any] | None = None
        self._ids: tuple[int, int, int] | None = None
        self._scores: OrderedDict[tuple[int, ...], float] = OrderedDict()  # tagged prefix -> P(good)
        # inputs being scored now, and the future of their scores: a second request for one waits
        # for them (dvts's subtrees reach the same step at the same time)
        self._pending: dict[tuple[int, ...], asyncio.Future] = {}
        self.memo_id = f"{self.role}-{next(_MEMOS)}"  # names this memo in the candidates' ``SCORING`` records

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        engine.allow_model(self.params.model)  # type: ignore[attr-defined]
        self._load()

    def _load(self) -> tuple[Any, dict[str, Any], tuple[int, int, int]]:
        if self._backend is None:
            p: PRMParams = self.params  # type: ignore[assignment]
            cfg = read_prm_config(p.model)
            backend = load_backend(p.model)
            ids = []
            for key in ("step_tag", "good_token", "bad_token"):
                toks = backend.tokenizer(cfg[key], add_special_tokens=False)["input_ids"]
                if len(toks) != 1:
                    raise ModelSpecError(f"PRM {p.model}: {key} {cfg[key]!r} is not a single token")
                ids.append(toks[0])
            self._backend, self._cfg, self._ids = backend, cfg, (ids[0], ids[1], ids[2])
        return self._backend, self._cfg, self._ids  # type: ignore[return-value]

    def input_ids(self, problem: Problem, text: str) -> list[int]:
        backend, cfg, _ = self._load()
        prompt = backend.render(GenerationRequest(messages=problem.messages))
        return backend.encode(prompt + tag_steps(text, cfg["step_delimiter"], cfg["step_tag"],
                                                 before=cfg["tag_position"] == "before",
                                                 separator=cfg["tag_separator"]))

    async def step_scores(self, problem: Problem, text: str, engine: Engine,
                          ids: list[int] | None = None) -> list[float]:
        """P(good) at each step tag of ``text``, recorded in the ledger under role ``prm``.

        With ``cache=true`` (default) the scores of steps seen before are reused and only the new
        tokens run through the PRM (its KV cache of the common prefix is kept): a beam that grew by
        one step costs one step. The ledger shows the reused tokens as cached prompt tokens. An
        input already being scored is not scored again: its request waits for those scores (before,
        the concurrent subtrees of a seeded dvts run paid for a third of their PRM calls twice, as
        many as their timing made, so that its ledger and its budget differed from run to run).
        ``ids``: ``input_ids(problem, text)`` where the caller has them already.
        """
        p: PRMParams = self.params  # type: ignore[assignment]
        engine.allow_model(p.model)
        backend, _, (tag, good, bad) = self._load()
        ids = self.input_ids(problem, text) if ids is None else ids
        pos = [i for i, t in enumerate(ids) if t == tag]
        keys = [tuple(ids[: i + 1]) for i in pos]
        if p.cache and keys and all(k in self._scores for k in keys):
            return [self._scores[k] for k in keys]
        whole = tuple(ids)
        loop = asyncio.get_running_loop()
        if p.cache:
            waiting = self._pending.get(whole)
            if waiting is not None and waiting.get_loop() is loop:
                done = await asyncio.shield(waiting)  # shielded: a waiter's cancel is not the scorer's
                if done is not None:
                    return list(done)
                # the call it waited for failed (its budget, say): this request makes its own
        mine = loop.create_future() if p.cache else None
        if mine is not None:
            self._pending[whole] = mine

        async def forward() -> tuple[list[float], Usage]:
            if p.cache:
                # reuse the PRM's cached prefix up to the first tag this scorer has no score for
                # (the prefix may come from another scorer's run: its scores are not here)
                missing = [i for i, k in zip(pos, keys) if k not in self._scores]
                logits, start = await backend.forward_tail(ids, limit=missing[0] if missing else None)
            else:
                logits, start = await backend.forward_logits(ids), 0
            fresh = [i for i in pos if i >= start]
            # P(good) from the two logits in plain Python: a torch op here, on the event loop's
            # thread, would wake torch's whole thread pool for two numbers
            pairs = logits[[i - start for i in fresh]][:, [good, bad]].tolist()
            probs = [_p_good(g, b) for g, b in pairs]
            computed = dict(zip(fresh, probs))
            scores = [computed[i] if i in computed else self._scores[k] for i, k in zip(pos, keys)]
            if p.cache:
                for k, v in zip(keys, scores):
                    self._scores[k] = v
                while len(self._scores) > 100_000:
                    self._scores.popitem(last=False)
            return scores, Usage(prompt_tokens=len(ids), cached_prompt_tokens=start, completion_tokens=0)

        scores = None
        try:
            scores = await engine.with_backend(backend).call(self.role, forward, reads=len(ids))
            return scores
        finally:
            if mine is not None:
                mine.set_result(scores)  # None when it failed: a waiter then scores for itself
                if self._pending.get(whole) is mine:
                    del self._pending[whole]

    def unreadable(self, ids: list[int]) -> str | None:
        """Why the PRM cannot read the input ``ids`` whole (longer than its context window), or None."""
        backend, _, _ = self._load()
        limit = getattr(backend, "context_length", None)
        n = len(ids)
        if limit is not None and n > limit:
            return f"with its step tags it is {n} tokens; the PRM {backend.name} reads at most {limit}"
        return None

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float | None]:
        """Each candidate's aggregated step score; None for one the PRM cannot read whole (longer
        than its context window), which is said in the candidate's ``meta["unscored"]``: the
        others are still scored, and no model call is spent on it."""
        p: PRMParams = self.params  # type: ignore[assignment]
        out: list[float | None] = []
        for c in candidates:
            ids = self.input_ids(problem, c.text)
            why = self.unreadable(ids)
            if why is not None:
                c.meta["unscored"] = why
                out.append(None)
                continue
            try:
                steps = await self.step_scores(problem, c.text, engine, ids=ids)
            except BudgetExhausted as stopped:  # keep the scores finished
                return scores_so_far(out, len(candidates), stopped)
            c.meta["step_scores"] = [round(s, 4) for s in steps]
            c.meta[SCORING] = self.scoring_record(ids)
            out.append(aggregate(steps, p.agg))
        return out

    def scoring_record(self, ids: list[int]) -> dict[str, Any]:
        """What scoring the input ``ids`` costs a run whose memo does not hold them yet, and which
        inputs it leaves scored (``Scorer``'s ``SCORING`` record, read by the bench).

        ``step_scores`` spends no call on a text whose every tagged prefix is memoised, so a
        bon(n=k) run pays one forward per text it has not seen: the cost of the k samples is not
        k/N of the pool's. The record says, per candidate: the call's ``prompt_tokens`` (all of
        ``ids``, as the ledger records them, whatever part the PRM's prefix cache served: a fresh
        run's cache is not this one's) and ``completion_tokens`` (0); ``key``, a hash of its last
        tagged prefix; ``covers``, the hashes of all its tagged prefixes. A text is a memo hit
        exactly when an earlier scored text covers its key (its tagged prefixes are then all
        memoised: they are prefixes of that key); with ``cache=false`` no text is (``key`` None).
        """
        p: PRMParams = self.params  # type: ignore[assignment]
        backend, _, (tag, _, _) = self._load()
        covers: list[str] = []
        if p.cache:
            h, start = hashlib.blake2b(digest_size=8), 0
            for i in (i for i, t in enumerate(ids) if t == tag):
                h.update(array("q", ids[start: i + 1]).tobytes())
                covers.append(h.copy().hexdigest())
                start = i + 1
        return {"memo": self.memo_id, "role": self.role, "prompt_tokens": len(ids), "completion_tokens": 0,
                "num_parameters": backend.capabilities().num_parameters,
                "key": covers[-1] if covers else None, "covers": covers}


class ORMParams(ScorerParams):
    model: str = "embedded-prm"


class ORMScorer(PRMScorer):
    name = "orm"
    summary = "outcome score: the reward model's score of the whole solution (its final step tag)"
    role = "orm"
    Params = ORMParams  # type: ignore[assignment]

    def __init__(self, params: ORMParams | None = None) -> None:
        super().__init__(PRMParams(model=(params or ORMParams()).model, agg="last"))


def _p_good(good: float, bad: float) -> float:
    """softmax([good, bad])[0], without overflow for any pair of logits."""
    d = bad - good
    return 1.0 / (1.0 + math.exp(d)) if d < 700 else 0.0
