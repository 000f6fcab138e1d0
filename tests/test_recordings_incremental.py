"""The scan is incremental: only new or changed files are read; removals are noticed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import recordings
from etl.recordings import scan, status_counts
from etl.recordings import scanner as scanner_module
from tests.recordings_support import settings, tone_wav


def make_tree(root: Path, days: int = 3, per_day: int = 4) -> list[Path]:
    src = tone_wav(root.parent / "src.wav", seconds=0.2)
    data = src.read_bytes()
    out = []
    for d in range(1, days + 1):
        day = root / "2026" / "11" / f"{d:02d}"
        day.mkdir(parents=True)
        for i in range(per_day):
            p = day / f"in-101-7916000{i:04d}-202611{d:02d}-10{i:02d}00-17956{d:02d}{i:03d}.{i}.wav"
            p.write_bytes(data)
            out.append(p)
    return out


@pytest.fixture
def ledger(ledger_url: str):
    led = Ledger.open(ledger_url)
    yield led
    led.close()


def test_rescan_reads_only_what_changed(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "monitor"
    files = make_tree(root)
    s = settings(root, batch_size=10)  # several batches per folder
    calls: list[bytes] = []
    real_probe = scanner_module.probe

    def counting_probe(path: bytes, size: int):
        calls.append(path)
        return real_probe(path, size)

    monkeypatch.setattr(scanner_module, "probe", counting_probe)
    first = scan(s, ledger, progress=False)
    assert (first.found, first.new, first.dirs) == (12, 12, 6)
    assert len(calls) == 12

    calls.clear()
    same = scan(s, ledger, progress=False)
    assert (same.found, same.unchanged, same.new, same.changed, same.removed) == (12, 12, 0, 0, 0)
    assert calls == []  # mutagen never called for an unchanged file

    # one grown (MixMonitor still writing), one touched, one new, one removed, one day gone
    with open(files[0], "ab") as f:
        f.write(b"\0" * 1600)
    st = files[1].stat()
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    tone_wav(files[2].parent / "out-849500-101-20261101-110000-1795699999.1.wav", seconds=0.3)
    files[3].unlink()
    shutil.rmtree(root / "2026" / "11" / "03")
    calls.clear()
    after = scan(s, ledger, progress=False)
    assert (after.changed, after.new, after.removed) == (2, 1, 1 + 4)
    assert after.found == 12 + 1 - 1 - 4
    assert len(calls) == 3
    with ledger.engine.connect() as conn:
        rows = {r.name: r for r in conn.execute(select(recordings))}
    assert len(rows) == after.found == status_counts(ledger)["files"]
    assert rows[files[0].name].size == files[0].stat().st_size
    assert files[3].name not in rows


def test_a_changed_name_pattern_rereads_names_not_audio(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "monitor"
    root.mkdir()
    tone_wav(root / "rec_ABC-42_x.wav", seconds=0.2)
    scan(settings(root), ledger, progress=False)
    with ledger.engine.connect() as conn:
        assert conn.execute(select(recordings.c.uniqueid)).scalar_one() is None

    def no_probe(path: bytes, size: int):
        raise AssertionError("audio re-read for a name change")

    monkeypatch.setattr(scanner_module, "probe", no_probe)
    s = settings(root, name_pattern=r"^rec_(?P<uniqueid>[^_]+)_")
    again = scan(s, ledger, progress=False)
    assert again.unchanged == 1
    with ledger.engine.connect() as conn:
        assert conn.execute(select(recordings.c.uniqueid)).scalar_one() == "ABC-42"


def test_progress_lines_without_a_terminal(
    tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "monitor"
    make_tree(root, days=1, per_day=2)
    with caplog.at_level("INFO", logger="cdr1c.recordings"):
        scan(settings(root), ledger)  # progress=None and no TTY under pytest: plain log lines
    assert any("2 files in 4 folders (2 new" in m for m in caplog.messages)


def test_a_missing_root_is_an_error_for_the_stage(tmp_path: Path, ledger: Ledger) -> None:
    from etl.errors import SourceUnreachable

    with pytest.raises(SourceUnreachable, match="not a readable folder"):
        scan(settings(tmp_path / "nowhere"), ledger, progress=False)


def test_progress_bar_when_asked(tmp_path: Path, ledger: Ledger) -> None:
    root = tmp_path / "monitor"
    make_tree(root, days=2, per_day=3)
    summary = scan(settings(root, batch_size=10), ledger, progress=True)  # rich, even off a TTY
    assert (summary.found, summary.new) == (6, 6)
