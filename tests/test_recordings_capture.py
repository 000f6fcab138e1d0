"""The real Asterisk 22 capture: its 29 MixMonitor recordings linked to its 48 CDR rows."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import recording_links, recording_problems, recordings
from etl.recordings import link, recording_fields, scan, status_counts
from tests.conftest import CAPTURE, require_fixtures
from tests.recordings_support import capture_cdr, capture_recordings, put_rows, row_id, settings


@pytest.fixture
def capture_ledger(ledger_url: str):
    require_fixtures()
    ledger = Ledger.open(ledger_url)
    put_rows(ledger, capture_cdr(), source="pbx")
    yield ledger
    ledger.close()


def test_every_promised_recording_is_found_and_described(capture_ledger: Ledger) -> None:
    s = settings(CAPTURE / "monitor")
    tsv = capture_recordings()
    cdr = capture_cdr()

    scanned = scan(s, capture_ledger, progress=False)
    assert (scanned.found, scanned.new, scanned.dirs) == (29, 29, 4)  # ., 2026, 11, 25
    assert scanned.empty == sum(1 for r in tsv.values() if r["bytes"] <= 44) == 10
    assert scanned.unreadable == scanned.refused == scanned.odd_names == 0

    with capture_ledger.engine.connect() as conn:
        files = {r.name: r for r in conn.execute(select(recordings))}
    assert set(files) == set(tsv)
    for name, expected in tsv.items():
        got = files[name]
        assert got.relpath == "2026/11/25/" + name
        assert got.size == expected["bytes"]
        assert got.state == ("empty" if expected["bytes"] <= 44 else "ok"), name
        assert got.duration == pytest.approx(expected["seconds"], abs=0.011), name
        assert (got.sample_rate, got.channels) == (expected["rate"], expected["channels"])
        assert (got.format, got.codec) == ("wav", "pcm_s16le")
        assert got.uniqueid == name.rsplit("-", 1)[1].removesuffix(".wav")

    linked = link(s, capture_ledger)
    promised = [r for r in cdr if r["recordingfile"]]
    assert linked.rows == len(cdr) == 48
    assert linked.linked == len(promised) == 46
    assert linked.by_recordingfile == 46
    assert linked.missing == linked.orphan == linked.refused == 0

    with capture_ledger.engine.connect() as conn:
        by_row = defaultdict(set)
        q = select(recording_links.c.row_id, recordings.c.name).join(
            recordings, recordings.c.path_id == recording_links.c.path_id
        )
        for r in conn.execute(q):
            by_row[r.row_id].add(r.name)
        fields = recording_fields(conn, "pbx", [row_id(r) for r in cdr])
    for r in promised:
        assert by_row[row_id(r)] == {r["recordingfile"]}, row_id(r)
        f = fields[row_id(r)]
        assert f["recording_path"] == "2026/11/25/" + r["recordingfile"]
        assert f["recording_duration"] == pytest.approx(tsv[r["recordingfile"]]["seconds"], abs=0.011)
        if tsv[r["recordingfile"]]["bytes"] <= 44:
            assert f["recording_state"] == "empty"
        else:
            assert f["recording_state"] in ("ok", "duration_mismatch")
    for r in cdr:
        if not r["recordingfile"]:  # two IVR-only calls: nothing promised, nothing found
            assert fields[row_id(r)] == {
                "recording_path": "",
                "recording_duration": None,
                "recording_state": "none",
            }

    counts = status_counts(capture_ledger)
    assert counts["files"] == 29 and counts["linked"] == 29 and counts["empty"] == 10
    assert counts["missing"] == counts["orphan"] == counts["refused"] == counts["unreadable"] == 0


def test_duration_mismatch_is_judged_against_the_calls_billsec(capture_ledger: Ledger) -> None:
    """Expected mismatches computed independently from recordings.tsv and cdr.sql."""
    tolerance = 3.0
    s = settings(CAPTURE / "monitor", duration_tolerance=tolerance)
    tsv = capture_recordings()
    legs = defaultdict(list)
    for r in capture_cdr():
        legs[r["linkedid"]].append(r)
    expected = set()
    for r in capture_cdr():
        name = r["recordingfile"]
        if not name or tsv[name]["bytes"] <= 44:
            continue
        best = min(abs(leg["billsec"] - tsv[name]["seconds"]) for leg in legs[r["linkedid"]])
        if best > tolerance:
            expected.add(name)
    assert expected  # the capture has inbound calls whose legs count IVR time in billsec

    scan(s, capture_ledger, progress=False)
    summary = link(s, capture_ledger)
    with capture_ledger.engine.connect() as conn:
        got = {
            r.subject.rsplit("/", 1)[1]
            for r in conn.execute(
                select(recording_problems).where(recording_problems.c.kind == "duration_mismatch")
            )
        }
        reasons = conn.execute(
            select(recording_problems.c.reason).where(recording_problems.c.kind == "duration_mismatch")
        ).scalars()
        assert all("billsec" in reason for reason in reasons)
    assert got == expected
    assert summary.duration_mismatch == len(expected)

    # A generous tolerance clears them all; the check is re-run, not accumulated.
    wide = settings(CAPTURE / "monitor", duration_tolerance=60.0)
    assert link(wide, capture_ledger).duration_mismatch == 0
    assert status_counts(capture_ledger)["duration_mismatch"] == 0


def test_rescan_and_relink_change_nothing(capture_ledger: Ledger) -> None:
    s = settings(CAPTURE / "monitor")
    scan(s, capture_ledger, progress=False)
    first = link(s, capture_ledger)
    again = scan(s, capture_ledger, progress=False)
    assert (again.found, again.unchanged, again.new, again.changed, again.removed) == (
        29,
        29,
        0,
        0,
        0,
    )
    again_linked = link(s, capture_ledger)  # nothing new: no row read, the same totals
    assert (again_linked.full, again_linked.rows, again_linked.relinked_calls) == (False, 0, 0)
    totals = ("calls", "missing", "orphan", "duration_mismatch", "refused")
    assert [getattr(again_linked, k) for k in totals] == [getattr(first, k) for k in totals]
    assert link(s, capture_ledger, full=True) == first
    with capture_ledger.engine.connect() as conn:
        assert len(conn.execute(select(recording_links)).all()) == 46
