"""Every table of the ledger, on one `metadata`: the CDR rows and calls, the bookkeeping
(cursors, quarantine, runs), the 1C outbox and cache, reconciliation, recordings and reports.

Imports only SQLAlchemy (and the CDR column lists), so any stage may import its tables from
here and `Ledger.create_schema` and `make schema` see them all without importing a stage.

Times of calls and rows are stored as integer microseconds since the epoch, UTC (`*_us`
columns): unambiguous, identical on every back-end, and cheap to write in bulk. Bookkeeping
times (runs, cursors) use `UTCDateTime`, which returns aware UTC datetimes.

Recordings tables are keyed by SHA-1 hex digests of the file's relative path *bytes*
(`path_id`), so any file name — long, non-ASCII or not even valid UTF-8 — gets a short,
portable primary key on SQLite, MariaDB (index length limits) and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from etl.cdr_columns import CDR_TEXT_COLUMNS

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out; stored naive UTC (portable across back-ends)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


cdr_rows = Table(
    "cdr_rows",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("content_hash", String(32), nullable=False),
    Column("calldate_us", BigInteger, nullable=False),
    Column("answer_us", BigInteger),
    Column("end_us", BigInteger),
    *[
        Column(name, String(150) if name in ("uniqueid", "linkedid") else Text, nullable=False, default="")
        for name in CDR_TEXT_COLUMNS
    ],
    Column("duration", Integer, nullable=False),
    Column("billsec", Integer, nullable=False),
    Column("sequence", Integer),
    Column("direction", String(10), nullable=False),
    Column("external_number", String(32)),
    Column("extension", String(32)),
    Column("loaded_us", BigInteger, nullable=False),
    Index("ix_cdr_rows_calldate", "source", "calldate_us"),
    Index("ix_cdr_rows_linkedid", "source", "linkedid"),
    Index("ix_cdr_rows_uniqueid", "source", "uniqueid"),
    Index("ix_cdr_rows_loaded", "source", "loaded_us"),  # the rows a run added (recordings link)
)

calls = Table(
    "calls",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("linkedid", String(150), primary_key=True),
    Column("start_us", BigInteger, nullable=False),
    Column("answer_us", BigInteger),
    Column("end_us", BigInteger, nullable=False),
    Column("wait", Integer, nullable=False),
    Column("talk", Integer, nullable=False),
    Column("direction", String(10), nullable=False),
    Column("external_number", String(32)),
    Column("extension", String(32)),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("legs", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_calls_start", "source", "start_us"),
    Index("ix_calls_number", "external_number"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(100), primary_key=True),  # a source name, or a backfill's resume key
    Column("column", String(32), nullable=False),
    Column("value", String(200), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

# The look-back window of a source as it was before the last full read that changed nothing
# (etl/sources/window.py): a sync that finds the same digest for the same cursor has nothing to
# do and needs no normalisation (jobs/sync_noop.py). Rewritten by such a run only.
source_windows = Table(
    "source_windows",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("column", String(32), nullable=False),  # the cursor column's kind, as in `cursors`
    Column("cursor", String(200), nullable=False),
    Column("table_name", String(200), nullable=False),  # the table and column as the source names them
    Column("column_name", String(200), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("digest", String(32), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_key", String(32), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("run_id", Integer),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(32), nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("exit_code", Integer),
    Column("summary", Text, nullable=False, default="{}"),
    Index("ix_runs_job", "job", "started"),
)

# --- 1C: the outbox (etl/onec/outbox.py) ---------------------------------------------------
outbox = Table(
    "onec_outbox",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("enqueued_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_us", BigInteger, nullable=False, default=0),
    Column("last_error", Text),
    Index("ix_onec_outbox_next", "next_try_us"),
)

delivered = Table(
    "onec_delivered",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("record_hash", String(32), nullable=False),
    Column("delivered_us", BigInteger, nullable=False),
)

dead_letters = Table(
    "onec_dead_letters",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("record_hash", String(32), nullable=False),
    Column("status", Integer, nullable=False),
    Column("code", String(16)),
    Column("message", Text, nullable=False),
    Column("record", Text, nullable=False),
    Column("dead_us", BigInteger, nullable=False),
)

# --- 1C: the cache of what was read (etl/onec/readers.py) ----------------------------------
events = Table(
    "onec_events",
    metadata,
    Column("ref_key", String(36), primary_key=True),
    Column("number", String(50), nullable=False, default=""),
    Column("date_us", BigInteger, nullable=False),
    Column("call_id", String(150), nullable=False, default=""),
    Column("client_ref", String(36)),
    Column("client_type", String(100)),
    Column("responsible_ref", String(36)),
    Column("subject", Text),
    Column("read_us", BigInteger, nullable=False),
    Index("ix_onec_events_call", "call_id"),
    Index("ix_onec_events_date", "date_us"),
)

clients = Table(
    "onec_clients",
    metadata,
    Column("ref_key", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("manager_ref", String(36)),
    Column("read_us", BigInteger, nullable=False),
)

client_phones = Table(
    "onec_client_phones",
    metadata,
    Column("client_ref", String(36), primary_key=True),
    Column("phone", String(32), primary_key=True),
    Column("presentation", Text, nullable=False),
    Index("ix_onec_client_phones_phone", "phone"),
)

employees = Table(
    "onec_employees",
    metadata,
    Column("ref_key", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("extension", String(32)),
    Index("ix_onec_employees_ext", "extension"),
)

# --- 1C: reconciliation (etl/onec/reconcile.py) --------------------------------------------
# One row per call (source, linkedid): what reconciliation found; the push reads event/client.
call_links = Table(
    "onec_call_links",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("linkedid", String(150), primary_key=True),
    Column("status", String(24), nullable=False),
    Column("event_ref", String(36)),
    Column("client_ref", String(36)),
    Column("phone_client_ref", String(36)),
    Column("detail", Text),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_onec_call_links_status", "status"),
)

orphan_events = Table(
    "onec_orphan_events",
    metadata,
    Column("ref_key", String(36), primary_key=True),
    Column("call_id", String(150), nullable=False),
    Column("date_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# --- recordings (etl/recordings/) ----------------------------------------------------------
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
    Index("ix_recording_problems_call", "source", "linkedid"),
)

# What the link of a source has seen (etl/recordings/marks.py), written in the transaction of
# its links: the newest `cdr_rows.loaded_us` and `recording_changes.seq` linked, the settings
# that shaped the links (a different fingerprint means a full rebuild), the source's calls
# with a recording, and the orphan window (the earliest call) the orphans were found with.
recording_link_marks = Table(
    "recording_link_marks",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("loaded_us", BigInteger, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("fingerprint", String(40), nullable=False),
    Column("calls", Integer, nullable=False),
    Column("first_us", BigInteger),
    Column("linked_us", BigInteger, nullable=False),
)

# Files the scan added, changed, re-tagged or removed, with what CDR rows find them by (name
# stem, uniqueid) and, for a removed file, each call it was linked to (the scan drops those
# links): the next link of each source relinks the calls these can reach. Trimmed to what some
# source has not linked yet.
recording_changes = Table(
    "recording_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("path_id", String(40), nullable=False),
    Column("stem", String(255), nullable=False),
    Column("uniqueid", String(150)),
    Column("source", String(32)),
    Column("linkedid", String(150)),
)

# Which recordings each CDR row names (recordingfile, userfield): `ref_key` is the path_id of a
# path, or sha1 of NUL + stem for a bare name, so a changed file finds the rows that name it.
recording_refs = Table(
    "recording_refs",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("ref_key", String(40), primary_key=True),
    Column("linkedid", String(150), nullable=False),
    Index("ix_recording_refs_key", "source", "ref_key"),
)

# --- reports: what each page was last rendered from (etl/reports/) -------------------------
# - `report_pages`: per output folder (`target`, sha1 of its absolute path) and page, the hash
#   of the data the page was rendered from. A page whose data hash is unchanged (and whose file
#   still exists) is not rendered again.
# - `report_rows`: every client (or unknown number) as last computed, as the index needs it:
#   its sort keys, its 1C fingerprint and numbers (the dirty check), and its pieces of the index
#   already rendered and escaped (the clients table row as HTML, CSV and XLSX cells, its
#   unknown-numbers row, its missed-and-not-called-back rows), so an incremental run
#   concatenates 20,000 stored rows in order instead of rendering them again.
#   (`report_parties`, the JSON summaries of earlier versions, is no longer used: a ledger that
#   has it may drop it.)
# - `report_marks`: watermarks (newest `calls.updated_us`, …) and the settings fingerprint
#   per target; a changed fingerprint means a full run.
report_pages = Table(
    "report_pages",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("page", String(200), primary_key=True),
    Column("data_hash", String(32), nullable=False),
    Column("rendered_us", BigInteger, nullable=False),
)

# MySQL's TEXT stops at 64 kB; a party's rows carry unclipped foreign strings
LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

report_rows = Table(
    "report_rows",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("party_id", String(64), primary_key=True),  # 1C Ref_Key, or "n" + E.164 digits
    Column("kind", String(8), nullable=False),  # client | number
    Column("fp", String(32), nullable=False),  # the 1C card's fingerprint ("" for a number)
    Column("phones", Text, nullable=False),  # E.164 numbers, space-separated
    Column("manager", Text, nullable=False),
    Column("last_us", BigInteger),  # sort keys of the index
    Column("total", Integer, nullable=False),
    Column("row_hash", String(32), nullable=False),  # of everything below
    Column("row_html", LONG_TEXT, nullable=False),  # the clients table: escaped HTML row
    Column("row_csv", LONG_TEXT, nullable=False),  # … one CSV line
    Column("row_xlsx", LONG_TEXT, nullable=False),  # … XLSX cells (no references: see exports)
    Column("unknown_html", LONG_TEXT),  # an unknown number's row: HTML, CSV, XLSX cells
    Column("unknown_csv", LONG_TEXT),
    Column("unknown_xlsx", LONG_TEXT),
    # missed and not called back: JSON [[last_us, number, len html, len csv, len xlsx], …]
    # (small: a JSON decode of the escaped pieces themselves cost ~12 µs a row) and the
    # pieces, each kind concatenated
    Column("cb_keys", Text),
    Column("cb_html", LONG_TEXT),
    Column("cb_csv", LONG_TEXT),
    Column("cb_xlsx", LONG_TEXT),
    Column("updated_us", BigInteger, nullable=False),
)

report_marks = Table(
    "report_marks",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)
