"""Parsing strategy specs: ``name(key=value, ...)``, nested (``sc(n=8, of=budget(think=128))``),
with ranges for sweeps (``sc(n=1..16)``).

Specs are parsed with Python's ``ast`` (never evaluated): values may be numbers, strings, bare
words (``scorer=prm`` means the string ``"prm"``; ``model=hf:/models/prm`` and
``model=embedded-prm`` the model specs), ``true``/``false``, lists, nested specs and ``A..B``
ranges (for ``ponder bench``; a single run rejects them).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import StrategySpecError


@dataclass(frozen=True)
class Range:
    """``lo..hi``: lo doubled while below hi, then hi (``1..16`` → 1, 2, 4, 8, 16; ``3..16`` → 3, 6,
    12, 16): powers of two where lo is one."""

    lo: int
    hi: int

    def values(self) -> list[int]:
        out, v = [], max(1, self.lo)
        while v < self.hi:
            out.append(v)
            v *= 2
        out.append(self.hi)
        return sorted(set(out))

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class ParsedSpec:
    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(f'{k}={format_value(v)}' for k, v in self.args.items())})"

    def ranges(self) -> dict[str, Range]:
        return {k: v for k, v in self.args.items() if isinstance(v, Range)}

    def with_args(self, **args: Any) -> "ParsedSpec":
        return ParsedSpec(self.name, {**self.args, **args})


def format_value(v: Any) -> str:
    """``v`` as it is written in a spec (``true``, ``none``, ``';'``, ``[Alternatively]``)."""
    if v is None:
        return "none"
    if isinstance(v, str):
        return v if re.fullmatch(r"[A-Za-z_][\w.-]*", v) and ".." not in v else repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return str(v)


_RANGE = re.compile(r"(?<![\w.])(\d+)\s*\.\.\s*(\d+)")
# A bare model spec as a value (``model=hf:/models/prm``, ``model=embedded-prm``) is read as the
# string it is, not as Python (a syntax error, or ``embedded - prm``).
_MODEL_VALUE = re.compile(r"(=\s*)((?:hf|openai|vllm):[^\s,()'\"]+|[A-Za-z_][\w.]*(?:-[\w.]+)+(?=\s*[,)]|\s*$))")


def parse_spec(text: str) -> ParsedSpec:
    """Parse one strategy spec; raises StrategySpecError with the position of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise StrategySpecError("empty strategy spec; write e.g. cot, sc(n=16) or bon(n=8, scorer=prm)")
    masked, unmask = _mask_quoted(text.strip())  # the rewrites below are for bare values, not quoted text
    # model specs first, then masked in turn: a range rewrite must not reach into hf:/data/ckpt-1..2
    models, unmask_models = _mask_quoted(_MODEL_VALUE.sub(lambda m: m.group(1) + repr(m.group(2)), masked))
    src = _RANGE.sub(lambda m: f"__range__({m.group(1)}, {m.group(2)})", models)
    left = re.search(r"[^\s=,(]*\s*\.\.\s*[^\s,)]*", re.sub(r"'[^']*'|\"[^\"]*\"", "", src))
    if left:  # a range that is not of whole numbers (it was read as Python: 1..a gave '1.0.a')
        raise StrategySpecError(f"in {text!r}: {left.group(0).strip()!r} is not a range; a range is LO..HI of "
                                "whole numbers, e.g. n=1..16 (for ponder bench)")
    src = unmask(unmask_models(src))
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        hint = " (quote a value with ':', '/' or '@' in it, e.g. file='/data/x.jsonl')" if re.search(
            r"=\s*[^\s'\"=,()]*[:/@]", masked) else ""
        raise StrategySpecError(f"cannot parse strategy spec {text!r}: {exc.msg}{hint}; "
                                "expected name(key=value, ...), e.g. sc(n=16)") from None
    return _node_to_spec(tree.body, text)


MAX_NESTING = 16  # strategies and scorers inside one another (sc(of=budget(...)) is 2 deep)


# Quoted text as Python reads it (triple quotes, backslash escapes); a prefix (r'...') stays outside.
_QUOTED = re.compile(r"'''(?:[^\\]|\\.)*?'''|" r'"""(?:[^\\]|\\.)*?"""|' r"'(?:[^'\\\n]|\\.)*'|"
                     r'"(?:[^"\\\n]|\\.)*"', re.S)


def _mask_quoted(text: str) -> tuple[str, Callable[[str], str]]:
    """``text`` with each quoted string replaced by a placeholder (a private-use character absent from
    ``text``, the string's number, the character again, in quotes), so that no rewrite of bare values
    reaches into quoted text; and the function that puts the strings back."""
    mark, quoted = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text), []

    def keep(m: re.Match) -> str:
        quoted.append(m.group(0))
        return f"'{mark}{len(quoted) - 1}{mark}'"

    masked = _QUOTED.sub(keep, text)
    return masked, lambda src: re.sub(f"'{mark}(\\d+){mark}'", lambda m: quoted[int(m.group(1))], src)


