"""The 1C HTTP client against the stand-in over real HTTP on loopback (docs/reference/onec-http.md §1–2)."""

from __future__ import annotations

import time
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.errors import OnecCredentialsRefused, OnecError, OnecMappingError, OnecUnreachable
from etl.onec.client import OnecClient, build_query, key_segment, or_chunks, parse_error
from etl.sandbox.standin import Faults, StandIn
from tests.onec_helpers import onec_settings

REG = "InformationRegister_ЗвонкиАТС"


def client_for(stand: StandIn, **over: object) -> OnecClient:
    cfg = onec_settings(stand.url, "sqlite://", **over).onec
    assert cfg is not None
    return OnecClient(cfg)


@given(st.lists(st.tuples(st.sampled_from(["$filter", "$select", "x"]), st.text(max_size=40)), max_size=4))
def test_query_never_has_plus_or_space_and_decodes_back(params: list[tuple[str, str]]) -> None:
    q = build_query(params)
    assert "+" not in q and " " not in q
    parts = [p.partition("=") for p in q.split("&")] if q else []
    assert [(unquote(k), unquote(v)) for k, _, v in parts] == params


@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=80), st.integers(200, 1500))
@settings(max_examples=60)
def test_or_chunks_stay_under_budget_and_keep_every_value(values: list[str], budget: int) -> None:
    chunks = list(or_chunks("ИдентификаторСтроки", values, budget))
    terms = [t for c in chunks for t in c.split(" or ")]
    assert len(terms) == len(values)
    for c in chunks:
        if " or " in c:  # a single term may exceed the budget on its own; a chain never does
            assert len(build_query([("$filter", c)])) - len("$filter=") <= budget + 20


def test_key_segment_quotes_and_encodes() -> None:
    seg = key_segment({"Источник": "a b'c/d", "N": 3})
    assert "+" not in seg and " " not in seg and "/" not in seg
    assert unquote(seg) == "(Источник='a b''c/d',N=3)"


def test_parse_error_json_xml_and_html() -> None:
    e = parse_error(
        400,
        '{"odata.error":{"code":"15","message":{"lang":"ru","value":"Запись существует"}}}'.encode(),
    )
    assert (e.status, e.code, e.message, e.key_exists) == (400, "15", "Запись существует", True)
    x = parse_error(400, "<m:error><m:code>14</m:code><m:message>Ошибка</m:message></m:error>".encode())
    assert (x.code, x.message) == ("14", "Ошибка")
    h = parse_error(404, b"<html><body>404 - File or directory not found.</body></html>")
    assert h.code is None and "File or directory not found" in h.message and not h.retryable


def test_plus_in_query_is_a_500_but_our_client_uses_percent20() -> None:
    with StandIn() as stand, client_for(stand) as client:
        stand.add_rows(REG, [{"Источник": "pbx", "ИдентификаторСтроки": "a b", "НомерВызывающего": "101"}])
        auth = httpx.BasicAuth("Администратор", "пароль-секрет")
        # httpx (like requests) encodes spaces in params= as '+': 1C answers 500 (§2.2).
        bad = httpx.get(
            f"{stand.url}/odata/standard.odata/{REG}",
            params={"$filter": "ИдентификаторСтроки eq 'a b'", "$format": "json"},
            auth=auth,
        )
        assert "+" in str(bad.request.url) and bad.status_code == 500
        rows = list(client.iter_entities(REG, filter_="ИдентификаторСтроки eq 'a b'"))
        assert [r["НомерВызывающего"] for r in rows] == ["101"]
        assert all("+" not in q for q in stand.stats.queries[1:])


def test_cyrillic_login_is_utf8_and_wrong_password_is_not_echoed() -> None:
    with StandIn(user="Оператор", password="тайна-123") as stand:
        with client_for(stand, user="Оператор", password="тайна-123") as ok:
            assert ok.count(REG) == 0
        with client_for(stand, user="Оператор", password="неверный-пароль") as bad:
            with pytest.raises(OnecCredentialsRefused) as err:
                bad.count(REG)
            assert "неверный-пароль" not in str(err.value)
            assert bad.requests == 1  # 401 is not retried


def test_xml_unless_json_is_asked_and_count_is_a_string() -> None:
    with StandIn() as stand:
        stand.add_rows(REG, [{"Источник": "p", "ИдентификаторСтроки": str(i)} for i in range(3)])
        auth = httpx.BasicAuth("Администратор", "пароль-секрет")
        xml = httpx.get(f"{stand.url}/odata/standard.odata/{REG}", auth=auth)
        assert xml.headers["content-type"].startswith("application/atom+xml") and b"<feed" in xml.content
        js = httpx.get(
            f"{stand.url}/odata/standard.odata/{REG}?$format=json&$inlinecount=allpages&$top=1",
            auth=auth,
        )
        doc = js.json()
        assert doc["odata.count"] == "3" and len(doc["value"]) == 1
        assert isinstance(doc["value"][0]["Последовательность"], str)  # Int64 as a string (§1.2)


def test_paging_visits_every_row_once() -> None:
    with StandIn() as stand, client_for(stand) as client:
        stand.add_rows(REG, [{"Источник": "p", "ИдентификаторСтроки": f"{i:04}"} for i in range(23)])
        ids = [
            r["ИдентификаторСтроки"] for r in client.iter_entities(REG, orderby="ИдентификаторСтроки", page=5)
        ]
        assert ids == [f"{i:04}" for i in range(23)]


def test_unknown_filter_field_is_code_14_not_retried() -> None:
    with StandIn() as stand, client_for(stand) as client:
        with pytest.raises(OnecMappingError) as err:  # a mapping problem, not 1C being down
            client.count(REG, "НетТакогоПоля eq 1")
        cause = err.value.__cause__
        assert isinstance(cause, OnecError) and (cause.status, cause.code) == (400, "14")
        assert client.requests == 1 and REG in str(err.value)


def test_5xx_and_dropped_connections_are_retried_then_give_up() -> None:
    with StandIn(faults=Faults(error_rate=1.0)) as stand, client_for(stand, retries=3) as client:
        with pytest.raises(OnecError) as err:
            client.count(REG)
        assert err.value.status >= 500 and client.requests == 4
    with StandIn(faults=Faults(drop_rate=1.0)) as stand, client_for(stand, retries=2) as client:
        with pytest.raises(OnecUnreachable):
            client.count(REG)
        assert client.requests == 3


def test_first_request_gets_the_long_timeout() -> None:
    with (
        StandIn(faults=Faults(first_stall=2.5)) as stand,
        client_for(stand, timeout=2.0, first_timeout=30.0, retries=0) as client,
    ):
        t = time.monotonic()
        assert client.count(REG) == 0  # would time out with the ordinary 2 s timeout
        assert time.monotonic() - t >= 2.5
        assert client.count(REG) == 0


def test_ibsession_cookie_is_kept() -> None:
    with StandIn() as stand, client_for(stand) as client:
        client.count(REG)
        assert "ibsession" in client._http.cookies
