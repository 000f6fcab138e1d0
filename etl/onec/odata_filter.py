"""A small OData v3 `$filter` parser and evaluator for the 1C stand-in.

Covers what cdr1c sends and what 1C accepts in the same shape: `eq ne gt ge lt le`, `and or not`,
parentheses, string / `datetime'…'` / `guid'…'` / number / boolean literals, and `substringof`.
Anything else is a query-option parse error, as 1C answers it
(400, code 14 — docs/reference/onec-http.md §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>(?:datetime|guid)?'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<comma>,)|(?P<word>[\w/]+))",
    re.U,
)
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}


class FilterError(ValueError):
    """The filter cannot be parsed (1C: 400, code 14)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot parse $filter near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _literal(tok: str) -> Any:
    for prefix in ("datetime", "guid"):
        if tok.startswith(prefix + "'"):
            return tok[len(prefix) + 1 : -1]
    return tok[1:-1].replace("''", "'")


def _num(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return float(v) if "." in v else int(v)
        except ValueError:
            return v
    return v


class _Parser:
    def __init__(self, text: str, fields: set[str]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("unexpected end of $filter")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r} in $filter")  # type: ignore[index]
        return pred

    def or_(self) -> Predicate:
        left = self.and_()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.and_()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_(self) -> Predicate:
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == ("lp", "("):
            self.take()
            inner = self.or_()
            if self.take()[0] != "rp":
                raise FilterError("missing ')' in $filter")
            return inner
        return self.comparison()

    def operand(self) -> Callable[[Row], Any]:
        kind, tok = self.take()
        if kind == "str":
            value = _literal(tok)
            return lambda r: value
        if kind == "num":
            n = _num(tok)
            return lambda r: n
        if kind == "word" and tok in ("true", "false"):
            b = tok == "true"
            return lambda r: b
        if kind == "word" and tok == "substringof":
            if self.take()[0] != "lp":
                raise FilterError("substringof needs arguments")
            sub = self.operand()
            if self.take()[0] != "comma":
                raise FilterError("substringof needs two arguments")
            whole = self.operand()
            if self.take()[0] != "rp":
                raise FilterError("missing ')'")
            return lambda r: str(sub(r)) in str(whole(r))
        if kind == "word":
            if tok not in self.fields:
                raise FilterError(f"unknown property {tok!r}")
            return lambda r: r.get(tok)
        raise FilterError(f"unexpected {tok!r}")

    def comparison(self) -> Predicate:
        left = self.operand()
        nxt = self.peek()
        if nxt is None or nxt[0] != "word" or nxt[1] not in _OPS:
            value_only = left
            return lambda r: bool(value_only(r))
        op = _OPS[self.take()[1]]
        right = self.operand()

        def cmp(r: Row) -> bool:
            a, b = left(r), right(r)
            if isinstance(a, int | float) or isinstance(b, int | float):
                a, b = _num(a), _num(b)
            return bool(op(a, b))

        return cmp


def compile_filter(text: str, fields: set[str]) -> Predicate:
    """A predicate over a row (field name → value) for an OData `$filter` expression."""
    return _Parser(text, fields).parse()
