"""Benchmark of the recordings link: a full rebuild against the incremental runs a sync makes.

    .venv/bin/python -m bench.bench_recordings_link                 # 500,000 calls, 1M CDR rows
    .venv/bin/python -m bench.bench_recordings_link --calls 50000   # a quick look

A SQLite ledger gets `--calls` calls of two legs each (the first leg's `recordingfile` names
its FreePBX recording, the second reaches it through the call) and the index rows of 95% of
those recordings, written directly (the link reads the index, not the files; the scan has its
own benchmark, bench_recordings.py). Then, each timed on its own: the first link (a full
rebuild, what every run did before the link was incremental), a link with nothing new, a link
after a sync of `--new` calls whose recordings the scan found, and `full=True`. CPU time of the
process (the machine may be shared: wall-clock is printed too, but CPU time is the figure).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from etl.config import RecordingsSettings
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, recordings
from etl.recordings import link
from etl.recordings.changes import note_files
from etl.recordings.names import pattern_tag

DAY_US = 1_795_600_000 * 1_000_000  # 2026-11-25
BATCH = 5000


def _call(i: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    uid = f"17956{i:05d}.{i}"
    name = f"in-101-7916{i:07d}-20261125-101500-{uid}.wav"
    base = {"source": "pbx", "content_hash": "0" * 32, "calldate_us": DAY_US + i, "duration": 3, "billsec": 2}
    base.update(direction="in", loaded_us=1, linkedid=uid)
    legs = [
        {**base, "row_id": f"{uid}#1", "uniqueid": uid, "recordingfile": name},
        {**base, "row_id": f"{uid}#2", "uniqueid": f"{uid}-2", "recordingfile": ""},
    ]
    rel = f"2026/11/25/{name}"
    pid = hashlib.sha1(rel.encode()).hexdigest()
    rec = {
        "path_id": pid,
        "relpath": rel,
        "dir_hash": hashlib.sha1(b"2026/11/25").hexdigest(),
        "name": name,
        "stem": name[:-4],
        "uniqueid": uid,
        "pattern_tag": pattern_tag(""),
        "size": 32044,
        "mtime_ns": 0,
        "recorded_us": DAY_US,
        "state": "ok",
        "format": "wav",
        "duration": 2.0,
        "scanned_us": 1,
    }
    return legs, rec


def _store(ledger: Ledger, first: int, n: int, *, loaded_us: int, noted: bool) -> None:
    for start in range(first, first + n, BATCH):
        rows, recs = [], []
        for i in range(start, min(start + BATCH, first + n)):
            legs, rec = _call(i)
            rows += [{**leg, "loaded_us": loaded_us} for leg in legs]
            if i % 20:  # 5% of the calls have no recording (`missing`)
                recs.append(rec)
        with ledger.begin() as conn:
            conn.execute(cdr_rows.insert(), rows)
            if recs:
                conn.execute(recordings.insert(), recs)
                if noted:  # as the scan notes the files it adds
                    note_files(conn, recs)


def _timed(label: str, run: Any) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    s = run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"  {label:<28} CPU {cpu:7.2f} s  wall {wall:7.2f} s   rows read {s.rows:>9,}, "
        f"calls relinked {s.relinked_calls:>7,}; {s.calls:,} calls with a recording, {s.missing:,} missing"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=500_000)
    ap.add_argument("--new", type=int, default=20, help="calls a sync adds between two links")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdr1c-bench-link-") as tmp:
        ledger = Ledger.open(f"sqlite:///{Path(tmp) / 'ledger.sqlite'}")
        settings = RecordingsSettings(root=Path(tmp) / "monitor")
        t0 = time.perf_counter()
        _store(ledger, 0, args.calls, loaded_us=1, noted=False)
        print(f"recordings link, {args.calls:,} calls ({2 * args.calls:,} CDR rows), SQLite ledger")
        print(f"  (ledger filled in {time.perf_counter() - t0:.1f} s)")
        _timed("first link (full rebuild)", lambda: link(settings, ledger, "pbx"))
        _timed("nothing new", lambda: link(settings, ledger, "pbx"))
        _store(ledger, args.calls, args.new, loaded_us=time.time_ns() // 1000, noted=True)
        _timed(f"{args.new} new calls + files", lambda: link(settings, ledger, "pbx"))
        _timed("full=True", lambda: link(settings, ledger, "pbx", full=True))
        ledger.close()


if __name__ == "__main__":
    main()