def _node_to_spec(node: ast.AST, text: str, depth: int = 1) -> ParsedSpec:
    if depth > MAX_NESTING:
        raise StrategySpecError(f"strategy spec {text[:120]!r}{'...' if len(text) > 120 else ''} nests strategies "
                                f"or scorers more than {MAX_NESTING} deep; compose at most {MAX_NESTING}, "
                                "e.g. sc(n=8, of=budget(think=128))")
    if isinstance(node, ast.Name):
        return ParsedSpec(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.args:
            raise StrategySpecError(f"in {text!r}: arguments must be named (key=value), e.g. sc(n=16)")
        args = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise StrategySpecError(f"in {text!r}: ** is not allowed")
            if kw.arg in args:
                raise StrategySpecError(f"in {text!r}: {kw.arg}= is given twice; give each key once")
            args[kw.arg] = _value(kw.value, text, depth)
        return ParsedSpec(node.func.id, args)
    raise StrategySpecError(f"cannot read {ast.unparse(node)!r} in {text!r} as a strategy; "
                            "expected name or name(key=value, ...)")


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\r": "\\r", "\0": "\\0"}


def _value(node: ast.AST, text: str, depth: int = 1) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):  # quoted text reads escapes as Python does: '\boxed' is a backspace
            odd = sorted({c for c in node.value if (ord(c) < 32 and c not in "\n\t") or c == "\x7f"})
            if odd:
                shown = ", ".join(_ESCAPES.get(c, repr(c)[1:-1]) for c in odd)
                raise StrategySpecError(
                    f"in {text!r}: the text {node.value!r} holds a control character ({shown}), as quoted "
                    "text reads backslashes the way Python does; for a backslash write two (\\\\boxed) "
                    "or put r before the quote (r'\\boxed')")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = node.operand.value if isinstance(node.operand, ast.Constant) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):  # -'x', -None, -True (which was -1)
            raise StrategySpecError(f"in {text!r}: cannot read value {ast.unparse(node)!r}: a sign goes only "
                                    "before a number, e.g. seed=-1 or temperature=+0.5")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name):
        return {"true": True, "false": False, "True": True, "False": False, "none": None,
                "None": None}.get(node.id, node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, text, depth) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__range__":
        lo, hi = (_value(a, text) for a in node.args)
        if lo > hi or lo < 1:
            raise StrategySpecError(f"in {text!r}: range {lo}..{hi} must have 1 ≤ low ≤ high")
        return Range(lo, hi)
    if isinstance(node, (ast.Call, ast.Name)):
        return _node_to_spec(node, text, depth + 1)
    if isinstance(node, ast.Attribute):  # dotted words such as a model name
        return ast.unparse(node)
    raise StrategySpecError(f"cannot read value {ast.unparse(node)!r} in {text!r}; a value is a number (16, "
                            "-0.5, 1e-3), true or false, a word or quoted text, a list [a, b], a range 1..16, "
                            "or a strategy or scorer spec such as cot or prm(agg=min); no arithmetic or dicts")


MODEL_PREFIXES = ("hf:", "openai:", "vllm:")


def spec_args(spec: ParsedSpec) -> Iterator[tuple[str, str, Any]]:
    """``(name, key, value)`` of every argument written in a parsed spec, at any depth: those of
    nested specs, the items of lists, and those of a nested spec given as a string
    (``scorer="judge(model=...)"``)."""
    for key, value in spec.args.items():
        for item in value if isinstance(value, list) else [value]:
            yield spec.name, key, item
            nested = item
            if isinstance(item, str) and "(" in item:
                try:
                    nested = parse_spec(item)
                except StrategySpecError:
                    continue
            if isinstance(nested, ParsedSpec):
                yield from spec_args(nested)


def named_models(spec: ParsedSpec) -> set[str]:
    """The model specs (``hf:``, ``openai:``, ``vllm:`` values) written anywhere in a parsed spec."""
    return {v.strip() for _, _, v in spec_args(spec) if isinstance(v, str) and v.strip().startswith(MODEL_PREFIXES)}


def split_specs(text: str) -> list[str]:
    """Split ``"cot; sc(n=1..16); bon(n=4, scorer=prm)"`` on top-level semicolons."""
    out, depth, cur = [], 0, []
    quote: str | None = None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == ";" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [s for s in out if s]


def refuse_bool_for_number(model: Any, data: Any) -> Any:
    """A pydantic ``before`` check: ``true``/``false`` given to a key that wants a number (pydantic
    would read ``n=true`` as 1 and ``temperature=false`` as 0.0) is an error naming the key."""
    if isinstance(data, dict):
        for key, value in data.items():
            f = model.model_fields.get(key)
            if isinstance(value, bool) and f is not None and _takes({int, float}, f.annotation) \
                    and not _takes({bool, Any}, f.annotation):
                raise ValueError(f"{key}: wants a number, got {str(value).lower()}")
    return data


def _takes(types: set[Any], annotation: Any) -> bool:
    import typing

    return annotation in types or any(_takes(types, a) for a in typing.get_args(annotation))
