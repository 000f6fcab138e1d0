"""The 1C stand-in's data model: entity sets, faults, counters, the 1C error, key parsing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.onec.records import NUMERIC_TYPES

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


@dataclass
class EntitySet:
    name: str
    fields: dict[str, tuple[str, int | None]]  # name → (Edm type, max length)
    key: tuple[str, ...]
    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every request
    error_rate: float = 0.0  # share of requests answered 500/503 before doing anything
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    first_stall: float = 0.0  # seconds the first request waits (a cold 1C)
    seed: int = 1


@dataclass
class Stats:
    requests: int = 0
    creates: int = 0
    duplicates: int = 0
    patches: int = 0
    errors_injected: int = 0
    drops_injected: int = 0
    created_keys: list[tuple[Any, ...]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # raw register write bodies (tz tests)
    queries: list[str] = field(default_factory=list)  # raw query strings seen


class OnecError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def empty_value(edm: str) -> Any:
    if edm == "Edm.Guid":
        return "00000000-0000-0000-0000-000000000000"
    if edm == "Edm.DateTime":
        return "0001-01-01T00:00:00"
    if edm in NUMERIC_TYPES:
        return 0
    if edm == "Edm.Boolean":
        return False
    return ""


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _key_literal(text: str) -> Any:
    text = text.strip()
    for prefix in ("guid", "datetime"):
        if text.startswith(prefix + "'") and text.endswith("'"):
            return text[len(prefix) + 1 : -1]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace(text[0] * 2, text[0])
    return text


def parse_key(text: str, key: Sequence[str]) -> dict[str, Any]:
    """`(A='x',B=1)` or `(guid'…')` → field → value (docs/reference/onec-http.md §1.4)."""
    parts = _split_top(text)
    if len(parts) == 1 and "=" not in parts[0].split("'")[0]:
        return {key[0]: _key_literal(parts[0])}
    out: dict[str, Any] = {}
    for part in parts:
        name, _, value = part.partition("=")
        out[name.strip()] = _key_literal(value)
    return out


def wire_row(es: EntitySet, row: Mapping[str, Any], select: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if select and name not in select:
            continue
        edm = es.fields.get(name, ("Edm.String", None))[0]
        out[name] = str(value) if edm == "Edm.Int64" else value  # Int64 as a JSON string (§1.2)
    return out
