"""A stand-in for a 1C:Enterprise web publication, for tests, the demo and admins' dry runs.

It behaves as docs/reference/onec-http.md documents a real 1C 8.3 publication (section numbers
below), not as a polite REST server:

- `POST InformationRegister_X` → 200 (not 201) and the record; the same key again → 400 with
  `odata.error` code 15, nothing overwritten (§1.7). `PATCH`/`GET`/`DELETE` by the full key.
- Unknown properties are silently ignored; strings longer than the field are silently truncated;
  a non-number into an Int64 field is silently ignored; a bad GUID → 400 code 1; invalid JSON →
  500 code -1 (§1.6).
- A `+` anywhere in the query string → 500 (1C does not decode `+` as a space, §2.2).
- Atom-XML unless JSON is asked for (`$format=json` or `Accept: application/json`, §1.2);
  `odata.count` and Int64 values as strings; `$metadata` is XML only (§1.1).
- HTTP Basic with a UTF-8 login (§2.1); `IBSession: start` gets a session cookie.
- `$filter` (eq/ne/gt/ge/lt/le/and/or/not), `$select`, `$orderby`, `$top`, `$skip`, `$count`,
  `$inlinecount=allpages` (§1.5); unknown field in `$filter` → 400 code 14.
- Events, catalogs and contact information are served from data given to `add_rows`.
- An HTTP-service endpoint (`POST /<base>/hs/cdr1c/records`) taking batches of register records,
  answering per record as docs/onec/ describes.
- Switchable faults: latency per request, a 5xx rate, a dropped-connection rate (half of the
  drops happen after the write was applied, as when a proxy loses the answer), and a stall on
  the first request (a cold 1C).

Run it standalone so an administrator can point cdr1c at it before touching a real base:

    python -m etl.onec.standin --port 8081 --user Администратор --password secret

then in cdr1c.toml `[onec] url = "http://127.0.0.1:8081/crm"`, and run `cdr1c check` / `cdr1c sync`.
`save` / `load` keep its entity sets in a JSON file between runs (`cdr1c standin` serves the
demo's 1C that way, jobs/demo.py).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from etl.config import DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY
from etl.onec.odata_filter import FilterError, compile_filter
from etl.onec.records import NUMERIC_TYPES, register_structure

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


class StandIn:
    """The 1C publication: in-memory entity sets behind a threading HTTP server on loopback."""

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
        host: str = "127.0.0.1",
        port: int = 0,
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
        structure = register_structure(fields or DEFAULT_ONEC_FIELDS, key)
        self.add_entity_set(register, {f.name: (f.edm_type, f.length) for f in structure}, tuple(key))
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- data -----------------------------------------------------------------------------
    def add_entity_set(
        self,
        name: str,
        fields: Mapping[str, tuple[str, int | None]],
        key: Sequence[str] = ("Ref_Key",),
    ) -> EntitySet:
        es = EntitySet(name, dict(fields), tuple(key))
        self.sets[name] = es
        return es

    def leave_out(self, *names: str) -> None:
        """Take entity sets out of the OData content, as a publication whose
        УстановитьСоставСтандартногоИнтерфейсаOData call did not list them (§1.1): requests
        for them get 404 code 8, and `$metadata` no longer lists them."""
        with self.lock:
            for name in names:
                self.sets.pop(name, None)

    def add_rows(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        es = self.sets[name]
        with self.lock:
            for r in rows:
                row = {f: r.get(f, _empty(t)) for f, (t, _) in es.fields.items()}
                if "Ref_Key" in es.fields and not r.get("Ref_Key"):
                    row["Ref_Key"] = str(uuid.uuid4())
                es.rows[tuple(row[k] for k in es.key)] = row

    def save(self, path: Path) -> None:
        """Write every entity set (fields, key, rows) to `path` as JSON, atomically, so a later
        stand-in can `load` it: the demo's 1C keeps its data between runs."""
        with self.lock:
            doc = {
                name: {"fields": es.fields, "key": es.key, "rows": list(es.rows.values())}
                for name, es in self.sets.items()
            }
            text = json.dumps({"sets": doc}, ensure_ascii=False)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    def load(self, path: Path) -> None:
        """Serve the entity sets `save` wrote to `path` (in place of any of the same name)."""
        doc = json.loads(path.read_text(encoding="utf-8"))["sets"]
        with self.lock:
            for name, es in doc.items():
                fields = {f: (edm, length) for f, (edm, length) in es["fields"].items()}
                self.add_entity_set(name, fields, es["key"]).rows = {
                    tuple(row[k] for k in es["key"]): row for row in es["rows"]
                }

    def records(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.sets[name or self.register].rows.values()]

    # --- server ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.base}"

    def start(self) -> StandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="onec-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
            row = self.coerce(es, body, {f: _empty(t) for f, (t, _) in es.fields.items()})
            if "Ref_Key" in es.fields and row.get("Ref_Key") in (None, "", _empty("Edm.Guid")):
                row["Ref_Key"] = str(uuid.uuid4())
            k = tuple(row[f] for f in es.key)
            if k in es.rows:
                self.stats.duplicates += 1
                raise OnecError(400, "15", "Запись с такими значениями ключевых полей уже существует")
            es.rows[k] = row
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
            for rec in records:
                try:
                    empty = {f: _empty(t) for f, (t, _) in es.fields.items()}
                    row = self.coerce(es, rec, empty)
                    k = tuple(row[f] for f in es.key)
                    if any(row[f] in ("", None) for f in es.key):
                        raise OnecError(400, "5", "Не заполнено ключевое поле")
                    held = es.rows.get(k)
                    if held is None:
                        es.rows[k] = row
                        self.stats.creates += 1
                        self.stats.created_keys.append(k)
                        out.append({"status": "created"})
                    elif held == row:
                        out.append({"status": "unchanged"})
                    else:
                        es.rows[k] = row
                        self.stats.patches += 1
                        out.append({"status": "updated"})
                except OnecError as exc:
                    out.append({"status": "error", "message": exc.message})
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


