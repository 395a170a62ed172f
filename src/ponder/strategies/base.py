"""The Strategy base class, the registry of spec names, and helpers strategies share."""

from __future__ import annotations

import copy
import typing
import hashlib
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator, model_validator

from ..answers import Extraction, extract_answer
from ..budget import gather_within_budget  # noqa: F401  (strategies import it from here)
from ..engine import Engine
from ..errors import BudgetExhausted, StrategySpecError
from ..types import Candidate, GenerationRequest, Problem, Result, Sample
from .spec import ParsedSpec, Range, format_value, parse_spec, refuse_bool_for_number

REGISTRY: dict[str, type["Strategy"]] = {}

# a list of strings that also takes one string, as the OpenAI API's stop does: stop=';', words=Hmm
Texts = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class Params(BaseModel):
    """Base of every strategy's parameters: unknown keys are errors, and so is true/false for a number."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        return refuse_bool_for_number(cls, data)

    @field_validator("seed", check_fields=False)
    @classmethod
    def _seed_fits(cls, seed: int | None) -> int | None:
        """A seed that the samples' seeds (``seed + i``) keep within the 64 bits a sampler takes."""
        if seed is not None and not -(2**62) <= seed < 2**62:
            raise ValueError(f"seed={seed} is out of range: give a whole number from -2**62 to 2**62 - 1")
        return seed


class Strategy:
    """A way of spending inference compute on one problem.

    Subclasses set ``name`` (the spec name), ``summary`` (one line), ``paper`` (arXiv id or
    reference), ``Params`` (a pydantic model) and implement ``run``. Parameters that take another
    strategy are listed in ``strategy_params``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    paper: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    strategy_params: ClassVar[tuple[str, ...]] = ()
    spec_params: ClassVar[tuple[str, ...]] = ("scorer",)  # keys that take a non-strategy spec (a scorer)
    # Strategies that only draw independent samples and then decide (sc, bon, wbon) name the
    # parameter that sizes the pool; ``ponder bench`` then draws the largest pool once and calls
    # ``decide`` on subsets instead of rerunning (unbiased subsampling).
    pool_param: ClassVar[str | None] = None
    # The parameter that says how many runs of its ``of`` strategy it may start (``pool_param`` if unset).
    runs_param: ClassVar[str | None] = None

    def __init__(self, params: Params | None = None, spec: str | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.spec = spec or self.name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            REGISTRY[cls.name] = cls

    def __repr__(self) -> str:
        return f"<strategy {self.spec}>"

    def runs(self) -> int:
        """The most runs of its innermost strategy this one may start: its own count of runs
        (``runs_param``; 1 if it has none) times the most of any strategy it takes. Nesting
        multiplies: ``sc(n=2, of=sc(n=2, of=...))`` 30 deep would start 2**30 runs, which is why
        ``ponder serve`` refuses a spec above its ``max_runs``."""
        key = self.runs_param or self.pool_param
        own = int(getattr(self.params, key, 1) or 1) if key else 1
        inner = [c.runs() for k in self.strategy_params if isinstance(c := getattr(self.params, k, None), Strategy)]
        return own * max(inner, default=1)

    # -- to implement -----------------------------------------------------------------------
    def check(self, engine: Engine) -> None:
        """Fail before any model call if the backend or problem cannot serve this strategy."""
        for key in self.strategy_params:
            child = getattr(self.params, key, None)
            if isinstance(child, Strategy):
                child.check(engine)

    def check_problem(self, problem: Problem, engine: Engine) -> None:
        """Fail before any model call if ``problem`` is not one this strategy can answer (a scorer
        that needs a checker the task lacks, code search on a math task); called by ``run_strategy``
        and by ``ponder bench`` on the task's first problem before it starts."""
        scorer = getattr(self, "scorer", None)
        if scorer is not None:
            scorer.check(engine, problem)
        for key in self.strategy_params:
            child = getattr(self.params, key, None)
            if isinstance(child, Strategy):
                child.check_problem(problem, engine)

    async def run(self, problem: Problem, engine: Engine) -> Result:
        raise NotImplementedError

    async def draw(self, problem: Problem, engine: Engine) -> list[Candidate]:
        """The pool of candidates (only for strategies with ``pool_param``)."""
        raise NotImplementedError(f"{self.name} does not draw a pool")

    def decide(self, problem: Problem, candidates: list[Candidate], exhausted: bool = False) -> Result:
        """The answer from a pool of candidates (only for strategies with ``pool_param``)."""
        raise NotImplementedError(f"{self.name} does not decide from a pool")

    def pool_temperature(self) -> float | None:
        """The temperature this strategy's pool is drawn at (for strategies with ``temperature``
        and ``of=``): its own, unless the ``of=`` strategy's spec sets one itself (then None: the
        inner strategy uses its own). ``sc(n=8, of=budget(think=128))`` thus samples budget forcing
        at sc's 0.7, not eight times at budget's greedy default."""
        inner = getattr(self.params, "of", None)
        if isinstance(inner, Strategy) and inner.sets_temperature():
            return None
        return getattr(self.params, "temperature", None)

    def sets_temperature(self) -> bool:
        """Whether this strategy's spec sets the temperature it samples at: its own ``temperature=``,
        or, for a modifier without one (``tip``), the ``of=`` strategy's, at any depth."""
        if "temperature" in type(self.params).model_fields:
            return "temperature" in self.params.model_fields_set
        inner = getattr(self.params, "of", None)
        return isinstance(inner, Strategy) and inner.sets_temperature()

    def with_temperature(self, temperature: float | None) -> "Strategy":
        """A copy that samples at ``temperature`` (an outer strategy's), unless the spec sets its own
        or the strategy has no temperature (then itself)."""
        if temperature is None or "temperature" not in type(self.params).model_fields or self.sets_temperature():
            return self
        return self._copy_with(temperature=temperature)

    async def sample(self, problem: Problem, engine: Engine, n: int, *, seed: int | None = None,
                     temperature: float | None = None) -> list[Candidate]:
        """``n`` independent candidates. Default: ``n`` concurrent runs of this strategy at
        ``temperature`` (unless its spec sets its own), run ``i`` with seed ``derive_seed(seed, i)``
        (``seed``, else this strategy's own seed): a seeded call is reproducible and its runs
        differ; with no seed at all every run is unseeded. A candidate keeps the prompt record of
        the result's candidate it is (``generation_record``)."""
        base = seed if seed is not None else getattr(self.params, "seed", None)
        me = self.with_temperature(temperature)  # refine under sc(n=4) samples at sc's temperature
        runs = [me if base is None else me.with_seed(derive_seed(base, i)) for i in range(n)]
        results, _ = await gather_within_budget(*(r.run(problem, engine) for r in runs))
        return [Candidate.not_drawn(strategy=self.spec) if r is None
                else Candidate(text=r.text, answer=r.answer, finish_reason="budget" if r.budget_exhausted else "stop",
                               meta={"strategy": self.spec, **generation_record(r)}) for r in results]

    def with_seed(self, seed: int) -> "Strategy":
        """A copy of this strategy whose ``seed`` parameter is ``seed`` (itself if it has none)."""
        if "seed" not in type(self.params).model_fields:
            return self
        return self._copy_with(seed=seed)

    def _copy_with(self, **params: Any) -> "Strategy":
        """A copy of this strategy with ``params`` changed."""
        clone = copy.copy(self)
        clone.params = self.params.model_copy(update=params)
        return clone


