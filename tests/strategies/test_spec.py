"""Strategy spec parsing: model specs as bare values, round trips, and what a parse error says."""

from __future__ import annotations

import re

import pytest

from ponder import StrategySpecError
from ponder.strategies import build_strategy, parse_spec
from ponder.strategies.spec import Range


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


@pytest.mark.parametrize("text, message", [
    ("sc(n=4, of=4)", r"^sc: of= takes a strategy spec, e\.g\. of=cot or of=budget\(think=128\); got 4$"),
    ("bon(n=2, of=[cot])", r"^bon: of= takes a strategy spec.*; got \['cot'\]$"),  # was an AttributeError at run time
    ("beam(n=4, width=3)", r"^beam: n=4 is not a multiple of width=3: .* would be 3 candidates, not n; give e\.g\. n=3 or n=6"),
    ("dvts(n=5, width=2)", r"^dvts: n=5 is not a multiple of width=2"),
])
def test_a_value_a_strategy_cannot_use_is_refused_when_built(text, message):
    with pytest.raises(StrategySpecError, match=message):
        build_strategy(text)


def test_the_word_none_is_a_choice_where_a_key_takes_it():
    assert build_strategy("mcts(memory=none)").params.memory == "none"  # was refused as None
    assert build_strategy("sc(n=2, seed=none)").params.seed is None


def test_a_range_of_anything_but_whole_numbers_says_what_a_range_is():
    for text, bad in [("sc(n=1..a)", "1..a"), ("sc(temperature=0.1..0.5)", "0.1..0.5")]:  # was '1.0.a', 'invalid syntax'
        with pytest.raises(StrategySpecError, match=rf"'{re.escape(bad)}' is not a range; a range is LO\.\.HI of whole"):
            parse_spec(text)
    spec = parse_spec("cot(instruction='a..b')")  # two dots inside a string are text
    assert spec.args["instruction"] == "a..b" and parse_spec(str(spec)) == spec


def test_a_backslash_that_makes_a_control_character_is_refused():
    """Quoted text reads escapes as Python does: '\\boxed' written with one backslash was a backspace
    and 'oxed', sent to the model as such."""
    with pytest.raises(StrategySpecError, match=re.escape("holds a control character (\\b)") + ".*write two"):
        parse_spec(r"budget(think=16, answer_prompt='Put it in \boxed{}. Answer:')")
    for ok in (r"budget(answer_prompt=r'\boxed{}')", r"budget(answer_prompt='\\boxed{}')"):
        assert parse_spec(ok).args["answer_prompt"] == "\\boxed{}"
    assert parse_spec(r"budget(answer_prompt='Answer:\n\t')").args["answer_prompt"] == "Answer:\n\t"


def test_a_seed_past_what_a_sampler_takes_is_refused_when_built():
    """cot(seed=2**70) reached the sampler, which raised; samples take seed + i, so 62 bits are left."""
    with pytest.raises(StrategySpecError, match=re.escape("sc: seed=4611686018427387904 is out of range: give a "
                                                          "whole number from -2**62 to 2**62 - 1. Keys of sc")):
        build_strategy(f"sc(n=2, seed={2**62})")
    assert build_strategy(f"mcts(seed={-(2**62)})").params.seed == -(2**62)


@pytest.mark.parametrize("text, key, value", [
    ("budget(answer_prompt='Steps 1..3 done. Answer:')", "answer_prompt", "Steps 1..3 done. Answer:"),
    ("cot(instruction='Rate 1..10 then answer.')", "instruction", "Rate 1..10 then answer."),
    ("refine(stop_phrase=\"ALL 2 .. 4 OK\")", "stop_phrase", "ALL 2 .. 4 OK"),
    ("cot(instruction='''it's steps 1..2''')", "instruction", "it's steps 1..2"),
])
def test_two_dots_in_quoted_text_are_text_not_a_range(text, key, value):
    """The range rewrite ran over quoted text too: the prompt became 'Steps __range__(1, 3) done.'"""
    assert getattr(build_strategy(text).params, key) == value
    spec = parse_spec(text)
    assert spec.args[key] == value and parse_spec(str(spec)) == spec


