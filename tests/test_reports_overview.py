"""The overview page's figures against a small history computed by hand.

The history is FreePBX CDR rows written into a source database and synced through the real
pipeline into the ledger (SQLite, MariaDB, PostgreSQL), in Europe/Berlin: calls across
midnight and on the day summer time ends (25 hours), a transferred call, a queue call whose
first member did not answer and the second did, a click-to-call, missed calls called back
within 10 minutes (one across midnight), after 2 hours, and never.

Period 2026-10-24 (Saturday) – 2026-10-26; the previous period 2026-10-21 – 23.

| call | local start | number | what | extension |
|---|---|---|---|---|
| L | 22.10 10:00 | …1111 | inbound answered, wait 10 | 101 (previous period) |
| A | 24.10 10:00 | …1111 | inbound answered, wait 5, talk 60, DID …000, 1C event | 101 |
| B | 24.10 11:00 | …2222 | queue 400: 102 no answer 15 s, 103 answers at 25 s | 103 |
| C | 24.10 12:00 | …3333 | inbound missed after 30 s | 101 |
| D | 24.10 12:10 | …3333 | outbound answered: C called back after 600 s | 101 |
| E | 24.10 14:00 | …4444 | answered by 102 after 8 s, transferred to 103 | 102 |
| F | 24.10 23:59:50 | …5555 | answered 00:00:05 (wait 15), counted on the 24th | 102 |
| G | 24.10 23:55 | …6666 | missed after 20 s | 102 |
| H | 25.10 00:05 | …6666 | outbound answered: G called back after 600 s, not the same day | 102 |
| I | 25.10 01:30 CEST | …1111 | inbound answered, wait 3 | 101 |
| J | 25.10 23:30 CET | …7777 | missed after 40 s, never called back | 103 |
| K | 26.10 09:00 | …8888 | click-to-call (Originate from 101): outbound | 101 |
| M | 26.10 10:00 | …2222 | missed after 12 s | 103 |
| N | 26.10 12:00 | …2222 | inbound answered by 103, wait 4: M called back after 7,200 s | 103 |
"""

from __future__ import annotations

import csv
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from etl.config import Settings, parse_settings
from etl.ledger.sql import upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import call_links, calls, employees
from etl.reports import overview as O
from etl.reports import overview_series as S
from etl.reports.overview_data import read_days
from etl.sandbox.pbx import write_sqlite
from etl.sync import sync_source
from tests.browser import Browser, variance
from tests.reports_support import render

ZONE = "Europe/Berlin"
TRUNK = "PJSIP/rt-trunk"
HOSTILE = '<img src=x onerror="alert(1)">Иван</td><script>alert(2)</script>'


class History:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.n = 0

    def leg(self, linkedid: str, at: datetime, **kw: Any) -> None:
        self.n += 1
        wait, talk = kw.pop("wait", 0), kw.pop("talk", 0)
        answered = kw.pop("answered", True)
        row: dict[str, Any] = {
            "calldate": at, "clid": "", "src": "", "dst": "", "dcontext": "from-did-direct",
            "channel": f"{TRUNK}-{self.n:08x}", "dstchannel": "", "lastapp": "Dial", "lastdata": "",
            "duration": wait + talk, "billsec": talk if answered else 0,
            "disposition": "ANSWERED" if answered else "NO ANSWER", "amaflags": 3, "accountcode": "",
            "uniqueid": f"{linkedid}.{self.n}", "userfield": "", "did": "", "recordingfile": "",
            "cnum": "", "cnam": "", "outbound_cnum": "", "outbound_cnam": "", "dst_cnam": "",
            "linkedid": linkedid, "peeraccount": "", "sequence": self.n,
        }  # fmt: skip
        row.update(kw)
        self.rows.append(row)

    def inbound(self, lk: str, at: datetime, number: str, ext: str, **kw: Any) -> None:
        kw.setdefault("did", "74951230000")
        kw.setdefault("dst", ext)
        self.leg(lk, at, src=number, cnum=number, clid=f'"{HOSTILE}" <{number}>', cnam=HOSTILE,
                 dstchannel=f"PJSIP/{ext}-{self.n:08x}", lastdata=f"PJSIP/{ext},20,tT", **kw)  # fmt: skip

    def outbound(self, lk: str, at: datetime, number: str, ext: str, **kw: Any) -> None:
        kw = {"src": ext, "cnum": ext, **kw}
        self.leg(lk, at, dst=number, dcontext="from-internal",
                 channel=f"PJSIP/{ext}-{self.n:08x}", dstchannel=f"{TRUNK}-{self.n + 1:08x}",
                 lastdata=f"{TRUNK}/{number}", **kw)  # fmt: skip


