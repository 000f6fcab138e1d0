"""Ledger row → 1C register record: pure functions, no I/O.

A record is a flat JSON object, one property per `[onec.fields]` entry (register field → value of
the normalised row). Values follow 1C's conventions (docs/reference/onec-http.md §5): datetimes are naive
wall-clock strings in the 1C server's zone (`[onec] timezone`), never with `Z` or an offset,
because 1C stores what it is given as local time; an empty date is `0001-01-01T00:00:00`; an
empty reference is the zero GUID (references are never null); strings are never null.

Row names are Asterisk's CDR columns plus these derived fields:

| name | value |
|---|---|
| `source` | the name of the PBX (`[source.NAME]`, `default` for one `[source]`) |
| `row_id` | the row identity: `uniqueid` + `sequence`, or a stable hash of the row |
| `direction` | `in`, `out`, `internal` (from contexts and channels) |
| `external_number` | the client's number in E.164 (`+79161234567`), empty for internal calls |
| `extension` | the employee's extension on the call |
| `recording_path` | the recording's path relative to `[recordings] root`, when found |
| `recording_duration` | the recording's length in whole seconds |
| `client` | the 1C reference (GUID) of the client the number belongs to |
| `event` | the 1C reference (GUID) of the event document that carries this call's id |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EMPTY_DATE = "0001-01-01T00:00:00"
EMPTY_REF = "00000000-0000-0000-0000-000000000000"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Row name → (OData type, string length). Lengths are what docs/onec-setup.md asks the 1C
# administrator to create; 1C truncates longer strings silently (docs/reference/onec-http.md §1.6).
S = "Edm.String"
ROW_FIELD_TYPES: dict[str, tuple[str, int | None]] = {
    "source": (S, 32),
    "row_id": (S, 200),
    "uniqueid": (S, 150),
    "linkedid": (S, 150),
    "sequence": ("Edm.Int64", None),
    "calldate": ("Edm.DateTime", None),
    "answer": ("Edm.DateTime", None),
    "end": ("Edm.DateTime", None),
    "duration": ("Edm.Int64", None),
    "billsec": ("Edm.Int64", None),
    "clid": (S, 150),
    "src": (S, 80),
    "dst": (S, 80),
    "dcontext": (S, 80),
    "channel": (S, 150),
    "dstchannel": (S, 150),
    "lastapp": (S, 80),
    "lastdata": (S, 255),
    "disposition": (S, 45),
    "amaflags": (S, 20),
    "accountcode": (S, 80),
    "userfield": (S, 255),
    "did": (S, 50),
    "recordingfile": (S, 255),
    "cnum": (S, 80),
    "cnam": (S, 80),
    "outbound_cnum": (S, 80),
    "outbound_cnam": (S, 80),
    "dst_cnam": (S, 80),
    "peeraccount": (S, 80),
    "direction": (S, 10),
    "external_number": (S, 32),
    "extension": (S, 32),
    "recording_path": (S, 500),
    "recording_duration": ("Edm.Int64", None),
    "client": ("Edm.Guid", None),
    "event": ("Edm.Guid", None),
}
TIME_FIELDS = {"calldate", "answer", "end"}
NUMERIC_TYPES = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Decimal", "Edm.Byte"}


@dataclass(frozen=True)
class RegisterField:
    name: str  # the register field as OData exposes it (`Клиент_Key` for a reference)
    row_name: str
    edm_type: str
    length: int | None
    is_key: bool


def register_structure(fields: Mapping[str, str], key: Sequence[str]) -> list[RegisterField]:
    """The register's fields with their types, in mapping order (docs, stand-in, check)."""
    out = []
    for name, row_name in fields.items():
        edm, length = ROW_FIELD_TYPES.get(row_name, (S, 255))
        out.append(RegisterField(name, row_name, edm, length, name in key))
    return out


def wall_clock(us: int | None, zone: ZoneInfo) -> str:
    """Microseconds since the epoch (UTC) → `YYYY-MM-DDTHH:MM:SS` wall clock in `zone`."""
    if us is None:
        return EMPTY_DATE
    moment = _EPOCH + timedelta(microseconds=int(us))
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def from_wall_clock(text: str, zone: ZoneInfo) -> int | None:
    """The inverse of `wall_clock` (None for the empty date); for round-trip checks."""
    if text.startswith("0001-01-01"):
        return None
    naive = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    return int((naive.replace(tzinfo=zone) - _EPOCH) / timedelta(microseconds=1))


def build_record(row: Mapping[str, Any], fields: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """One register record for a ledger row (`cdr_rows` columns plus derived values)."""
    record: dict[str, Any] = {}
    for name, row_name in fields.items():
        edm, _ = ROW_FIELD_TYPES.get(row_name, (S, None))
        if row_name in TIME_FIELDS:
            value: Any = wall_clock(row.get(f"{row_name}_us"), zone)
        else:
            raw = row.get(row_name)
            if edm == "Edm.Guid":
                value = str(raw) if raw else EMPTY_REF
            elif edm in NUMERIC_TYPES:
                value = int(raw) if raw not in (None, "") else 0
            else:
                value = "" if raw is None else str(raw)
        record[name] = value
    return record


def record_hash(record: Mapping[str, Any]) -> str:
    """A content hash of the record as 1C would hold it: decides "new or changed"."""
    text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def record_key(record: Mapping[str, Any], key: Sequence[str]) -> dict[str, Any]:
    return {k: record[k] for k in key}


def differences(sent: Mapping[str, Any], held: Mapping[str, Any], key: Sequence[str]) -> dict[str, Any]:
    """The non-key fields whose value in 1C (`held`) differs from `sent`.

    Compared as text, because 1C returns Int64 as strings (docs/reference/onec-http.md §1.2).
    A held string that
    is a non-empty prefix of a longer sent string is 1C's silent truncation (§1.6), not a change."""
    out: dict[str, Any] = {}
    for name, value in sent.items():
        if name in key or name not in held:
            continue
        a, b = str(value), str(held[name])
        if isinstance(value, bool):
            a = a.lower()
            b = b.lower()
        if a == b or (isinstance(value, str) and b and len(b) < len(a) and a.startswith(b)):
            continue
        out[name] = value
    return out
