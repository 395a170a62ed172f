"""Notations an answer may be written in that the comparison reads as their LaTeX: Unicode math
symbols (``√51``, ``(2, ∞)``, ``1 ± √19``, ``½``, ``x³``) and a multiple-choice letter followed by
its option's value (``(C) 12``). See :mod:`ponder.answers.equivalence`."""

from __future__ import annotations

import re

__all__ = ["choice_letters", "unicode_math"]

_SYMBOLS = {"∞": "\\infty", "±": "\\pm", "∓": "\\mp", "×": "\\times", "÷": "\\div", "⁄": "/"}
_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8),
           "⅝": (5, 8), "⅞": (7, 8), "⅑": (1, 9), "⅒": (1, 10)}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_UNICODE = re.compile("[∞±∓×÷⁄" + "".join(_VULGAR) + "]|[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_ROOT = re.compile(r"([√∛∜])\s*")
_ROOT_INDEX = {"√": "", "∛": "[3]", "∜": "[4]"}
# a radicand written without brackets: a number or one letter
_RADICAND = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]")


def _group_end(s: str, i: int) -> int | None:
    """Index of the bracket that closes the ``(`` or ``{`` at ``i``, or ``None``."""
    opening = s[i]
    closing = ")" if opening == "(" else "}"
    depth = 0
    for j in range(i, len(s)):
        if s[j] == opening:
            depth += 1
        elif s[j] == closing:
            depth -= 1
            if depth == 0:
                return j
    return None


def _roots(s: str) -> str:
    """``√51`` -> ``\\sqrt{51}``, ``√(x+1)`` / ``√{x+1}`` -> ``\\sqrt{x+1}``, ``∛2`` ->
    ``\\sqrt[3]{2}``: the radicand is the number, letter or bracketed group that follows."""
    out, pos = [], 0
    for m in _ROOT.finditer(s):
        if m.start() < pos:
            continue
        out.append(s[pos : m.start()])
        cmd, i = "\\sqrt" + _ROOT_INDEX[m.group(1)], m.end()
        end = _group_end(s, i) if s[i : i + 1] in ("(", "{") else None
        if end is not None:
            out.append(f"{cmd}{{{_roots(s[i + 1 : end])}}}")
            pos = end + 1
            continue
        radicand = _RADICAND.match(s, i)
        if radicand is None:
            out.append(cmd + " ")
            pos = i
        else:
            out.append(f"{cmd}{{{radicand.group(0)}}}")
            pos = radicand.end()
    return "".join(out) + s[pos:]


def _symbol(m: re.Match) -> str:
    sym = m.group(0)
    if sym in _VULGAR:
        return "\\frac{%d}{%d}" % _VULGAR[sym]  # after a whole number: a mixed number, as in LaTeX
    if sym in _SYMBOLS:
        after = m.string[m.end() : m.end() + 1]
        return _SYMBOLS[sym] + (" " if after.isalpha() else "")
    return "^{" + sym.translate(_SUPERSCRIPT) + "}"


def unicode_math(s: str) -> str:
    """``s`` with Unicode math as LaTeX: ``√x`` -> ``\\sqrt{x}`` (also ``∛``, ``∜``), ``∞`` ->
    ``\\infty``, ``±`` -> ``\\pm``, ``×`` -> ``\\times``, ``÷`` -> ``\\div``, ``½`` ->
    ``\\frac{1}{2}``, ``3⁄4`` -> ``3/4``, superscripts ``x³`` / ``2⁻¹`` -> ``x^{3}`` / ``2^{-1}``."""
    if s.isascii():
        return s
    if "√" in s or "∛" in s or "∜" in s:
        s = _roots(s)
    return _UNICODE.sub(_symbol, s)


# a multiple-choice letter alone ("(C)", "\text{(C)}"), or opening an answer before its option's
# value ("(C) 12", "(C)\ 12", "(C) $\frac{1}{2}$")
_LETTER_ALONE = re.compile(r"\(([A-E])\)")
_LETTER_FIRST = re.compile(r"\(([A-E])\)(?:\s|\\[ ,;:!]|~|\$)")
_TEXT_LETTER = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{\s*(\([A-E]\))\s*\}")


def _choice(s: str) -> tuple[str, bool] | None:
    """``(letter, alone)`` of an answer that is a choice letter or starts with one, else ``None``."""
    s = _TEXT_LETTER.sub(r"\1", s.strip().strip("$").strip())
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right):
            s = s[len(left) : -len(right)].strip()
    alone = _LETTER_ALONE.fullmatch(s)
    if alone:
        return alone.group(1), True
    first = _LETTER_FIRST.match(s)
    if first is None or _LETTER_ALONE.search(s, first.end()):  # "(C) or (D)" names two
        return None
    return first.group(1), False


def choice_letters(a: str, b: str) -> tuple[str, str] | None:
    """The choice letters of ``a`` and ``b`` when one is a letter alone (``\\text{(C)}``) and the
    other a letter, maybe followed by its option's value (``(C) 12``): the letters decide; else
    ``None``."""
    ca, cb = _choice(a), _choice(b)
    if ca is None or cb is None or not (ca[1] or cb[1]):
        return None
    return ca[0], cb[0]
