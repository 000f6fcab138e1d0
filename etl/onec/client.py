"""The HTTP client for a 1C publication: standard OData interface and HTTP services.

Facts from docs/reference/onec-http.md this client is built on:
- §2.2: 1C does not decode `+` in a query string (`$filter=A+eq+1` → 500), so every query is
  built here with `%20`; Cyrillic names and literals are percent-encoded as UTF-8; `( ) , = ' $ /`
  stay literal. Past ~2048 bytes of query IIS answers an HTML 404, so key lists are chunked
  under `max_url_bytes` (`or_chunks`).
- §2.1: HTTP Basic with the login encoded as UTF-8 before base64 (cp1251 → IIS 401.5);
  `IBSession: start` asks for a reusable session, which the publication may ignore.
  The first request after idle can take 30 s+, so it gets `first_timeout`.
- §1.2: JSON only when asked (`$format=json` + Accept); the declared charset may lie, so the body
  is decoded as UTF-8; `odata.count` and Int64 values come as strings.
- §2.3: errors are `{"odata.error": {"code": …, "message": {"value": …}}}` (XML `<m:error>` when
  JSON was not asked); an IIS HTML page has no code at all.

Requests are synchronous (httpx.Client, thread-safe, keep-alive); callers bound concurrency with
a thread pool of `concurrency` workers, which the connection pool is sized for.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx

from etl.config import OnecSettings
from etl.errors import OnecCredentialsRefused, OnecError, OnecMappingError, OnecUnreachable
from etl.secrets import redact

log = logging.getLogger("cdr1c.onec")

# Characters kept literal in a path: OData key syntax
# (docs/reference/onec-http.md §2.2, GATE `_экранировать_путь`).
PATH_SAFE = "()',=$/:"
# In a query value: the same minus `/`-free concerns; space and `+` are always encoded.
QUERY_SAFE = "()',=$/:"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def quote_path(resource: str) -> str:
    """Percent-encode an OData resource path (UTF-8), keeping the key syntax literal."""
    return quote(resource, safe=PATH_SAFE)


def build_query(params: Iterable[tuple[str, str]]) -> str:
    """`k=v&…` with spaces as `%20`, never `+` (1C answers 500 to `+`, docs/reference/onec-http.md §2.2)."""
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe=QUERY_SAFE)}" for k, v in params)


def literal(value: Any) -> str:
    """An OData v3 literal: strings quoted with `'` doubled, datetimes naive, GUIDs tagged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("1C datetimes are naive wall-clock times; convert before quoting")
        return f"datetime'{value.strftime('%Y-%m-%dT%H:%M:%S')}'"
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def key_segment(key: Mapping[str, Any]) -> str:
    """`(A='x',B=1)`: the canonical address of one register record (docs/reference/onec-http.md §1.4, §1.7).

    Literal values are percent-encoded whole (so a `/`, `,` or `)` inside a value cannot break
    the path); names and the key syntax stay literal."""
    parts = []
    for name, value in key.items():
        lit = literal(value)
        parts.append(f"{quote(name, safe='')}={quote(lit, safe=chr(39))}")
    return "(" + ",".join(parts) + ")"


def or_chunks(field: str, values: Iterable[Any], budget: int) -> Iterator[str]:
    """`F eq 'a' or F eq 'b' …` filters, each at most `budget` bytes once percent-encoded.

    1C has no `in` operator (400 code 14), so key lists are OR chains; IIS rejects long query
    strings with an HTML 404, so the chain is cut (docs/reference/onec-http.md §1.5, §2.2)."""
    current: list[str] = []
    size = 0
    for v in values:
        term = f"{field} eq {literal(v)}"
        cost = len(quote(term, safe=QUERY_SAFE)) + len("%20or%20")
        if current and size + cost > budget:
            yield " or ".join(current)
            current, size = [], 0
        current.append(term)
        size += cost
    if current:
        yield " or ".join(current)


# Entity-set prefix → the metadata collection the object is in (docs/reference/onec-http.md §1.3).
COLLECTIONS = {
    "Catalog": "Справочники", "Document": "Документы", "InformationRegister": "РегистрыСведений",
    "AccumulationRegister": "РегистрыНакопления", "AccountingRegister": "РегистрыБухгалтерии",
    "ChartOfCharacteristicTypes": "ПланыВидовХарактеристик", "ChartOfAccounts": "ПланыСчетов",
    "DocumentJournal": "ЖурналыДокументов", "ExchangePlan": "ПланыОбмена",
    "BusinessProcess": "БизнесПроцессы", "Task": "Задачи",
}  # fmt: skip


