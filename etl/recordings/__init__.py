"""Call recordings: the scan of the recordings root, metadata, links to CDR rows and calls,
integrity problems, and the derived fields 1C and the reports use.

    scan(settings, ledger)            index new/changed files (size + mtime), never fatal per file
    link(settings, ledger, source)    link files to rows and calls; missing/orphan/mismatch/refused
    recording_fields(conn, source, row_ids)   recording_path / _duration / _state per row
    status_counts(ledger)             numbers for `cdr1c status`
"""

from etl.ledger.tables import recording_links, recording_problems, recordings
from etl.recordings.kinds import PROBLEM_KINDS
from etl.recordings.linker import link
from etl.recordings.read import call_recordings, list_problems, recording_fields, recording_url, status_counts
from etl.recordings.scanner import scan
from etl.recordings.summaries import LinkSummary, ScanSummary

__all__ = [
    "PROBLEM_KINDS",
    "LinkSummary",
    "ScanSummary",
    "call_recordings",
    "link",
    "list_problems",
    "recording_fields",
    "recording_links",
    "recording_problems",
    "recording_url",
    "recordings",
    "scan",
    "status_counts",
]