@pytest.mark.parametrize("text, key, value", [
    ("refine(stop_phrase='LGTM=openai:yes')", "stop_phrase", "LGTM=openai:yes"),  # was 'invalid syntax ... quote'
    ("budget(wait_word='Wait, check with=hf:x')", "wait_word", "Wait, check with=hf:x"),
    ("cot(instruction='Use a=embedded-prm, then answer.')", "instruction", "Use a=embedded-prm, then answer."),
    (r"cot(instruction='It\'s x=vllm:y')", "instruction", "It's x=vllm:y"),
])
def test_a_colon_or_equals_sign_in_quoted_text_is_text_not_a_model(text, key, value):
    assert getattr(build_strategy(text).params, key) == value


def test_quoted_text_beside_bare_ranges_and_models_in_nested_specs():
    spec = parse_spec("sc(n=1..16, of=budget(think=128, answer_prompt='Steps 1..3: x=hf:y. Answer:'))")
    assert spec.args["n"] == Range(1, 16)
    assert spec.args["of"].args == {"think": 128, "answer_prompt": "Steps 1..3: x=hf:y. Answer:"}
    spec = parse_spec("bon(n=2..8, of=cot(instruction=\"Rate 1..10; model=openai:x\"), "
                      "scorer=judge(model=openai:MODEL@http://127.0.0.1:8001/v1))")
    assert spec.args["n"] == Range(2, 8) and spec.args["of"].args["instruction"] == "Rate 1..10; model=openai:x"
    assert spec.args["scorer"].args["model"] == "openai:MODEL@http://127.0.0.1:8001/v1"
    assert parse_spec(str(spec)) == spec
    built = build_strategy("bon(n=2, of=cot(instruction='Rate 1..10'), scorer=prm(model=embedded-prm))")
    assert built.scorer.params.model == "embedded-prm"
    # a quoted value is left as written, so a parse error there no longer suggests quoting it
    with pytest.raises(StrategySpecError, match=r"'\(' was never closed; expected") as err:
        parse_spec("refine(stop_phrase='LGTM=openai:yes', rounds=2")
    assert "quote a value" not in str(err.value)


@pytest.mark.parametrize("text", ["cot(instruction=-'x')", "sc(n=2, seed=-None)", "sc(n=2, seed=-none)",
                                  "sc(n=4, seed=-True)", "sc(n=4, seed=-true)", "sc(n=-[2])"])
def test_a_minus_before_anything_but_a_number_is_refused(text):
    """-'x' and -None raised a TypeError (an internal error at the CLI); -True was read as -1."""
    with pytest.raises(StrategySpecError, match=r"cannot read value .-.*.: a sign goes only before a number, "
                                                r"e\.g\. seed=-1"):
        build_strategy(text)


def test_a_minus_before_a_number_still_reads_as_a_negative_number():
    assert build_strategy("sc(n=2, seed=-3)").params.seed == -3
    assert parse_spec("cot(temperature=-0.5, seed=-1e1)").args == {"temperature": -0.5, "seed": -10.0}


def test_nesting_past_the_limit_is_a_spec_error_not_a_recursion_error():
    """Python parses ~200 levels; building or printing such a spec recursed past the interpreter's
    limit. Sixteen levels is the most a spec may compose, and it still builds."""
    from ponder.strategies.spec import MAX_NESTING

    deepest = "sc(n=2, of=" * MAX_NESTING + "cot" + ")" * MAX_NESTING
    assert build_strategy(parse_spec(deepest)).name == "sc"
    for depth in (MAX_NESTING + 1, 195):
        with pytest.raises(StrategySpecError, match=f"more than {MAX_NESTING} deep"):
            parse_spec("sc(of=" * depth + "cot" + ")" * depth)
