"""What a scan and a link report: the counts `cdr1c recordings` prints and the runs record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ScanSummary:
    """What one scan saw. `empty`/`unreadable`/`odd_names` count files read in this run."""

    found: int = 0  # audio files on disk
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0  # in the ledger, gone from disk
    empty: int = 0
    unreadable: int = 0
    refused: int = 0
    odd_names: int = 0
    skipped: int = 0  # not audio by extension, or a symlink whose target lies inside the root
    dirs: int = 0
    seconds: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LinkSummary:
    """`rows` … `by_uniqueid` count what this run relinked; `calls` … `refused` are the ledger's
    totals after it (for the sources linked; `calls` and `orphan` for all)."""

    full: bool = False  # a full rebuild of a source (first run, settings changed, asked for)
    relinked_calls: int = 0  # calls (linkedids) relinked
    rows: int = 0  # CDR rows read and relinked
    linked: int = 0  # of those, rows that reach a recording themselves
    by_recordingfile: int = 0
    by_userfield: int = 0
    by_uniqueid: int = 0
    calls: int = 0  # calls (linkedids) with at least one recording
    missing: int = 0
    orphan: int = 0
    duration_mismatch: int = 0
    refused: int = 0
    seconds: float = field(default=0.0, compare=False)
    # (source, linkedid) of the calls that had no recording before this run and have one now
    got_recording: set[tuple[str, str]] = field(default_factory=set, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["got_recording"]
        return out