# -- building from specs -----------------------------------------------------------------------
def build_strategy(spec: "str | ParsedSpec | Strategy") -> Strategy:
    """A Strategy from a spec string; unknown names and keys list what exists."""
    if isinstance(spec, Strategy):
        return spec
    if not isinstance(spec, (str, ParsedSpec)):
        raise StrategySpecError(f"a strategy is a spec string such as 'sc(n=16)' or a Strategy, "
                                f"got {type(spec).__name__} {spec!r}")
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    cls = REGISTRY.get(parsed.name)
    if cls is None:
        raise StrategySpecError(f"unknown strategy {parsed.name!r}; available: {', '.join(sorted(REGISTRY))}")
    args = dict(parsed.args)
    for key, value in args.items():
        if isinstance(value, Range):
            raise StrategySpecError(f"{parsed}: the range {key}={value} is for sweeps: ponder bench sweeps a range "
                                    "of the outer strategy's own arguments (sc(n=1..16)), not one inside of= "
                                    f"or scorer=; give one value, e.g. {key}={value.hi}")
        if key in cls.strategy_params and isinstance(value, (str, ParsedSpec)):
            args[key] = build_strategy(value)
        elif key in cls.strategy_params and not (value is None or isinstance(value, Strategy)):
            raise StrategySpecError(f"{parsed.name}: {key}= takes a strategy spec, e.g. {key}=cot or "
                                    f"{key}=budget(think=128); got {value!r}")
        elif isinstance(value, ParsedSpec) and key not in cls.spec_params:
            if key not in cls.Params.model_fields:
                raise StrategySpecError(f"{parsed.name}: unknown key {key!r}. Keys of {cls.name}: "
                                        f"{describe_params(cls)}")
            raise StrategySpecError(f"{parsed.name}: {key}= does not take a strategy")
    for key, value in args.items():  # the bare word none is None, unless the key takes the word itself
        field = cls.Params.model_fields.get(key)
        if value is None and field is not None and "none" in typing.get_args(field.annotation):
            args[key] = "none"
    try:
        params = cls.Params(**args)
    except ValidationError as exc:
        raise StrategySpecError(_explain(cls, exc)) from None
    return cls(params, str(parsed))


def _explain(cls: type[Strategy], exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r}")
        elif not key or err["type"] == "value_error":  # a check of ours: its message says what and why
            problems.append(str(err["msg"]).removeprefix("Value error, "))
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return f"{cls.name}: {'; '.join(problems)}. Keys of {cls.name}: {describe_params(cls)}"


