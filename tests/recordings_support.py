"""Helpers shared by the recordings tests: the capture's CDR rows in the ledger, encoders.

`capture_cdr()` parses the mysqldump INSERT of tests/fixtures/asterisk22-capture1/cdr.sql;
`put_rows()` writes CDR rows into the ledger's `cdr_rows` with the columns the recordings stage
reads (the lead's normaliser fills the rest in production).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.cdr_columns import CDR_TEXT_COLUMNS
from etl.clock import now_us
from etl.config import RecordingsSettings
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from tests.conftest import CAPTURE, require

_TOKEN = re.compile(r"'((?:[^'\\]|\\.)*)'|(NULL)|(-?\d+(?:\.\d+)?)|([(),;])|\s+", re.S)
_ESC = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def capture_cdr() -> list[dict[str, Any]]:
    sql = (CAPTURE / "cdr.sql").read_text(encoding="utf-8")
    table = sql.split("CREATE TABLE `cdr` (", 1)[1].split(") ENGINE", 1)[0]
    columns = re.findall(r"^\s*`(\w+)` ", table, re.M)
    body = sql.split("INSERT INTO `cdr` VALUES", 1)[1]
    rows: list[dict[str, Any]] = []
    current: list[Any] = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        assert m, body[pos : pos + 40]
        pos = m.end()
        text, null, number, punct = m.groups()
        if punct == "(":
            current = []
        elif punct == ")":
            rows.append(dict(zip(columns, current, strict=True)))
        elif punct == ";":
            break
        elif text is not None:
            current.append(re.sub(r"\\(.)", lambda e: _ESC.get(e[1], e[1]), text))
        elif null:
            current.append(None)
        elif number is not None:
            current.append(int(number))
    return rows


def capture_recordings() -> dict[str, dict[str, Any]]:
    """recordings.tsv by base name: bytes, seconds, rate, channels."""
    out = {}
    lines = (CAPTURE / "recordings.tsv").read_text().splitlines()[1:]
    for line in lines:
        path, size, seconds, rate, channels = line.split("\t")
        out[path.rsplit("/", 1)[1]] = {
            "path": path,
            "bytes": int(size),
            "seconds": float(seconds),
            "rate": int(rate),
            "channels": int(channels),
        }
    return out


def _us(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()) * 1_000_000


def row_id(r: dict[str, Any]) -> str:
    return f"{r['uniqueid']}#{r.get('sequence', 0)}"


def put_rows(ledger: Ledger, rows: list[dict[str, Any]], source: str = "pbx") -> None:
    """Insert CDR rows (capture dicts or hand-made ones) into `cdr_rows`, loaded now (as a
    sync stamps them)."""
    stamp = now_us()
    out = []
    for r in rows:
        rec: dict[str, Any] = {c: str(r.get(c) or "") for c in CDR_TEXT_COLUMNS}
        rec.update(
            source=source,
            row_id=row_id(r),
            content_hash=hashlib.md5(repr(sorted(r.items())).encode()).hexdigest(),
            calldate_us=_us(r.get("calldate")) or 0,
            answer_us=_us(r.get("answer")),
            end_us=_us(r.get("end")),
            duration=int(r.get("duration") or 0),
            billsec=int(r.get("billsec") or 0),
            sequence=r.get("sequence"),
            direction="unknown",
            loaded_us=stamp,
        )
        out.append(rec)
    with ledger.begin() as conn:
        conn.execute(cdr_rows.insert(), out)


def settings(root: Path, **kw: Any) -> RecordingsSettings:
    return RecordingsSettings(root=root, **kw)


# --- real encoders --------------------------------------------------------------------------


def need(tool: str) -> str:
    """The encoder's path; skips locally, fails with CI set (the project installs it)."""
    path = shutil.which(tool)
    require(path is not None, f"the {tool} encoder (Debian package, installed by .ci/services)")
    assert path is not None
    return path


def tone_wav(path: Path, seconds: float = 2.5, rate: int = 8000) -> Path:
    sox = need("sox")
    subprocess.run(
        [
            sox,
            "-n",
            "-r",
            str(rate),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            "440",
        ],
        check=True,
        capture_output=True,
    )
    return path


def encode(src: Path, dst: Path, codec: str) -> Path:
    """GSM-in-WAV with sox (as MixMonitor's wav49), the others with ffmpeg."""
    if codec == "gsm":
        sox = need("sox")
        subprocess.run(
            [sox, str(src), "-r", "8000", "-c", "1", "-e", "gsm-full-rate", "-t", "wav", str(dst)],
            check=True,
            capture_output=True,
        )
        return dst
    ffmpeg = need("ffmpeg")
    args = {
        "mp3": ["-c:a", "libmp3lame", "-b:a", "32k"],
        "opus": ["-c:a", "libopus", "-b:a", "16k"],
        "vorbis": ["-c:a", "libvorbis"],
        "flac": ["-c:a", "flac"],
    }[codec]
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)],
        check=True,
        capture_output=True,
    )
    return dst
