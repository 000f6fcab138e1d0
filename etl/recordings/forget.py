"""What the scan forgets: files gone from a folder, folders gone from the root, and everything
the ledger holds about them (their links and problems). Each function runs in the caller's
transaction and returns how many files it removed from the index."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from etl.ledger.sql import chunked
from etl.ledger.tables import recording_dirs, recording_links, recording_problems, recordings
from etl.recordings import names
from etl.recordings.changes import note_removed


def forget_gone_files(conn: Connection, root: bytes, dir_hash: str, present: int) -> int:
    """Counts first: only when the ledger knows more files in this folder than the disk
    holds do we look for the missing ones (a stream of lstat calls, no set in memory)."""
    known = conn.execute(
        select(func.count()).select_from(recordings).where(recordings.c.dir_hash == dir_hash)
    ).scalar_one()
    if known <= present:
        return 0
    gone: list[str] = []
    rows = conn.execute(
        select(recordings.c.path_id, recordings.c.relpath, recordings.c.relpath_b64).where(
            recordings.c.dir_hash == dir_hash
        )
    )
    for r in rows:
        full = os.path.join(root, names.stored_path_bytes(r.relpath, r.relpath_b64))
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                continue
        except OSError:
            pass
        gone.append(r.path_id)
    for part in chunked(gone):
        delete_files(conn, part)
    return len(gone)


def forget_vanished_dirs(conn: Connection, seen_dirs: set[str]) -> int:
    """Drop the files, folder fingerprints and scan problems of every folder not seen this scan."""
    removed = 0
    dirs = conn.execute(select(recordings.c.dir_hash).distinct()).scalars().all()
    for dh in dirs:
        if dh in seen_dirs:
            continue
        ids = conn.execute(select(recordings.c.path_id).where(recordings.c.dir_hash == dh)).scalars().all()
        for part in chunked(ids):
            delete_files(conn, list(part))
        removed += len(ids)
    known_dirs = conn.execute(select(recording_dirs.c.dir_hash)).scalars().all()
    for part in chunked(_unseen(known_dirs, seen_dirs)):
        conn.execute(delete(recording_dirs).where(recording_dirs.c.dir_hash.in_(part)))
    problem_dirs = conn.execute(
        select(recording_problems.c.dir_hash).where(recording_problems.c.origin == "scan").distinct()
    ).scalars()
    for part in chunked(_unseen(problem_dirs, seen_dirs)):
        conn.execute(
            delete(recording_problems).where(
                recording_problems.c.origin == "scan",
                recording_problems.c.dir_hash.in_(part),
            )
        )
    return removed


def delete_files(conn: Connection, ids: list[str]) -> None:
    """A file's problems, links and index row; the journal keeps what found it (changes.py)."""
    note_removed(conn, ids)
    conn.execute(delete(recording_problems).where(recording_problems.c.path_id.in_(ids)))
    conn.execute(delete(recording_links).where(recording_links.c.path_id.in_(ids)))
    conn.execute(delete(recordings).where(recordings.c.path_id.in_(ids)))


def _unseen(dir_hashes: Iterable[str | None], seen_dirs: set[str]) -> list[str]:
    return [dh for dh in dir_hashes if dh is not None and dh not in seen_dirs]
