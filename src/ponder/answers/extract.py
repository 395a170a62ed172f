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
    The last ``Final Answer:`` / ``Answer:`` / ``The (final) answer is ...``
    (case-insensitive), rest of the line, with ``$...$`` wrappers, markdown
    bold and a trailing period stripped.
``"gsm8k"``
    The last GSM8K-style ``#### N`` marker.
``"last_number"``
    The last number in the text (``1,234`` -> ``1234``, negatives, decimals,
    fractions such as ``3/4`` and ``\\frac{3}{4}`` -> ``3/4``).
``"code"``
    (only for ``kind="code"``) the body of the last fenced code block.

Thinking spans: text outside ``<think>...</think>`` (typically after
``</think>``) is searched first; text inside a thinking span (including an
unclosed ``<think>`` or a leading span closed by ``</think>`` whose opening tag
was part of the prompt) is only a fallback.  Answers found there carry a
``"think:"`` prefix on the method name, e.g. ``"think:boxed"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

__all__ = [
    "Extraction",
    "KINDS",
    "extract_answer",
    "extract_code",
    "last_boxed",
    "last_number",
    "split_think",
]

KINDS = ("auto", "math", "gsm8k", "number", "code", "boxed", "string")
THINK_PREFIX = "think:"


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
# Thinking spans
# --------------------------------------------------------------------------

_THINK_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)


def split_think(text: str) -> tuple[str, str]:
    """Split ``text`` into ``(outside, inside)`` of ``<think>`` spans.

    A ``</think>`` without a preceding ``<think>`` means the span started
    before the text (the opening tag was in the prompt); an unclosed
    ``<think>`` runs to the end of the text.  Segments are joined with
    newlines.
    """
    tags = list(_THINK_TAG.finditer(text))
    if not tags:
        return text, ""
    inside = tags[0].group(1) == "/"  # first tag is a closing one
    outside_parts: list[str] = []
    inside_parts: list[str] = []
    pos = 0
    for tag in tags:
        (inside_parts if inside else outside_parts).append(text[pos : tag.start()])
        inside = tag.group(1) != "/"
        pos = tag.end()
    (inside_parts if inside else outside_parts).append(text[pos:])
    return "\n".join(outside_parts), "\n".join(inside_parts)


# --------------------------------------------------------------------------
# \boxed{...}
# --------------------------------------------------------------------------

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


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


