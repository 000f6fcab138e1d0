"""A hostile recordings tree: each trap reported with its reason, none followed, none fatal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import recording_problems, recordings
from etl.recordings import link, recording_fields, scan, status_counts
from etl.recordings import media as media_module
from etl.recordings.names import stored_path_bytes
from tests.recordings_support import encode, put_rows, settings, tone_wav

ODD = b"in-101-\xff\xfe-20261125-120000-1795610000.5.wav"  # cp1251 / binary junk in a name


def build_tree(tmp_path: Path) -> Path:
    root = tmp_path / "monitor"
    day = root / "2026" / "11" / "25"
    day.mkdir(parents=True)
    good = tone_wav(day / "in-101-79161234567-20261125-120000-1795610000.1.wav", seconds=1.0)
    (root / "etc-link").symlink_to("/etc")  # a folder symlink leading out
    (day / "passwd.wav").symlink_to("/etc/passwd")  # a file symlink leading out
    (day / "alias.wav").symlink_to(good)  # inside the root: skipped, indexed where it lies
    mp3 = encode(good, tmp_path / "full.mp3", "mp3")
    data = mp3.read_bytes()
    (day / "out-84951112233-102-20261125-120100-1795610060.2.mp3").write_bytes(data[: len(data) // 2])
    (day / "in-102-79031112233-20261125-120200-1795610120.3.wav").write_bytes(b"")  # zero bytes
    (day / "in-103-79031112233-20261125-120300-1795610180.4.wav").write_bytes(b"RIFF garbage, not audio" * 4)
    with open(os.path.join(os.fsencode(day), ODD), "wb") as f:
        f.write(good.read_bytes())
    os.mkfifo(day / "pipe-20261125-120400-1795610240.6.wav")  # opening it would block forever
    return root


PBX_DAY = "/var/spool/asterisk/monitor/2026/11/25/"
CDR = [
    # the good file, by recordingfile
    {
        "uniqueid": "1795610000.1",
        "sequence": 1,
        "linkedid": "1795610000.0",
        "billsec": 1,
        "calldate": "2026-11-25 12:00:00",
        "recordingfile": "in-101-79161234567-20261125-120000-1795610000.1.wav",
    },
    # a '../' name in userfield
    {
        "uniqueid": "1795610300.7",
        "sequence": 2,
        "linkedid": "1795610300.7",
        "billsec": 5,
        "calldate": "2026-11-25 12:05:00",
        "userfield": "../../../etc/passwd",
    },
    # an absolute path elsewhere
    {
        "uniqueid": "1795610360.8",
        "sequence": 3,
        "linkedid": "1795610360.8",
        "billsec": 5,
        "calldate": "2026-11-25 12:06:00",
        "userfield": "/etc/shadow",
    },
    # the PBX's own absolute path: mapped onto the root
    {
        "uniqueid": "1795610060.2",
        "sequence": 4,
        "linkedid": "1795610060.1",
        "billsec": 2,
        "calldate": "2026-11-25 12:01:00",
        "userfield": PBX_DAY + "out-84951112233-102-20261125-120100-1795610060.2.mp3",
    },
    # promised, absent
    {
        "uniqueid": "1795610420.9",
        "sequence": 5,
        "linkedid": "1795610420.9",
        "billsec": 9,
        "calldate": "2026-11-25 12:07:00",
        "recordingfile": "in-101-79160000000-20261125-120700-1795610420.9.wav",
    },
    # the symlink, named by the CDR
    {
        "uniqueid": "1795610480.10",
        "sequence": 6,
        "linkedid": "1795610480.10",
        "billsec": 9,
        "calldate": "2026-11-25 12:08:00",
        "recordingfile": "passwd.wav",
    },
]


@pytest.fixture
def hostile(tmp_path: Path, ledger_url: str):
    root = build_tree(tmp_path)
    ledger = Ledger.open(ledger_url)
    put_rows(ledger, CDR)
    yield root, ledger
    ledger.close()


def problems(ledger: Ledger) -> dict[tuple[str, str], str]:
    with ledger.engine.connect() as conn:
        return {(r.kind, r.subject): r.reason for r in conn.execute(select(recording_problems))}


@pytest.mark.timeout(60)  # a FIFO that was opened would hang here
def test_hostile_tree_is_reported_not_followed(hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    root, ledger = hostile
    opened: list[bytes] = []
    real_open = media_module.open_regular

    def spy(path: bytes):
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(media_module, "open_regular", spy)
    s = settings(root)
    summary = scan(s, ledger, progress=False)

    # Nothing outside the root was opened, and neither the FIFO nor a symlink.
    real_root = os.fsencode(os.path.realpath(root))
    assert opened and all(os.path.realpath(p).startswith(real_root) for p in opened)
    assert not any(os.path.islink(p) or p.endswith(b".6.wav") for p in opened)

    with ledger.engine.connect() as conn:
        indexed = {r.relpath: r for r in conn.execute(select(recordings))}
    assert not any("etc" in p or "passwd" in p or "alias" in p for p in indexed)
    assert summary.refused == 3  # two symlinks out, one FIFO
    assert summary.empty == 1 and summary.unreadable == 2 and summary.odd_names == 1
    assert summary.skipped == 1  # the symlink inside the root

    found = problems(ledger)
    day = "2026/11/25/"
    assert "leads outside the recordings root" in found[("refused", "etc-link")]
    assert "/etc/passwd" in found[("refused", day + "passwd.wav")]
    assert "not a regular file" in found[("refused", day + "pipe-20261125-120400-1795610240.6.wav")]
    assert (
        found[("empty", day + "in-102-79031112233-20261125-120200-1795610120.3.wav")] == "0 bytes: no audio"
    )
    assert "truncated" in found[("unreadable", day + "out-84951112233-102-20261125-120100-1795610060.2.mp3")]
    garbage = found[("unreadable", day + "in-103-79031112233-20261125-120300-1795610180.4.wav")]
    assert garbage  # mutagen's own message is kept

    # The odd name is stored, shown with \x escapes, and its bytes round-trip exactly.
    shown = day + "in-101-\\xff\\xfe-20261125-120000-1795610000.5.wav"
    odd = indexed[shown]
    raw = stored_path_bytes(odd.relpath, odd.relpath_b64)
    assert raw == b"2026/11/25/" + ODD
    assert os.path.isfile(os.path.join(os.fsencode(root), raw))
    assert odd.state == "ok" and odd.duration == pytest.approx(1.0)
    assert "not valid UTF-8" in found[("odd_name", shown)]

    linked = link(s, ledger)
    found = problems(ledger)
    assert "'..'" in found[("refused", "../../../etc/passwd")]
    assert "outside the recordings root" in found[("refused", "/etc/shadow")]
    assert ("missing", "in-101-79160000000-20261125-120700-1795610420.9.wav") in found
    assert ("missing", "passwd.wav") in found  # the symlink is not a recording
    assert linked.refused == 2 and linked.missing == 2
    with ledger.engine.connect() as conn:
        fields = recording_fields(conn, "pbx", [f"{r['uniqueid']}#{r['sequence']}" for r in CDR])
    assert fields["1795610000.1#1"]["recording_state"] == "ok"
    assert fields["1795610300.7#2"]["recording_state"] == "refused"
    assert fields["1795610360.8#3"]["recording_state"] == "refused"
    assert fields["1795610060.2#4"]["recording_path"].endswith("1795610060.2.mp3")
    assert fields["1795610060.2#4"]["recording_state"] == "unreadable"
    assert fields["1795610420.9#5"]["recording_state"] == "missing"
    assert fields["1795610480.10#6"]["recording_state"] == "missing"
    counts = status_counts(ledger)
    assert counts["refused"] == 5 and counts["missing"] == 2 and counts["odd_name"] == 1
    # Files no row claims: the odd name, the zero-byte and the garbage WAV.
    assert counts["orphan"] == 3

    # Re-running changes nothing and reads nothing again.
    opened.clear()
    again = scan(s, ledger, progress=False)
    assert opened == [] and again.unchanged == again.found == 5 and again.refused == 3
    assert problems(ledger) == found


def test_problems_clear_when_the_tree_is_repaired(hostile) -> None:
    root, ledger = hostile
    s = settings(root)
    scan(s, ledger, progress=False)
    day = root / "2026" / "11" / "25"
    (root / "etc-link").unlink()
    (day / "pipe-20261125-120400-1795610240.6.wav").unlink()
    zero = day / "in-102-79031112233-20261125-120200-1795610120.3.wav"
    tone_wav(zero, seconds=0.5)
    summary = scan(s, ledger, progress=False)
    assert summary.changed == 1 and summary.refused == 1
    kinds = {(k, subj) for k, subj in problems(ledger)}
    assert ("refused", "etc-link") not in kinds
    assert ("empty", "2026/11/25/" + zero.name) not in kinds
    assert status_counts(ledger)["empty"] == 0
