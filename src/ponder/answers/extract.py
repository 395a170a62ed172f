"""Final-answer extraction from model outputs.

The main entry point is :func:`extract_answer`, which returns an
:class:`Extraction` ``(value, method)``.  ``value is None`` means that no
answer could be parsed at all, which callers should report separately from a
wrong answer.

Extraction methods (``method`` names), tried in this order for ``kind="auto"``:

``"boxed"``
    The last complete ``\\boxed{...}`` / ``\\fbox{...}``; nested braces are
    handled by a brace matcher (escaped ``\\{`` / ``\\}`` are skipped).
``"answer_line"``
    The last answer statement (case-insensitive), rest of its line, with ``$...$``
    wrappers, markdown bold and inline code and a trailing period stripped; a value
    that opens display math (``\\[`` or ``$$``) runs to its closing delimiter, on a
    later line if need be.  Explicit forms (``Final Answer: X``, ``The final answer
    is X``, an ``Answer:`` label, a heading ``### Final Answer`` / ``**Final Answer**``
    with the value on the next line) win over ``the answer is X`` in prose (and over a
    heading ``## Answer``, which may title a whole solution); a label whose line states
    ``the answer is X`` gives ``X``; among one kind the last wins (models restate
    answers).  Not answers: a lower-case ``answer:`` right after a
    lower-case word (``let me verify my answer: 3*7 = 21``), and ``the answer
    is`` followed by a word instead of a value (``is correct``, ``is not``,
    ``isn't``).  See :func:`answer_line`.
``"gsm8k"``
    The last GSM8K-style ``#### N`` marker (a value must follow it: a markdown
    heading ``#### Step 1`` is not one).
``"last_number"``
    The last number in the text (``1,234`` and LaTeX's ``1{,}234`` / ``1,\\!234`` /
    ``1\\,234`` -> ``1234``, negatives, decimals, fractions such as ``3/4`` and
    ``\\frac{3}{4}`` -> ``3/4``, ``-\\frac{3}{4}`` -> ``-3/4``).
``"code"``
    (only for ``kind="code"``) a fenced code block, see :func:`extract_code`.

Dollar signs: a ``$...$`` pair is math only as TeX/pandoc write it (no space
after the opening ``$`` or before the closing one, which is not followed by a
digit); ``\\$`` is an escaped dollar sign.  Other ``$`` are currency and are
dropped: ``The answer is $12 + $5 = $17.`` gives ``12 + 5 = 17``.

Minus signs: U+2212 (and a figure/en dash or a full-width hyphen-minus right
before a digit) read as ``-`` for every kind but ``"code"``.

Thinking spans: text outside ``<think>...</think>`` (typically after
``</think>``) is searched first; text inside a thinking span (including an
unclosed ``<think>`` or a leading span closed by ``</think>`` whose opening tag
was part of the prompt) is only a fallback.  Answers found there carry a
``"think:"`` prefix on the method name, e.g. ``"think:boxed"``.

Every method runs in time linear in the text: braces are matched in one pass,
an answer statement's value is read from at most :data:`MAX_ANSWER_LINE`
characters of its line, and at most :data:`MAX_STATEMENTS` statements of each
kind are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .code_blocks import code_block, extract_code
from .spans import ascii_minus, split_think
from .wrappers import _clean_answer_line, _strip_wrappers

__all__ = [
    "Extraction",
    "KINDS",
    "MAX_ANSWER_LINE",
    "MAX_STATEMENTS",
    "ascii_minus",
    "extract_answer",
    "extract_code",
    "last_boxed",
    "last_number",
    "split_think",
]

KINDS = ("auto", "math", "gsm8k", "number", "code", "boxed", "string")
THINK_PREFIX = "think:"
#: characters of an answer statement's line read for its value
MAX_ANSWER_LINE = 2000
#: answer statements of each kind read, from the last one back
MAX_STATEMENTS = 100


@dataclass(frozen=True)
class Extraction:
    """Result of :func:`extract_answer`.

    ``value`` is the extracted answer string, or ``None`` on a parse failure;
    ``method`` names the method that produced it (``None`` on failure).
    """

    value: str | None
    method: str | None

    @property
    def ok(self) -> bool:
        """True when an answer was extracted."""
        return self.value is not None


# --------------------------------------------------------------------------
# \boxed{...}
# --------------------------------------------------------------------------

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_EVENT = re.compile(r"\\.|[{}]", re.DOTALL)
_BARE_TOKEN = re.compile(r"[^\s$]+")


def _match_brace(text: str, open_pos: int) -> int | None:
    """Return the index of the ``}`` matching the ``{`` at ``open_pos``.

    Escaped braces (``\\{``, ``\\}``) do not count.  Returns ``None`` when
    the group is unbalanced (e.g. a truncated generation).
    """
    depth = 0
    i = open_pos
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip the escaped character (\{, \}, \\ ...)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _brace_pairs(text: str, start: int = 0) -> dict[int, int]:
    """Map the position of every ``{`` from ``start`` on to that of its matching ``}``,
    in one pass (escaped ``\\{`` / ``\\}`` do not count); unbalanced ``{`` are absent."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in _BRACE_EVENT.finditer(text, start):
        ch = m.group(0)
        if ch == "{":
            stack.append(m.start())
        elif ch == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


def _boxed_content(text: str, match: re.Match, pairs: dict[int, int]) -> str | None:
    """Content of the box command starting at ``match`` (or ``None``)."""
    i = match.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        end = pairs.get(i)
        return None if end is None else text[i + 1 : end]
    if i > match.end():
        # "\\boxed 5" form: a single token up to whitespace or '$'
        m = _BARE_TOKEN.match(text, i)
        if m:
            return m.group(0)
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{}`` / ``\\fbox{}`` in ``text``.

    Nested braces are supported (``\\boxed{\\frac{1}{\\sqrt{2}}}`` gives
    ``\\frac{1}{\\sqrt{2}}``).  Empty or unbalanced boxes are skipped in
    favour of an earlier complete one; ``None`` if there is none.
    """
    matches = list(_BOX_CMD.finditer(text))
    if not matches:
        return None
    pairs = _brace_pairs(text, matches[0].end())
    for match in reversed(matches):
        content = _boxed_content(text, match, pairs)
        if content is not None and content.strip():
            return content.strip()
    return None


# --------------------------------------------------------------------------
# Answer statements
# --------------------------------------------------------------------------

# "Final Answer: X", "**Answer:** X", "Answer : X"
_ANSWER_COLON = re.compile(r"(?i)(?<![A-Za-z])(?P<final>final\s+)?answer\s*(?:\*\*)?\s*[:：]")
# a heading with no colon, its value on the next line: "### Final Answer", "**Final Answer**"
_ANSWER_HEADING = re.compile(
    r"(?im)^[ \t]*(?:#{1,6}[ \t]*(?:\*\*)?|\*\*)[ \t]*(?P<final>final[ \t]+)?answer[ \t]*(?:\*\*)?[ \t]*$"
)
# "The final answer is X", "the answer is: X" (not "the answer isn't")
_ANSWER_IS = re.compile(r"(?i)(?<![A-Za-z])(?:the\s+)?(?P<final>final\s+)?answer\s+is(?![\w'’])\s*:?")
# a lower-case word right before a marker on its line: "verify my answer:"
_WORD_BEFORE = re.compile(r"(?<![A-Za-z])[a-z]+[ \t*_]*$")
# what follows "the answer is" when it states a value: on its line a number, sign, math,
# bracket, quote, a capitalised word or letter ("(B)", "Evelyn"), a variable ("x = 2") or
# yes/no/even/odd ..., maybe after "therefore"/"thus"...; on the next line only the symbols
_FILLER = r"(?:therefore|thus|hence|then|still|indeed|clearly|simply|just|actually|now|exactly)\b,?"
_SYMBOL_START = r"[-+\d$\\(\[{'\"`√∛∜∞±∓π½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒]|\.\d"
_VALUE_AFTER_IS = re.compile(
    r"(?:[ \t*]|" + _FILLER + r")*"
    r"(?:(?=" + _SYMBOL_START + r"|[A-Z]|(?!a\s)[a-z](?![A-Za-z'’]|\.[a-z])"
    r"|(?:yes|no|true|false|even|odd|none)[ \t]*(?:[.,;!*]|$))"
    r"|\s*\n\s*(?:\*\*)?(?=" + _SYMBOL_START + r"))",
    re.MULTILINE,
)
_NON_SPACE = re.compile(r"\S")
# what a heading's next line opens with when it holds the value (math, a number, a bracket, or
# "the answer is"), not a sentence ("The total is 7 apples.", which the last number decides)
_HEADING_VALUE = re.compile(r"\s*[ \t*]*(?:" + _SYMBOL_START + r"|(?:the\s+)?(?:final\s+)?answer\s+is\b"
                            r"|(?:so|therefore|thus|hence)\b,?[ \t]*(?:the\s+)?(?:final\s+)?answer\s+is\b)", re.I)
# a label's value that opens with "the answer is X" (maybe after "So" / "Therefore,")
_STATED_OPENING = re.compile(r"[ \t*]*(?:(?:so|therefore|thus|hence)\b,?[ \t]*)?(?=(?:the\s+)?(?:final\s+)?answer\s+is)",
                             re.I)


@dataclass(frozen=True)
class _Statement:
    start: int  # where its value starts
    end: int  # where the marker ends (statements are ordered by it)
    explicit: bool  # a "final answer" form, an "Answer:" label or a "Final Answer" heading
    label: bool = False  # an "Answer:" label or heading: its line may state "the answer is X"


def _statements(text: str) -> list[_Statement]:
    """The genuine answer statements in ``text`` (see :func:`answer_line`)."""
    found = []
    for m in _ANSWER_COLON.finditer(text):
        line_start = text.rfind("\n", max(0, m.start() - 40), m.start()) + 1
        in_prose = m.group(0)[0].islower() and _WORD_BEFORE.search(
            text, max(line_start, m.start() - 40), m.start()
        )
        if m.group("final") or not in_prose:
            found.append(_Statement(m.end(), m.end(), True, True))
    for m in _ANSWER_HEADING.finditer(text):  # "## Answer" may title a whole solution: not explicit
        if _HEADING_VALUE.match(text, m.end()):  # a value below it, not a sentence
            found.append(_Statement(m.end(), m.end(), bool(m.group("final")), True))
    for m in _ANSWER_IS.finditer(text):
        value = _VALUE_AFTER_IS.match(text, m.end())
        if value:
            found.append(_Statement(value.end(), m.end(), bool(m.group("final"))))
    return found


def _line_span(text: str, pos: int) -> tuple[int, int]:
    """Where the rest of the line at ``pos`` starts and ends, or the next non-empty line
    when that is blank (``Final Answer:\\n42``); at most :data:`MAX_ANSWER_LINE` characters."""
    eol = text.find("\n", pos, pos + MAX_ANSWER_LINE)
    end = eol if eol >= 0 else min(len(text), pos + MAX_ANSWER_LINE)
    if text[pos:end].strip().strip("*").strip() or eol < 0:
        return pos, end
    nxt = _NON_SPACE.search(text, eol)
    if nxt is None:
        return end, end
    eol = text.find("\n", nxt.start(), nxt.start() + MAX_ANSWER_LINE)
    return nxt.start(), eol if eol >= 0 else min(len(text), nxt.start() + MAX_ANSWER_LINE)


def _stated_value(text: str, start: int, end: int) -> int | None:
    """Where the value starts of a label's value that opens with ``the answer is X``
    (``Final Answer: The answer is $12$.``, ``Answer: So the answer is 12``), or ``None``
    (``Final Answer: 12. Earlier I thought the answer is 15.`` is 12)."""
    opening = _STATED_OPENING.match(text, start, end)
    m = _ANSWER_IS.match(text, opening.end(), end) if opening else None
    value = _VALUE_AFTER_IS.match(text, m.end()) if m else None
    return value.end() if value else None


_DISPLAY_OPEN = re.compile(r"[ \t*]*(\\\[|\$\$)")


def _display_end(text: str, start: int, end: int) -> int | None:
    """Where a value that opens display math (``\\[`` or ``$$``) on a line of its own ends: the
    end of the line that closes it (``The final answer is\\n\\[\\n12\\n\\]``), at most
    :data:`MAX_ANSWER_LINE` characters on; ``end`` for other values, ``None`` if never closed."""
    m = _DISPLAY_OPEN.match(text, start, end)
    if m is None:
        return end
    close = "\\]" if m.group(1) == "\\[" else "$$"
    found = text.find(close, m.end(), m.start() + MAX_ANSWER_LINE)
    if found < 0:
        return None
    if found < end:
        return end
    eol = text.find("\n", found, found + MAX_ANSWER_LINE)
    return eol if eol >= 0 else min(len(text), found + MAX_ANSWER_LINE)


def _statement_value(text: str, st: _Statement) -> str | None:
    """The value of an answer statement, or ``None`` (empty, a box or display math left open).
    A label's line that states ``the answer is X`` gives ``X``."""
    start, end = _line_span(text, st.start)
    stated = _stated_value(text, start, end) if st.label else None
    if stated is not None:
        start, end = (stated, end) if stated < end else _line_span(text, stated)
    display_end = _display_end(text, start, end)
    if display_end is None:
        return None
    value = _clean_answer_line(text[start:display_end])
    if not value or (_BOX_CMD.search(value) and last_boxed(value) is None):
        return None
    return value


def answer_line(text: str) -> str | None:
    """Value of the last answer statement (``Answer:`` / ``The final answer is``).

    Rules: ``Final Answer: X``, ``The final answer is X``, an ``Answer:`` label
    (any ``Answer:`` but a lower-case ``answer:`` right after a lower-case word, as
    in ``verify my answer: ...``) and a heading ``### Final Answer`` / ``**Final
    Answer**`` are explicit (a heading ``## Answer`` is not); ``the answer is X``
    counts only when a value follows (a number, math, a bracket, a capitalised word,
    a variable, an optional ``therefore`` / ``thus`` ... before it), never ``the
    answer is correct`` or ``the answer isn't``.  The last explicit statement wins, else the
    last ``the answer is X`` (of each kind, the last :data:`MAX_STATEMENTS` are
    read).  If the marker ends its line (``Final Answer:\\n42``, a heading ``### Final
    Answer``) the next non-empty line is used; a label whose line states ``the answer is
    X`` (``Final Answer: The answer is $12$.``) gives ``X``; a value that opens display
    math unclosed on its line (``\\[`` / ``$$``) runs to the line that closes it.
    """
    statements = sorted(_statements(text), key=lambda s: s.end, reverse=True)
    for explicit in (True, False):
        for st in [st for st in statements if st.explicit == explicit][:MAX_STATEMENTS]:
            value = _statement_value(text, st)
            if value is not None:
                return value
    return None


# --------------------------------------------------------------------------
# GSM8K "#### N" and numbers
# --------------------------------------------------------------------------

_GSM8K = re.compile(r"####\s*([^\n]*)")
_NUMBER = re.compile(
    r"(?:(?<![\w.)}\]])(?P<fs>-))?\\[dt]?frac\{\s*(?P<fn>-?\d+)\s*\}\{\s*(?P<fd>\d+)\s*\}"  # -\frac{3}{4}
    r"|(?<![\w.])(?P<num>-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+(?!\d|\.\d))?|-?\.\d+)"
)


def _clean_number(num: str) -> str:
    return num.replace(",", "")


def _number_text(m: re.Match) -> str:
    """The number a :data:`_NUMBER` match reads: ``-\\frac{3}{4}`` -> ``-3/4``, ``1,234`` -> ``1234``."""
    if m.group("fn") is None:
        return _clean_number(m.group("num"))
    negative = (m.group("fs") is not None) != m.group("fn").startswith("-")
    return f"{'-' if negative else ''}{m.group('fn').lstrip('-')}/{m.group('fd')}"


def last_number(text: str) -> str | None:
    """The last number in ``text`` as a string, or ``None``.

    Thousands separators are removed (``1,234`` -> ``1234``); negatives,
    decimals and simple fractions (``3/4``, ``\\frac{3}{4}`` -> ``3/4``, ``-\\frac{3}{4}`` ->
    ``-3/4``) are kept as written.
    """
    last = None
    for last in _NUMBER.finditer(latex_digit_groups(text)):
        pass
    return None if last is None else _number_text(last)


# what a "####" answer marker's value starts with (a markdown heading "#### Step 1" is not one,
# ("#### 1. Total cost", a numbered heading, is not one either)
_GSM8K_VALUE = re.compile(
    r"(?:\*\*)?\s*(?:\\?\$\s*)?[-+]?(?:\\?\$\s*)?(?:\d|\.\d|\\[dt]?frac|\\boxed)(?!\d*[.)]\s+[^\d\s])"
)
# a LaTeX thousands separator between digit groups: 70{,}000, 70,\!000, 70\,000, 70\ 000
_LATEX_GROUP = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|\\[,!]|\\ )(?=\d{3}(?!\d))")


def latex_digit_groups(text: str) -> str:
    """``70{,}000`` / ``70,\\!000`` / ``70\\,000`` -> ``70,000`` (LaTeX thousands separators)."""
    return _LATEX_GROUP.sub(",", text)


def gsm8k_answer(text: str) -> str | None:
    """Value after the last ``#### `` marker that gives a value (thousands commas, ``$``
    removed); a markdown heading (``#### Step 1: ...``) is not a marker."""
    last = None
    for m in _GSM8K.finditer(text):
        if _GSM8K_VALUE.match(m.group(1)):
            last = m
    if last is None:
        return None
    value = _strip_wrappers(last.group(1).replace("$", ""))
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", value):
        value = _clean_number(value)
    return value or None


# --------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------

# what follows a number that makes it a number with a unit: a word ("9 eggs", "22 times",
# "10000 a month"; not "9 x 2", "9 times 2", "4 divided by 2", "8 pi") or \text{...} ("18 \text{ dollars}")
_UNIT_AFTER = re.compile(
    r"\s*(?:\\(?:text|textrm|mbox|mathrm)\s*\{\s*[A-Za-z]"
    r"|(?!(?:times|plus|minus|over|mod|[xX])\b\s*[-+\d(\\.]|(?:divided|multiplied)\s+by\b|pi\b)[A-Za-z]+\b)"
)


def number_of(value: str) -> str | None:
    """The number an answer states, for numeric answers (GSM8K).

    Currency signs and thousands separators go (``\\$70{,}000`` and ``70 000`` ->
    ``70000``, ``-\\$3`` -> ``-3``); of an equation, its last side that is a number alone
    (``2+3=5`` -> ``5``, ``18 = 9 \\times 2`` -> ``18``), else its last side if that is a
    number and a unit (``16-3-4 = 9 eggs`` -> ``9``); else the number the value starts with
    (``5 hours (300 minutes)`` -> ``5``); else its last number.
    """
    value = latex_digit_groups(value).replace("\\$", "").replace("$", "").strip()
    value = re.sub(r"^([-+])\s+(?=\d|\\[dt]?frac)", r"\1", value)
    if re.fullmatch(r"-?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?", value):  # 70 000
        value = re.sub(r"\s", "", value)
    whole = _NUMBER.fullmatch(value)
    if whole is None and "=" in value:
        for side in reversed(value.split("=")):
            whole = _NUMBER.fullmatch(_strip_wrappers(side.strip()))
            if whole is not None:
                break
        if whole is None:  # "16-3-4 = 9 eggs", "9 \times 2 = 18 \text{ dollars}"
            last = _strip_wrappers(value.rsplit("=", 1)[1])
            first = _NUMBER.match(last)
            whole = first if first and _UNIT_AFTER.match(last, first.end()) else None
    if whole is None:
        whole = _NUMBER.match(value)
    if whole is None:
        return last_number(value)
    return _number_text(whole)


def _numeric_only(fn: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Wrap ``fn`` so that its value is reduced to the number it states (:func:`number_of`)."""

    def wrapped(text: str) -> str | None:
        value = fn(text)
        if value is None:
            return None
        return number_of(value)

    return wrapped


_METHODS: dict[str, Callable[[str], str | None]] = {
    "boxed": last_boxed,
    "answer_line": answer_line,
    "gsm8k": gsm8k_answer,
    "last_number": last_number,
    "code": code_block,
}

_ORDERS: dict[str, list[tuple[str, Callable[[str], str | None]]]] = {
    "auto": [(n, _METHODS[n]) for n in ("boxed", "answer_line", "gsm8k", "last_number")],
    "math": [(n, _METHODS[n]) for n in ("boxed", "answer_line", "last_number")],
    "boxed": [("boxed", last_boxed)],
    # exact-string answers (expressions, names): an explicit answer only, never a stray number
    "string": [(n, _METHODS[n]) for n in ("boxed", "answer_line")],
    "number": [("last_number", last_number)],
    "code": [("code", code_block)],
    "gsm8k": [
        ("gsm8k", _numeric_only(gsm8k_answer)),
        ("boxed", _numeric_only(last_boxed)),
        ("answer_line", _numeric_only(answer_line)),
        ("last_number", last_number),
    ],
}


def _run_methods(text: str, kind: str, entry_point: str | None = None) -> Extraction | None:
    for name, fn in _ORDERS[kind]:
        value = code_block(text, entry_point) if name == "code" else fn(text)
        if value is not None:
            return Extraction(value, name)
    return None


# a text cut off by a token limit: only what the model finished writing is an answer
_EXPLICIT = ("boxed", "answer_line", "gsm8k", "code")


def _extract_cut(text: str, kind: str, entry_point: str | None = None) -> Extraction:
    """The answer of a text cut off by a token limit: a complete ``\\boxed{}`` or code block, or an
    ``Answer:`` / ``####`` value the model wrote to its end (whitespace after it), outside its
    thinking. Not the last number (an intermediate result: the model had not answered yet), not
    from an unfinished thought, not ``Answer: 84`` cut there (it may have been 845)."""
    outside, _ = split_think(text)
    finished_words = outside[: max(outside.rfind(" "), outside.rfind("\n"), outside.rfind("\t")) + 1]
    for name, fn in _ORDERS[kind]:
        if name not in _EXPLICIT:
            continue
        if name == "code":
            value = code_block(outside, entry_point)
        else:
            value = fn(outside if name == "boxed" else finished_words)
        if value is not None:
            return Extraction(value, name)
    return Extraction(None, None)


def extract_answer(text: str, kind: str = "auto", *, cut: bool = False,
                   entry_point: str | None = None) -> Extraction:
    """Extract the final answer from a model output.

    Args:
        text: the generated text (may contain ``<think>`` spans).
        kind: ``"auto"`` (boxed, answer line, ``####``, last number),
            ``"math"`` (boxed, answer line, last number), ``"gsm8k"``
            (``####`` first, then the other methods, value reduced to a
            number), ``"number"`` (last number only), ``"boxed"`` (boxed
            only) or ``"code"`` (a fenced code block body, see
            :func:`extract_code`).
        cut: the text was cut off by a token limit (finish reason ``length`` or
            ``budget``): only an answer the model finished writing counts
            (see ``_extract_cut``); ``Extraction(None, None)`` otherwise.
        entry_point: with ``kind="code"``, the function the problem asks for: the block
            that defines it wins over later blocks (see :func:`extract_code`).

    Returns:
        An :class:`Extraction`; ``Extraction(None, None)`` when nothing could
        be parsed.  Answers taken from inside a thinking span have their
        method prefixed with ``"think:"``.
    """
    if kind not in _ORDERS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    if not text:
        return Extraction(None, None)
    if kind != "code":
        text = ascii_minus(text)
    if cut:
        return _extract_cut(text, kind, entry_point)
    outside, inside = split_think(text)
    found = _run_methods(outside, kind, entry_point)
    if found is None and inside.strip():
        found = _run_methods(inside, kind, entry_point)
        if found is not None:
            found = Extraction(found.value, THINK_PREFIX + str(found.method))
    return found or Extraction(None, None)