def _boxed_content(text: str, match: re.Match) -> str | None:
    """Content of the box command starting at ``match`` (or ``None``)."""
    i = match.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        end = _match_brace(text, i)
        if end is None:
            return None
        return text[i + 1 : end]
    if i > match.end():
        # "\\boxed 5" form: a single token up to whitespace or '$'
        m = re.match(r"[^\s$]+", text[i:])
        if m:
            return m.group(0)
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{}`` / ``\\fbox{}`` in ``text``.

    Nested braces are supported (``\\boxed{\\frac{1}{\\sqrt{2}}}`` gives
    ``\\frac{1}{\\sqrt{2}}``).  Empty or unbalanced boxes are skipped in
    favour of an earlier complete one; ``None`` if there is none.
    """
    for match in reversed(list(_BOX_CMD.finditer(text))):
        content = _boxed_content(text, match)
        if content is not None and content.strip():
            return content.strip()
    return None


# --------------------------------------------------------------------------
# "Answer:" lines
# --------------------------------------------------------------------------

_ANSWER_PATTERNS = [
    # "Final Answer: X", "**Answer:** X", "Answer : X"
    re.compile(r"(?i)(?<![A-Za-z])(?:final\s+)?answer\s*(?:\*\*)?\s*[:：]"),
    # "The final answer is X", "the answer is: X"
    re.compile(r"(?i)(?<![A-Za-z])(?:the\s+)?(?:final\s+)?answer\s+is\s*:?"),
]
_MATH_WRAPPERS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")]


def _strip_wrappers(value: str) -> str:
    """Strip markdown bold, math delimiters and trailing punctuation."""
    prev = None
    while prev != value:
        prev = value
        value = value.strip().strip("*").strip()
        value = value.rstrip(".").rstrip()
        for left, right in _MATH_WRAPPERS:
            if value.startswith(left):
                close = value.find(right, len(left))
                if close > len(left):
                    # keep only the math content: "$3$ dollars" -> "3"
                    value = value[len(left) : close]
                break
    return value.strip()


def _clean_answer_line(rest: str) -> str:
    """Turn the remainder of an ``Answer:`` line into a value."""
    rest = rest.strip().lstrip("*").strip()
    if not rest.startswith(("$", "\\(", "\\[")):
        # Cut at the end of the first sentence: "42. I hope it is correct."
        m = re.search(r"\.(?=\s)", rest)
        if m:
            rest = rest[: m.start()]
    return _strip_wrappers(rest)


def answer_line(text: str) -> str | None:
    """Value of the last ``Answer:`` / ``The final answer is`` statement.

    If the marker ends its line (``Final Answer:\\n42``) the next non-empty
    line is used.
    """
    matches = [m for p in _ANSWER_PATTERNS for m in p.finditer(text)]
    for m in sorted(matches, key=lambda m: m.end(), reverse=True):
        rest = text[m.end() :]
        lines = rest.split("\n")
        line = lines[0]
        if not line.strip().strip("*").strip():
            line = next((ln for ln in lines[1:] if ln.strip()), "")
        value = _clean_answer_line(line)
        if value and not (_BOX_CMD.search(value) and last_boxed(value) is None):  # not a box left open
            return value
    return None


# --------------------------------------------------------------------------
# GSM8K "#### N" and numbers
# --------------------------------------------------------------------------

_GSM8K = re.compile(r"####\s*([^\n]*)")
_NUMBER = re.compile(
    r"\\[dt]?frac\{\s*(?P<fn>-?\d+)\s*\}\{\s*(?P<fd>\d+)\s*\}"  # \frac{3}{4}
    r"|(?<![\w.])(?P<num>-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+(?!\d|\.\d))?|-?\.\d+)"
)


def _clean_number(num: str) -> str:
    return num.replace(",", "")


def last_number(text: str) -> str | None:
    """The last number in ``text`` as a string, or ``None``.

    Thousands separators are removed (``1,234`` -> ``1234``); negatives,
    decimals and simple fractions (``3/4``, ``\\frac{3}{4}`` -> ``3/4``) are
    kept as written.
    """
    last = None
    for last in _NUMBER.finditer(text):
        pass
    if last is None:
        return None
    if last.group("fn") is not None:
        return f"{last.group('fn')}/{last.group('fd')}"
    return _clean_number(last.group("num"))


def gsm8k_answer(text: str) -> str | None:
    """Value after the last ``#### `` marker (thousands commas, ``$`` removed)."""
    last = None
    for m in _GSM8K.finditer(text):
        if m.group(1).strip():
            last = m
    if last is None:
        return None
    value = _strip_wrappers(last.group(1).replace("$", ""))
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", value):
        value = _clean_number(value)
    return value or None


# --------------------------------------------------------------------------
# Code blocks
# --------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PY_LANGS = {"", "python", "py", "python3"}


def _code_block(text: str) -> str | None:
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if not blocks:
        return None
    python = [body for lang, body in blocks if lang in _PY_LANGS]
    body = python[-1] if python else blocks[-1][1]
    return body.rstrip("\n") if body.strip() else None


def extract_code(text: str) -> str | None:
    """Body of the last fenced code block (``` ```python ``` or bare ``` ``` ```).

    Python (or untagged) blocks are preferred over blocks in other languages;
    blocks outside ``<think>`` spans are preferred over those inside.
    Unclosed (truncated) blocks are ignored.  Returns ``None`` if none found.
    """
    outside, inside = split_think(text)
    code = _code_block(outside)
    if code is None and inside:
        code = _code_block(inside)
    return code


