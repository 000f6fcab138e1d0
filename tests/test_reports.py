"""Reports: links, formats, the missed-and-not-called-back rule, incremental rendering,
exports, and `[source]`-only installations. Browser checks are in test_reports_browser.py."""

from __future__ import annotations

import csv
import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
from sqlalchemy import select

from etl.clock import now_us
from etl.ledger.sql import bulk_write
from etl.ledger.tables import calls, report_rows
from etl.reports.figures import assign_parties, missed_not_called_back
from etl.reports.i18n import Locale
from etl.reports.links import RecordingLinker, e1cib_ref, event_href, guid_of_ref, safe_base, safe_relpath
from tests.reports_support import add_directory, build_pbx, guid, link_event, numbers_by_calls, render

H = 3_600_000_000


# --- links ---------------------------------------------------------------------------------
def test_e1cib_ref_follows_the_documented_example() -> None:
    assert e1cib_ref("51012ccc-397d-11de-b595-00055d80a2b9") == "b59500055d80a2b911de397d51012ccc"
    assert guid_of_ref("b59500055d80a2b911de397d51012ccc") == "51012ccc-397d-11de-b595-00055d80a2b9"
    assert event_href("51012ccc-397d-11de-b595-00055d80a2b9", "Document_Событие") == (
        "e1cib/data/Документ.Событие?ref=b59500055d80a2b911de397d51012ccc"
    )
    assert event_href("javascript:alert(1)", "Document_Событие") is None
    assert event_href("51012ccc-397d-11de-b595-00055d80a2b9", 'x"><script>').startswith(
        "e1cib/data/Документ.Событие?"
    )


