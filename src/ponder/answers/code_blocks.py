"""The code block that answers a model output (``kind="code"`` of
:func:`ponder.answers.extract.extract_answer`): fenced blocks, Python preferred, and among them
the block that defines the problem's entry point."""

from __future__ import annotations

import ast
import re

from .spans import split_think


_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PY_LANGS = {"python", "py", "python3"}
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)
_CODE_HINT = re.compile(r"^\s*(?:def|class|import|from|return|for|while|if|print)\b|[=(]", re.MULTILINE)


def _is_output(body: str) -> bool:
    """An untagged block that is program output, not code: only literal values or
    names (``5``, ``[1, 2]``, ``True``), or text that is not Python and has nothing
    of code in it (``Hello world``)."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError):
        return _CODE_HINT.search(body) is None
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            return False
        if isinstance(stmt.value, ast.Name):
            continue
        try:
            ast.literal_eval(stmt.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return True


def _fence_body(text: str, m: re.Match[str]) -> str:
    """A fenced block's body, less the indentation of its opening fence (a block inside a markdown
    list item is indented as a whole: ``   ```python``)."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    indent = text[line_start:m.start()]
    body = m.group(2)
    if not indent or indent.strip():
        return body
    lines = body.splitlines(keepends=True)
    if not all(line.startswith(indent) or not line.strip() for line in lines):
        return body  # not a block indented as a whole: keep it as written
    return "".join(line[len(indent):] if line.startswith(indent) else line.lstrip(" \t") for line in lines)


def code_block(text: str, entry_point: str | None = None) -> str | None:
    """The code block of ``text`` (see :func:`extract_code`), or ``None``."""
    blocks = [(m.group(1).lower(), _fence_body(text, m)) for m in _FENCE.finditer(text)]
    blocks = [(lang, body) for lang, body in blocks if body.strip() and not (lang == "" and _is_output(body))]
    if not blocks:
        return None
    python = [body for lang, body in blocks if lang in _PY_LANGS or lang == ""]
    if not python:
        return blocks[-1][1].rstrip("\n")
    defining = [body for body in python if _DEFINES.search(body)]
    if entry_point:
        named = [body for body in defining if entry_point in {m.group(1) for m in _DEFINES.finditer(body)}]
        defining = named or defining
    return (defining or python)[-1].rstrip("\n")


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """Body of the code block that answers ``text``.

    Among the complete fenced blocks (```` ```python ```` or bare ```` ``` ````;
    an unclosed, truncated block is ignored), Python and untagged blocks are
    preferred over blocks in other languages, and untagged blocks of program
    output (``5``, ``Hello``) are no code at all.  Among the Python blocks the
    last one that defines ``entry_point`` wins, else the last one with a ``def``
    or ``class`` (a later ``print(add(2, 3))`` is an example), else the last one;
    without Python blocks, the last block.  Blocks outside ``<think>`` spans are
    preferred over those inside.  Returns ``None`` if none found.
    """
    outside, inside = split_think(text)
    code = code_block(outside, entry_point)
    if code is None and inside:
        code = code_block(inside, entry_point)
    return code
