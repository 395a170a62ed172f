"""The cost planner: cost per correct answer of runs from a price table, and where one overtakes another.

A price is written ``in=0.15,out=0.60`` (dollars per million input / output tokens) or ``gpu=2.50``
(dollars per GPU-hour; the run's measured throughput, all tokens of its calls over its elapsed wall-clock
time, converts tokens to hours; ``tps=1500`` overrides the throughput), plus optional ``train=5000``
(a one-off cost, e.g. training or fine-tuning the small model). Give one ``--price`` per run, in order,
or one for all.

A point with calls whose tokens the backend did not count (a server that sends no usage) is not
priced: its token count is only a lower bound, and a price on it would make it look cheaper than it
was (``unpriced`` says why, and the tables print it).

Cost per correct answer = cost per problem / accuracy. With one-off costs T_a, T_b and costs per correct
c_a < c_b, run a costs less in total beyond V = (T_a - T_b) / (c_b - c_a) correct answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import PonderError


class PriceError(PonderError, ValueError):
    """A price could not be read."""


PRICE_KEYS = ("in", "out", "gpu", "tps", "train")


@dataclass
class PriceSpec:
    input: float | None = None
    output: float | None = None
    gpu_hour: float | None = None
    tokens_per_second: float | None = None
    train: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "PriceSpec":
        values: dict[str, float] = {}
        for part in (p.strip() for p in text.replace(";", ",").split(",")):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or key not in PRICE_KEYS:
                raise PriceError(f"cannot read price {part!r} in {text!r}; write in=$/M,out=$/M or gpu=$/h "
                                 "[,tps=TOKENS_PER_S] [,train=$]")
            try:
                values[key] = float(value.strip().lstrip("$"))
            except ValueError:
                raise PriceError(f"price {part!r}: {value!r} is not a number") from None
            if not math.isfinite(values[key]) or values[key] < 0 or (key == "tps" and values[key] == 0):
                raise PriceError(f"price {part!r}: {key} must be a {'positive' if key == 'tps' else 'non-negative'} "
                                 "finite number")
        spec = cls(values.get("in"), values.get("out"), values.get("gpu"), values.get("tps"), values.get("train", 0.0))
        if spec.gpu_hour is None and (spec.input is None or spec.output is None):
            raise PriceError(f"price {text!r} needs in= and out= (per million tokens) or gpu= (per GPU-hour)")
        return spec


def unpriced(point: dict[str, Any], price: PriceSpec, throughput: float | None) -> str | None:
    """Why ``point`` gets no price (None when it gets one). Tokens its backend did not count are
    not priced as 0: the point's true token count, and so its cost, is unknown (a lower bound would
    make it look cheaper than it was)."""
    if point.get("uncounted_calls"):
        return (f"its backend did not count the tokens of {point['uncounted_calls']:.3g} of its "
                f"{point.get('calls') or 0:.3g} calls per problem (no usage reported): its cost is unknown")
    if price.gpu_hour is not None and not (price.tokens_per_second or throughput):
        return ("no throughput to turn tokens into GPU-hours: the run's is unknown (no elapsed time, or "
                "tokens the backend did not count); give tps= with the price")
    return None


def cost_per_problem(point: dict[str, Any], price: PriceSpec, throughput: float | None) -> float | None:
    """Dollars per problem of ``point`` at ``price``; None where ``unpriced`` says why not."""
    if point.get("uncounted_calls"):
        return None
    if price.gpu_hour is not None:
        tps = price.tokens_per_second or throughput
        if not tps or point.get("tokens") is None:
            return None
        return point["tokens"] / tps / 3600.0 * price.gpu_hour
    if point.get("prompt_tokens") is None or point.get("completion_tokens") is None:
        return None
    return (point["prompt_tokens"] * price.input + point["completion_tokens"] * price.output) / 1e6  # type: ignore[operator]


def measured_throughput(report: dict[str, Any]) -> float | None:
    """Tokens per second over the run; None when unknown, also where calls went uncounted (their
    tokens are missing from the numerator: a throughput too low would price every point too high)."""
    s = report["summary"]
    if s.get("uncounted_calls"):
        return None
    return s["tokens"] / s["elapsed_seconds"] if s.get("elapsed_seconds") else None


def plan(reports: list[dict[str, Any]], prices: list[PriceSpec], picks: list[str | None] | None = None) -> dict[str, Any]:
    """Cost per correct answer for every point of each run, the chosen points compared, and the crossover."""
    if len(prices) == 1:
        prices = prices * len(reports)
    if len(prices) != len(reports):
        raise PriceError(f"give one --price per run ({len(reports)}) or one for all, not {len(prices)}")
    picks = picks or [None] * len(reports)
    if len(picks) != len(reports):
        raise PriceError(f"give one --pick per run ({len(reports)}), in the order of the runs, or one for "
                         f"all, not {len(picks)}")
    runs = []
    for report, price, pick in zip(reports, prices, picks):
        tps = measured_throughput(report)
        points = []
        for p in report["points"]:
            cpp = cost_per_problem(p, price, tps)
            acc = p.get("accuracy")
            cpc = None if cpp is None or not acc else cpp / acc
            points.append({"spec": p["spec"], "accuracy": acc, "problems": p.get("problems_graded"),
                           "tokens": p.get("tokens"),
                           "uncounted_calls": p.get("uncounted_calls") or 0.0,
                           "cost_per_problem": cpp, "cost_per_correct": cpc, "failed": p.get("errors") or 0,
                           "unpriced": unpriced(p, price, tps)})
        chosen = _choose(points, pick, report["run"])
        m = report["manifest"]
        runs.append({"run": report["run"], "model": m.get("model"), "task": m.get("task"), "throughput_tps": tps,
                     "problems": report["summary"].get("problems"), "train": price.train, "points": points,
                     "chosen": chosen})
    out: dict[str, Any] = {"runs": runs, "comparison": None}
    if len(runs) == 2 and all(r["chosen"] and r["chosen"]["cost_per_correct"] is not None for r in runs):
        out["comparison"] = compare(runs[0], runs[1])
        sets = [_graded_on(rep, r["chosen"]["spec"]) for rep, r in zip(reports, runs)]
        out["comparison"]["caveat"] = unlike(runs[0], runs[1], sets[0], sets[1])
    elif len(runs) == 2:
        why = [w for w in map(_not_compared, runs) if w]
        out["not_compared"] = ("no comparison: " + "; ".join(why)) if why else None
    return out


def _not_compared(r: dict[str, Any]) -> str | None:
    """Why run ``r`` has no cost per correct answer to compare (None when it has one): the runs were
    left uncompared without a word where a run had no graded point or no correct answer."""
    chosen = r["chosen"]
    if chosen is None:
        return f"{r['run']}: no graded point (every unit failed; --resume retries them)"
    if chosen["cost_per_correct"] is not None:
        return None
    if chosen["unpriced"]:
        return f"{r['run']} {chosen['spec']}: {chosen['unpriced']}"
    if chosen["accuracy"] is None:
        return f"{r['run']} {chosen['spec']}: not graded (its units failed; --resume retries them)"
    if not chosen["accuracy"]:
        return f"{r['run']} {chosen['spec']}: no correct answer, so no cost per correct answer"
    return f"{r['run']} {chosen['spec']}: no token counts to price"


def _graded_on(report: dict[str, Any], spec: str) -> set[str] | None:
    """The problems the point ``spec`` of ``report`` was graded on (None where the report does not
    keep them)."""
    for p in report["points"]:
        if p["spec"] == spec and p.get("per_problem") is not None:
            return set(p["per_problem"])
    return None


def unlike(a: dict[str, Any], b: dict[str, Any], on_a: set[str] | None = None,
           on_b: set[str] | None = None) -> str | None:
    """Why two runs' costs per correct answer are not like with like (None when they are): an
    accuracy is a property of the problems as much as of the model. ``on_a`` and ``on_b`` are the
    problems the chosen points were graded on (an unfinished run's, or one with failed units, can
    be a few of its problems); without them the runs' numbers of problems are compared."""
    if a["task"] != b["task"]:
        return (f"the runs solved different tasks ({a['task']} and {b['task']}): "
                "their accuracies are not comparable")
    if on_a is not None and on_b is not None:
        if on_a != on_b:
            return (f"the points compared were graded on different problems of {a['task']} ({a['chosen']['spec']} "
                    f"on {len(on_a)}, {b['chosen']['spec']} on {len(on_b)}, {len(on_a & on_b)} in common"
                    "; a run unfinished or with failed units is graded on fewer, and --resume completes it): "
                    "their accuracies are measured on different sets")
        return None
    if a["problems"] != b["problems"]:
        return (f"the runs solved different numbers of problems of {a['task']} ({a['problems']} and "
                f"{b['problems']}): their accuracies are measured on different sets")
    failed = [f"{r['run']}: {r['chosen']['failed']}" for r in (a, b) if r["chosen"]["failed"]]
    if failed:
        return (f"units failed and are left out of accuracy and cost ({', '.join(failed)}): the runs' "
                "accuracies are measured on different sets; --resume retries them")
    return None


