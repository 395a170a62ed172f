"""The Scorer base class and registry. A scorer gives each candidate a number (higher is better),
or None for one it could not read (a PRM given a candidate longer than its context window), with
the reason in the candidate's ``meta["unscored"]``; strategies rank such a candidate last. A
scorer whose calls the budget stops keeps the scores it finished and gives None (with no
``meta["unscored"]``) for the others; it raises ``BudgetExhausted`` only when it scored none.

Scorer specs: a name (``prm``) or a call with options (``prm(model='hf:/path', agg=min)``).
Every model call a scorer makes goes through the Engine under the scorer's own ledger role.

A scorer whose calls are not one per candidate (``prm`` and ``orm`` memoise scores by text, so a
repeated text costs no call) says so in each candidate it scored, in ``meta[SCORING]``: what the
call for that candidate costs a run that has not scored its text, and which texts it leaves
scored (see ``PRMScorer.scoring_record``). The bench, which charges a k-subset of a drawn pool,
charges such a scorer's calls by what k fresh samples would cost it, not k/N of the pool's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..engine import Engine
from ..errors import BudgetExhausted, StrategySpecError
from ..types import Candidate, Problem

SCORERS: dict[str, type["Scorer"]] = {}
SCORING = "_scoring"  # the candidate ``meta`` key of a memoising scorer's cost record (above; "_": not shown)


class ScorerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        from ..strategies.spec import refuse_bool_for_number

        return refuse_bool_for_number(cls, data)


class Scorer:
    name: ClassVar[str]
    summary: ClassVar[str]
    role: ClassVar[str] = "scorer"
    # True: the scorer reads the candidates' token log-probabilities, so a strategy that samples
    # them itself (bon, wbon with cot) asks the model for them in the same call.
    wants_logprobs: ClassVar[bool] = False
    # True: scores are log-probabilities (<= 0), so a sum over a group is not a weight; wbon weighs
    # a candidate by exp(score) instead.
    log_scale: ClassVar[bool] = False
    # True: a candidate's score depends on the other candidates scored with it (``vote``: the share
    # that agree with it), so a pool's scores do not hold for a subset of it. Such a scorer scores
    # without a model call and gives ``rescore``; the bench, which evaluates smaller n on subsets
    # of one drawn pool, scores each subset again with it before the strategy decides.
    pool_relative: ClassVar[bool] = False
    Params: ClassVar[type[ScorerParams]] = ScorerParams

    def __init__(self, params: ScorerParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            SCORERS[cls.name] = cls

    def check(self, engine: Engine, problem: Problem | None = None) -> None:
        """Fail before any model call when this scorer cannot work here."""

    def spends_tokens(self) -> bool:
        """Whether scoring calls a model (and so spends a token budget): a checker does not."""
        return True

    async def score(self, problem: Problem, candidates: list[Candidate], engine: Engine) -> list[float | None]:
        raise NotImplementedError

    def rescore(self, problem: Problem, candidates: list[Candidate]) -> list[float | None]:
        """The scores ``score`` gives ``candidates`` scored together, computed at once with no
        model call: only for a ``pool_relative`` scorer (the others' scores do not depend on the
        rest, so a subset keeps its pool's)."""
        raise NotImplementedError(f"scorer {self.name} is not pool-relative: its scores need no rescoring")


def scores_so_far(done: list[float | None], total: int, stopped: BudgetExhausted) -> list[float | None]:
    """What a scorer the budget stopped returns (the rule above): the scores it finished and None
    for the ``total - len(done)`` others; ``stopped`` raised again when it finished none."""
    if all(s is None for s in done):
        raise stopped
    return done + [None] * (total - len(done))


def unscored_by_budget(candidates: list[Candidate]) -> bool:
    """Some candidate has no score because the budget ran out (not because the scorer could not
    read it, which its ``meta["unscored"]`` says)."""
    return any(c.score is None and "unscored" not in c.meta for c in candidates)


def rank(score: float | None) -> float:
    """A sort key for scores: a candidate the scorer could not read (None) comes last."""
    return float("-inf") if score is None else score


def build_scorer(spec: Any) -> Scorer:
    """A Scorer from ``"prm"``, a parsed ``prm(agg=min)`` spec, or a Scorer."""
    from . import exact, execution, judge, logprob, prm, vote  # noqa: F401  (registration)
    from ..strategies.spec import ParsedSpec, format_value, parse_spec

    if isinstance(spec, Scorer):
        return spec
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if not isinstance(parsed, ParsedSpec):
        raise StrategySpecError(f"scorer must be a scorer's name, or its spec such as prm(agg=min), got {spec!r}; "
                                f"available: {', '.join(sorted(SCORERS))}")
    cls = SCORERS.get(parsed.name)
    if cls is None:
        raise StrategySpecError(f"unknown scorer {parsed.name!r}; available: {', '.join(sorted(SCORERS))}")
    try:
        return cls(cls.Params(**parsed.args))
    except ValidationError as exc:
        keys = ", ".join(f"{k}={format_value(f.get_default(call_default_factory=True))}"
                         for k, f in cls.Params.model_fields.items()) or "none (no options)"
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"]
                         else str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise StrategySpecError(f"scorer {parsed.name}: {msgs}. Keys of {parsed.name}: {keys}") from None