def describe_params(cls: type[Strategy]) -> str:
    parts = []
    for key, f in cls.Params.model_fields.items():
        default = f.get_default(call_default_factory=True)  # a list's default too (stop=[])
        parts.append(f"{key}={format_value(default)}")
    return ", ".join(parts) or "(none)"


# -- helpers shared by strategies ----------------------------------------------------------------
CUT = ("length", "budget")  # finish reasons of a text cut off by a token limit


def answer_of(problem: Problem, text: str, *, cut: bool = False) -> Extraction:
    """The answer ``text`` gives to ``problem``, by its answer kind (for code, the block that
    defines the problem's entry point, as the sandbox and S* read it)."""
    return extract_answer(text, kind=problem.answer_kind, cut=cut, entry_point=problem.meta.get("entry_point"))


# Bookkeeping keys of a candidate's ``meta`` ("_": left out of ``Candidate.to_dict``), read by the
# ``logprob`` scorer's forward pass: the prompt the candidate was sampled from (``{"messages": ...,
# "template_kwargs": ...}``), and whether the model ended its turn after the text (wrote its
# end-of-turn token), rather than stopping at a stop string or a token limit.
PROMPT = "_prompt"
ENDED_TURN = "_ended_turn"


def to_candidate(problem: Problem, sample: Sample, *, request: GenerationRequest | None = None,
                 **meta: Any) -> Candidate:
    """A candidate of ``sample``; ``request``: the request it was sampled with, whose messages and
    template arguments are kept (``meta[PROMPT]``) for a scorer that reads the text under its prompt.
    A sample whose text continues the request's ``prefix`` should hold the prefix in its text."""
    ext = answer_of(problem, sample.text, cut=sample.finish_reason in CUT)
    cand = Candidate(text=sample.text, answer=ext.value, finish_reason=sample.finish_reason,
                     meta={"extraction": ext.method, "completion_tokens": sample.completion_tokens, **meta})
    if request is not None:
        cand.meta[PROMPT] = {"messages": list(request.messages), "template_kwargs": dict(request.template_kwargs)}
    if not sample.stop_unknown:  # a server that did not say: unknown (a stop string's "stop" looks the same)
        cand.meta[ENDED_TURN] = sample.finish_reason == "stop" and sample.matched_stop is None
    return cand


def generation_record(result: Result) -> dict[str, Any]:
    """The bookkeeping (``PROMPT``, ``ENDED_TURN``) of the candidate of ``result`` whose text is
    the result's: what a candidate made of the whole result carries over (empty where none is)."""
    source = next((c for c in result.candidates if c.text == result.text), None)
    if source is None:
        return {}
    return {k: source.meta[k] for k in (PROMPT, ENDED_TURN) if k in source.meta}


def cut_by_budget(candidates: list[Candidate]) -> bool:
    """Some candidate was cut short, or not drawn at all, because the budget ran out."""
    return any(c.finish_reason == "budget" for c in candidates)


def derive_seed(seed: int, i: int) -> int:
    """The seed of the ``i``-th of several runs seeded ``seed``: ``seed`` itself for the first, a
    hash of both for the others. Not ``seed + i``: a run's own calls use ``seed + j`` for their
    samples, so runs ``seed + i`` would repeat each other's samples."""
    if i == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}/{i}".encode()).digest()[:4], "big") & 0x7FFFFFFF


async def run_strategy(strategy: Strategy, problem: Problem, engine: Engine) -> Result:
    """Run ``strategy`` on ``problem``: capability checks first, ledger attached, graded if gold is known.
    A time budget on which nothing is spent yet starts here, not when it was made: loading the
    models (which the checks do) is not the strategy's time."""
    strategy.check(engine)
    strategy.check_problem(problem, engine)
    engine.prepare()  # a server's clients are made now, not on the time budget
    engine.budget.start_clock()
    try:
        result = await strategy.run(problem, engine)
    except BudgetExhausted:  # a strategy that could not keep anything at all
        result = Result(answer=None, text="", strategy=strategy.spec, budget_exhausted=True)
    if result.budget_exhausted and result.stop_reason is None:
        result.stop_reason = engine.budget.exhausted_reason() or "budget spent"
    result.ledger = engine.ledger
    result.problem_id = problem.id
    result.correct = grade(problem, result.answer)
    return result


def grade(problem: Problem, answer: str | None) -> bool | None:
    """True/False against the problem's checker or gold answer; None when neither exists. The gold
    goes first to ``answers_equal`` (math-verify's comparison is not symmetric)."""
    if problem.checker is not None:
        return False if answer is None else bool(problem.checker(answer))
    if problem.answer is None:
        return None
    if answer is None:
        return False
    from ..answers import answers_equal

    return answers_equal(problem.answer, answer, kind=problem.answer_kind)