def test_only_http_bases_and_contained_paths_become_links(tmp_path: Path) -> None:
    assert safe_base("javascript:alert(1)//") == ""
    assert safe_base("data:text/html,x") == ""
    assert safe_base("https://1c.example/base/#") == "https://1c.example/base/#"
    for bad in ("../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "a\\..\\b", ""):
        assert safe_relpath(bad) is None, bad
    assert safe_relpath("2026/11/01/a b#?.wav") == "2026/11/01/a%20b%23%3F.wav"
    pages = tmp_path / "out" / "clients"
    root = tmp_path / "rec"
    assert RecordingLinker(root, "", pages, tmp_path / "out").href("x.wav") == "../../rec/x.wav"
    assert RecordingLinker(root, "../pbx/", pages, tmp_path / "out").href("x.wav") == "../../pbx/x.wav"
    assert (
        RecordingLinker(root, "https://h/rec", pages, tmp_path / "out").href("x.wav") == "https://h/rec/x.wav"
    )
    assert (
        RecordingLinker(root, "javascript:alert(1)", pages, tmp_path / "out").href("x.wav")
        == "../../rec/x.wav"
    )


def test_locale_formats() -> None:
    ru, en = Locale("ru"), Locale("en")
    assert ru.integer(1234567) == "1\u00a0234\u00a0567" and en.integer(1234567) == "1,234,567"
    assert ru.decimal(1234.5) == "1\u00a0234,5" and en.decimal(1234.5) == "1,234.5"
    assert (
        ru.when("2026-11-05T14:03") == "05.11.2026 14:03"
        and en.when("2026-11-05T14:03") == "2026-11-05 14:03"
    )
    assert ru.duration(3725) == "1:02:05" and ru.duration(65) == "1:05"


# --- missed and not called back ------------------------------------------------------------
def _frame(rows: list[tuple[str, str, int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "source": "s",
                "linkedid": lk,
                "start_us": t,
                "external_number": n,
                "direction": d,
                "outcome": o,
                "wait": 0,
                "talk": 0,
                "extension": None,
            }
            for lk, n, t, d, o in rows
        ]
    )


def test_callback_rule_on_explicit_cases() -> None:
    t = 1_800_000_000_000_000
    frame = _frame(
        [
            ("a1", "+1", t, "inbound", "missed"),
            ("a2", "+1", t + 2 * H, "inbound", "answered"),  # called back
            ("b1", "+2", t, "inbound", "missed"),
            ("b2", "+2", t + 30 * H, "outbound", "answered"),  # too late
            ("c1", "+3", t, "inbound", "missed"),
            ("c2", "+3", t + H, "inbound", "missed"),  # never
            ("d1", "+4", t, "inbound", "missed"),
            ("d2", "+4", t + 23 * H, "outbound", "answered"),  # ok
            ("e0", "+5", t - H, "outbound", "answered"),
            ("e1", "+5", t, "inbound", "missed"),  # before
            ("f1", "+6", t, "outbound", "missed"),  # not inbound: not a missed call to return
            ("g1", "+7", t, "inbound", "missed"),
            ("g2", "+8", t + H, "inbound", "answered"),  # other number
        ]
    )
    got = set(missed_not_called_back(frame, 24)["linkedid"])
    assert got == {"b1", "c1", "c2", "e1", "g1"}
    assert set(missed_not_called_back(frame, 48)["linkedid"]) == {"c1", "c2", "e1", "g1"}


def _oracle(frame: pd.DataFrame, hours: float) -> set[str]:
    """The rule written the slow, obvious way."""
    out = set()
    rows = frame.to_dict("records")
    for m in rows:
        if m["direction"] != "inbound" or m["outcome"] != "missed":
            continue
        if not any(
            r["external_number"] == m["external_number"]
            and r["outcome"] == "answered"
            and m["start_us"] < r["start_us"] <= m["start_us"] + hours * H
            for r in rows
        ):
            out.add(m["linkedid"])
    return out


def test_callback_list_on_a_generated_history(tmp_path: Path) -> None:
    settings, ledger = build_pbx(tmp_path, f"sqlite:///{tmp_path / 'l.sqlite'}", calls_n=400, seed=11)
    numbers = numbers_by_calls(ledger)
    owned = add_directory(ledger, numbers[:6])
    with ledger.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(select(calls)).mappings().all())
    frame = frame[frame["external_number"].notna()]
    # a case the generator may not make: a number missed, then called back after 30 h
    last = int(frame["start_us"].max())
    extra = [
        ("x-missed", "+79990000001", last + H, "inbound", "missed", 12, 0),
        ("x-late", "+79990000001", last + 31 * H, "outbound", "answered", 3, 40),
        ("y-missed", "+79990000002", last + H, "inbound", "missed", 5, 0),
        ("y-back", "+79990000002", last + 3 * H, "outbound", "answered", 2, 30),
    ]
    with ledger.begin() as conn:
        bulk_write(
            conn,
            calls,
            [c.name for c in calls.columns],
            [
                ("default", lk, t, None, t + 1, w, tk, d, n, "101", o, "", 1, 1, now_us())
                for lk, n, t, d, o, w, tk in extra
            ],
        )
    with ledger.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(select(calls)).mappings().all())
    expected = _oracle(frame[frame["external_number"].notna()], 24)
    assert "x-missed" in expected and "y-missed" not in expected
    assert len(expected) >= 5  # the generated history has missed calls nobody returned
    summary = render(settings, ledger)
    out = Path(summary.out_dir)
    with (out / "data" / "callbacks.csv").open(encoding="utf-8-sig") as f:
        listed = {lk for r in csv.DictReader(f) for lk in r["linkedid"].split()}
    assert listed == expected
    assert summary.callbacks == len(expected)
    # per manager: the first client (two numbers) has manager None (i % 4 == 0) → "Без ответственного"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Пропущенные без перезвона" in index and "Без ответственного" in index
    with ledger.engine.connect() as conn:
        stored = {r.party_id: r for r in conn.execute(select(report_rows))}
    for ref, nums in owned.items():
        assert stored[ref].phones.split() == sorted(nums)
        assert {c[1] for c in json.loads(stored[ref].cb_keys or "[]")} <= set(nums)
    ledger.close()


