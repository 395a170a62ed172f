"""Thinking spans and minus signs, read alike by answer extraction, code extraction and the
scorers that read a model's reply (see :mod:`ponder.answers.extract`)."""

from __future__ import annotations

import re


_THINK_TAG = re.compile(r"<(/?)think>", re.IGNORECASE)
_MINUS = re.compile(r"\u2212|(?<![\w.)\]}])[\u2012\u2013\ufe63\uff0d](?=\d)")


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


def ascii_minus(text: str) -> str:
    """``text`` with Unicode minus signs as ``-``: U+2212 always; a figure or en dash
    (U+2012, U+2013) or a small/full-width hyphen-minus only right before a digit and
    not after a word, number or bracket (``2–3`` stays a range)."""
    return _MINUS.sub("-", text)