def n(tail: str) -> str:
    return "7916111" + tail


def history() -> list[dict[str, Any]]:
    h = History()
    d = datetime
    h.inbound("L", d(2026, 10, 22, 10, 0), n("1111"), "101", wait=10, talk=30)
    h.inbound("A", d(2026, 10, 24, 10, 0), n("1111"), "101", wait=5, talk=60, did="74951230000")
    # the queue: the first member's leg is not answered, the second's is
    for i, (ext, start, wait, talk, ok) in enumerate([("102", 0, 15, 0, False), ("103", 20, 5, 60, True)]):
        h.leg("B", d(2026, 10, 24, 11, 0) + timedelta(seconds=start), src=n("2222"), cnum=n("2222"),
              dst="400", dcontext="ext-queues", lastapp="Queue", lastdata="400,t,,,300",
              dstchannel=f"Local/{ext}@from-queue-{i:08x};1", wait=wait, talk=talk, answered=ok,
              did="74951230002")  # fmt: skip
    h.inbound("C", d(2026, 10, 24, 12, 0), n("3333"), "101", wait=30, answered=False)
    h.outbound("D", d(2026, 10, 24, 12, 10), n("3333"), "101", wait=6, talk=120)
    # the transfer: 102 answers, then 103 takes over (one linkedid, two legs)
    h.inbound("E", d(2026, 10, 24, 14, 0), n("4444"), "102", wait=8, talk=30)
    xfer = "from-internal-xfer"
    h.inbound("E", d(2026, 10, 24, 14, 0, 38), n("4444"), "103", wait=2, talk=40, dcontext=xfer)
    h.inbound("F", d(2026, 10, 24, 23, 59, 50), n("5555"), "102", wait=15, talk=100)
    h.inbound("G", d(2026, 10, 24, 23, 55), n("6666"), "102", wait=20, answered=False)
    h.outbound("H", d(2026, 10, 25, 0, 5), n("6666"), "102", wait=4, talk=50)
    h.inbound("I", d(2026, 10, 25, 1, 30), n("1111"), "101", wait=3, talk=20)
    h.inbound("J", d(2026, 10, 25, 23, 30), n("7777"), "103", wait=40, answered=False)
    # click-to-call: cdr1c's Originate rings the phone first and sets the CallerID to the number
    h.outbound("K", d(2026, 10, 26, 9, 0), n("8888"), "101", wait=7, talk=90, src=n("8888"), cnum=n("8888"))
    h.inbound("M", d(2026, 10, 26, 10, 0), n("2222"), "103", wait=12, answered=False)
    h.inbound("N", d(2026, 10, 26, 12, 0), n("2222"), "103", wait=4, talk=200)
    return h.rows


def settings_for(tmp: Path, ledger_url: str, lang: str = "ru") -> Settings:
    return parse_settings(
        {
            "source": {"url": f"sqlite:///{tmp / 'cdr.sqlite'}", "timezone": ZONE, "lookback": "6h"},
            "state": {"url": ledger_url},
            "reports": {"dir": str(tmp / f"reports-{lang}"), "timezone": ZONE, "lang": lang},
            "general": {"lock_dir": str(tmp)},
        },
        tmp / "cdr1c.toml",
    )


def make_ledger(tmp: Path, ledger_url: str) -> tuple[Settings, Ledger]:
    write_sqlite(tmp / "cdr.sqlite", history())
    settings = settings_for(tmp, ledger_url)
    ledger = Ledger.open(settings.state.url)
    sync_source(settings.sources["default"], ledger)
    now = time.time_ns() // 1000
    with ledger.begin() as conn:
        upsert(
            conn,
            employees,
            [
                {"ref_key": f"00000000-0000-4000-8000-00000000010{i}", "name": name, "extension": ext}
                for i, (ext, name) in enumerate([("101", HOSTILE), ("102", "Ольга"), ("103", "Сергей")])
            ],
            update=("name", "extension"),
        )
        upsert(
            conn,
            call_links,
            [dict(source="default", linkedid="A", event_ref="e-1", status="matched", updated_us=now)],
            update=("event_ref",),
        )
    return settings, ledger