def content_hint(entity_set: str) -> str:
    """What to add to the publication's OData content so 1C serves `entity_set`
    (docs/onec-setup.md §2; a tabular section such as `Catalog_X_КонтактнаяИнформация` comes
    with its object)."""
    prefix, _, name = entity_set.partition("_")
    owner, _, table = name.partition("_")
    call = "the УстановитьСоставСтандартногоИнтерфейсаOData (SetStandardODataInterfaceContent) call"
    call += " of docs/onec-setup.md §2"
    collection = COLLECTIONS.get(prefix)
    if collection is None or not owner:
        return f"add {entity_set} to the OData content with {call}"
    what = f"{prefix}_{owner} (its table {table} comes with it)" if table else entity_set
    return f"add {what} to the OData content: Метаданные.{collection}.{owner} in {call}"


@contextlib.contextmanager
def served(entity_set: str, *, query: bool = False) -> Iterator[None]:
    """Turn 1C's "no such entity set" (and, for a query, "no such field") into `OnecMappingError`:
    1C answered, so it is neither down nor refusing us; the OData content or the mapping lacks
    something, and the message says what to add. 1C's own error is the `__cause__`."""
    try:
        yield
    except OnecError as exc:
        if exc.not_in_content:
            raise OnecMappingError(
                f"{entity_set} is not in the OData content: {content_hint(entity_set)}"
            ) from exc
        if query and exc.unknown_field:
            raise OnecMappingError(
                f"1C refused a query on {entity_set} that names a field it does not have "
                f"({exc.message}): correct the [onec] key naming that field or add the attribute; "
                "`cdr1c check` lists the missing fields"
            ) from exc
        raise


def parse_error(status: int, body: bytes) -> OnecError:
    """An `OnecError` from 1C's JSON or XML `odata.error`, or from whatever else came back."""
    text = body.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
        err = doc.get("odata.error") if isinstance(doc, dict) else None
        if isinstance(err, dict):
            msg = err.get("message")
            value = msg.get("value") if isinstance(msg, dict) else msg
            return OnecError(status, str(err.get("code")), str(value or ""))
    except ValueError:
        pass
    m = re.search(r"<(?:\w+:)?code>(.*?)</(?:\w+:)?code>", text, re.S)
    if m and "error" in text[:400]:
        mm = re.search(r"<(?:\w+:)?message[^>]*>(.*?)</(?:\w+:)?message>", text, re.S)
        return OnecError(status, m.group(1).strip(), (mm.group(1).strip() if mm else ""))
    plain = re.sub(r"<[^>]+>", " ", text)
    plain = re.sub(r"\s+", " ", plain).strip()[:300]
    return OnecError(status, None, plain or httpx.codes.get_reason_phrase(status))


