"""The demo PBX generator: deterministic, shaped like the real capture, streaming, writable."""

from __future__ import annotations

import re
import sqlite3
import tracemalloc
import wave
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, text

from etl.phones import normalise_number
from etl.sandbox.pbx import (
    ASTERISK_COLUMNS,
    DISPOSITIONS,
    EMPTY_WAV_BYTES,
    FREEPBX_COLUMNS,
    generate_history,
    hostile_rows,
    is_missing_on_purpose,
    recording_path,
    write_recordings,
    write_sql,
    write_sqlite,
)
from tests.conftest import CAPTURE, Databases, require_fixtures

UNIQUEID = re.compile(r"^(\d{10})\.\d+$")
CHANNEL = re.compile(r"^(PJSIP/[\w-]+-[0-9a-f]{8}|Local/[^\s;]+-[0-9a-f]{8};[12])$")
RECORDING = re.compile(r"^(in|out|rg|q|exten)-[^-]+-[^-]+-(\d{8})-(\d{6})-(\d{10}\.\d+)\.wav$")
CONTEXTS = {
    "from-did-direct",
    "from-internal",
    "from-trunk",
    "ext-group",
    "ext-queues",
    "from-internal-xfer",
    "ext-local",
    "macro-hangupcall",
    "ivr-1",
}


def end_of(row: dict[str, Any]) -> datetime:
    return row["calldate"] + timedelta(seconds=row["duration"])


def check_invariants(rows: list[dict[str, Any]], calls: int) -> None:
    """Every rule a real Asterisk/FreePBX row obeys, and the generator promises."""
    identities: set[tuple[str, int]] = set()
    sequences: set[int] = set()
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        assert tuple(r) == FREEPBX_COLUMNS
        assert isinstance(r["calldate"], datetime) and r["calldate"].tzinfo is None
        for col in ("duration", "billsec", "amaflags", "sequence"):
            assert type(r[col]) is int, col
        assert r["amaflags"] == 3
        assert 0 <= r["billsec"] <= r["duration"], r
        assert r["disposition"] in DISPOSITIONS
        if r["disposition"] == "ANSWERED":
            assert r["billsec"] > 0, r
        else:  # unanswered: 0, or the whole leg when party A was already up (IVR / queue)
            assert r["billsec"] in (0, r["duration"]), r
        assert (r["uniqueid"], r["sequence"]) not in identities
        identities.add((r["uniqueid"], r["sequence"]))
        assert r["sequence"] not in sequences
        sequences.add(r["sequence"])
        assert UNIQUEID.match(r["uniqueid"]) and UNIQUEID.match(r["linkedid"])
        assert len(r["uniqueid"]) <= 32  # FreePBX varchar(32)
        assert CHANNEL.match(r["channel"]), r["channel"]
        assert r["dstchannel"] == "" or CHANNEL.match(r["dstchannel"]), r["dstchannel"]
        assert r["dcontext"] in CONTEXTS
        if r["lastapp"] == "Dial":  # (a Queue row without one: the caller gave up waiting)
            assert r["dstchannel"], r
        if r["recordingfile"]:
            m = RECORDING.match(r["recordingfile"])
            assert m, r["recordingfile"]
        assert r["userfield"] in ("", r["recordingfile"])
        if r["dcontext"] in ("from-did-direct", "ext-group", "ext-queues", "from-trunk"):
            assert r["did"], r
        for col in FREEPBX_COLUMNS[1:]:
            if isinstance(r[col], str):
                assert len(r[col]) <= 255
        by_call[r["linkedid"]].append(r)
    assert len(by_call) == calls
    for linkedid, legs in by_call.items():
        first = min(legs, key=lambda r: (r["calldate"], r["sequence"]))
        assert first["uniqueid"] == linkedid  # linkedid is the first channel's uniqueid
        start = min(r["calldate"] for r in legs)
        stop = max(end_of(r) for r in legs)
        assert stop - start <= timedelta(hours=5)
        for r in legs:  # a uniqueid's epoch is its channel's creation, before its rows start
            epoch = int(UNIQUEID.match(r["uniqueid"]).group(1))  # type: ignore[union-attr]
            assert epoch <= int(r["calldate"].timestamp()) + 4 * 3600
        names = {r["recordingfile"] for r in legs if r["uniqueid"] == linkedid}
        assert len(names) <= 1
    # Rows are INSERTed at party A's hang-up: per run of one call's rows, the latest end
    # never goes back in time.
    last = datetime.min
    run_end: datetime | None = None
    run_id = None
    for r in rows:
        if r["linkedid"] != run_id:
            if run_end is not None:
                assert run_end >= last
                last = run_end
            run_id, run_end = r["linkedid"], end_of(r)
        else:
            run_end = max(run_end or end_of(r), end_of(r))


