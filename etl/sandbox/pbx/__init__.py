"""A deterministic sample PBX: a FreePBX office's CDR history, its `cdr` table, recordings and
hostile rows (`calls.generate_history`, `tables.write_sqlite` / `write_sql`,
`recordings.write_recordings`, `hostile.hostile_rows`; the office itself in `office`)."""

from etl.cdr_columns import FREEPBX_COLUMNS

from .calls import default_start, generate_history
from .hostile import hostile_rows
from .office import ANCHOR, DEFAULT_DAYS, DIDS, DISPOSITIONS, EMPLOYEES, EXTENSIONS, TRUNK
from .recordings import EMPTY_WAV_BYTES, WAV_RATE, is_missing_on_purpose, recording_path, write_recordings
from .tables import ASTERISK_COLUMNS, asterisk_row, ddl_statements, ddl_text, write_sql, write_sqlite

__all__ = [
    "ANCHOR", "ASTERISK_COLUMNS", "DEFAULT_DAYS", "DIDS", "DISPOSITIONS", "EMPLOYEES", "EMPTY_WAV_BYTES",
    "EXTENSIONS", "FREEPBX_COLUMNS", "TRUNK", "WAV_RATE", "asterisk_row", "ddl_statements", "ddl_text",
    "default_start", "generate_history", "hostile_rows", "is_missing_on_purpose", "recording_path",
    "write_recordings", "write_sql", "write_sqlite",
]  # fmt: skip