def _basic(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class OnecClient:
    """One 1C publication: retries, back-off with jitter, a long first timeout, keep-alive."""

    def __init__(self, cfg: OnecSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.cfg = cfg
        self.odata_root = cfg.url + "/odata/standard.odata/"
        self._auth = _basic(cfg.user, cfg.password) if cfg.user else ""
        self._secrets = [s for s in (cfg.password, self._auth, self._auth[6:]) if s]
        verify: Any = cfg.ca_bundle if cfg.ca_bundle else cfg.verify_tls
        pool = max(4, cfg.concurrency * 2)
        headers = {"Accept": "application/json", "User-Agent": "cdr1c"}
        if self._auth:
            headers["Authorization"] = self._auth
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(cfg.timeout, connect=min(cfg.timeout, 10.0)),
            verify=verify,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            transport=transport,
        )
        self._warm = False
        self._session_asked = False
        self._lock = threading.Lock()
        self.requests = 0  # every HTTP attempt, for benchmarks and tests

    # --- plumbing -------------------------------------------------------------------------
    def close(self) -> None:
        if self._session_asked and self._http.cookies:
            # end the reusable 1C session we opened (docs/reference/onec-http.md §2.1)
            with contextlib.suppress(httpx.HTTPError):
                self._http.get(self.odata_root, headers={"IBSession": "finish"}, timeout=5)
        self._http.close()

    def __enter__(self) -> OnecClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.cfg.retry_backoff_max, self.cfg.retry_backoff * (2**attempt))
        return cap * (0.5 + random.random() / 2)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        accept: str = "application/json",
        retry: bool = True,
    ) -> httpx.Response:
        """Send one request with retries; return a 2xx response or raise `OnecError` /
        `OnecUnreachable`. 4xx are never retried; 5xx, 408, 429, timeouts and dropped
        connections are, with exponential back-off and jitter."""
        headers: dict[str, str] = {"Accept": accept}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif method in ("POST", "PATCH", "PUT"):
            headers["Content-Length"] = "0"  # IIS answers 411 otherwise (docs/reference/onec-http.md §1.6)
        attempts = (self.cfg.retries + 1) if retry else 1
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self._backoff(attempt - 1))
            with self._lock:
                first = not self._warm
                if first and not self._session_asked:
                    headers["IBSession"] = "start"
                    self._session_asked = True
            timeout = self.cfg.first_timeout if first else self.cfg.timeout
            self.requests += 1
            try:
                resp = self._http.request(method, url, content=content, headers=headers, timeout=timeout)
            except httpx.TransportError as exc:
                last = OnecUnreachable(self.redact(f"{method} {_short_url(url)}: {type(exc).__name__} {exc}"))
                log.debug("1C transport error (attempt %d): %s", attempt + 1, last)
                continue
            finally:
                headers.pop("IBSession", None)
            self._warm = True
            if resp.status_code < 300:
                return resp
            err = parse_error(resp.status_code, resp.content)
            err = OnecError(err.status, err.code, self.redact(err.message))
            if resp.status_code == 401:
                raise OnecCredentialsRefused(
                    f"1C refused the credentials of user {self.cfg.user!r}: {err.message}"
                )
            if not err.retryable:
                raise err
            last = err
            log.debug("1C answered %s (attempt %d): %s", resp.status_code, attempt + 1, err.message)
        assert last is not None
        raise last

    def odata_url(
        self,
        resource: str,
        params: Iterable[tuple[str, str]] = (),
        *,
        key: Mapping[str, Any] | None = None,
    ) -> str:
        """`<root>/<resource>(<key>)?<params>&$format=json`, every part encoded once."""
        query = build_query([*params, ("$format", "json")])
        segment = key_segment(key) if key is not None else ""
        return f"{self.odata_root}{quote_path(resource)}{segment}?{query}"

    def json(self, resp: httpx.Response) -> Any:
        # The declared charset can be wrong on IIS; the body is UTF-8 (docs/reference/onec-http.md §1.2).
        return json.loads(resp.content.decode("utf-8"))

    # --- OData ----------------------------------------------------------------------------
    def warm_up(self, entity_set: str) -> None:
        """One cheap serial request before fanning out, so a cold 1C gets its long timeout once."""
        with served(entity_set):
            self.request("GET", self.odata_url(entity_set, [("$top", "1")]))

    def post_entity(self, entity_set: str, record: Mapping[str, Any]) -> None:
        with served(entity_set):
            self.request("POST", self.odata_url(entity_set), body=dict(record))

    def patch_entity(self, entity_set: str, key: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        self.request("PATCH", self.odata_url(entity_set, key=key), body=dict(changes))

    def get_entity(self, entity_set: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            resp = self.request("GET", self.odata_url(entity_set, key=key))
        except OnecError as exc:
            if exc.status == 404:
                return None
            raise
        data = self.json(resp)
        return {k: v for k, v in data.items() if not k.startswith("odata.")}

    def count(self, entity_set: str, filter_: str | None = None) -> int:
        params = [("$filter", filter_)] if filter_ else []
        with served(entity_set, query=True):
            resp = self.request("GET", self.odata_url(entity_set + "/$count", params), accept="text/plain")
        return int(resp.content.decode("utf-8").strip())

    def iter_entities(
        self,
        entity_set: str,
        *,
        filter_: str | None = None,
        select: Iterable[str] = (),
        orderby: str | None = None,
        page: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every entity matching `filter_`, `page` at a time with `$top`/`$skip`.
        (`$inlinecount` is not used while paging: the vendor says it disables `$skip/$top`.)"""
        skip = 0
        while True:
            params: list[tuple[str, str]] = []
            if filter_:
                params.append(("$filter", filter_))
            sel = list(select)
            if sel:
                params.append(("$select", ",".join(sel)))
            if orderby:
                params.append(("$orderby", orderby))
            params += [("$top", str(page)), ("$skip", str(skip))]
            with served(entity_set, query=True):
                data = self.json(self.request("GET", self.odata_url(entity_set, params)))
            rows = data.get("value", [])
            yield from rows
            if len(rows) < page:
                return
            skip += page

    def metadata(self) -> bytes:
        """The CSDL document (XML only, 10–17 MB on real bases: callers cache it)."""
        url = f"{self.odata_root}$metadata"
        return self.request("GET", url, accept="application/xml").content

    # --- HTTP service ---------------------------------------------------------------------
    def post_service(self, path: str, payload: Any) -> Any:
        url = f"{self.cfg.url}/{quote_path(path)}"
        return self.json(self.request("POST", url, body=payload))


def _short_url(url: str) -> str:
    """The URL without its query, Cyrillic readable again (for messages, never for requests)."""
    return unquote(url.split("?", 1)[0])