def test_same_seed_same_rows_and_other_seed_other_rows() -> None:
    a = list(generate_history(300, 5))
    assert a == list(generate_history(300, 5))
    assert a != list(generate_history(300, 6))


def test_default_start_is_fixed_and_zone_is_honoured() -> None:
    rows = list(generate_history(200, 1))
    assert min(r["calldate"] for r in rows) >= datetime(2026, 10, 2)
    assert max(r["calldate"] for r in rows) < datetime(2026, 11, 1)
    moscow = next(iter(generate_history(1, 1)))
    utc = next(iter(generate_history(1, 1, timezone="UTC")))
    # the same wall-clock start: the epoch in uniqueid differs by Moscow's +3 h
    assert int(utc["uniqueid"].split(".")[0]) - int(moscow["uniqueid"].split(".")[0]) == 3 * 3600


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), calls=st.integers(0, 300), days=st.sampled_from([1, 7, 30]))
def test_rows_obey_cdr_invariants(seed: int, calls: int, days: int) -> None:
    start = datetime(2026, 3, 1)  # includes no DST in Moscow, but covers weekdays and weekends
    rows = list(generate_history(calls, seed, start, days=days))
    check_invariants(rows, calls)
    assert all(start <= r["calldate"] < start + timedelta(days=days) for r in rows)


def test_dst_zone_still_consistent() -> None:
    rows = list(generate_history(400, 3, datetime(2026, 10, 20), timezone="Europe/Berlin", days=14))
    check_invariants(rows, 400)


def test_scenario_mix_is_all_there() -> None:
    rows = list(generate_history(3000, 11))
    check_invariants(rows, 3000)
    apps = {(r["lastapp"], r["dcontext"]) for r in rows}
    for expected in [
        ("Dial", "from-did-direct"),
        ("Dial", "from-internal"),
        ("Dial", "ext-group"),
        ("Queue", "ext-queues"),
        ("Dial", "from-internal-xfer"),
        ("Hangup", "macro-hangupcall"),
        ("VoiceMail", "ext-local"),
        ("Playback", "from-trunk"),
        ("BackGround", "ivr-1"),
    ]:
        assert expected in apps, expected
    assert {r["disposition"] for r in rows} == DISPOSITIONS
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        calls[r["linkedid"]].append(r)
    # IVR hang-up: one ANSWERED row, no dstchannel
    ivr = [c for c in calls.values() if len(c) == 1 and c[0]["lastapp"] in ("Playback", "BackGround")]
    assert ivr and all(c[0]["disposition"] == "ANSWERED" and not c[0]["dstchannel"] for c in ivr)
    # ring group: several legs of one uniqueid, exactly one ANSWERED
    groups = [c for c in calls.values() if c[0]["dcontext"] == "ext-group"]
    answered = [c for c in groups if sum(r["disposition"] == "ANSWERED" for r in c) == 1]
    assert answered and all(len({r["uniqueid"] for r in c}) == 1 and len(c) >= 3 for c in answered)
    assert any(all(r["disposition"] != "ANSWERED" or not r["dstchannel"] for r in c) for c in groups)
    # queue: several member legs on Local/…@from-queue
    queues = [c for c in calls.values() if c[0]["dcontext"] == "ext-queues"]
    assert any(sum("from-queue" in r["dstchannel"] for r in c) >= 3 for c in queues)
    # blind transfer: 2 rows, 1 uniqueid; attended: 3 rows, 2 uniqueids, one linkedid
    xfer = [c for c in calls.values() if any(r["dcontext"] == "from-internal-xfer" for r in c)]
    assert any(len(c) == 2 and len({r["uniqueid"] for r in c}) == 1 for c in xfer)
    assert any(len(c) == 3 and len({r["uniqueid"] for r in c}) == 2 for c in xfer)
    # outbound answered/busy/no answer; internal calls
    out = [r for r in rows if r["dcontext"] == "from-internal" and r["lastapp"] == "Dial"]
    assert {"ANSWERED", "BUSY", "NO ANSWER"} <= {r["disposition"] for r in out}
    assert any(r["dst"] in {f"{n}" for n in range(101, 113)} for r in out)
    # Cyrillic names, did on inbound, recordings of every type, long calls written late
    assert any(re.search("[А-Яа-я]", r["cnam"]) for r in rows)
    assert any(re.match(r'^"[А-Яа-яЁё .«»]+" <\d{11}>$', r["clid"]) for r in rows)
    kinds = {r["recordingfile"].split("-")[0] for r in rows if r["recordingfile"]}
    assert kinds == {"in", "out", "rg", "q", "exten"}
    assert any(r["userfield"] == r["recordingfile"] != "" for r in rows)
    assert any(r["userfield"] == "" and r["recordingfile"] for r in rows)
    assert max(r["duration"] for r in rows) > 3600
    late = [i for i in range(1, len(rows)) if rows[i]["calldate"] < rows[i - 1]["calldate"]]
    assert late


