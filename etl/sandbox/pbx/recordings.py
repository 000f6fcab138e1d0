"""The PBX's call recordings: FreePBX-named WAV files under YYYY/MM/DD/."""

from __future__ import annotations

import math
import random
import wave
import zlib
from array import array
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

WAV_RATE = 8000
EMPTY_WAV_BYTES = 44  # what MixMonitor leaves for a call nobody answered


@lru_cache(maxsize=1)
def _tone_second() -> bytes:
    """One second of 8 kHz mono 16-bit PCM: two soft tones and a little noise (deterministic)."""
    rng = random.Random(0)
    samples = array(
        "h",
        (
            int(
                3000 * math.sin(2 * math.pi * 425 * i / WAV_RATE)
                + 1200 * math.sin(2 * math.pi * 950 * i / WAV_RATE)
                + rng.randint(-300, 300)
            )
            for i in range(WAV_RATE)
        ),
    )
    if samples.itemsize != 2:  # pragma: no cover - every CPython platform has 2-byte shorts
        raise RuntimeError("array('h') is not 16-bit")
    import sys

    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def recording_path(root: Path, recordingfile: str, calldate: datetime | None = None) -> Path:
    """`root/YYYY/MM/DD/<recordingfile>`; the date is the name's TIMESTR (FreePBX takes it from
    the same ${EPOCH}), else `calldate`."""
    parts = recordingfile.split("-")
    day = parts[3][:8] if len(parts) > 4 and parts[3][:8].isdigit() else None
    if day is None:
        if calldate is None:
            raise ValueError(f"no date in {recordingfile!r} and no calldate")
        day = calldate.strftime("%Y%m%d")
    return Path(root) / day[:4] / day[4:6] / day[6:8] / recordingfile


def is_missing_on_purpose(recordingfile: str, every: int = 150) -> bool:
    """About one recording in `every` is not written, so integrity checks have something to show."""
    return every > 0 and zlib.crc32(recordingfile.encode()) % every == 0


def write_recordings(
    root: Path,
    rows: Iterable[dict[str, Any]],
    *,
    seconds_cap: float | None = 5.0,
    missing_every: int = 150,
) -> int:
    """Write the WAV file named by each row's `recordingfile` under `root/YYYY/MM/DD/`.

    A recording whose call was answered (some ANSWERED row with a dstchannel) gets PCM audio
    (8 kHz mono 16-bit) lasting its talk time — the longest such billsec — capped at
    `seconds_cap` seconds (None: no cap). So with the default cap a recording is NOT as long as
    billsec beyond 5 s: demo files stay small; pass `seconds_cap=None` for true lengths. A
    recording nobody answered is a 44-byte header-only WAV, as MixMonitor leaves it. Names for
    which `is_missing_on_purpose` holds are skipped. Returns the number of files written.

    Memory is one entry per distinct recording (rows of a call need not be adjacent).
    """
    talk: dict[str, tuple[datetime, int]] = {}
    for row in rows:
        name = row.get("recordingfile") or ""
        if not name:
            continue
        seconds = row["billsec"] if row["disposition"] == "ANSWERED" and row["dstchannel"] else 0
        seen = talk.get(name)
        if seen is None or seconds > seen[1]:
            talk[name] = (row["calldate"], max(seconds, seen[1] if seen else 0))
    second = _tone_second()
    written = 0
    for name, (calldate, seconds) in talk.items():
        if is_missing_on_purpose(name, missing_every):
            continue
        path = recording_path(root, name, calldate)
        path.parent.mkdir(parents=True, exist_ok=True)
        length = float(seconds) if seconds_cap is None else min(float(seconds), seconds_cap)
        frames = int(length * WAV_RATE)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(WAV_RATE)
            full, rest = divmod(frames, WAV_RATE)
            for _ in range(full):
                w.writeframesraw(second)
            if rest:
                w.writeframesraw(second[: rest * 2])
        written += 1
    return written
