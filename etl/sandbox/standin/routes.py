"""The 1C stand-in's routes: one function per route, picked from `ROUTES` by method and path.

A route takes the stand-in and the parsed request and returns the `Reply` to send; the HTTP
plumbing (authentication, injected faults, writing the answer) is in `server.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from etl.onec.odata_filter import FilterError, compile_filter

from .model import EntitySet, OnecError, wire_row
from .publication import Publication

RESOURCE = re.compile(r"([^(/]+)(?:\((.*)\))?(/\$count)?")
JSON = "application/json;charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded
    raw_query: str
    query: dict[str, str]
    body: bytes
    as_json: bool
    session: Mapping[str, str]  # the Set-Cookie of `IBSession: start`, else empty
    url: str  # the publication's own url, as its answers name it


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    ctype: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """An OData resource naming an entity set: `Set`, `Set(key)` or `Set/$count`."""

    es: EntitySet
    key: str | None
    count: bool


def json_reply(status: int, doc: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), JSON, headers or {})


def error_reply(exc: OnecError, as_json: bool) -> Reply:
    if as_json:
        return json_reply(
            exc.status, {"odata.error": {"code": exc.code, "message": {"lang": "ru", "value": exc.message}}}
        )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><m:error xmlns:m='
        '"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
        f"<m:code>{exc.code}</m:code>"
        f'<m:message xml:lang="ru">{escape(exc.message)}</m:message></m:error>'
    )
    return Reply(exc.status, xml.encode("utf-8"), "application/xml;charset=utf-8")


def _properties(row: Mapping[str, Any]) -> str:
    return "".join(f"<d:{escape(n)}>{escape(str(v))}</d:{escape(n)}>" for n, v in row.items())


def entity_reply(status: int, es: EntitySet, row: Mapping[str, Any], req: Request) -> Reply:
    if req.as_json:
        doc = {"odata.metadata": f"{req.url}/odata/standard.odata/$metadata#{es.name}/@Element"}
        doc.update(wire_row(es, row, None))
        return json_reply(status, doc, req.session)
    xml = f'<?xml version="1.0" encoding="UTF-8"?><entry><m:properties>{_properties(row)}</m:properties>'
    xml += "</entry>"
    return Reply(status, xml.encode("utf-8"), "application/atom+xml;charset=utf-8", req.session)


def _json_body(body: bytes, message: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise OnecError(500, "-1", message) from None


# --- the routes -------------------------------------------------------------------------------
def service_records(stand: Publication, req: Request) -> Reply:
    """`POST /<base>/hs/cdr1c/records`: a batch of register records, answered per record."""
    try:
        records = json.loads(req.body.decode("utf-8"))["records"]
        if not isinstance(records, list):
            raise TypeError(records)
    except (ValueError, KeyError, TypeError):
        return json_reply(400, {"error": 'ожидается {"records": [...]}'})
    stand.stats.bodies.extend(b"" for _ in records)
    return json_reply(200, {"results": stand.batch(records)})


def service_document(stand: Publication, req: Request) -> Reply:
    """`GET …/standard.odata/`: the names of the published entity sets."""
    return json_reply(
        200, {"odata.metadata": "$metadata", "value": [{"name": n, "url": n} for n in stand.sets]}
    )


def metadata(stand: Publication, req: Request) -> Reply:
    """`GET …/$metadata`: XML only (§1.1)."""
    return Reply(200, stand.metadata_xml().encode("utf-8"), "application/xml;charset=utf-8", req.session)


def create_entity(stand: Publication, req: Request, target: Target) -> Reply:
    """`POST Set`: 200 for the register (§1.7), 201 elsewhere; a repeated key → 400 code 15."""
    doc = _json_body(req.body, "Внутренняя ошибка сервиса OData. Смотри технологический журнал")
    if not isinstance(doc, dict):
        raise OnecError(500, "-1", "Внутренняя ошибка сервиса OData. Смотри технологический журнал")
    es = target.es
    if es.name == stand.register:
        stand.stats.bodies.append(req.body)
    row = stand.create(es, doc)
    return entity_reply(200 if es.name == stand.register else 201, es, row, req)


def read_entity(stand: Publication, req: Request, target: Target) -> Reply:
    """`GET Set(key)`."""
    _, row = stand.find(target.es, target.key or "")
    return entity_reply(200, target.es, row, req)


def update_entity(stand: Publication, req: Request, target: Target) -> Reply:
    """`PATCH Set(key)`: the key fields of the body are ignored."""
    es = target.es
    k, row = stand.find(es, target.key or "")
    doc = _json_body(req.body, "Внутренняя ошибка сервиса OData")
    with stand.lock:
        new = stand.coerce(es, {n: v for n, v in doc.items() if n not in es.key}, row)
        stand.put(es, k, new)
        stand.stats.patches += 1
    return entity_reply(200, es, new, req)


def delete_entity(stand: Publication, req: Request, target: Target) -> Reply:
    """`DELETE Set(key)` → 204."""
    k, _ = stand.find(target.es, target.key or "")
    stand.delete(target.es, k)
    return Reply(204, b"", "text/plain")


def query_set(stand: Publication, req: Request, target: Target) -> Reply:
    """`GET Set` with `$filter`, `$orderby`, `$skip`, `$top`, `$select`, `$inlinecount`;
    `GET Set/$count` → the number as text."""
    es, query = target.es, req.query
    rows = select_rows(es, query, stand)
    if target.count:
        return Reply(200, str(len(rows)).encode(), "text/plain;charset=utf-8", req.session)
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
    if req.as_json:
        feed: dict[str, Any] = {"odata.metadata": f"{req.url}/odata/standard.odata/$metadata#{es.name}"}
        if query.get("$inlinecount") == "allpages":
            feed["odata.count"] = str(total)  # a string (§1.2)
        feed["value"] = [wire_row(es, r, select) for r in rows]
        return json_reply(200, feed, req.session)
    entries = "".join(
        '<entry><content type="application/xml"><m:properties>'
        f"{_properties(r)}</m:properties></content></entry>"
        for r in rows
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
        'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
        f"<title>{escape(es.name)}</title>{entries}</feed>"
    )
    return Reply(200, xml.encode("utf-8"), "application/atom+xml;type=feed;charset=utf-8", req.session)


def select_rows(es: EntitySet, query: Mapping[str, str], stand: Publication) -> list[dict[str, Any]]:
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


# (method, names one entity) → route
ROUTES: dict[tuple[str, bool], Callable[[Publication, Request, Target], Reply]] = {
    ("POST", False): create_entity,
    ("GET", True): read_entity,
    ("PATCH", True): update_entity,
    ("DELETE", True): delete_entity,
    ("GET", False): query_set,
}
NOT_FOUND = Reply(404, b"<html><body>404 - File or directory not found.</body></html>", "text/html")


def dispatch(stand: Publication, req: Request) -> Reply:
    """The reply to an authorised request; a 1C error becomes its `odata.error` answer."""
    try:
        if "+" in req.raw_query:
            raise OnecError(500, "-1", 'Операция не разрешена в предложении "ГДЕ"')
        if req.path == f"{stand.base}/{stand.service_path}" and req.method == "POST":
            return service_records(stand, req)
        root = stand.base + "/odata/standard.odata/"
        if not req.path.startswith(root) and req.path != root.rstrip("/"):
            return NOT_FOUND
        return _odata(stand, req, req.path[len(root) :])
    except OnecError as exc:
        return error_reply(exc, req.as_json)


def _odata(stand: Publication, req: Request, resource: str) -> Reply:
    if resource in ("", "/"):
        return service_document(stand, req)
    if resource == "$metadata":
        return metadata(stand, req)
    m = RESOURCE.fullmatch(resource)
    if not m or m.group(1) not in stand.sets:
        raise OnecError(404, "8", f"Не найден тип сущности '{resource}'")
    target = Target(stand.sets[m.group(1)], m.group(2), bool(m.group(3)))
    route = ROUTES.get((req.method, target.key is not None))
    if route is None:
        if target.key is not None:
            stand.find(target.es, target.key)  # an unknown key is "not found" before "not allowed"
        raise OnecError(405, "19", "Метод не разрешен")
    return route(stand, req, target)
