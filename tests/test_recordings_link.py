"""Linking order: recordingfile, userfield (name or path), uniqueid in the name, name_pattern;
every leg of a call reaches the call's recording; settings of [recordings]."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from etl.config import parse_settings
from etl.errors import ConfigError
from etl.ledger.store import Ledger
from etl.ledger.tables import recording_links
from etl.recordings import call_recordings, link, recording_fields, recording_url, scan
from tests.recordings_support import put_rows, settings, tone_wav

NAMES = {
    "a": "2026/11/25/out-84951112233-102-20261125-101500-c1c-0001;2.wav",  # ChannelId with - and ;
    "b": "2026/11/25/in-101-79161234567-20261125-101600-1795600060.5.wav",
    "b_dup": "2026/11/24/in-101-79161234567-20261125-101600-1795600060.5.wav",  # wrong day folder
    "c": "custom/2026-11-25/call_1795600120.9_agent101.wav",  # a custom layout
    "d": "flat/anything-1795600180.3.wav",  # only the uniqueid ties it to a row
    "e": "flat/by-userfield.wav",
}


@pytest.fixture
def tree(tmp_path: Path, ledger_url: str):
    root = tmp_path / "monitor"
    src = tone_wav(tmp_path / "src.wav", seconds=2.0)
    for rel in NAMES.values():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(src.read_bytes())
    ledger = Ledger.open(ledger_url)
    put_rows(
        ledger,
        [
            {
                "uniqueid": "c1c-0001;2",
                "sequence": 1,
                "linkedid": "c1c-0001;1",
                "billsec": 2,
                "calldate": "2026-11-25 10:15:00",
                "recordingfile": "out-84951112233-102-20261125-101500-c1c-0001;2.wav",
            },
            {
                "uniqueid": "c1c-0001;1",
                "sequence": 2,
                "linkedid": "c1c-0001;1",
                "billsec": 2,
                "calldate": "2026-11-25 10:15:00",
            },  # the other leg: reaches it through the call
            {
                "uniqueid": "1795600060.5",
                "sequence": 3,
                "linkedid": "1795600060.4",
                "billsec": 2,
                "calldate": "2026-11-25 10:16:00",
                "recordingfile": "in-101-79161234567-20261125-101600-1795600060.5.wav",
            },
            {
                "uniqueid": "1795600120.9",
                "sequence": 4,
                "linkedid": "1795600120.9",
                "billsec": 2,
                "calldate": "2026-11-25 10:17:00",
            },
            {
                "uniqueid": "1795600180.3",
                "sequence": 5,
                "linkedid": "1795600180.3",
                "billsec": 2,
                "calldate": "2026-11-25 10:18:00",
            },
            {
                "uniqueid": "1795600240.1",
                "sequence": 6,
                "linkedid": "1795600240.1",
                "billsec": 2,
                "calldate": "2026-11-25 10:19:00",
                "userfield": "flat/by-userfield.wav",
            },
        ],
    )
    yield root, ledger
    ledger.close()


def test_each_linking_method(tree) -> None:
    root, ledger = tree
    s = settings(root, name_pattern=r"^call_(?P<uniqueid>[0-9.]+)_", url_base="https://pbx.example/rec/")
    scan(s, ledger, progress=False)
    summary = link(s, ledger)
    assert summary.by_recordingfile == 2 and summary.by_userfield == 1 and summary.by_uniqueid == 2
    assert summary.linked == 5 and summary.missing == 0
    assert summary.orphan == 1  # the copy in the wrong day folder: nothing claims it
    with ledger.engine.connect() as conn:
        methods = dict(conn.execute(select(recording_links.c.row_id, recording_links.c.method)).all())
        fields = recording_fields(
            conn,
            "pbx",
            [
                "c1c-0001;2#1",
                "c1c-0001;1#2",
                "1795600060.5#3",
                "1795600120.9#4",
                "1795600180.3#5",
                "1795600240.1#6",
            ],
        )
        calls = call_recordings(conn, "pbx", ["c1c-0001;1"])
    assert methods["c1c-0001;2#1"] == "recordingfile"
    assert methods["1795600120.9#4"] == "uniqueid"  # via name_pattern
    assert methods["1795600180.3#5"] == "uniqueid"  # via the bare uniqueid in the name
    assert methods["1795600240.1#6"] == "userfield"
    assert "c1c-0001;1#2" not in methods  # no direct link …
    assert fields["c1c-0001;1#2"]["recording_path"] == NAMES["a"]  # … but the call reaches it
    assert fields["1795600060.5#3"]["recording_path"] == NAMES["b"]  # the name's day folder wins
    assert fields["1795600120.9#4"]["recording_path"] == NAMES["c"]
    assert all(f["recording_duration"] == pytest.approx(2.0) for f in fields.values())
    assert [c["path"] for c in calls["c1c-0001;1"]] == [NAMES["a"]]
    assert recording_url(s, NAMES["a"]) == (
        "https://pbx.example/rec/2026/11/25/out-84951112233-102-20261125-101500-c1c-0001%3B2.wav"
    )


def test_rows_of_another_source_are_left_alone(tree) -> None:
    root, ledger = tree
    put_rows(
        ledger,
        [
            {
                "uniqueid": "x.1",
                "sequence": 1,
                "linkedid": "x.1",
                "calldate": "2026-11-25 10:00:00",
                "recordingfile": "flat/by-userfield.wav",
            }
        ],
        source="other",
    )
    s = settings(root)
    scan(s, ledger, progress=False)
    link(s, ledger, source="pbx")
    with ledger.engine.connect() as conn:
        sources = set(conn.execute(select(recording_links.c.source)).scalars())
    assert sources == {"pbx"}
    link(s, ledger, source="other")
    with ledger.engine.connect() as conn:
        assert recording_fields(conn, "other", ["x.1#1"])["x.1#1"]["recording_path"] == NAMES["e"]


def test_recordings_settings(tmp_path: Path) -> None:
    base = {"source": {"url": "sqlite:///x.sqlite"}}
    got = parse_settings(
        {
            **base,
            "recordings": {
                "root": "rec",
                "url_base": "http://x/",
                "name_pattern": "(?P<uniqueid>\\d+)",
                "duration_tolerance": 5,
                "pbx_root": "/mnt/monitor/",
                "batch_size": 100,
            },
        },
        tmp_path / "cdr1c.toml",
    )
    assert got.recordings is not None
    assert got.recordings.root == tmp_path / "rec"
    assert got.recordings.pbx_root == "/mnt/monitor"
    assert (got.recordings.duration_tolerance, got.recordings.batch_size) == (5.0, 100)
    with pytest.raises(ConfigError, match=r"recordings\.name_pattern"):
        parse_settings({**base, "recordings": {"root": "r", "name_pattern": "\\d+"}}, tmp_path / "c.toml")
    with pytest.raises(ConfigError, match=r"recordings\.pbx_root"):
        parse_settings({**base, "recordings": {"root": "r", "pbx_root": "rel"}}, tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="did you mean 'url_base'"):
        parse_settings({**base, "recordings": {"root": "r", "url_bse": "x"}}, tmp_path / "c.toml")
