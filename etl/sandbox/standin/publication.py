"""The 1C base behind the stand-in: in-memory entity sets with 1C's OData semantics, no HTTP."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from etl.config import DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY
from etl.onec.records import NUMERIC_TYPES, register_structure

from .journal import Journal, read_entries, write_snapshot
from .model import DATE_RE, GUID_RE, EntitySet, Faults, OnecError, Stats, empty_value, parse_key


class Publication:
    """The published 1C base: entity sets, the register, faults and counters (`StandIn` serves it)."""

    def __init__(
        self,
        *,
        user: str = "Администратор",
        password: str = "пароль-секрет",
        base: str = "/crm",
        register: str = "InformationRegister_ЗвонкиАТС",
        fields: Mapping[str, str] | None = None,
        key: Sequence[str] = DEFAULT_ONEC_KEY,
        service_path: str = "hs/cdr1c/records",
        faults: Faults | None = None,
    ) -> None:
        self.user, self.password, self.base = user, password, base.rstrip("/")
        self.register = register
        self.service_path = service_path.strip("/")
        self.faults = faults or Faults()
        self.stats = Stats()
        self.sets: dict[str, EntitySet] = {}
        self.lock = threading.RLock()
        self._rng = random.Random(self.faults.seed)
        self._first = True
        self._journal: Journal | None = None
        structure = register_structure(fields or DEFAULT_ONEC_FIELDS, key)
        self.add_entity_set(register, {f.name: (f.edm_type, f.length) for f in structure}, tuple(key))

    # --- data -----------------------------------------------------------------------------
    def add_entity_set(
        self,
        name: str,
        fields: Mapping[str, tuple[str, int | None]],
        key: Sequence[str] = ("Ref_Key",),
    ) -> EntitySet:
        es = EntitySet(name, dict(fields), tuple(key))
        with self.lock:
            self.sets[name] = es
            self._log({"sets": {name: _set_doc(es)}})
        return es

    def leave_out(self, *names: str) -> None:
        """Take entity sets out of the OData content, as a publication whose
        УстановитьСоставСтандартногоИнтерфейсаOData call did not list them (§1.1): requests
        for them get 404 code 8, and `$metadata` no longer lists them."""
        with self.lock:
            for name in names:
                self.sets.pop(name, None)
            self._log({"drop": list(names)})

    def add_rows(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        es = self.sets[name]
        with self.lock:
            written = []
            for r in rows:
                row = {f: r.get(f, empty_value(t)) for f, (t, _) in es.fields.items()}
                if "Ref_Key" in es.fields and not r.get("Ref_Key"):
                    row["Ref_Key"] = str(uuid.uuid4())
                es.rows[tuple(row[k] for k in es.key)] = row
                written.append({"put": name, "row": row})
            self._log(*written)

    def put(self, es: EntitySet, key: tuple[Any, ...], row: dict[str, Any]) -> None:
        """Write `row` under `key` (a PATCH), on disk before the caller answers."""
        with self.lock:
            es.rows[key] = row
            self._log({"put": es.name, "row": row})

    def delete(self, es: EntitySet, key: tuple[Any, ...]) -> None:
        with self.lock:
            es.rows.pop(key, None)
            self._log({"del": es.name, "key": list(key)})

    # --- on disk (journal.py) ---------------------------------------------------------------
    def keep(self, path: Path) -> None:
        """Keep the base in `path` from now on, as 1C keeps its infobase: first serve what the
        file holds (if it exists), then write every accepted change to it, fsynced, before the
        answer leaves. The file is rewritten as one snapshot first, so it does not grow with
        restarts."""
        with self.lock:
            if path.exists():
                self.load(path)
            self.save(path)
            self._journal = Journal(path)

    def close(self) -> None:
        """Close the journal `keep` opened (the data are on disk already)."""
        with self.lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def save(self, path: Path) -> None:
        """Write every entity set (fields, key, rows) to `path`, atomically, so a later
        stand-in can `load` or `keep` it."""
        with self.lock:
            write_snapshot(path, {"sets": {name: _set_doc(es) for name, es in self.sets.items()}})

    def load(self, path: Path) -> None:
        """Serve what `path` holds (a snapshot and the changes after it; sets in place of any
        of the same name)."""
        with self.lock:
            for entry in read_entries(path):
                self._apply(entry)

    def _apply(self, entry: Mapping[str, Any]) -> None:
        for name, doc in entry.get("sets", {}).items():
            fields = {f: (edm, length) for f, (edm, length) in doc["fields"].items()}
            key = tuple(doc["key"])
            es = self.sets[name] = EntitySet(name, fields, key)
            es.rows = {tuple(row[k] for k in key): row for row in doc["rows"]}
        if "put" in entry:
            es, row = self.sets[entry["put"]], entry["row"]
            es.rows[tuple(row[k] for k in es.key)] = row
        if "del" in entry:
            self.sets[entry["del"]].rows.pop(tuple(entry["key"]), None)
        for name in entry.get("drop", ()):
            self.sets.pop(name, None)

    def _log(self, *entries: Mapping[str, Any]) -> None:
        """Journal the changes just made (the caller holds the lock); nothing without `keep`."""
        if self._journal is not None:
            self._journal.append(entries)

    def records(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.sets[name or self.register].rows.values()]

    def first_request(self) -> bool:
        """Count a request; True for the first one the base has seen."""
        with self.lock:
            self.stats.requests += 1
            first, self._first = self._first, False
        return first

    def roll(self, p: float) -> bool:
        with self.lock:
            return p > 0 and self._rng.random() < p

    # --- OData semantics ------------------------------------------------------------------
    def coerce(self, es: EntitySet, body: Mapping[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """Apply a write body the way 1C does: ignore unknown names, truncate, reject bad GUIDs."""
        row = dict(base)
        for name, value in body.items():
            if name not in es.fields:
                continue  # unknown property: silently ignored (§1.6)
            edm, length = es.fields[name]
            if edm == "Edm.String":
                text = "" if value is None else str(value)
                row[name] = text[:length] if length else text  # silently truncated (§1.6)
            elif edm == "Edm.Guid":
                if not isinstance(value, str) or not GUID_RE.match(value):
                    raise OnecError(
                        400,
                        "1",
                        f"Невозможно преобразовать строку '{value}' в значение типа Edm.Guid",
                    )
                row[name] = value.lower()
            elif edm == "Edm.DateTime":
                text = str(value)
                if text.endswith("Z") or re.search(r"[+-]\d\d:\d\d$", text):
                    # 1C keeps the digits as its local wall clock: a UTC instant is stored shifted.
                    text = text[:19]
                if not DATE_RE.match(text):
                    raise OnecError(
                        400,
                        "1",
                        f"Невозможно преобразовать строку '{value}' в значение типа Edm.DateTime",
                    )
                row[name] = text
            elif edm in NUMERIC_TYPES:
                # wrong type into a number: silently ignored (§1.6)
                with contextlib.suppress(TypeError, ValueError):
                    row[name] = int(value) if edm != "Edm.Double" else float(value)
            elif edm == "Edm.Boolean":
                if not isinstance(value, bool):
                    raise OnecError(400, "1", f"Невозможно преобразовать '{value}' в Edm.Boolean")
                row[name] = value
            else:
                row[name] = value
        return row

    def create(self, es: EntitySet, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            row = self.coerce(es, body, {f: empty_value(t) for f, (t, _) in es.fields.items()})
            if "Ref_Key" in es.fields and row.get("Ref_Key") in (None, "", empty_value("Edm.Guid")):
                row["Ref_Key"] = str(uuid.uuid4())
            k = tuple(row[f] for f in es.key)
            if k in es.rows:
                self.stats.duplicates += 1
                raise OnecError(400, "15", "Запись с такими значениями ключевых полей уже существует")
            self.put(es, k, row)
            if es.name == self.register:
                self.stats.creates += 1
                self.stats.created_keys.append(k)
            return row

    def find(self, es: EntitySet, key_text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        parsed = parse_key(key_text, es.key)
        k = tuple(parsed.get(f) for f in es.key)
        for f in es.key:
            if f not in parsed:
                raise OnecError(400, "7", f"Не указана часть ключа '{f}'")
            edm = es.fields[f][0]
            if edm in NUMERIC_TYPES:
                k = tuple(int(parsed[g]) if g == f else v for g, v in zip(es.key, k, strict=True))
        with self.lock:
            if k not in es.rows:
                raise OnecError(404, "9", "Объект не найден")
            return k, es.rows[k]

    def batch(self, records: list[Mapping[str, Any]]) -> list[dict[str, str]]:
        """The HTTP-service endpoint: one result per record, in order (docs/onec/).

        Same logic as the BSL module: read by key; absent → write (`created`); same content →
        `unchanged`; different → overwrite (`updated`); a record 1C cannot take → `error`."""
        es = self.sets[self.register]
        out: list[dict[str, str]] = []
        with self.lock:
            written: list[Mapping[str, Any]] = []
            for rec in records:
                try:
                    empty = {f: empty_value(t) for f, (t, _) in es.fields.items()}
                    row = self.coerce(es, rec, empty)
                    k = tuple(row[f] for f in es.key)
                    if any(row[f] in ("", None) for f in es.key):
                        raise OnecError(400, "5", "Не заполнено ключевое поле")
                    held = es.rows.get(k)
                    if held is None:
                        es.rows[k] = row
                        written.append({"put": es.name, "row": row})
                        self.stats.creates += 1
                        self.stats.created_keys.append(k)
                        out.append({"status": "created"})
                    elif held == row:
                        out.append({"status": "unchanged"})
                    else:
                        es.rows[k] = row
                        written.append({"put": es.name, "row": row})
                        self.stats.patches += 1
                        out.append({"status": "updated"})
                except OnecError as exc:
                    out.append({"status": "error", "message": exc.message})
            self._log(*written)  # the whole batch on disk before its answer
        return out

    def metadata_xml(self) -> str:
        types, sets = [], []
        for es in self.sets.values():
            props = []
            for name, (edm, length) in es.fields.items():
                ml = f' MaxLength="{length}"' if length else ""
                props.append(f'<Property Name="{escape(name)}" Type="{edm}" Nullable="true"{ml}/>')
            keys = "".join(f'<PropertyRef Name="{escape(k)}"/>' for k in es.key)
            types.append(
                f'<EntityType Name="{escape(es.name)}"><Key>{keys}</Key>{"".join(props)}</EntityType>'
            )
            sets.append(f'<EntitySet Name="{escape(es.name)}" EntityType="StandardODATA.{escape(es.name)}"/>')
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">'
            '<edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
            'm:DataServiceVersion="3.0">'
            '<Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm" Namespace="StandardODATA">'
            + "".join(types)
            + '<EntityContainer Name="InfoBase" m:IsDefaultEntityContainer="true">'
            + "".join(sets)
            + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
        )


def _set_doc(es: EntitySet) -> dict[str, Any]:
    return {"fields": es.fields, "key": es.key, "rows": list(es.rows.values())}
