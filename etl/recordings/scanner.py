"""The incremental, streaming scan of the recordings root.

The walk is an explicit stack of folders read with `os.scandir` on *bytes* paths (so names
that are not valid UTF-8 are seen exactly as they are). Files are taken in batches of
`batch_size`; each batch is compared with the ledger in one query on (size, mtime), and only
new or changed files are opened and read with mutagen. Memory holds one batch and the stack
of folders still to visit, never the list of all files.

Safety: a symlink is never followed (one leading out of the root is reported as `refused`,
one inside it is skipped because its target is indexed where it lies); FIFOs, sockets and
devices are refused; files are opened with O_NOFOLLOW on a descriptor checked to be a regular
file (see `media.open_regular`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import struct
import time
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from etl.clock import now_us
from etl.config import RecordingsSettings
from etl.errors import SourceUnreachable
from etl.ledger.sql import upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import recording_dirs, recording_problems, recordings
from etl.recordings import names
from etl.recordings.changes import note_files
from etl.recordings.forget import forget_gone_files, forget_vanished_dirs
from etl.recordings.media import Refused, probe
from etl.recordings.problems import problem, unique_problems
from etl.recordings.progress import Bar, progress_bar
from etl.recordings.rows import file_row
from etl.recordings.summaries import ScanSummary

log = logging.getLogger("cdr1c.recordings")

_FILE_KINDS = ("empty", "unreadable", "odd_name")  # problems tied to a scanned file
_COUNTED = {"empty": "empty", "unreadable": "unreadable", "odd_name": "odd_names"}  # ScanSummary's
_RECORDING_COLUMNS = [c.name for c in recordings.columns if c.name != "path_id"]
_KNOWN = select(
    recordings.c.path_id, recordings.c.size, recordings.c.mtime_ns, recordings.c.pattern_tag
).where(recordings.c.path_id.in_(bindparam("ids", expanding=True)))
_ENTRY = struct.Struct("<IQq")  # mode, size, mtime_ns after each name
_AUDIO_EXT = frozenset(e.encode() for e in names.AUDIO_EXTENSIONS)


def _is_audio(name: bytes) -> bool:
    stem, dot, ext = name.rpartition(b".")
    return bool(dot and stem) and ext.lower() in _AUDIO_EXT


def scan(settings: RecordingsSettings, ledger: Ledger, *, progress: bool | None = None) -> ScanSummary:
    """Bring the ledger's index of `settings.root` up to date; re-runnable, never fatal for a
    bad file. `progress`: None = a rich bar on a terminal, log lines otherwise; False = quiet
    except the final line; True = the bar even without a terminal."""
    started = time.monotonic()
    root = os.fsencode(os.path.abspath(settings.root))
    if not os.path.isdir(root):
        raise SourceUnreachable(f"recordings root {settings.root} is not a readable folder")
    scanner = _Scanner(settings, ledger, root)
    with progress_bar(progress, _count(ledger)) as bar:
        scanner.bar = bar
        scanner.run()
    s = scanner.summary
    s.seconds = round(time.monotonic() - started, 3)
    log.info(
        "recordings: %d files in %d folders (%d new, %d changed, %d unchanged, %d removed); "
        "%d empty, %d unreadable, %d refused, %d odd names; %.1f s",
        s.found,
        s.dirs,
        s.new,
        s.changed,
        s.unchanged,
        s.removed,
        s.empty,
        s.unreadable,
        s.refused,
        s.odd_names,
        s.seconds,
    )
    return s


def _count(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(recordings)).scalar_one())


class _Scanner:
    def __init__(self, settings: RecordingsSettings, ledger: Ledger, root: bytes) -> None:
        self.settings = settings
        self.ledger = ledger
        self.root = root
        self.root_real = os.path.realpath(root)
        self.patterns = names.compile_patterns(settings.name_pattern)
        self.tag = names.pattern_tag(settings.name_pattern)
        self.summary = ScanSummary()
        self.bar: Bar | None = None
        self.seen_dirs: set[str] = set()

    # --- the walk -----------------------------------------------------------------------
    def run(self) -> None:
        stack: list[bytes] = [b""]
        while stack:
            rel = stack.pop()
            stack.extend(sorted(self._scan_dir(rel), reverse=True))
        self._forget_vanished_dirs()

    def _scan_dir(self, rel: bytes) -> list[bytes]:
        """Index one folder; return its sub-folders (relative).

        A first pass lists the folder and folds every entry's name, type, size and mtime into
        one order-independent fingerprint; when it equals the stored one, nothing in the folder
        changed and the ledger is asked one question for the whole folder. Otherwise a second
        pass compares the files with the ledger batch by batch and reads the new or changed."""
        self.summary.dirs += 1
        dir_hash = names.path_id(rel)
        self.seen_dirs.add(dir_hash)
        if self.bar:
            self.bar.folder(rel)
        listed = self._fingerprint(rel)
        if listed is not None:
            fingerprint, subdirs, entries = listed
            with self.ledger.begin() as conn:
                stored = conn.execute(
                    select(
                        recording_dirs.c.fingerprint,
                        recording_dirs.c.files,
                        recording_dirs.c.skipped,
                        recording_dirs.c.refused,
                    ).where(recording_dirs.c.dir_hash == dir_hash)
                ).first()
            if stored is not None and stored[0] == fingerprint:
                s = self.summary
                s.found += stored[1]
                s.unchanged += stored[1]
                s.skipped += stored[2]
                s.refused += stored[3]
                if self.bar:
                    self.bar.advance(entries, s)
                return subdirs
        before = (self.summary.found, self.summary.skipped, self.summary.refused)
        subdirs = self._index_dir(rel, dir_hash)
        if listed is not None:
            shown, _ = names.display_path(rel)
            row = {
                "dir_hash": dir_hash,
                "relpath": shown,
                "fingerprint": listed[0],
                "files": self.summary.found - before[0],
                "skipped": self.summary.skipped - before[1],
                "refused": self.summary.refused - before[2],
                "scanned_us": now_us(),
            }
            with self.ledger.begin() as conn:
                upsert(conn, recording_dirs, [row], update=[k for k in row if k != "dir_hash"])
        return subdirs

    def _fingerprint(self, rel: bytes) -> tuple[str, list[bytes], int] | None:
        """(fingerprint, sub-folders, number of entries) of one listing, None if unreadable.

        The digest follows the listing order, which the file system keeps while a folder is
        not modified; should it ever differ, the folder just takes the batch path."""
        digest = hashlib.blake2b(digest_size=20)
        feed = digest.update
        pack = _ENTRY.pack
        count = 0
        subdirs: list[bytes] = []
        try:
            with os.scandir(os.path.join(self.root, rel) if rel else self.root) as it:
                for entry in it:
                    count += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        return None  # vanished while listing: take the careful path
                    feed(entry.name)
                    if stat.S_ISDIR(st.st_mode):
                        subdirs.append(rel + b"/" + entry.name if rel else entry.name)
                        feed(b"\0/")
                    else:
                        feed(b"\0" + pack(st.st_mode, st.st_size, st.st_mtime_ns))
        except OSError:
            return None
        return f"{self.tag}:{count}:{digest.hexdigest()}", subdirs, count

    def _index_dir(self, rel: bytes, dir_hash: str) -> list[bytes]:
        subdirs: list[bytes] = []
        refused: list[tuple[bytes, str]] = []
        batch: list[tuple[bytes, os.stat_result]] = []
        present = 0
        try:
            it = os.scandir(os.path.join(self.root, rel) if rel else self.root)
        except OSError as exc:
            refused.append((rel, f"folder cannot be read: {exc.strerror or exc}"))
            self._replace_dir_refusals(dir_hash, refused)
            return subdirs
        with it:
            for entry in it:
                relp = rel + b"/" + entry.name if rel else entry.name
                try:
                    if entry.is_symlink():
                        self._symlink(relp, refused)
                    elif entry.is_dir(follow_symlinks=False):
                        subdirs.append(relp)
                    elif entry.is_file(follow_symlinks=False):
                        if not _is_audio(entry.name):
                            self.summary.skipped += 1
                            continue
                        batch.append((relp, entry.stat(follow_symlinks=False)))
                        if len(batch) >= self.settings.batch_size:
                            present += self._batch(dir_hash, batch, refused)
                            batch = []
                    else:
                        refused.append((relp, "not a regular file (FIFO, socket or device); not opened"))
                except OSError as exc:  # vanished between listing and stat, or no permission
                    refused.append((relp, f"cannot stat: {exc.strerror or exc}"))
        if batch:
            present += self._batch(dir_hash, batch, refused)
        self._forget_gone_files(dir_hash, present)
        self._replace_dir_refusals(dir_hash, refused)
        return subdirs

    def _symlink(self, relp: bytes, refused: list[tuple[bytes, str]]) -> None:
        full = os.path.join(self.root, relp)
        try:
            target = os.path.realpath(full)  # reads the link chain; opens nothing
        except (OSError, ValueError) as exc:
            refused.append((relp, f"symlink cannot be resolved: {exc}"))
            return
        inside = target == self.root_real or target.startswith(self.root_real.rstrip(b"/") + b"/")
        if inside:
            self.summary.skipped += 1  # its target is indexed where it lies
            return
        shown = target.decode("utf-8", "backslashreplace")
        refused.append((relp, f"symlink to {shown} leads outside the recordings root; not followed"))

    # --- one batch ------------------------------------------------------------------------
    def _batch(
        self,
        dir_hash: str,
        batch: list[tuple[bytes, os.stat_result]],
        refused: list[tuple[bytes, str]],
    ) -> int:
        sha1 = hashlib.sha1
        ids = [sha1(relp).hexdigest() for relp, _ in batch]
        with self.ledger.begin() as conn:
            # One query per batch; plain tuples, because on a rescan this is the hot path.
            known = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(_KNOWN, {"ids": ids}).all()}
            rows: list[dict[str, Any]] = []
            problems: list[dict[str, Any]] = []
            retag: list[dict[str, Any]] = []
            present = 0
            for pid, (relp, st) in zip(ids, batch, strict=True):
                old = known.get(pid)
                if old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                    present += 1
                    self.summary.found += 1
                    self.summary.unchanged += 1
                    if old[2] != self.tag:  # name_pattern changed: re-read the name, not the audio
                        name = os.path.basename(relp).decode("utf-8", "backslashreplace")
                        uid = names.uniqueid_from_name(name, self.patterns)
                        retag.append({"pid": pid, "uid": uid, "stem": names.split_name(name)[0][:255]})
                    continue
                try:
                    media = probe(os.path.join(self.root, relp), st.st_size)
                except Refused as exc:
                    refused.append((relp, f"{exc}; not opened"))
                    continue
                present += 1
                self.summary.found += 1
                if old is None:
                    self.summary.new += 1
                else:
                    self.summary.changed += 1
                row, file_problems = file_row(
                    pid, dir_hash, relp, st, media, self.patterns, self.tag, now_us()
                )
                for p in file_problems:  # empty, unreadable, odd_name: counted as read in this run
                    counter = _COUNTED[p["kind"]]
                    setattr(self.summary, counter, getattr(self.summary, counter) + 1)
                rows.append(row)
                problems.extend(file_problems)
            if rows:
                upsert(conn, recordings, rows, update=_RECORDING_COLUMNS)
                note_files(conn, rows)
                changed_ids = [r["path_id"] for r in rows]
                conn.execute(
                    delete(recording_problems).where(
                        recording_problems.c.path_id.in_(changed_ids),
                        recording_problems.c.kind.in_(_FILE_KINDS),
                    )
                )
                if problems:
                    upsert(conn, recording_problems, problems, update=("reason", "seen_us", "subject"))
            for r in retag:
                conn.execute(
                    update(recordings)
                    .where(recordings.c.path_id == r["pid"])
                    .values(uniqueid=r["uid"], pattern_tag=self.tag)
                )
            note_files(conn, ({"path_id": r["pid"], "stem": r["stem"], "uniqueid": r["uid"]} for r in retag))
        if self.bar:
            self.bar.advance(len(batch), self.summary)
        return present

    # --- what disappeared -----------------------------------------------------------------
    def _forget_gone_files(self, dir_hash: str, present: int) -> None:
        with self.ledger.begin() as conn:
            self.summary.removed += forget_gone_files(conn, self.root, dir_hash, present)

    def _forget_vanished_dirs(self) -> None:
        with self.ledger.begin() as conn:
            self.summary.removed += forget_vanished_dirs(conn, self.seen_dirs)

    def _replace_dir_refusals(self, dir_hash: str, refused: list[tuple[bytes, str]]) -> None:
        seen = now_us()
        rows = []
        for relp, reason in refused:
            shown, _ = names.display_path(relp)
            rows.append(problem("refused", "scan", shown, reason, dir_hash=dir_hash, seen_us=seen))
        self.summary.refused += len(rows)
        with self.ledger.begin() as conn:
            conn.execute(
                delete(recording_problems).where(
                    recording_problems.c.dir_hash == dir_hash,
                    recording_problems.c.origin == "scan",
                    recording_problems.c.kind == "refused",
                )
            )
            if rows:
                upsert(
                    conn, recording_problems, unique_problems(rows), update=("reason", "seen_us", "subject")
                )