def _choose(points: list[dict[str, Any]], pick: str | None, run: str) -> dict[str, Any] | None:
    if pick:
        for p in points:
            if p["spec"] == pick:
                return p
        raise PriceError(f"{run}: no strategy {pick!r}; it has {', '.join(p['spec'] for p in points)}")
    graded = [p for p in points if p["accuracy"] is not None]
    most = max((p.get("problems") or 0 for p in graded), default=0)
    # the most accurate of those graded on the most problems (in an unfinished run, 3 problems right
    # of 3 is not more accurate than 23 of 30); of those, a priced one before an unpriced one (whose
    # cost is unknown, not 0), then the cheapest
    return max(graded, key=lambda p: ((p.get("problems") or 0) == most, p["accuracy"], p["cost_per_problem"]
                                      is not None, -(p["cost_per_problem"] or 0))) if graded else None


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The two runs' chosen points: which costs less per correct answer, by what ratio (None where a
    cost is 0: a free run is not "infinitely" cheaper, and Infinity is not JSON), and the crossover."""
    ca, cb = a["chosen"]["cost_per_correct"], b["chosen"]["cost_per_correct"]
    cheaper = a if ca < cb else b if cb < ca else None
    result: dict[str, Any] = {"cheaper_per_correct": cheaper["run"] if cheaper else None,
                              "ratio": (max(ca, cb) / min(ca, cb)) if min(ca, cb) > 0 else None,
                              "crossover_correct_answers": None, "sentence": ""}
    ta, tb = a["train"], b["train"]
    if cheaper is None:
        result["sentence"] = ("both cost nothing per correct answer at these prices" if ca == 0
                              else "both cost the same per correct answer")
        return result
    other = b if cheaper is a else a
    t_cheap, t_other = (ta, tb) if cheaper is a else (tb, ta)
    c_cheap, c_other = min(ca, cb), max(ca, cb)
    if c_cheap == 0:
        head = (f"{cheaper['run']} costs nothing per correct answer at its price (against ${c_other:.6g} "
                f"for {other['run']})")
    else:
        head = f"{cheaper['run']} costs less per correct answer (${c_cheap:.6g} vs ${c_other:.6g})"
    if t_cheap > t_other:
        v = (t_cheap - t_other) / (c_other - c_cheap)
        result["crossover_correct_answers"] = v
        result["sentence"] = (f"{head} and overtakes {other['run']} in total cost after {v:,.0f} correct answers "
                              f"(its one-off ${t_cheap:,.0f} against ${t_other:,.0f})")
    else:
        result["sentence"] = f"{head} at every volume"
    return result


def print_plan(plan_out: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # specs and task names are text, never markup

    from .format import fmt_cell

    console = console or Console()
    for r in plan_out["runs"]:
        t = Table(title=Text(f"{r['run']}: {r['model']} on {r['task']}"
                             + (f" · {r['throughput_tps']:,.0f} tok/s measured" if r["throughput_tps"] else "")))
        # the problems each accuracy is over, where they differ (an unfinished run, failed units)
        counts = len({p.get("problems") for p in r["points"]}) > 1
        for title in ("strategy", "accuracy") + (("problems",) if counts else ()) + ("tokens", "$ / problem",
                                                                                     "$ / correct"):
            t.add_column(title, justify="left" if title == "strategy" else "right")
        for p in r["points"]:
            mark = " ◀" if r["chosen"] is p else ""
            t.add_row(Text(p["spec"] + mark), fmt_cell("accuracy", p), *((fmt_cell("problems", p),) if counts else ()),
                      fmt_cell("tokens", p), _money(p["cost_per_problem"]), _money(p["cost_per_correct"]))
        console.print(t)
        for p in r["points"]:
            if p.get("unpriced"):
                console.print(Text(f"not priced: {p['spec']}: {p['unpriced']}", style="yellow"))
    if plan_out.get("not_compared"):
        console.print(Text(plan_out["not_compared"], style="yellow"))
    if plan_out["comparison"]:
        caveat = plan_out["comparison"].get("caveat")
        if caveat:
            console.print(Text.assemble(("not like with like:", "bold yellow"), f" {caveat}"))
        console.print(Text(plan_out["comparison"]["sentence"]))


def _money(v: float | None) -> str:
    return "–" if v is None else f"${v:.3g}"
