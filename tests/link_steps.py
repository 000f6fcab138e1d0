"""Random histories of a recordings folder and a ledger, for the link's equivalence test
(tests/test_recordings_link_incremental.py): syncs that add CDR rows, files added, renamed,
converted to mp3, deleted or damaged, and link runs; `snapshot` is what must not depend on the
way the links were made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import recording_links, recording_problems
from etl.recordings import link, scan
from tests.recordings_support import put_rows, settings

UIDS = ("1795600000.1", "1795600000.2", "1795600000.3", "c1c-0001;2")
CALLS = ("1795600000.1", "1795600000.3", "c1c-0001;1", "1795600009.1", "1795600010.1")
STEMS = (
    *(f"out-100-200-20261125-101500-{u}" for u in UIDS),
    "by-userfield",
    "no-uniqueid",
)  # the last two: by name only
FOLDERS = ("2026/11/25", "2026/11/24", "flat")
PBX = "/var/spool/asterisk/monitor"
RECORDINGFILE = st.one_of(
    st.just(""),
    st.sampled_from(STEMS).map(lambda s: f"{s}.wav"),
    st.sampled_from(STEMS).map(lambda s: f"{s}.wav49"),
    st.sampled_from(STEMS).map(lambda s: f"{PBX}/2026/11/25/{s}.wav"),
    st.sampled_from(STEMS).map(lambda s: f"flat/{s}.mp3"),
    st.just("../../etc/passwd.wav"),
)
USERFIELD = st.one_of(
    st.just(""), st.just("by-userfield.wav"), st.sampled_from(STEMS).map(lambda s: f"x;{s}.mp3")
)
LEG = st.fixed_dictionaries(
    {
        "uniqueid": st.sampled_from(UIDS),
        "linkedid": st.sampled_from(CALLS),
        "billsec": st.integers(0, 7),
        "calldate": st.sampled_from(("2026-11-23 09:00:00", "2026-11-27 09:00:00")),
        "recordingfile": RECORDINGFILE,
        "userfield": USERFIELD,
    }
)
FILE = st.tuples(st.sampled_from(FOLDERS), st.sampled_from(STEMS), st.sampled_from(("wav", "mp3")))
STEP = st.one_of(
    st.tuples(st.just("rows"), st.lists(LEG, min_size=1, max_size=3)),
    st.tuples(st.just("add"), FILE, st.sampled_from(("short", "long", "empty", "corrupt"))),
    st.tuples(st.just("remove"), st.integers(0, 20)),
    st.tuples(st.just("rename"), st.integers(0, 20), FILE),
    st.tuples(st.just("convert"), st.integers(0, 20)),
    st.tuples(st.just("corrupt"), st.integers(0, 20)),
    st.tuples(st.just("link")),
)


class Audio(dict[str, bytes]):
    def __repr__(self) -> str:  # a failing example prints its steps, not kilobytes of audio
        return "Audio(short, long, mp3, empty, corrupt)"


def snapshot(ledger: Ledger) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Links and problems, without the time they were seen."""
    p = recording_problems.c
    with ledger.engine.connect() as conn:
        links = conn.execute(select(recording_links).order_by(*recording_links.primary_key.columns)).all()
        problems = conn.execute(
            select(
                p.problem_id,
                p.kind,
                p.origin,
                p.source,
                p.row_id,
                p.linkedid,
                p.path_id,
                p.dir_hash,
                p.subject,
                p.reason,
            ).order_by(p.problem_id)
        ).all()
    return [tuple(r) for r in links], [tuple(r) for r in problems]


class World:
    """A recordings folder and a ledger that the steps change; `rows` is every row synced."""

    def __init__(self, base: Path, ledger: Ledger, audio: dict[str, bytes]) -> None:
        self.root = base / "monitor"
        self.root.mkdir()
        self.ledger = ledger
        self.audio = audio
        self.rows: list[dict[str, Any]] = []
        self.s = settings(self.root, pbx_root=PBX, duration_tolerance=1.0)

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def write(self, spec: tuple[str, str, str], kind: str) -> None:
        folder, stem, ext = spec
        path = self.root / folder / f"{stem}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.audio["mp3" if ext == "mp3" and kind in ("short", "long") else kind]
        if path.exists() and path.read_bytes() == data:
            data += b"\0\0"  # a change the scan notices (size)
        path.write_bytes(data)

    def step(self, step: tuple[Any, ...]) -> None:
        kind, *args = step
        files = self.files()
        pick = (
            files[args[0] % len(files)]
            if files and kind in ("remove", "rename", "convert", "corrupt")
            else None
        )
        if kind == "rows":
            legs = [{**leg, "sequence": len(self.rows) + i} for i, leg in enumerate(args[0])]
            self.rows += legs
            put_rows(self.ledger, legs)
        elif kind == "add":
            self.write(args[0], args[1])
        elif kind == "link":
            scan(self.s, self.ledger, progress=False)
            link(self.s, self.ledger)
        elif pick is None:
            return
        elif kind == "remove":
            pick.unlink()
        elif kind == "rename":
            folder, stem, ext = args[1]
            target = self.root / folder / f"{stem}.{ext}"
            target.parent.mkdir(parents=True, exist_ok=True)
            pick.rename(target)
        elif kind == "convert":  # a MIXMON_POST script: x.wav becomes x.mp3
            pick.unlink()
            pick.with_suffix(".mp3").write_bytes(self.audio["mp3"])
        elif kind == "corrupt":
            pick.write_bytes(self.audio["corrupt"])


def leg(call: int, uid: int, day: int = 23, **fields: Any) -> dict[str, Any]:
    base = {
        "uniqueid": UIDS[uid],
        "linkedid": CALLS[call],
        "billsec": 2,
        "calldate": f"2026-11-{day} 09:00:00",
    }
    return {"recordingfile": "", "userfield": "", **base, **fields}