# --------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------

def _numeric_only(fn: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Wrap ``fn`` so that its value is reduced to the last number in it."""

    def wrapped(text: str) -> str | None:
        value = fn(text)
        if value is None:
            return None
        if re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", value):
            return value
        return last_number(value)

    return wrapped


_METHODS: dict[str, Callable[[str], str | None]] = {
    "boxed": last_boxed,
    "answer_line": answer_line,
    "gsm8k": gsm8k_answer,
    "last_number": last_number,
    "code": _code_block,
}

_ORDERS: dict[str, list[tuple[str, Callable[[str], str | None]]]] = {
    "auto": [(n, _METHODS[n]) for n in ("boxed", "answer_line", "gsm8k", "last_number")],
    "math": [(n, _METHODS[n]) for n in ("boxed", "answer_line", "last_number")],
    "boxed": [("boxed", last_boxed)],
    # exact-string answers (expressions, names): an explicit answer only, never a stray number
    "string": [(n, _METHODS[n]) for n in ("boxed", "answer_line")],
    "number": [("last_number", last_number)],
    "code": [("code", _code_block)],
    "gsm8k": [
        ("gsm8k", _numeric_only(gsm8k_answer)),
        ("boxed", _numeric_only(last_boxed)),
        ("answer_line", _numeric_only(answer_line)),
        ("last_number", last_number),
    ],
}


def _run_methods(text: str, kind: str) -> Extraction | None:
    for name, fn in _ORDERS[kind]:
        value = fn(text)
        if value is not None:
            return Extraction(value, name)
    return None


# a text cut off by a token limit: only what the model finished writing is an answer
_EXPLICIT = ("boxed", "answer_line", "gsm8k", "code")


def _extract_cut(text: str, kind: str) -> Extraction:
    """The answer of a text cut off by a token limit: a complete ``\\boxed{}`` or code block, or an
    ``Answer:`` / ``####`` value the model wrote to its end (whitespace after it), outside its
    thinking. Not the last number (an intermediate result: the model had not answered yet), not
    from an unfinished thought, not ``Answer: 84`` cut there (it may have been 845)."""
    outside, _ = split_think(text)
    finished_words = outside[: max(outside.rfind(" "), outside.rfind("\n"), outside.rfind("\t")) + 1]
    for name, fn in _ORDERS[kind]:
        if name not in _EXPLICIT:
            continue
        value = fn(outside if name in ("boxed", "code") else finished_words)
        if value is not None:
            return Extraction(value, name)
    return Extraction(None, None)


def extract_answer(text: str, kind: str = "auto", *, cut: bool = False) -> Extraction:
    """Extract the final answer from a model output.

    Args:
        text: the generated text (may contain ``<think>`` spans).
        kind: ``"auto"`` (boxed, answer line, ``####``, last number),
            ``"math"`` (boxed, answer line, last number), ``"gsm8k"``
            (``####`` first, then the other methods, value reduced to a
            number), ``"number"`` (last number only), ``"boxed"`` (boxed
            only) or ``"code"`` (last fenced code block body).
        cut: the text was cut off by a token limit (finish reason ``length`` or
            ``budget``): only an answer the model finished writing counts
            (see ``_extract_cut``); ``Extraction(None, None)`` otherwise.

    Returns:
        An :class:`Extraction`; ``Extraction(None, None)`` when nothing could
        be parsed.  Answers taken from inside a thinking span have their
        method prefixed with ``"think:"``.
    """
    if kind not in _ORDERS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    if not text:
        return Extraction(None, None)
    if cut:
        return _extract_cut(text, kind)
    outside, inside = split_think(text)
    found = _run_methods(outside, kind)
    if found is None and inside.strip():
        found = _run_methods(inside, kind)
        if found is not None:
            found = Extraction(found.value, THINK_PREFIX + str(found.method))
    return found or Extraction(None, None)
