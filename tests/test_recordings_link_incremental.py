"""The link is incremental: after any sequence of syncs (rows added), scans (recordings added,
renamed, converted to mp3, deleted, corrupted, appearing after their call) and links, the
ledger's links and problems equal those of a full rebuild from scratch; and a run reads only
the CDR rows of the calls a change can reach."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.recordings import link, scan
from tests.conftest import Databases
from tests.link_steps import PBX, STEMS, STEP, Audio, World, leg, snapshot
from tests.recordings_support import encode, put_rows, settings, tone_wav


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    """Real audio: a 2 s and a 5 s WAV, a 2 s MP3; an empty WAV and a damaged one."""
    d = tmp_path_factory.mktemp("audio")
    short = tone_wav(d / "short.wav", seconds=2.0)
    long = tone_wav(d / "long.wav", seconds=5.0)
    mp3 = encode(short, d / "short.mp3", "mp3")
    return Audio(
        short=short.read_bytes(),
        long=long.read_bytes(),
        mp3=mp3.read_bytes(),
        empty=short.read_bytes()[:44],
        corrupt=b"RIFF\xff\xff\xff\x7fWAVEjunk" + b"\0" * 40,
    )


def check_equivalence(databases: Databases, backend: str, audio: dict[str, bytes], steps: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ledger = Ledger.open(databases.url(backend))
        fresh = Ledger.open(databases.url(backend))
        try:
            world = World(base, ledger, audio)
            for step in [*steps, ("link",)]:
                world.step(step)
            # From scratch: the same rows and the same folder, one link.
            if world.rows:
                put_rows(fresh, world.rows)
            scan(world.s, fresh, progress=False)
            assert link(world.s, fresh).full == bool(world.rows)  # a first run rebuilds
            assert snapshot(ledger) == snapshot(fresh)
        finally:
            ledger.close()
            fresh.close()
            shutil.rmtree(base, ignore_errors=True)


# Cases a random search may take long to meet, each reaching its call by one kind of evidence.
NAMED_LATE = [
    ("rows", [leg(3, 0, recordingfile="no-uniqueid.wav")]),
    ("link",),
    ("add", ("flat", "no-uniqueid", "wav"), "short"),
]
CONVERTED = [
    ("add", ("2026/11/25", STEMS[1], "wav"), "short"),
    ("rows", [leg(4, 0, recordingfile=f"{STEMS[1]}.wav")]),
    ("link",),
    ("convert", 0),
]
BETTER_FOLDER = [
    ("add", ("2026/11/24", STEMS[0], "wav"), "short"),
    ("rows", [leg(3, 1, recordingfile=f"{STEMS[0]}.wav")]),
    ("link",),
    ("add", ("2026/11/25", STEMS[0], "wav"), "long"),
]
BY_PATH = [
    ("rows", [leg(3, 1, userfield=f"{PBX}/flat/{STEMS[4]}.wav")]),
    ("link",),
    ("add", ("flat", STEMS[4], "wav"), "short"),
]
WINDOW_MOVES = [
    ("add", ("2026/11/25", STEMS[0], "wav"), "short"),
    ("rows", [leg(3, 1, day=27)]),
    ("link",),
    ("rows", [leg(4, 2, day=23)]),
]


@example(steps=NAMED_LATE)
@example(steps=CONVERTED)
@example(steps=BETTER_FOLDER)
@example(steps=BY_PATH)
@example(steps=WINDOW_MOVES)
@given(steps=st.lists(STEP, min_size=1, max_size=14))
@hsettings(max_examples=200)
def test_incremental_equals_full_rebuild_sqlite(
    tmp_path_factory: pytest.TempPathFactory, audio: dict[str, bytes], steps: list[Any]
) -> None:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    try:
        check_equivalence(dbs, "sqlite", audio, steps)
    finally:
        dbs.cleanup()


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
@given(steps=st.lists(STEP, min_size=1, max_size=10))
@hsettings(max_examples=8)
def test_incremental_equals_full_rebuild_servers(
    tmp_path_factory: pytest.TempPathFactory, audio: dict[str, bytes], server: str, steps: list[Any]
) -> None:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    try:
        check_equivalence(dbs, server, audio, steps)
    finally:
        dbs.cleanup()


def test_a_run_reads_only_the_calls_a_change_reaches(tmp_path: Path, ledger_url: str) -> None:
    """Counted, not timed: the rows a run relinks are those of the calls a new row or a changed
    file reaches; with nothing new, none."""
    root = tmp_path / "monitor"
    day = root / "2026" / "11" / "25"
    day.mkdir(parents=True)
    wav = tone_wav(tmp_path / "src.wav", seconds=2.0).read_bytes()

    def call(i: int) -> tuple[str, list[dict[str, Any]]]:
        uid = f"1795600{i:03d}.1"
        name = f"out-100-200-20261125-101500-{uid}.wav"
        legs = [
            {
                "uniqueid": uid,
                "linkedid": uid,
                "billsec": 2,
                "calldate": "2026-11-25 10:15:00",
                "recordingfile": name,
            },
            {
                "uniqueid": f"1795600{i:03d}.2",
                "linkedid": uid,
                "billsec": 2,
                "calldate": "2026-11-25 10:15:00",
            },
        ]
        for n, one in enumerate(legs):
            one["sequence"] = 2 * i + n
        return name, legs

    ledger = Ledger.open(ledger_url)
    s = settings(root)
    try:
        rows: list[dict[str, Any]] = []
        for i in range(20):
            name, legs = call(i)
            rows += legs
            if i != 19:  # call 19's recording comes late
                (day / name).write_bytes(wav)
        put_rows(ledger, rows)

        def run() -> Any:
            scan(s, ledger, progress=False)
            return link(s, ledger)

        first = run()
        assert (first.full, first.rows, first.relinked_calls, first.calls, first.missing) == (
            True,
            40,
            20,
            19,
            1,
        )
        idle = run()
        assert (idle.full, idle.rows, idle.relinked_calls, idle.calls, idle.missing) == (False, 0, 0, 19, 1)

        name, legs = call(20)  # a sync adds a call with its recording
        (day / name).write_bytes(wav)
        put_rows(ledger, legs)
        added = run()
        assert (added.rows, added.relinked_calls, added.calls) == (2, 1, 20)
        assert added.got_recording == {("pbx", "1795600020.1")}

        (day / call(19)[0]).write_bytes(wav)  # the late recording of call 19
        late = run()
        assert (late.rows, late.relinked_calls, late.calls, late.missing) == (2, 1, 21, 0)
        assert late.got_recording == {("pbx", "1795600019.1")}

        (day / call(3)[0]).unlink()  # a recording deleted on the PBX
        gone = run()
        assert (gone.rows, gone.relinked_calls, gone.calls, gone.missing) == (2, 1, 20, 1)

        before = snapshot(ledger)
        rebuilt = link(s, ledger, full=True)
        assert (rebuilt.full, rebuilt.rows, rebuilt.calls, rebuilt.missing) == (True, 42, 20, 1)
        assert snapshot(ledger) == before
    finally:
        ledger.close()


def test_cdr1c_recordings_full_rebuilds(tmp_path: Path) -> None:
    """`cdr1c recordings` links what changed; `--full` relinks every row (the run summary says)."""
    from click.testing import CliRunner

    from jobs.cli import cli

    root = tmp_path / "monitor"
    (root / "flat").mkdir(parents=True)
    (root / "flat" / "no-uniqueid.wav").write_bytes(tone_wav(tmp_path / "src.wav", seconds=2.0).read_bytes())
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(
        f'[source]\nurl = "sqlite:///{tmp_path / "cdr.sqlite"}"\ntimezone = "UTC"\n'
        f'[state]\nurl = "sqlite:///{tmp_path / "ledger.sqlite"}"\n'
        f'[general]\nlock_dir = "{tmp_path}"\n[recordings]\nroot = "{root}"\n'
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        put_rows(ledger, [leg(0, 0, recordingfile="no-uniqueid.wav", sequence=1)], source="default")
        linked = []
        for args in ([], [], ["--full"]):
            result = CliRunner().invoke(cli, ["--config", str(cfg), "recordings", *args])
            assert result.exit_code == 0, result.output
            linked.append(ledger.last_runs(1)[0]["summary"]["recordings"]["link"]["default"])
        assert [(r["full"], r["rows"], r["calls"]) for r in linked] == [
            (True, 1, 1),
            (False, 0, 1),
            (True, 1, 1),
        ]
    finally:
        ledger.close()


def test_a_run_that_dies_leaves_links_and_mark_as_they_were(
    tmp_path: Path, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links, problems and the mark are one transaction: a run that fails after relinking keeps
    neither, and the next run relinks the same calls."""
    from etl.ledger.tables import recording_link_marks
    from etl.recordings import linker

    root = tmp_path / "monitor"
    (root / "flat").mkdir(parents=True)
    (root / "flat" / "no-uniqueid.wav").write_bytes(tone_wav(tmp_path / "src.wav", seconds=2.0).read_bytes())
    s = settings(root)
    ledger = Ledger.open(ledger_url)
    try:
        put_rows(ledger, [leg(0, 0, sequence=1)])
        scan(s, ledger, progress=False)
        link(s, ledger)

        def marks_now() -> list[Any]:
            with ledger.engine.connect() as conn:
                return [tuple(r) for r in conn.execute(select(recording_link_marks))]

        before, mark = snapshot(ledger), marks_now()
        put_rows(ledger, [leg(1, 1, recordingfile="no-uniqueid.wav", sequence=2)])

        def dies(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("killed after the relink, before the commit")

        monkeypatch.setattr(linker, "check_orphans", dies)
        with pytest.raises(RuntimeError):
            link(s, ledger)
        assert (snapshot(ledger), marks_now()) == (before, mark)
        monkeypatch.undo()
        again = link(s, ledger)
        assert (again.rows, again.relinked_calls, again.calls) == (1, 1, 1)
    finally:
        ledger.close()


def test_calls_that_got_a_recording_are_queued_for_1c_again(ledger_url: str) -> None:
    """Every leg of a call that just got a recording goes back to the outbox, and nothing else:
    1C holds the record already and gets its path in the next delivery."""
    from etl.ledger.tables import outbox
    from jobs.stages import _requeue_calls

    ledger = Ledger.open(ledger_url)
    try:
        put_rows(ledger, [leg(0, 0, sequence=1), leg(0, 1, sequence=2), leg(1, 2, sequence=3)])
        assert _requeue_calls(ledger, "pbx", set()) == 0
        assert _requeue_calls(ledger, "pbx", {"1795600000.1"}) == 2
        with ledger.engine.connect() as conn:
            queued = sorted(tuple(r) for r in conn.execute(select(outbox.c.source, outbox.c.row_id)))
        assert queued == [("pbx", "1795600000.1#1"), ("pbx", "1795600000.2#2")]
    finally:
        ledger.close()
