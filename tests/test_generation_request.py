"""GenerationRequest refuses values no backend can honour, naming the field, the value and what is
accepted, instead of each backend reading them its own way (one sample for n=0, greedy decoding for
a negative temperature, a bare torch error for a NaN temperature or a seed past 64 bits)."""

from __future__ import annotations

import math
import re

import pytest

from ponder import GenerationRequest

MESSAGES = [{"role": "user", "content": "Compute left to right: 1+2"}]


def req(**kw) -> GenerationRequest:
    return GenerationRequest(messages=MESSAGES, **kw)


@pytest.mark.parametrize("field, value, accepted", [
    ("n", 0, ">= 1"),
    ("n", 2.0, ">= 1"),
    ("n", True, ">= 1"),
    ("max_tokens", -3, ">= 0"),
    ("min_tokens", -1, ">= 0"),
    ("temperature", -1, ">= 0"),
    ("temperature", math.nan, ">= 0"),
    ("temperature", math.inf, "finite"),
    ("temperature", "0.5", ">= 0"),
    ("top_p", 0, "above 0 and at most 1"),
    ("top_p", 1.5, "above 0 and at most 1"),
    ("top_p", math.nan, "above 0 and at most 1"),
    ("seed", 2**70, "64-bit"),
    ("seed", -(2**63) - 1, "64-bit"),
    ("seed", 1.5, "64-bit"),
    ("stop", ["Answer", 3], "list of strings"),
    ("stop", 3, "list of strings"),
])
def test_a_value_out_of_range_is_refused_naming_it(field, value, accepted):
    with pytest.raises(ValueError, match=re.escape(f"{field}={value!r}")) as info:
        req(**{field: value})
    assert accepted in str(info.value)


def test_replace_checks_the_new_values_too():
    base = req(n=2, seed=5)
    assert base.replace(n=3).n == 3 and base.replace(n=3).seed == 5
    with pytest.raises(ValueError, match="n=0"):
        base.replace(n=0)


def test_the_edges_of_each_range_are_accepted():
    r = req(n=1, max_tokens=0, min_tokens=0, temperature=0, top_p=1, seed=2**63 - 1)
    assert (r.n, r.max_tokens, r.temperature, r.top_p, r.seed) == (1, 0, 0, 1, 2**63 - 1)
    assert req(seed=-1).seed == -1 and req(seed=None).seed is None  # torch and vLLM take negative seeds
    assert req(temperature=5.5, top_p=1e-9).top_p == 1e-9


def test_a_single_stop_string_is_one_stop_string():
    assert req(stop="Answer").stop == ["Answer"]  # not A, n, s, w, e, r
    assert req(stop=("a", "b")).stop == ["a", "b"]
    assert req(stop=["", "x", ""]).stop == ["x"]  # an empty stop string stops nothing
    assert req().stop == []