def test_assignment_prefers_the_event_client_then_owners_then_the_number() -> None:
    frame = _frame(
        [
            ("a", "+1", 1, "inbound", "answered"),
            ("b", "+2", 2, "inbound", "answered"),
            ("c", "+3", 3, "inbound", "answered"),
        ]
    )
    frame["client_ref"] = ["EV", None, None]
    owners = pd.DataFrame([("+1", "C1"), ("+2", "C1"), ("+2", "C2")], columns=["phone", "client_ref"])
    got = sorted(zip(*[assign_parties(frame, owners)[c] for c in ("linkedid", "party_id")], strict=True))
    assert got == [("a", "EV"), ("b", "C1"), ("b", "C2"), ("c", "n3")]


# --- pages, exports, incremental ------------------------------------------------------------
def test_pages_exports_and_incremental(tmp_path: Path, ledger_url: str) -> None:
    settings, ledger = build_pbx(tmp_path, ledger_url, calls_n=200, seed=7, onec=True)
    numbers = numbers_by_calls(ledger)
    owned = add_directory(ledger, numbers[:5], names=["Ромашка", "Лютик"])
    first = next(iter(owned))
    with ledger.engine.connect() as conn:
        lk = (
            conn.execute(select(calls.c.linkedid).where(calls.c.external_number == owned[first][0]))
            .scalars()
            .first()
        )
    ev = guid("event-1")
    link_event(ledger, "default", lk, first, ev, number="00000042")
    s1 = render(settings, ledger)
    out = Path(s1.out_dir)
    assert s1.mode == "full"
    assert {"index.html", "reconciliation.html", "quality.html"} <= set(s1.pages)
    page = out / "clients" / f"{first}.html"
    html = page.read_text(encoding="utf-8")
    assert "Ромашка" in html and owned[first][0] in html and owned[first][1] in html
    assert f"e1cib/data/Документ.Событие?ref={e1cib_ref(ev)}" in html and "00000042" in html
    assert "<audio controls" in html and "<svg" in html
    for stem in ("clients", "callbacks", "unknown-numbers"):
        assert (out / "data" / f"{stem}.csv").exists()
        wb = openpyxl.load_workbook(out / "data" / f"{stem}.xlsx", read_only=True)
        assert next(wb.active.iter_rows(values_only=True))[0]  # a header row
    xl = openpyxl.load_workbook(out / "data" / f"client-{first}.xlsx", read_only=True)
    assert sum(1 for _ in xl.active.iter_rows()) == html.count("<tr class=") + 1
    unknown_pages = [p for p in (out / "clients").glob("n*.html")]
    assert unknown_pages and all(p.stem[1:].isdigit() for p in unknown_pages)

    # nothing changed: nothing rendered
    s2 = render(settings, ledger)
    assert s2.mode == "incremental" and s2.pages_rendered == 0
    other = out / "clients" / f"{list(owned)[2]}.html"
    stale = 1_000_000_000 * 10**9  # 2001: any rewrite moves it, however coarse the file system's clock
    for p in (page, other):
        os.utime(p, ns=(stale, stale))

    # a new call on the first client's number: that page and the index, nothing else
    with ledger.engine.connect() as conn:
        row = dict(conn.execute(select(calls).where(calls.c.linkedid == lk)).mappings().one())
    row.update(
        linkedid="new-call-1",
        start_us=row["start_us"] + 60_000_000,
        updated_us=now_us() + 10**9,
    )
    with ledger.begin() as conn:
        conn.execute(calls.insert(), [row])
    s3 = render(settings, ledger)
    assert s3.mode == "incremental"
    assert set(s3.pages) == {f"clients/{first}.html", "index.html", "overview.html"}
    assert page.stat().st_mtime_ns != stale and other.stat().st_mtime_ns == stale
    assert "new-call-1" in page.read_text(encoding="utf-8")

    # a renamed client in 1C: its page only (and the index)
    from etl.ledger.tables import clients

    with ledger.begin() as conn:
        conn.execute(clients.update().where(clients.c.ref_key == list(owned)[2]).values(name="Новое имя"))
    s4 = render(settings, ledger)
    assert set(s4.pages) == {f"clients/{list(owned)[2]}.html", "index.html"}
    assert "Новое имя" in other.read_text(encoding="utf-8")

    # after these incremental runs every file equals what a fresh full run writes
    fresh = Path(render(settings, ledger, out_dir=tmp_path / "fresh").out_dir)
    files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for rel in files:
        if rel.suffix == ".xlsx":  # zip entries carry a write time: compare the parts
            with zipfile.ZipFile(fresh / rel) as a, zipfile.ZipFile(out / rel) as b:
                assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}, rel
        else:
            assert (fresh / rel).read_bytes() == (out / rel).read_bytes(), rel

    # --client renders one page; English re-renders everything in English
    s5 = render(settings, ledger, client=owned[first][0], out_dir=tmp_path / "one")
    assert s5.mode == "client" and s5.pages == [f"clients/{first}.html"]
    ledger.close()