PERIOD = S.Period(date(2026, 10, 24), date(2026, 10, 27))
EXPECTED = {
    "inbound": 10, "outbound": 3, "missed": 4, "answered_in": 6,
    "sl": 0.5,  # A 5, E 8, F 15, I 3, N 4 of 10 inbound (B waited 25 s)
    "wait_median": 5, "wait_p90": 25,  # 3 4 5 8 15 25: ranks 3 and 6
    "abandoned": 4, "aband_median": 20, "aband_p90": 40,  # 12 20 30 40: ranks 2 and 4
    "called_back": 3, "cb_share": 0.75, "cb_15min": 0.5, "cb_1h": 0.5, "cb_same_day": 0.5,
    "cb_median": 600, "open": 1,  # delays 600 600 7200; J never
    # 24th: 5 new, …1111 back; 25th: …7777 new, …6666 …1111 back; 26th: …8888 new, …2222 back
    "new": 7, "returning": 4,
}  # fmt: skip
EXT = {  # answered, outbound, missed, called back, talk, talked, with event, calls
    "101": [2, 2, 1, 1, 60 + 120 + 20 + 90, 4, 1, 5],
    "102": [2, 1, 1, 1, 70 + 100 + 50, 3, 0, 4],
    "103": [2, 0, 2, 1, 60 + 200, 2, 0, 4],
}


def test_the_calls_as_the_pipeline_stored_them(tmp_path: Path, ledger_url: str) -> None:
    """What the figures stand on: one call per linkedid, with these directions and owners."""
    _, ledger = make_ledger(tmp_path, ledger_url)
    with ledger.engine.connect() as conn:
        got = {
            r.linkedid: (r.direction, r.outcome, r.extension, r.wait)
            for r in conn.execute(
                select(calls.c.linkedid, calls.c.direction, calls.c.outcome, calls.c.extension, calls.c.wait)
            )
        }
    assert got["B"] == ("inbound", "answered", "103", 25)  # the queue: one call, answered
    assert got["E"][:3] == ("inbound", "answered", "102")  # the transfer: one call
    assert got["K"][:2] == ("outbound", "answered")  # click-to-call
    assert got["F"] == ("inbound", "answered", "102", 15)
    assert len(got) == 14


def test_each_figure_matches_the_hand_computed_history(tmp_path: Path, ledger_url: str) -> None:
    settings, ledger = make_ledger(tmp_path, ledger_url)
    summary = render(settings, ledger, since=date(2026, 10, 24), until=date(2026, 10, 26))
    assert summary.entry == "overview.html" and "overview.html" in summary.pages
    with ledger.engine.connect() as conn:
        days = read_days(conn, _target(settings, ledger))
    assert set(days) <= set(PERIOD.previous.days() + PERIOD.days())
    total = O.combine(S.select(days, PERIOD))
    assert O.figures(total, 20) == EXPECTED
    prev = O.figures(O.combine(S.select(days, PERIOD.previous)), 20)
    assert (prev["inbound"], prev["outbound"], prev["missed"], prev["new"]) == (1, 0, 0, 1)
    assert {k: v for k, v in total["ext"].items() if k} == EXT
    # per day, by the local date: F (23:59:50) on the 24th; J (23:30 CET, 22:30 UTC) on the 25th
    assert [(days[d]["in"], days[d]["out"], days[d]["missed"]) for d in PERIOD.days()] == [
        (6, 1, 2), (2, 1, 1), (2, 1, 1)
    ]  # fmt: skip
    grid = S.heat(days, PERIOD)
    saturday, sunday, monday = grid[5], grid[6], grid[0]
    assert saturday[23] == 2 and saturday[12] == 2 and sunday[:2] == [1, 1] and sunday[23] == 1
    assert monday[9] == monday[10] == monday[12] == 1 and sum(map(sum, grid)) == 13
    assert total["did"]["74951230000"] == [9, 5, 4, 5 + 8 + 15 + 3 + 4]  # all but the queue call
    assert total["queue"] == {"400": [1, 1, 0, 25]}
    # the CSV holds the page's figures
    out = Path(summary.out_dir)
    with (out / "data" / "overview-summary.csv").open(encoding="utf-8-sig") as f:
        table = {row[0]: row[1:3] for row in csv.reader(f)}
    assert table["Входящие"] == ["10", "1"] and table["Отвечено за 20 с"] == ["50.0", "100.0"]
    assert table["Перезвонили за 15 мин"] == ["50.0", ""] and table["Ещё не перезвонили"] == ["1", "0"]
    html = (out / "overview.html").read_text(encoding="utf-8")
    assert '<tr data-key="sl">' in html and "50,0\u00a0%" in html
    assert "<script>alert" not in html and "&lt;img src=x" in html  # the employee's name, escaped


