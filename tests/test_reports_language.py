"""Every report page speaks the report's language (ru and en), as headless Chromium shows it:
no raw column names or English words on the Russian pages, no Russian labels on the English
ones, no raw GUIDs, numbers and ids on one line, a weekly chart with a readable y-axis and a
legend in one case; and the stored reasons the pipeline writes all have a Russian text."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from etl.clock import now_us
from etl.ledger.sql import upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import call_links, calls, dead_letters, quarantine, recording_problems
from etl.reports.charts import MAX_TICKS, nice_ticks
from etl.reports.reasons import reason_text
from etl.sandbox.pbx import ANCHOR, generate_history, write_sqlite
from etl.sync import sync_source
from tests.browser import Browser
from tests.reports_support import (
    ZONE,
    add_directory,
    build_pbx,
    guid,
    make_settings,
    numbers_by_calls,
    render,
)

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
RAW_NAMES = ["row_key", "row_id", "dead_us", "seen_us", "first_seen", "exit_code", "_us", "linkedid"]
ENGLISH = [  # words of the English labels and of the pipeline's English reasons and details
    *("None", "Source", "Reason", "Detail", "Status", "Export", "Kind", "Subject", "Message"),
    *("Number", "Client", "Employee", "empty", "missing", "orphan", "unreadable", "matched"),
    *("mismatch", "inbound", "outbound", "answered", "missed", "bytes", "audio", "event"),
    *("client", "belongs", "dead", "letters", "Calls", "week", "sources", "read", "quarantined"),
]
RUSSIAN = ["Нет", "Выгрузка", "Источник", "Причина", "Подробности", "Статус", "пустой", "Сверка"]
GHOST = guid("a client the 1C cache does not hold")


# --- the y-axis ticks -----------------------------------------------------------------------
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_nice_ticks_cover_the_peak_evenly_with_round_steps(peak: float) -> None:
    ticks = nice_ticks(peak)
    assert 3 <= len(ticks) <= MAX_TICKS
    assert ticks[0] == 0 and ticks[-1] >= peak
    step = ticks[1]
    assert all(b - a == step for a, b in pairwise(ticks))
    mantissa = step // 10 ** (len(str(step)) - 1)
    assert mantissa in (1, 2, 5) and step == mantissa * 10 ** (len(str(step)) - 1)
    assert ticks[-2] < peak or len(ticks) == 3  # the last tick is the first to reach the peak


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (
            "recording lasts 5.00 s; no leg of call 1791209611.156 has a billsec within 3 s of it "
            "(nearest differs by 10.25 s)",
            "запись длится 5,00 с; ни у одного плеча звонка 1791209611.156 billsec не отличается от "
            "неё меньше чем на 3 с (ближайшее отличается на 10,25 с)",
        ),
        (
            "userfield: '..' in a name from the CDR: it could leave the recordings root; not followed",
            "userfield: «..» в имени из CDR: путь мог бы выйти за корень записей; не использовано",
        ),
        ("expected 18 fields, found 7", "ожидалось полей: 18, найдено: 7"),
        (
            "no CDR row names this file or carries its uniqueid",
            "ни одна строка CDR не называет этот файл и не содержит его uniqueid",
        ),
        ("[Errno 13] Permission denied", "[Errno 13] Permission denied"),  # the OS's words, as stored
    ],
)
def test_reasons_keep_their_values(stored: str, shown: str) -> None:
    assert reason_text(stored, "ru") == shown
    assert reason_text(stored, "en") == stored


# --- the site, in both languages ------------------------------------------------------------
@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Ledger, str]:
    tmp = tmp_path_factory.mktemp("lang")
    url = f"sqlite:///{tmp / 'l.sqlite'}"
    settings, ledger = build_pbx(tmp, url, calls_n=300, seed=9)
    # rows the normaliser refuses, written to the PBX and loaded the ordinary way
    bad = list(generate_history(3, 77, ANCHOR + timedelta(hours=1), ZONE, days=0.1))  # after the rest
    bad[0]["billsec"] = bad[0]["duration"] + 100
    bad[1]["uniqueid"] = ""
    bad[2]["duration"] = -5
    write_sqlite(tmp / "pbx" / "cdr.sqlite", bad)
    sync_source(settings.sources["default"], ledger)
    numbers = numbers_by_calls(ledger)
    owned = add_directory(ledger, numbers[:6], names=["Ромашка", "Лютик"])
    first = next(iter(owned))
    now = now_us()
    with ledger.engine.connect() as conn:
        linkedids = conn.execute(
            select(calls.c.linkedid).where(calls.c.external_number == owned[first][0]).limit(2)
        ).scalars()
        lk_mismatch, lk_ghost = list(linkedids)
    with ledger.begin() as conn:
        upsert(
            conn,
            call_links,
            [
                {
                    "source": "default",
                    "linkedid": lk,
                    "status": "mismatch",
                    "event_ref": guid(f"event {lk}"),
                    "client_ref": client,
                    "phone_client_ref": first,
                    "detail": f"event client {client}, number {owned[first][0]} belongs to {first}",
                    "updated_us": now,
                }
                for lk, client in ((lk_mismatch, list(owned)[1]), (lk_ghost, GHOST))
            ],
            update=("status", "client_ref", "detail"),
        )
        conn.execute(
            dead_letters.insert().values(
                source="default",
                row_id="1793434690.1655:1",
                record_hash="0" * 32,
                status=400,
                code="-1",
                message="Ошибка записи регистра",
                record="{}",
                dead_us=now,
            )
        )
    run = ledger.start_run("sync")
    summary = {
        "sources": {"default": {"read": 5, "quarantined": 3, "newest_us": now}},
        "duration_seconds": 1.5,
    }
    ledger.finish_run(run, "attention", 5, summary)
    out = {}
    for lang in ("ru", "en"):
        s = settings if lang == "ru" else make_settings(tmp, url, lang="en")
        out[lang] = Path(render(s, ledger, out_dir=tmp / f"out-{lang}").out_dir)
    return out, ledger, first


def pages(out: Path, client: str) -> list[Path]:
    return [
        out / "overview.html",
        out / "index.html",
        out / "reconciliation.html",
        out / "quality.html",
        out / "clients" / f"{client}.html",
    ]


def test_every_stored_reason_has_a_russian_text(sites: tuple[dict[str, Path], Ledger, str]) -> None:
    _, ledger, _ = sites
    with ledger.engine.connect() as conn:
        reasons = set(conn.execute(select(quarantine.c.reason)).scalars())
        kinds = set(conn.execute(select(recording_problems.c.kind)).scalars())
        reasons |= set(conn.execute(select(recording_problems.c.reason)).scalars())
    assert len(reasons) >= 4 and {"empty", "missing"} <= kinds  # the corpus covers both producers
    for r in reasons:
        ru = reason_text(r, "ru")
        assert ru != r and re.search("[а-я]", ru), r
        assert reason_text(r, "en") == r


@pytest.mark.chromium
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_pages_speak_one_language(
    browser: Browser, sites: tuple[dict[str, Path], Ledger, str], lang: str
) -> None:
    outs, _, client = sites
    found: dict[str, list[str]] = {}
    for p in pages(outs[lang], client):
        page = browser.open(p.as_uri())
        assert page.errors == [], (p.name, page.errors)
        # raw data shown as data (a quarantined row, a run's JSON summary) sits in <code>
        text = page.eval(
            "[...document.querySelectorAll('code')].forEach(c => c.remove()) || document.body.innerText"
        )
        words = ENGLISH if lang == "ru" else RUSSIAN
        found[p.name] = [n for n in RAW_NAMES if n in text]
        found[p.name] += [w for w in words if re.search(rf"(?<!\w){w}(?!\w)", text)]
        found[p.name] += GUID.findall(text)[:3]
    assert found == {p.name: [] for p in pages(outs[lang], client)}
    recon = browser.open((outs[lang] / "reconciliation.html").as_uri())
    shown = recon.eval(f"document.querySelector('[title=\"{GHOST}\"]').textContent")
    assert shown != GHOST and GHOST.startswith(shown.rstrip("…"))


LINES = """(sel) => [...document.querySelectorAll(sel)].map(td => {
  const r = document.createRange(); r.selectNodeContents(td);
  return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })"""


@pytest.mark.chromium
def test_numbers_and_ids_stay_on_one_line(
    browser: Browser, sites: tuple[dict[str, Path], Ledger, str]
) -> None:
    outs, _, client = sites
    checks = {
        outs["ru"] / "reconciliation.html": [
            "#reconciliation tbody td:nth-child(2)",
            "#reconciliation tbody td:nth-child(3)",
            "#reconciliation tbody td:nth-child(7)",
        ],
        outs["ru"] / "clients" / f"{client}.html": [
            "table.calls tbody td:nth-child(1)",
            "table.calls tbody td:nth-child(3)",
            "table.calls tbody td:nth-child(10)",
        ],
    }
    for path, selectors in checks.items():
        page = browser.open(path.as_uri())
        page.eval("document.querySelector('main').style.maxWidth = '760px'")  # a narrow window
        for sel in selectors:
            lines = page.eval(f"({LINES})({sel!r})")
            assert len(lines) >= 2, sel
            assert max(lines) == 1, (path.name, sel, lines)
        # the other cells still wrap: the page did not just get wider
        assert page.eval("document.documentElement.scrollWidth") <= 1280


@pytest.mark.chromium
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_weekly_chart_has_round_ticks_and_one_case_legend(
    browser: Browser, sites: tuple[dict[str, Path], Ledger, str], lang: str
) -> None:
    outs, _, client = sites
    page = browser.open((outs[lang] / "clients" / f"{client}.html").as_uri())
    chart = "document.querySelector('svg.chart:not(.heat)')"
    ticks = page.eval(
        f"[...{chart}.querySelectorAll('text[text-anchor=end]')].map(t => [t.textContent, t.getBBox().y])"
    )
    assert len(ticks) >= 3, ticks
    values = [int(re.sub(r"\D", "", v)) for v, _ in ticks]
    ys = [y for _, y in ticks]
    assert values[0] == 0 and len({b - a for a, b in pairwise(values)}) == 1
    assert max(abs((ys[i + 1] - ys[i]) - (ys[1] - ys[0])) for i in range(len(ys) - 1)) < 0.5
    legend = page.eval(f"[...{chart}.querySelectorAll('text:not([text-anchor])')].map(t => t.textContent)")
    assert len(legend) == 3
    letters = "[а-яё ]+" if lang == "ru" else "[a-z ]+"
    assert all(re.fullmatch(letters, label) for label in legend), legend