def test_source_only_groups_calls_by_number(tmp_path: Path) -> None:
    settings, ledger = build_pbx(
        tmp_path, f"sqlite:///{tmp_path / 'l.sqlite'}", calls_n=120, seed=3, lang="en"
    )
    s = render(settings, ledger)
    out = Path(s.out_dir)
    numbers = numbers_by_calls(ledger)
    files = {p.stem for p in (out / "clients").glob("*.html")}
    assert files == {"n" + n[1:] for n in numbers}
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Missed and not called back" in html and "Unknown numbers" not in html
    with (out / "data" / "clients.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(numbers)
    assert sum(int(r["Inbound"]) + int(r["Outbound"]) for r in rows) <= s.calls
    ledger.close()


def test_exports_neutralise_formulas(tmp_path: Path) -> None:
    from etl.reports.exports import write_table

    write_table(tmp_path, "t", ["a"], [('=HYPERLINK("http://x")',), ("+79161234567",), ("@SUM(A1)",)])
    with (tmp_path / "t.csv").open(encoding="utf-8-sig") as f:
        values = [r[0] for r in csv.reader(f)][1:]
    assert values == ['\'=HYPERLINK("http://x")', "+79161234567", "'@SUM(A1)"]
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert ws["A2"].value.startswith("'=") and ws["A2"].data_type == "s"


def test_xlsx_round_trip(tmp_path: Path) -> None:
    """The hand-written XLSX: openpyxl reads back every value, in its column, hostile text included."""
    import numpy as np

    from etl.reports.exports import write_xlsx

    hostile = "<script>alert(1)</script> & \"q\" 'a' \u202e\x00\x07 \ud800 \ufffe" + "я" * 10_000
    rows = [
        ("a", 1, 2.5, None, "x"),
        (hostile, np.int64(7), np.float64(1.25), float("nan"), "=1+1"),
        ("", -3, 0.1, True, "+79161234567"),
    ]
    write_xlsx(tmp_path / "h.xlsx", ["h1", "h2", "h3", "h4", "h5"], rows, sheet='d<"&>')
    wb = openpyxl.load_workbook(tmp_path / "h.xlsx")
    ws = wb.active
    got = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert got[0] == ("h1", "h2", "h3", "h4", "h5")
    assert got[1] == ("a", 1, 2.5, None, "x")
    text = got[2][0]
    assert text.startswith("<script>alert(1)</script> & \"q\" 'a' \u202e\ufffd\ufffd \ufffd \ufffd")
    assert text.endswith("я" * 10_000)
    assert got[2][1:] == (7, 1.25, None, "'=1+1")
    assert got[3][0] in ("", None) and got[3][1:] == (-3, 0.1, True, "+79161234567")
    assert ws.title == 'd<"&>'
