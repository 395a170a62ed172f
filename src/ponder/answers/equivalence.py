"""Answer equivalence and grouping (for grading and self-consistency voting).

* :func:`normalize` gives a canonical string key for an answer.
* :func:`answers_equal` decides whether two answers are equivalent: cheap
  checks first (equal normalized keys, numeric comparison), then
  `math-verify <https://github.com/huggingface/Math-Verify>`_ for LaTeX /
  symbolic expressions.
* :func:`group_answers` groups equivalent answers for majority voting.

Numbers: a mixed number is its value (``2 3/4`` and ``137 \\frac{1}{2}`` are
``11/4`` and ``275/2``); digit groups apart by a space or by ``", "`` are never
one number (``1 2`` is not ``12``, ``1, 100`` is not ``1100``; ``1,000`` is);
two whole numbers, and any two numbers for ``kind="gsm8k"``, compare exactly,
other numbers within :data:`REL_TOL`.

Before math-verify (which is lenient there) answers of different forms are
unequal: both with units and the units differ (``10\\text{ cm}`` vs
``10\\text{ m}``, ``5 hours`` vs ``5 minutes``; with the same unit on both sides, or
a unit on one side only, the values compare: ``36 dollars`` is ``36``, ``10\\text{ cm}``
is ``10``; math-verify's own unit stripping is off, for its list of units holds letters
that are variables and made ``3ab`` equal to ``3``), numbers
in different bases (``52_8`` vs ``52_9``), a set ``\\{...\\}`` against a tuple or
interval.  A multiple-choice letter alone (``\\text{(C)}``) and one followed by its
option's value (``(C) 12``) compare by their letters.  Unicode math reads as LaTeX
(``√51``, ``(2, ∞)``, ``1 ± √19``, ``½``, ``x³``; see :mod:`ponder.answers.notation`).
After it, two numbers it calls equal must also agree within :data:`REL_TOL` (it
rounds to 6 decimal places, which makes any two numbers below a millionth equal).

Timeouts (the machinery is in :mod:`ponder.answers.verify`)
--------------------------------------------------------------
math-verify's own timeouts (``parsing_timeout`` / ``timeout_seconds``) rely
on ``signal.alarm``, which only works in the main thread.  So:

* on the main thread we pass the timeout (rounded up to whole seconds, as
  ``signal.alarm`` requires) to math-verify, which interrupts the runaway
  sympy computation itself;
* off the main thread we pass disabled timeouts to math-verify and run the
  comparison in a fresh *daemon* thread, waiting on a
  :class:`concurrent.futures.Future` with ``result(timeout=...)``.  A thread
  cannot be killed, so a runaway comparison keeps running in the background
  until it finishes, but the caller never hangs and the daemon thread does
  not block interpreter exit.  We chose a thread over a process because
  spawning a process (and re-importing sympy) per comparison costs far more
  than typical comparisons, and forking a multi-threaded process is unsafe.

A timeout counts as "not equal".  On the main thread math-verify catches its
own timeout and returns False, which is cached like any result (math-verify's
logger says so); off it, Ponder logs a warning and does not cache the result.

A thread can only be left while the runaway comparison lets go of the GIL, and
sympy does not while it computes one huge integer (``2^{2^{40}}``, ``10^{9^9}``,
``1000000!``): the whole process would stop.  So answers whose exponents or
factorials are that large (see :func:`too_costly`) are never sent to math-verify;
they equal only what they equal as written (their normalized keys), and a warning
says so.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .extract import _match_brace, latex_digit_groups
from .notation import choice_letters, unicode_math
from .spans import ascii_minus
from .verify import MAX_DIGITS, REL_TOL, AnswerTimeout, too_costly, verify_with_timeout

__all__ = ["answers_equal", "normalize", "group_answers", "REL_TOL"]

logger = logging.getLogger(__name__)

_MATH_KINDS = ("auto", "math", "boxed")
_NUMBER_KINDS = ("number", "gsm8k")
_STRING_KINDS = ("string", "code")
_ALL_KINDS = _MATH_KINDS + _NUMBER_KINDS + _STRING_KINDS


# --------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------

_TEXT_CMDS = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mbox|operatorname)\s*\{")
_SPACING = re.compile(r"\\[,;:!]|\\q?quad(?![A-Za-z])|(?<!\\)\\(?=\s)|~")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MIXED = re.compile(r"([+-]?)(\d+)(?:\s+(\d+)/(\d+)|\s*\\frac\{(\d+)\}\{(\d+)\})")
_LISTED = re.compile(r"\d,\s+\d")
# a degree sign written as a character or as \degree: 90° / 90\degree -> 90^\circ
_DEGREE = re.compile(r"(?:\^\s*)?(?:°|\\degree(?![A-Za-z])|\{\s*\\degree\s*\})")


def unify_degrees(s: str) -> str:
    """``90°`` and ``90\\degree`` -> ``90^\\circ``, as math-verify and MATH write degrees."""
    return _DEGREE.sub(r"^\\circ", s) if ("°" in s or "\\degree" in s) else s


def _unwrap_commands(s: str, pattern: re.Pattern) -> str:
    """Replace ``\\cmd{content}`` by ``content`` (brace matched)."""
    while True:
        m = pattern.search(s)
        if not m:
            return s
        end = _match_brace(s, m.end() - 1)
        if end is None:  # unbalanced: drop just the command name
            return s[: m.start()] + s[m.end() :]
        s = s[: m.start()] + s[m.end() : end] + s[end + 1 :]


def _canonical_number(s: str) -> str | None:
    """``"2.50"`` -> ``"2.5"``, ``"-0"`` -> ``"0"``, ``"1,000"`` -> ``"1000"``."""
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if not _NUMERIC.fullmatch(s):
        return None
    try:
        d = Decimal(s)
    except InvalidOperation:  # pragma: no cover - regex guarantees validity
        return None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _mixed_number(s: str) -> str | None:
    """``"2 3/4"`` / ``"137 \\frac{1}{2}"`` -> ``"11/4"`` / ``"275/2"`` (a whole number
    and a proper fraction), else ``None``."""
    m = _MIXED.fullmatch(s.strip())
    if not m:
        return None
    sign, whole = m.group(1), int(m.group(2))
    num, den = (int(g) for g in (m.group(3, 4) if m.group(3) is not None else m.group(5, 6)))
    if not 0 < num < den:
        return None
    value = whole + Fraction(num, den)
    return str(-value if sign == "-" else value)


def _squeeze(s: str) -> str:
    """Remove whitespace, but keep one space between two digits (``1 2`` is not ``12``)."""
    out: list[str] = []
    for part in s.split():
        if out and out[-1][-1].isdigit() and part[0].isdigit():
            out.append(" ")
        out.append(part)
    return "".join(out)


def normalize(answer: str) -> str:
    """Canonical key of an answer, used to group equal answers cheaply.

    Strips whitespace (but for one space between two digits), ``$``, math
    delimiters, ``\\text{}``-like wrappers, ``\\left`` / ``\\right``, spacing
    commands and a trailing ``.``; unifies ``\\dfrac`` / ``\\tfrac`` to ``\\frac``,
    Unicode minus signs to ``-`` and other Unicode math to LaTeX (``√2`` ->
    ``\\sqrt{2}``, see :func:`~ponder.answers.notation.unicode_math`); canonicalizes
    plain numbers (``1,000`` -> ``1000``, ``2.50`` -> ``2.5``, ``-0`` -> ``0``; not
    ``1, 000``, a list) and mixed numbers (``2 3/4`` -> ``11/4``).
    """
    s = latex_digit_groups(unify_degrees(unicode_math(ascii_minus(answer)))).strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right):
            s = s[len(left) : -len(right)]
    s = s.replace("\\$", "").replace("$", "")
    s = _unwrap_commands(s, _TEXT_CMDS)
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])", "", s)
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    s = _SPACING.sub("", s)
    mixed = _mixed_number(s.rstrip("."))
    if mixed is not None:
        return mixed
    listed = _LISTED.search(s) is not None
    s = _squeeze(s).rstrip(".")
    num = None if listed else _canonical_number(s)
    return num if num is not None else s


def _as_number(s: str) -> tuple[Fraction, bool] | None:
    """Parse a normalized answer as ``(value, is_decimal)`` or ``None``.

    Accepts integers, decimals, ``a/b`` and ``\\frac{a}{b}`` with integer
    parts (optionally signed).
    """
    m = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", s) or re.fullmatch(
        r"(-?)(-?\d+)/(-?\d+)", s
    )
    try:
        if m:
            num, den = int(m.group(2)), int(m.group(3))
            if den == 0:
                return None
            value = Fraction(num, den)
            return (-value if m.group(1) else value), False
        if _NUMERIC.fullmatch(s):
            return Fraction(Decimal(s)), "." in s
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None
    return None


def _numbers_equal(x: tuple[Fraction, bool], y: tuple[Fraction, bool], exact: bool = False) -> bool:
    """Exactly when ``exact``, when neither is written as a decimal or when both are
    whole numbers (``1234567`` is not ``1234567.0000001``); else within :data:`REL_TOL`."""
    (a, a_dec), (b, b_dec) = x, y
    if exact or not (a_dec or b_dec) or (a.denominator == 1 and b.denominator == 1):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0) or a == b


# --------------------------------------------------------------------------
# Forms math-verify would wrongly call equal: units, bases, sets
# --------------------------------------------------------------------------

_UNIT_TEXT = re.compile(
    r"[\d}]\s*\\(?:text|textrm|mbox|mathrm)\s*\{\s*(?P<unit>[A-Za-z][A-Za-z .]*?)\s*\}"
    r"\s*(?P<exp>\^\s*\{?\s*\d+\s*\}?)?\s*\.?\s*$"
)
_UNIT_WORD = re.compile(
    r"[-+]?\d[\d,]*(?:\.\d+)?\s+(?P<unit>[A-Za-z]+)"
    r"\s*(?P<exp>\^\s*\{?\s*\d+\s*\}?)?\s*\.?"
)
_UNIT_ALIASES = {"feet": "foot", "ft": "foot", "hrs": "hour", "hr": "hour", "mins": "minute", "min": "minute",
                 "secs": "second", "sec": "second", "inches": "inch", "in": "inch",
                 "centimeters": "cm", "centimeter": "cm", "millimeters": "mm", "millimeter": "mm",
                 "meters": "m", "meter": "m", "kilometers": "km", "kilometer": "km",
                 "grams": "g", "gram": "g", "kilograms": "kg", "kilogram": "kg"}
_BASE = re.compile(r"\(?(?P<digits>[0-9A-Z]+)\)?_\{?(?P<base>\d+)\}?")


def _plain(answer: str) -> str:
    """``answer`` without ``$``, math delimiters and LaTeX spacing (for the form checks)."""
    s = answer.strip().replace("\\$", "").replace("$", "")
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right):
            s = s[len(left) : -len(right)]
    return _SPACING.sub(" ", s).strip()


def _unit(answer: str) -> str | None:
    """The unit of ``number unit`` (``10\\text{ cm}``, ``12 cm^2``, ``5 hours``), in one
    spelling (lower case, singular, exponent appended: ``inches^2`` and ``square inches``
    -> ``inch2``)."""
    s = _plain(answer)
    m = _UNIT_TEXT.search(s) or _UNIT_WORD.fullmatch(s)
    if m is None:
        return None
    unit, exp = m.group("unit").lower(), re.sub(r"\D", "", m.group("exp") or "")
    power = re.match(r"(square|sq|cubic|cu)\b\.?\s*(?=[a-z])", unit)  # "square inches" is inch2
    if power and not exp:
        unit, exp = unit[power.end() :], "3" if power.group(1).startswith("cu") else "2"
    unit = re.sub(r"[\s.]", "", unit)
    if unit in _UNIT_ALIASES:
        unit = _UNIT_ALIASES[unit]
    elif unit.endswith(("ches", "shes", "xes", "sses")):
        unit = unit[:-2]
    elif len(unit) > 2 and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    return unit + exp


# a unit word: a plain word of 4+ letters with a vowel, or a short unit; not a math name ("2 pi",
# "3 sqrt"), a product of variables ("2 xyz") or a word that changes the number ("3 million",
# "4 squared", "1 third", "2 quarters", "5 tens")
_SHORT_UNITS = frozenset({"cm", "mm", "km", "kg", "mg", "ml", "ft", "in", "hr", "yd", "mi", "lb", "oz", "ms", "hrs",
                          "mph", "lbs", "yds", "kms", "cms", "pts", "men", "day", "cup", "kgs", "mins", "secs"})
_ORDINALS = ("third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth "
             "sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth fiftieth sixtieth seventieth "
             "eightieth ninetieth hundredth thousandth millionth billionth quarter").split()
_NOT_UNITS = frozenset(
    "sqrt sin cos tan sec csc cot sinh cosh tanh arcsin arccos arctan log exp lim max min mod gcd lcm det "
    "infty inf and or not plus minus over times percent squared cubed factorial dozen dozens hundred hundreds "
    "thousand thousands million millions billion billions trillion trillions half halves tens score scores "
    "grand gross lakh lakhs crore crores".split()
    + _ORDINALS + [w + "s" for w in _ORDINALS]
)
_NUMBER_UNIT = re.compile(r"(?P<num>[-+]?\d[\d,]*(?:\.\d+)?)\s+(?P<unit>[A-Za-z]+)\s*\.?")


def _unit_word(word: str) -> bool:
    """Whether a plain word after a number is a unit (``dollars``, ``cm``), not a math name, a
    product of variables (``ab``, ``xyz``) or a word that changes the number (``million``)."""
    word = word.lower()
    return word not in _NOT_UNITS and (word in _SHORT_UNITS or (len(word) >= 4 and bool(re.search("[aeiouy]", word))))


def _value_and_unit(answer: str) -> tuple[str, str] | None:
    """``(value, unit)`` of a value with a unit: ``10\\text{ cm}``, ``15\\mbox{ cm}^2``,
    ``36 dollars`` (the unit in :func:`_unit`'s spelling), else ``None``."""
    s = _plain(answer)
    m = _UNIT_TEXT.search(s)
    if m is not None:
        value = s[: m.start() + 1]
    else:
        m = _NUMBER_UNIT.fullmatch(s)
        if m is None or not _unit_word(m.group("unit")):
            return None
        value = m.group("num")
    unit = _unit(answer)
    return (value, unit) if unit is not None else None


def _without_units(a: str, b: str) -> tuple[str, str]:
    """``a`` and ``b`` with their units dropped where the values decide: both have the same
    unit (``5\\text{ hours}``, ``5 hour``), or one has a unit and the other none (``36 dollars``,
    ``36``). math-verify's own unit stripping is off (:mod:`.verify`): it takes letters that are
    variables for units (``3ab`` -> ``3``) and reads unit words it does not know (``dollars``)
    as products of variables."""
    ua, ub = _value_and_unit(a), _value_and_unit(b)
    if ua is not None and ub is not None:
        return (ua[0], ub[0]) if ua[1] == ub[1] else (a, b)
    if ua is not None and _unit(b) is None:
        return ua[0], b
    if ub is not None and _unit(a) is None:
        return a, ub[0]
    return a, b


def _base(answer: str) -> tuple[str, str] | None:
    """``(digits, base)`` of a number written with a base subscript (``52_8``, ``4210_{5}``)."""
    m = _BASE.fullmatch("".join(_plain(answer).split()))
    return (m.group("digits").lstrip("0") or "0", m.group("base")) if m else None


def _shape(key: str) -> str | None:
    """``"set"`` for ``\\{...\\}``, ``"tuple"`` for a tuple or interval (normalized key)."""
    if key.startswith("\\{") and key.endswith("\\}"):
        return "set"
    if key[:1] in "([" and key[-1:] in ")]":
        return "tuple"
    return None


def _forms_differ(a: str, b: str, na: str, nb: str) -> bool:
    """True when ``a`` and ``b`` cannot be equal whatever math-verify says: both have
    units and they differ, both have base subscripts and the numbers differ, or one is
    a set and the other a tuple or interval (``na`` / ``nb``: their normalized keys)."""
    ua, ub = _unit(a), _unit(b)
    if ua is not None and ub is not None and ua != ub:
        return True
    ba, bb = _base(a), _base(b)
    if ba is not None and bb is not None and ba != bb:
        return True
    return {_shape(na), _shape(nb)} == {"set", "tuple"}


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def _cheap_equal(a: str, b: str, kind: str) -> bool | None:
    """Decide cheaply, or return ``None`` when math-verify is needed."""
    if kind in _STRING_KINDS:
        sa, sb = " ".join(a.split()), " ".join(b.split())
        return bool(sa) and sa == sb
    na, nb = normalize(a), normalize(b)
    if na == nb:
        return bool(na)  # two empty answers are not "equal answers"
    if not na or not nb:
        return False
    xa, xb = _as_number(na), _as_number(nb)
    if xa is not None and xb is not None:
        return _numbers_equal(xa, xb, exact=kind == "gsm8k")
    if kind in _NUMBER_KINDS or _forms_differ(a, b, na, nb):
        return False
    return None


@functools.lru_cache(maxsize=65536)
def _answers_equal_cached(a: str, b: str, kind: str, timeout: float) -> bool:
    if kind not in _STRING_KINDS:
        a, b = unify_degrees(unicode_math(a)), unify_degrees(unicode_math(b))
        letters = choice_letters(a, b)
        if letters is not None:
            return letters[0] == letters[1]
        a, b = _without_units(a, b)
    cheap = _cheap_equal(a, b, kind)
    if cheap is not None:
        return cheap
    if too_costly(a) or too_costly(b):
        logger.warning("not compared by math-verify (a number of over %d digits): %.80r vs %.80r",
                       MAX_DIGITS, a, b)
        return False
    return verify_with_timeout(a, b, timeout)  # AnswerTimeout is not cached


def answers_equal(a: str, b: str, kind: str = "auto", timeout: float = 5.0) -> bool:
    """Whether answers ``a`` and ``b`` are equivalent.

    Args:
        a: reference answer (math-verify's comparison is not fully
            symmetric; ``a`` is treated as the gold answer).
        b: answer to check.
        kind: ``"auto"`` / ``"math"`` / ``"boxed"``: cheap checks, then
            math-verify; ``"number"`` / ``"gsm8k"``: numeric comparison
            (``"gsm8k"`` exactly; falls back to normalized string equality); ``"string"`` /
            ``"code"``: exact match after whitespace normalisation.
        timeout: seconds allowed for the math-verify comparison (see the
            module docstring); a timeout counts as not equal.

    Returns:
        True when equivalent.  ``None`` / empty answers are never equal.
    """
    if kind not in _ALL_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {_ALL_KINDS}")
    if timeout is None or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    if a is None or b is None:
        return False
    try:
        return _answers_equal_cached(str(a), str(b), kind, float(timeout))
    except AnswerTimeout:
        logger.warning("answer comparison timed out after %.3gs: %.80r vs %.80r", timeout, a, b)
        return False


def _group_key(value: str, kind: str) -> str:
    if kind in _STRING_KINDS:
        return " ".join(value.split())
    return normalize(value)


def group_answers(
    values: list[str | None], kind: str = "auto", timeout: float = 5.0
) -> list[list[int]]:
    """Group indices of equivalent answers (``None`` / empty values excluded).

    Answers are first bucketed by :func:`normalize` key.  Buckets are then
    merged greedily in the order of their keys (not of the answers, so the
    grouping does not depend on the order of the answers even though
    equivalence need not be transitive: ``50%`` equals both ``50`` and
    ``0.5``): a bucket joins the first group whose representative is
    :func:`answers_equal` to its own (a representative is the shortest, then
    smallest, answer of the first bucket of a group) and whose buckets' answers are
    none of a form its answer cannot equal (other units, another base: ``52`` equals
    ``52_8`` and ``52_9``, which do not join one group through it).  Groups are ordered by
    first appearance and hold sorted indices; sort by ``len`` for majority
    voting.
    """
    buckets: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        if value is None:
            continue
        key = _group_key(value, kind)
        if not key:
            continue
        buckets.setdefault(key, []).append(i)

    groups: list[tuple[list[tuple[str, str]], list[int]]] = []  # (its buckets' (rep, key)), members
    for key in sorted(buckets):
        members = buckets[key]
        rep = min((values[i] for i in members), key=lambda v: (len(v), v))
        for forms, group in groups:
            if answers_equal(forms[0][0], rep, kind=kind, timeout=timeout) and (
                kind in _STRING_KINDS or not any(_forms_differ(r, rep, k, key) for r, k in forms)
            ):
                group.extend(members)
                forms.append((rep, key))
                break
        else:
            groups.append(([(rep, key)], list(members)))
    return sorted((sorted(g) for _, g in groups), key=lambda g: g[0])
