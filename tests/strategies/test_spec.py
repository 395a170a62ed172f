"""Strategy spec parsing: model specs as bare values, round trips, and what a parse error says."""

from __future__ import annotations

import pytest

from ponder import StrategySpecError
from ponder.strategies import build_strategy, parse_spec


@pytest.mark.parametrize("text, model", [
    ("bon(n=2, scorer=prm(model=embedded-prm, agg=min))", "embedded-prm"),  # was read as embedded - prm
    ("bon(n=2, scorer=prm(model=hf:/models/my-prm))", "hf:/models/my-prm"),  # was a syntax error
    ("bon(n=2, scorer=judge(model=openai:gpt-4o@http://127.0.0.1:8000/v1?concurrency=4))",
     "openai:gpt-4o@http://127.0.0.1:8000/v1?concurrency=4"),
    ("bon(n=2, scorer=prm(model='hf:/models/my-prm'))", "hf:/models/my-prm"),  # quoting still works
])
def test_a_bare_model_spec_is_read_as_the_string_it_is(text, model):
    spec = parse_spec(text)
    assert spec.args["scorer"].args["model"] == model
    assert parse_spec(str(spec)) == spec  # what a spec prints parses back to itself


def test_the_default_prm_named_explicitly_builds():
    assert build_strategy("bon(n=2, scorer=prm(model=embedded-prm))").scorer.params.model == "embedded-prm"


def test_a_parse_error_says_what_to_quote():
    with pytest.raises(StrategySpecError, match=r"quote a value with ':', '/' or '@' in it"):
        parse_spec("bench(file=/data/x.jsonl)")
    with pytest.raises(StrategySpecError, match=r"'\(' was never closed; expected name\(key=value"):
        parse_spec("sc(n=3")


@pytest.mark.parametrize("text, message", [
    ("sc(n=true)", r"^sc: n: wants a number, got true\. Keys of sc: n=16"),  # was n=1
    ("cot(temperature=false)", r"^cot: temperature: wants a number, got false"),  # was greedy
    ("sc(n=4, of=budget(think=true))", r"^budget: think: wants a number, got true"),
    ("bon(n=2, scorer=judge(max_tokens=true))", r"^scorer judge: max_tokens: wants a number, got true"),
])
def test_true_or_false_for_a_number_is_an_error(text, message):
    with pytest.raises(StrategySpecError, match=message):
        build_strategy(text)


def test_true_or_false_still_set_a_switch_and_numbers_still_read_as_numbers():
    assert build_strategy("cot(thinking=true)").params.thinking is True
    assert build_strategy("bon(n=2, scorer=prm(cache=false))").scorer.params.cache is False
    assert build_strategy("sc(n=1e1, temperature=1)").params.n == 10
