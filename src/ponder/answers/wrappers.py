"""Wrappers around an answer's value that extraction strips: math delimiters (``$...$``,
``$$...$$``, ``\\(...\\)``, ``\\[...\\]``), currency dollar signs, markdown bold and inline
code, a trailing period (see :mod:`ponder.answers.extract`)."""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"(?<!\\)\$")
_SENTENCE_END = re.compile(r"\.(?=\s)")


def _dollar_math(value: str) -> str | None:
    """Content of a ``$...$`` pair opening ``value`` as TeX writes one (see
    :mod:`ponder.answers.extract`), or ``None`` (a currency sign)."""
    if len(value) < 2 or value[1].isspace():
        return None
    for m in _DOLLAR.finditer(value, 1):
        j = m.start()
        if value[j - 1].isspace() or value[j + 1 : j + 2].isdigit():
            continue
        return value[1:j] if j > 1 else None
    return None


def _leading_math(value: str) -> str | None:
    """Content of the math span (``$$..$$``, ``$..$``, ``\\(..\\)``, ``\\[..\\]``)
    that opens ``value``, or ``None`` when it does not open with one."""
    if value.startswith("$$"):
        close = value.find("$$", 2)
        return value[2:close] if close > 2 else None
    if value.startswith("$"):
        return _dollar_math(value)
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if value.startswith(left):
            close = value.find(right, len(left))
            return value[len(left) : close] if close > len(left) else None
    return None


_INLINE_CODE = re.compile(r"(`+)([^`]+)\1")


def _strip_wrappers(value: str) -> str:
    """Strip markdown bold and inline code (```42``` -> ``42``), math delimiters and trailing
    punctuation."""
    prev = None
    while prev != value:
        prev = value
        value = value.strip().strip("*").strip()
        value = value.rstrip(".").rstrip()
        code = _INLINE_CODE.fullmatch(value)
        if code:
            value = code.group(2)
        math = _leading_math(value)
        if math is not None:
            value = math  # keep only the math content: "$3$ dollars" -> "3"
    return value.strip()


def _clean_answer_line(rest: str) -> str:
    """Turn the remainder of an answer statement's line into a value.

    A math span that opens it is the value (``$\\$18.90$. I hope`` -> ``\\$18.90``);
    otherwise unescaped ``$`` are currency signs and go, and the value ends with its
    first sentence (``42. I hope it is correct.`` -> ``42``).
    """
    rest = rest.strip().lstrip("*").strip()
    if _leading_math(rest) is None:
        rest = _DOLLAR.sub("", rest)
        m = _SENTENCE_END.search(rest)
        if m:
            rest = rest[: m.start()]
    return _strip_wrappers(rest)