def _empty(edm: str) -> Any:
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


def _wire(es: EntitySet, row: Mapping[str, Any], select: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if select and name not in select:
            continue
        edm = es.fields.get(name, ("Edm.String", None))[0]
        out[name] = str(value) if edm == "Edm.Int64" else value  # Int64 as a JSON string (§1.2)
    return out


def _handler_for(stand: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as IIS/Apache publications do
        server_version = "1C-StandIn/8.3"
        wbufsize = -1  # headers and body leave in one segment (no Nagle/delayed-ACK stalls)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_PATCH(self) -> None:
            self.handle_any("PATCH")

        def do_DELETE(self) -> None:
            self.handle_any("DELETE")

        # --- plumbing ---------------------------------------------------------------------
        def send(
            self, status: int, body: bytes, ctype: str, headers: Mapping[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def wants_json(self, query: dict[str, str]) -> bool:
            fmt = query.get("$format", "")
            return (
                fmt.startswith("json")
                or fmt.startswith("application/json")
                or ("application/json" in (self.headers.get("Accept") or ""))
            )

        def send_json(self, status: int, doc: Any) -> None:
            self.send(
                status,
                json.dumps(doc, ensure_ascii=False).encode("utf-8"),
                "application/json;charset=utf-8",
            )

        def send_error_1c(self, exc: OnecError, as_json: bool) -> None:
            if as_json:
                doc = {
                    "odata.error": {
                        "code": exc.code,
                        "message": {"lang": "ru", "value": exc.message},
                    }
                }
                self.send_json(exc.status, doc)
            else:
                xml = (
                    '<?xml version="1.0" encoding="utf-8"?><m:error xmlns:m='
                    '"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
                    f"<m:code>{exc.code}</m:code>"
                    f'<m:message xml:lang="ru">{escape(exc.message)}</m:message></m:error>'
                )
                self.send(exc.status, xml.encode("utf-8"), "application/xml;charset=utf-8")

        def authorised(self) -> bool:
            header = self.headers.get("Authorization") or ""
            if header.startswith("Basic "):
                try:
                    user, _, pw = base64.b64decode(header[6:]).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    return False  # e.g. a cp1251 login (IIS: 401.5, §2.1)
                return user == stand.user and pw == stand.password
            return False

        def handle_any(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            f = stand.faults
            with stand.lock:
                stand.stats.requests += 1
                first, stand._first = stand._first, False
            if first and f.first_stall:
                time.sleep(f.first_stall)
            if f.latency:
                time.sleep(f.latency)
            if stand.roll(f.error_rate):
                stand.stats.errors_injected += 1
                self.send_json(
                    503 if stand.roll(0.5) else 500,
                    {
                        "odata.error": {
                            "code": "-1",
                            "message": {"lang": "ru", "value": "Внутренняя ошибка сервиса OData"},
                        }
                    },
                )
                return
            drop = stand.roll(f.drop_rate)
            drop_after = drop and stand.roll(0.5)
            if drop and not drop_after:
                stand.stats.drops_injected += 1
                self.close_connection = True
                return
            if drop_after:
                stand.stats.drops_injected += 1
                self.wfile = _Sink()  # type: ignore[assignment]  # the answer is lost on the way
                self.close_connection = True
            try:
                self.route(method, body)
            finally:
                if drop_after:
                    self.close_connection = True

        def route(self, method: str, body: bytes) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            query: dict[str, str] = {}
            for part in raw_query.split("&") if raw_query else []:
                k, _, v = part.partition("=")
                query[unquote(k)] = unquote(v)  # `+` is NOT a space for 1C (§2.2)
            as_json = self.wants_json(query)
            if not self.authorised():
                self.send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="1C"'})
                return
            if self.headers.get("IBSession") == "start":
                session = {"Set-Cookie": f"ibsession={uuid.uuid4().hex}; Path=/"}
            else:
                session = {}
            path = unquote(raw_path)
            odata = stand.base + "/odata/standard.odata/"
            service = f"{stand.base}/{stand.service_path}"
            stand.stats.queries.append(raw_query)
            try:
                if "+" in raw_query:
                    raise OnecError(500, "-1", 'Операция не разрешена в предложении "ГДЕ"')
                if path == service and method == "POST":
                    self.service(body)
                    return
                if not path.startswith(odata) and path != odata.rstrip("/"):
                    self.send(
                        404,
                        b"<html><body>404 - File or directory not found.</body></html>",
                        "text/html",
                    )
                    return
                self.odata(method, path[len(odata) :], query, body, as_json, session)
            except OnecError as exc:
                self.send_error_1c(exc, as_json)

        def service(self, body: bytes) -> None:
            try:
                doc = json.loads(body.decode("utf-8"))
                records = doc["records"]
                assert isinstance(records, list)
            except (ValueError, KeyError, AssertionError):
                self.send_json(400, {"error": 'ожидается {"records": [...]}'})
                return
            for _ in records:
                stand.stats.bodies.append(b"")
            self.send_json(200, {"results": stand.batch(records)})

        def odata(
            self,
            method: str,
            resource: str,
            query: dict[str, str],
            body: bytes,
            as_json: bool,
            session: Mapping[str, str],
        ) -> None:
            if resource in ("", "/"):
                names = [{"name": n, "url": n} for n in stand.sets]
                self.send_json(200, {"odata.metadata": "$metadata", "value": names})
                return
            if resource == "$metadata":
                self.send(
                    200,
                    stand.metadata_xml().encode("utf-8"),
                    "application/xml;charset=utf-8",
                    session,
                )
                return
            m = re.fullmatch(r"([^(/]+)(?:\((.*)\))?(/\$count)?", resource)
            if not m or m.group(1) not in stand.sets:
                raise OnecError(404, "8", f"Не найден тип сущности '{resource}'")
            es = stand.sets[m.group(1)]
            key_text, is_count = m.group(2), bool(m.group(3))
            if method == "POST" and key_text is None:
                try:
                    doc = json.loads(body.decode("utf-8"))
                    assert isinstance(doc, dict)
                except (ValueError, AssertionError):
                    raise OnecError(
                        500, "-1", "Внутренняя ошибка сервиса OData. Смотри технологический журнал"
                    ) from None
                if es.name == stand.register:
                    stand.stats.bodies.append(body)
                row = stand.create(es, doc)
                self.reply_entity(200 if es.name == stand.register else 201, es, row, as_json, session)
                return
            if key_text is not None:
                k, row = stand.find(es, key_text)
                if method == "GET":
                    self.reply_entity(200, es, row, as_json, session)
                elif method == "PATCH":
                    try:
                        doc = json.loads(body.decode("utf-8"))
                    except ValueError:
                        raise OnecError(500, "-1", "Внутренняя ошибка сервиса OData") from None
                    with stand.lock:
                        new = stand.coerce(es, {n: v for n, v in doc.items() if n not in es.key}, row)
                        es.rows[k] = new
                        stand.stats.patches += 1
                    self.reply_entity(200, es, new, as_json, session)
                elif method == "DELETE":
                    with stand.lock:
                        es.rows.pop(k, None)
                    self.send(204, b"", "text/plain")
                else:
                    raise OnecError(405, "19", "Метод не разрешен")
                return
            if method != "GET":
                raise OnecError(405, "19", "Метод не разрешен")
            rows = self.select_rows(es, query)
            if is_count:
                self.send(200, str(len(rows)).encode(), "text/plain;charset=utf-8", session)
                return
            total = len(rows)
            skip, top = int(query.get("$skip", 0) or 0), query.get("$top")
            rows = rows[skip:]
            if top is not None:
                rows = rows[: int(top)]
            select = [s.strip() for s in query["$select"].split(",")] if query.get("$select") else None
            if select:
                for s in select:
                    if s not in es.fields and s != "*":
                        raise OnecError(400, "6", f"Неправильный URL: не найдено свойство '{s}'")
                if "*" in select:
                    select = None
            if as_json:
                feed: dict[str, Any] = {
                    "odata.metadata": f"{stand.url}/odata/standard.odata/$metadata#{es.name}"
                }
                if query.get("$inlinecount") == "allpages":
                    feed["odata.count"] = str(total)  # a string (§1.2)
                feed["value"] = [_wire(es, r, select) for r in rows]
                self.send(
                    200,
                    json.dumps(feed, ensure_ascii=False).encode("utf-8"),
                    "application/json;charset=utf-8",
                    session,
                )
            else:
                entries = "".join(
                    '<entry><content type="application/xml"><m:properties>'
                    + "".join(f"<d:{escape(n)}>{escape(str(v))}</d:{escape(n)}>" for n, v in r.items())
                    + "</m:properties></content></entry>"
                    for r in rows
                )
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
                    'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
                    'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
                    f"<title>{escape(es.name)}</title>{entries}</feed>"
                )
                self.send(
                    200,
                    xml.encode("utf-8"),
                    "application/atom+xml;type=feed;charset=utf-8",
                    session,
                )

        def select_rows(self, es: EntitySet, query: Mapping[str, str]) -> list[dict[str, Any]]:
            with stand.lock:
                rows = list(es.rows.values())
            if query.get("$filter"):
                try:
                    pred = compile_filter(query["$filter"], set(es.fields))
                except FilterError as exc:
                    raise OnecError(400, "14", f"Ошибка разбора параметра запроса $filter: {exc}") from None
                rows = [r for r in rows if pred(r)]
            if query.get("$orderby"):
                for part in reversed(query["$orderby"].split(",")):
                    name, _, direction = part.strip().partition(" ")
                    if name not in es.fields:
                        raise OnecError(400, "6", f"Неправильный URL: не найдено свойство '{name}'")
                    rows.sort(key=lambda r, n=name: r.get(n), reverse=direction.strip() == "desc")  # type: ignore[misc]
            return rows

        def reply_entity(
            self,
            status: int,
            es: EntitySet,
            row: Mapping[str, Any],
            as_json: bool,
            session: Mapping[str, str],
        ) -> None:
            if as_json:
                doc = {"odata.metadata": f"{stand.url}/odata/standard.odata/$metadata#{es.name}/@Element"}
                doc.update(_wire(es, row, None))
                self.send(
                    status,
                    json.dumps(doc, ensure_ascii=False).encode("utf-8"),
                    "application/json;charset=utf-8",
                    session,
                )
            else:
                props = "".join(f"<d:{escape(n)}>{escape(str(v))}</d:{escape(n)}>" for n, v in row.items())
                xml = f'<?xml version="1.0" encoding="UTF-8"?><entry><m:properties>{props}</m:properties>'
                xml += "</entry>"
                self.send(status, xml.encode("utf-8"), "application/atom+xml;charset=utf-8", session)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the kill -9 test) is not the stand-in's problem


class _Sink:
    """Swallows an answer, so the client sees a connection closed before any response."""

    closed = False

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m etl.onec.standin", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--base", default="/crm", help="publication path (default /crm)")
    ap.add_argument("--user", default="Администратор")
    ap.add_argument("--password", default="пароль-секрет")
    ap.add_argument("--register", default="InformationRegister_ЗвонкиАТС")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    ap.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    ap.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped")
    ap.add_argument("--first-stall", type=float, default=0.0, help="seconds the first request waits")
    ap.add_argument("--events", action="store_true", help="serve Document_Событие and contacts sets")
    args = ap.parse_args(argv)
    faults = Faults(args.latency, args.error_rate, args.drop_rate, args.first_stall)
    stand = StandIn(
        user=args.user,
        password=args.password,
        base=args.base,
        register=args.register,
        faults=faults,
        host=args.host,
        port=args.port,
    )
    if args.events:
        from etl.onec.readers import add_crm_sets

        add_crm_sets(stand)
    print(f"1C stand-in at {stand.url} (user {args.user!r}); Ctrl-C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stand._server.serve_forever()


if __name__ == "__main__":
    main()