def test_clients_call_from_several_number_forms() -> None:
    rows = list(generate_history(2000, 4))
    forms: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["dcontext"] in ("from-did-direct", "ext-group", "ext-queues") and r["src"].isascii():
            e164 = normalise_number(r["src"])
            if e164:
                forms[e164].add(r["src"])
    assert any(len(v) >= 3 for v in forms.values())
    clients = len(forms)
    assert 2000 // 50 * 0.5 <= clients <= 2000 // 50 * 1.5 + 10
    starts = {s[0] if s[0] != "+" else "+" for v in forms.values() for s in v}
    assert {"7", "8", "+"} <= starts


def test_generation_streams_in_constant_memory() -> None:
    tracemalloc.start()
    try:
        n = 0
        for _ in generate_history(120_000, 2):
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n >= 200_000
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_write_sqlite_round_trip(tmp_path: Path) -> None:
    rows = list(generate_history(150, 9))
    path = tmp_path / "cdr.sqlite"
    assert write_sqlite(path, rows) == len(rows)
    con = sqlite3.connect(path)
    try:
        cols = [c[1] for c in con.execute("PRAGMA table_info(cdr)")]
        assert tuple(cols) == FREEPBX_COLUMNS
        got = con.execute("SELECT * FROM cdr").fetchall()
        indexes = {r[1] for r in con.execute("PRAGMA index_list(cdr)")}
    finally:
        con.close()
    assert len(got) == len(rows)
    first = dict(zip(FREEPBX_COLUMNS, got[0], strict=True))
    assert first["calldate"] == rows[0]["calldate"].strftime("%Y-%m-%d %H:%M:%S")
    assert {k: v for k, v in first.items() if k != "calldate"} == {
        k: v for k, v in rows[0].items() if k != "calldate"
    }
    assert {"cdr_calldate", "cdr_uniqueid", "cdr_did", "cdr_recordingfile"} <= indexes


@pytest.mark.parametrize("schema", ["freepbx", "asterisk"])
def test_write_sql_round_trip(databases: Databases, backend: str, schema: str) -> None:
    url = databases.url(backend)
    rows = list(generate_history(200, 21))
    assert write_sql(url, iter(rows), schema=schema, batch=97) == len(rows)
    engine = create_engine(url)
    try:
        columns = [c["name"] for c in inspect(engine).get_columns("cdr")]
        with engine.connect() as c:
            count, dur, bill = c.execute(text("SELECT COUNT(*), SUM(duration), SUM(billsec) FROM cdr")).one()
            if schema == "freepbx":
                cyr = c.execute(text("SELECT cnam FROM cdr WHERE uniqueid = :u"), {"u": rows[0]["uniqueid"]})
                assert cyr.scalars().first() == rows[0]["cnam"]
                first = c.execute(text("SELECT MIN(calldate) FROM cdr")).scalar()
            else:
                unanswered = c.execute(text("SELECT COUNT(*) FROM cdr WHERE answer IS NULL")).scalar()
                assert unanswered == sum(r["billsec"] == 0 for r in rows)
                first = c.execute(text("SELECT MIN(start) FROM cdr")).scalar()
    finally:
        engine.dispose()
    assert tuple(columns) == (FREEPBX_COLUMNS if schema == "freepbx" else ASTERISK_COLUMNS)
    assert (count, int(dur), int(bill)) == (
        len(rows),
        sum(r["duration"] for r in rows),
        sum(r["billsec"] for r in rows),
    )
    if isinstance(first, str):
        first = datetime.fromisoformat(first)
    assert first == min(r["calldate"] for r in rows)


def _fixture_columns() -> list[str]:
    ddl = (CAPTURE / "cdr.sql").read_text(encoding="utf-8")
    body = ddl[ddl.index("CREATE TABLE `cdr`") : ddl.index(") ENGINE")]
    return re.findall(r"^\s+`(\w+)` ", body, flags=re.M)


def test_ddl_files_match_the_real_freepbx_table() -> None:
    require_fixtures()
    real = [c for c in _fixture_columns() if c not in ("start", "answer", "end")]
    assert tuple(real) == FREEPBX_COLUMNS
    sql = Path(__file__).resolve().parent.parent / "sql" / "cdr"
    mysql = (sql / "freepbx.mysql.sql").read_text(encoding="utf-8")
    assert "`calldate` datetime NOT NULL DEFAULT '1000-01-01 00:00:00'" in mysql
    assert "PRIMARY KEY" not in mysql and "AUTO_INCREMENT" not in mysql
    for dialect in ("mysql", "postgresql", "sqlite"):
        ast = (sql / f"asterisk.{dialect}.sql").read_text(encoding="utf-8")
        names = re.findall(r"^\s+[`\"]?(\w+)[`\"]? [A-Z]", ast, flags=re.M)
        assert tuple(names) == ASTERISK_COLUMNS, dialect
        assert "calldate" not in names
        fpbx = (sql / f"freepbx.{dialect}.sql").read_text(encoding="utf-8")
        names = re.findall(r"^\s+`?(\w+)`? [a-zA-Z]", fpbx, flags=re.M)
        assert tuple(n for n in names if n in FREEPBX_COLUMNS) == FREEPBX_COLUMNS, dialect