def test_an_incremental_run_gives_the_full_runs_figures(tmp_path: Path, ledger_url: str) -> None:
    """New calls on one day: only the touched days are recomputed, to what a full run finds."""
    settings, ledger = make_ledger(tmp_path, ledger_url)
    render(settings, ledger)
    with ledger.engine.connect() as conn:
        row = dict(conn.execute(select(calls).where(calls.c.linkedid == "J")).mappings().one())
    # …7777 is called back 10 minutes after J: J's day changes; a new missed call on the 26th
    extra = [
        {**row, "linkedid": "J2", "start_us": row["start_us"] + 600_000_000, "direction": "outbound",
         "outcome": "answered", "talk": 30, "wait": 5, "updated_us": time.time_ns() // 1000 + 10**9},
        {**row, "linkedid": "Z", "start_us": row["start_us"] + 86_400_000_000,
         "external_number": "+79990000000", "updated_us": time.time_ns() // 1000 + 10**9},
    ]  # fmt: skip
    with ledger.begin() as conn:
        conn.execute(calls.insert(), extra)
    inc = render(settings, ledger)
    assert inc.mode == "incremental" and "overview.html" in inc.pages
    with ledger.engine.connect() as conn:
        after = read_days(conn, _target(settings, ledger))
    full = render(settings, ledger, full=True)
    assert full.mode == "full"
    with ledger.engine.connect() as conn:
        again = read_days(conn, _target(settings, ledger))
    assert after == again
    f = O.figures(O.combine(S.select(again, PERIOD)), 20)
    assert (f["open"], f["called_back"], f["cb_15min"], f["missed"]) == (1, 4, 3 / 5, 5)


@pytest.mark.parametrize(
    ("today", "since", "until", "period"),
    [
        (date(2026, 12, 6), None, None, (date(2026, 11, 9), date(2026, 12, 7))),
        (date(2026, 12, 6), date(2026, 10, 1), date(2026, 10, 31), (date(2026, 10, 1), date(2026, 11, 1))),
        (date(2026, 12, 6), None, date(2026, 10, 31), (date(2026, 10, 4), date(2026, 11, 1))),
    ],
)
def test_the_period_and_the_previous_one(
    today: date, since: date | None, until: date | None, period: tuple[date, date]
) -> None:
    p = S.Period.of(today, since, until)
    assert (p.start, p.end) == period and p.previous.end == p.start
    assert p.previous.length == p.length


def test_percentiles_by_nearest_rank() -> None:
    hist = {"3": 1, "4": 1, "5": 1, "8": 1, "15": 1, "25": 1}
    assert (O.percentile(hist, 0.5), O.percentile(hist, 0.9), O.percentile({}, 0.5)) == (5, 25, None)
    assert O.percentile({"7": 10}, 0.9) == 7


def _target(settings: Settings, ledger: Ledger) -> str:
    from etl.reports.context import Context, Options

    opts = Options.of(settings.report_settings(), settings.onec, settings.recordings, None, None, None)
    return Context(ledger, opts).target


# --- the page in headless Chromium ----------------------------------------------------------


@pytest.mark.chromium
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_page_in_chromium(browser: Browser, tmp_path: Path, lang: str) -> None:
    """From file://: no console errors, nothing of the hostile employee or caller names runs
    and the name shows literally, the employee table sorts, the charts have ticks, a legend
    and numbers on hover, the screenshot is not blank."""
    settings, ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'l.sqlite'}")
    settings = settings_for(tmp_path, settings.state.url, lang)
    summary = render(settings, ledger, since=date(2026, 10, 24), until=date(2026, 10, 26))
    page = browser.open((Path(summary.out_dir) / "overview.html").as_uri())
    assert page.errors == [] and page.dialogs == []
    assert page.eval("window.__alerts === 0 && document.querySelectorAll('img').length === 0")
    rows = "[...document.querySelectorAll('#managers tbody tr')]"
    names = page.eval(f"{rows}.map(r => r.cells[1].textContent)")
    assert HOSTILE in names
    missed = f"{rows}.map(r => Number(r.cells[4].dataset.v))"
    page.eval("document.querySelectorAll('#managers th')[4].click()")
    assert page.eval(missed) == sorted(page.eval(missed), reverse=True) and page.eval(missed)[0] == 2
    page.eval("document.querySelectorAll('#managers th')[4].click()")
    assert page.eval(missed) == sorted(page.eval(missed))
    charts = page.eval(
        "[...document.querySelectorAll('svg.chart.ov')].map(c => [c.querySelectorAll('text.ytick').length,"
        " c.querySelectorAll('text.legend').length, c.querySelector('rect.hover title').textContent])"
    )
    assert len(charts) == 3 and all(ticks >= 3 and legend >= 2 and tip for ticks, legend, tip in charts)
    # the 24th: 6 inbound of which 2 missed, 1 outbound; the 21st (the previous period's first day): none
    assert (
        charts[0][2]
        == {
            "ru": "24.10.2026: входящие отвеченные 4, исходящие 1, входящие пропущенные 2, всего 7, "
            "всего в тот же день предыдущего периода 0",
            "en": "2026-10-24: inbound answered 4, outbound 1, inbound missed 2, total 7, "
            "total on the same day of the previous period 0",
        }[lang]
    )
    value = page.eval("document.querySelector('tr[data-key=sl] td.value').textContent")
    assert value == ("50,0\u00a0%" if lang == "ru" else "50.0\u00a0%")
    assert page.eval("document.querySelector('#def-sl').textContent.includes('20')")
    assert variance(page.screenshot()) > 10


# --- the day aggregates against a plain-Python oracle ---------------------------------------
CALL = st.tuples(
    st.integers(0, 4 * 86_400),  # seconds after 2026-10-24 00:00 Berlin (the 25th has 25 hours)
    st.sampled_from(["inbound", "outbound"]),
    st.booleans(),  # answered
    st.sampled_from(["+7916000001", "+7916000002", "+7916000003"]),
    st.sampled_from(["101", "102", None]),
    st.integers(0, 90),  # wait
    st.integers(0, 300),  # talk
    st.sampled_from(["", "74951230000"]),
)


def oracle(rows: list[tuple[Any, ...]], firsts: dict[str, int], hours: float) -> dict[str, dict[str, Any]]:
    zone = ZoneInfo(ZONE)

    def day(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, zone).date().isoformat()

    out: dict[str, dict[str, Any]] = {}
    pairs: set[tuple[str, str]] = set()
    for t, direction, ok, number, ext, wait, talk, did in rows:
        d = out.setdefault(day(t), O.empty_day())
        local = datetime.fromtimestamp(t / 1e6, zone)
        d["hours"][local.hour] += 1
        inbound, missed = direction == "inbound", direction == "inbound" and not ok
        d["in"] += inbound
        d["out"] += direction == "outbound"
        d["missed"] += missed
        d["answered_in"] += inbound and ok
        if inbound and ok:
            d["wait"][str(wait)] = d["wait"].get(str(wait), 0) + 1
        if missed:
            d["aband"][str(wait)] = d["aband"].get(str(wait), 0) + 1
        e = d["ext"].setdefault(ext or "", [0] * 8)
        for k, v in enumerate(
            [inbound and ok, direction == "outbound", missed, 0, talk if ok else 0, ok, 0, 1]
        ):
            e[k] += int(v)
        if did:
            line = d["did"].setdefault(did, [0, 0, 0, 0])
            for k, v in enumerate([1, inbound and ok, missed, wait if inbound and ok else 0]):
                line[k] += int(v)
        pairs.add((day(t), number))
        if missed:
            later = [j for j, r in enumerate(rows) if r[3] == number and r[2] and r[0] > t]
            j = min(later, key=lambda j: (rows[j][0], j)) if later else None
            if j is not None and rows[j][0] - t <= hours * 3_600_000_000:
                gap = str((rows[j][0] - t) // 1_000_000)
                d["cb"][gap] = d["cb"].get(gap, 0) + 1
                d["cb_same"] += day(rows[j][0]) == day(t)
                e2 = d["ext"].setdefault(rows[j][4] or "", [0] * 8)
                e2[3] += 1
            else:
                d["open"] += 1
    for d_, number in pairs:
        out[d_]["new" if day(firsts[number]) == d_ else "ret"] += 1
    for d in out.values():
        d["ext"] = {k: v for k, v in d["ext"].items() if any(v)}
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(CALL, min_size=1, max_size=25, unique_by=lambda c: c[0]), st.sampled_from([1.0, 24.0]))
def test_day_aggregates_match_a_plain_python_oracle(calls_: list[tuple[Any, ...]], hours: float) -> None:
    base = int(datetime(2026, 10, 24, tzinfo=ZoneInfo(ZONE)).timestamp()) * 1_000_000
    rows = [(base + c[0] * 1_000_000, *c[1:]) for c in calls_]
    frame = pd.DataFrame(
        [("s", str(i), t, w, tk if ok else 0, d, n, x, "answered" if ok else "missed", False, did or None,
          None) for i, (t, d, ok, n, x, w, tk, did) in enumerate(rows)],
        columns=list(O.OV_COLUMNS),
    )  # fmt: skip
    firsts = {n: min(r[0] for r in rows if r[3] == n) for n in {r[3] for r in rows}}
    assert O.day_aggregates(frame, firsts, ZoneInfo(ZONE), hours) == oracle(rows, firsts, hours)
