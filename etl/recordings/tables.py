"""Ledger tables of the recordings stage, defined on the shared `etl.store.metadata`.

Keys are SHA-1 hex digests of the file's relative path *bytes* (`path_id`), so any file name —
long, non-ASCII or not even valid UTF-8 — gets a short, portable primary key on SQLite, MariaDB
(index length limits) and PostgreSQL alike. Times are integer microseconds UTC, as elsewhere.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from etl.store import metadata

# One row per audio file under the root, as last seen by `scan`.
recordings = Table(
    "recordings",
    metadata,
    Column("path_id", String(40), primary_key=True),  # sha1(relative path bytes)
    Column("relpath", Text, nullable=False),  # POSIX relative path; odd bytes as \xNN
    Column("relpath_b64", Text),  # the exact bytes (urlsafe base64) when not valid UTF-8
    Column("dir_hash", String(40), nullable=False),  # sha1(relative directory bytes)
    Column("name", String(255), nullable=False),  # base name, as CDR fields spell it
    Column("stem", String(255), nullable=False),  # base name without its extension
    Column("uniqueid", String(150)),  # taken from the name (name_pattern or FreePBX layout)
    Column("pattern_tag", String(12), nullable=False),  # which name patterns gave `uniqueid`
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("recorded_us", BigInteger),  # from the name's YYYYMMDD-HHMMSS, else the mtime
    Column("state", String(16), nullable=False),  # ok | empty | unreadable
    Column("format", String(16)),  # wav, mp3, ogg, flac, gsm, …
    Column("codec", String(32)),  # pcm_s16le, gsm_ms, mp3, opus, vorbis, flac, …
    Column("sample_rate", Integer),
    Column("channels", Integer),
    Column("bitrate", Integer),  # bits per second
    Column("duration", Float),  # seconds
    Column("error", Text),  # mutagen's message when unreadable
    Column("scanned_us", BigInteger, nullable=False),
    Index("ix_recordings_dir", "dir_hash"),
    Index("ix_recordings_name", "name"),
    Index("ix_recordings_stem", "stem"),
    Index("ix_recordings_uniqueid", "uniqueid"),
)

# One row per folder: a fingerprint of its listing, so an unchanged folder costs one query.
recording_dirs = Table(
    "recording_dirs",
    metadata,
    Column("dir_hash", String(40), primary_key=True),
    Column("relpath", Text, nullable=False),
    Column("fingerprint", String(80), nullable=False),  # names, types, sizes, mtimes, patterns
    Column("files", Integer, nullable=False),  # audio files indexed
    Column("skipped", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("scanned_us", BigInteger, nullable=False),
)

# Which CDR row reaches which recording, and how (one row may reach several files).
recording_links = Table(
    "recording_links",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("path_id", String(40), primary_key=True),
    Column("linkedid", String(150), nullable=False),
    Column("method", String(16), nullable=False),  # recordingfile | userfield | uniqueid
    Column("rank", Integer, nullable=False),  # lower is stronger evidence
    Index("ix_recording_links_call", "source", "linkedid"),
    Index("ix_recording_links_path", "path_id"),
)

# Integrity problems; `scan` owns the kinds it finds on disk, `link` the ones it finds in CDR.
recording_problems = Table(
    "recording_problems",
    metadata,
    Column("problem_id", String(40), primary_key=True),  # sha1(kind, subject)
    Column("kind", String(24), nullable=False),
    Column("origin", String(8), nullable=False),  # scan | link
    Column("source", String(32)),
    Column("row_id", String(200)),
    Column("linkedid", String(150)),
    Column("path_id", String(40)),
    Column("dir_hash", String(40)),
    Column("subject", Text, nullable=False),  # the relative path or the CDR value concerned
    Column("reason", Text, nullable=False),
    Column("seen_us", BigInteger, nullable=False),
    Index("ix_recording_problems_kind", "kind"),
    Index("ix_recording_problems_path", "path_id"),
    Index("ix_recording_problems_dir", "dir_hash"),
    Index("ix_recording_problems_row", "source", "row_id"),
)

SCAN_KINDS = ("empty", "unreadable", "refused", "odd_name")
LINK_KINDS = ("missing", "orphan", "duration_mismatch", "refused")
PROBLEM_KINDS = (
    "missing",
    "orphan",
    "empty",
    "unreadable",
    "duration_mismatch",
    "refused",
    "odd_name",
)