def test_rows_look_like_the_capture() -> None:
    """The generated vocabulary covers what the real rows show (modulo the test dialplan)."""
    require_fixtures()
    real = (CAPTURE / "cdr.sql").read_text(encoding="utf-8")
    real_apps = set(re.findall(r"','(Dial|Hangup|Playback|Queue|ChanSpy)','", real))
    rows = list(generate_history(1000, 8))
    assert real_apps - {"ChanSpy"} <= {r["lastapp"] for r in rows}
    for sample in ("from-did-direct", "from-internal", "from-trunk", "from-internal-xfer"):
        assert f"'{sample}'" in real
        assert any(r["dcontext"] == sample for r in rows)
    real_names = re.findall(r"'((?:in|out|rg)-[^']+\.wav)'", real)
    assert real_names and all(RECORDING.match(n) for n in real_names)


def test_recordings_are_wav_files_in_the_freepbx_layout(tmp_path: Path) -> None:
    rows = list(generate_history(400, 13))
    n = write_recordings(tmp_path, rows)
    files = sorted(tmp_path.rglob("*.wav"))
    assert n == len(files) > 0
    names = {r["recordingfile"] for r in rows if r["recordingfile"]}
    missing = {name for name in names if is_missing_on_purpose(name)}
    assert len(files) == len(names) - len(missing)
    assert missing, "the demo must have a recording missing on purpose"
    talk: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["recordingfile"] and r["disposition"] == "ANSWERED" and r["dstchannel"]:
            talk[r["recordingfile"]] = max(talk[r["recordingfile"]], r["billsec"])
    empty = 0
    for f in files:
        m = RECORDING.match(f.name)
        assert m
        day = m.group(2)
        assert f.parent.relative_to(tmp_path).parts == (day[:4], day[4:6], day[6:8])
        assert f == recording_path(tmp_path, f.name)
        if f.stat().st_size == EMPTY_WAV_BYTES:
            empty += 1
            assert talk.get(f.name, 0) == 0
            continue
        with wave.open(str(f), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            assert w.getnframes() == int(min(talk[f.name], 5.0) * 8000)
    assert empty > 0


def test_recordings_uncapped_have_the_true_length(tmp_path: Path) -> None:
    rows = [r for r in generate_history(40, 2) if r["recordingfile"]]
    write_recordings(tmp_path, rows, seconds_cap=None, missing_every=0)
    answered = {
        r["recordingfile"]: r["billsec"] for r in rows if r["disposition"] == "ANSWERED" and r["dstchannel"]
    }
    name, billsec = max(answered.items(), key=lambda kv: kv[1])
    with wave.open(str(recording_path(tmp_path, name)), "rb") as w:
        assert w.getnframes() >= billsec * 8000


def test_hostile_rows_cover_the_corpus() -> None:
    rows = hostile_rows()
    expects = {r["_expect"] for r in rows}
    assert expects == {"ok", "calldate", "uniqueid", "duration", "identity"}
    for r in rows:
        assert set(FREEPBX_COLUMNS) <= set(r)
    assert any(r["calldate"] == "0000-00-00 00:00:00" for r in rows)
    assert any(r["calldate"] == datetime(1000, 1, 1) for r in rows)
    assert any(r["uniqueid"] is None for r in rows) and any(r["uniqueid"] == "" for r in rows)
    assert any(r["duration"] < 0 for r in rows)
    assert any(r["billsec"] > r["duration"] >= 0 for r in rows)
    assert any(len(r["lastdata"]) >= 10_000 for r in rows)
    names = [r["cnam"] for r in rows if isinstance(r["cnam"], bytes)]
    assert len(names) == 2  # one cp1251, one UTF-8 cut mid-character: neither decodes as UTF-8
    for raw in names:
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    assert "Иван Петров".encode("cp1251") in names
    same = [r for r in rows if (r["uniqueid"], r["sequence"]) == ("1795600009.1", 9)]
    assert len(same) == 3
    strip = [{k: v for k, v in r.items() if not k.startswith("_")} for r in same]
    assert strip[0] == strip[1] != strip[2]
    assert [r["_expect"] for r in same] == ["ok", "ok", "identity"]
