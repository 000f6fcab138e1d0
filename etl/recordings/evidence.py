"""What a CDR row names and which indexed recordings it reaches (the ranks in linker.py), for a
batch of rows: their links, `missing` and `refused` problems, and the references they make
(`recording_refs`, so a file that changes later finds the rows that name it)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from etl.config import RecordingsSettings
from etl.ledger.sql import chunked, insert_ignore, upsert
from etl.ledger.tables import cdr_rows, recording_links, recording_problems, recording_refs, recordings
from etl.recordings import names
from etl.recordings.problems import problem, unique_problems
from etl.recordings.summaries import LinkSummary

RANKS = {"recordingfile": 0, "userfield": 1, "uniqueid": 2}
ROW_COLUMNS = (
    cdr_rows.c.row_id,
    cdr_rows.c.uniqueid,
    cdr_rows.c.linkedid,
    cdr_rows.c.recordingfile,
    cdr_rows.c.userfield,
)


@dataclass(frozen=True)
class Row:
    row_id: str
    uniqueid: str
    linkedid: str
    recordingfile: str
    userfield: str

    @classmethod
    def of(cls, r: Any) -> Row:
        return cls(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "")


def name_key(stem: str) -> str:
    """`recording_refs.ref_key` of a bare name: a file of the same stem may be the one it names
    (by name, or by stem after a conversion). A path's key is its path_id; NUL never occurs in
    a path, so the two never meet."""
    return hashlib.sha1(b"\0" + stem.encode("utf-8", "surrogateescape")).hexdigest()


def ref_key(ref: names.Reference) -> str:
    if ref.is_path:
        return _path_id(ref)
    return name_key(names.split_name(ref.value)[0])


def _path_id(ref: names.Reference) -> str:
    """The index key of the file a path reference names."""
    return names.path_id(ref.value.encode("utf-8", "surrogateescape"))


Refs = dict[str, list[tuple[str, int, names.Reference, str]]]


def link_rows(
    conn: Connection, settings: RecordingsSettings, source: str, chunk: list[Row], s: LinkSummary
) -> None:
    """Link `chunk` (whose old links and problems the caller removed) and note its references.
    Rows are taken in row_id order, so a problem shared by the legs of a call keeps the last
    leg's row_id, whichever run wrote it."""
    s.rows += len(chunk)
    root = str(settings.root)
    refs: Refs = defaultdict(list)
    problems: list[dict[str, Any]] = []
    for row in chunk:
        for fname in ("recordingfile", "userfield"):
            value = getattr(row, fname)
            for i, part in enumerate(names.field_values(value)):
                ref = names.cdr_reference(part, root=root, pbx_root=settings.pbx_root)
                if isinstance(ref, names.Refusal):
                    reason = f"{fname}: {ref.reason}; not followed"
                    problems.append(
                        problem(
                            "refused",
                            "link",
                            part,
                            reason,
                            source=source,
                            row_id=row.row_id,
                            linkedid=row.linkedid,
                        )
                    )
                elif ref is not None:
                    refs[row.row_id].append((fname, i, ref, value))
    index = _Index(conn, refs, [r.uniqueid for r in chunk if r.uniqueid])
    links: list[dict[str, Any]] = []
    noted = {
        (row.row_id, ref_key(ref)): row.linkedid for row in chunk for _, _, ref, _ in refs.get(row.row_id, [])
    }
    for row in chunk:
        found: dict[str, str] = {}  # path_id → method (strongest first)
        promised: list[tuple[str, str]] = []
        for fname, i, ref, value in refs.get(row.row_id, []):
            pid = index.resolve(ref)
            if pid is not None:
                found.setdefault(pid, fname)
            elif i == 0 and (fname == "recordingfile" or names.is_audio_name(ref.value)):
                promised.append((fname, value))
        if not found:  # the name in the CDR wins; the uniqueid is the fallback
            for pid in index.by_uniqueid.get(row.uniqueid, ()):
                found.setdefault(pid, "uniqueid")
        for pid, method in found.items():
            links.append(
                {
                    "source": source,
                    "row_id": row.row_id,
                    "path_id": pid,
                    "linkedid": row.linkedid,
                    "method": method,
                    "rank": RANKS[method],
                }
            )
        if found:
            s.linked += 1
            best = min(found.values(), key=RANKS.__getitem__)
            setattr(s, f"by_{best}", getattr(s, f"by_{best}") + 1)
        else:
            for fname, value in promised:
                reason = (
                    f"{fname} {value!r} names a recording not found under the root{_expected_where(value)}"
                )
                problems.append(
                    problem(
                        "missing",
                        "link",
                        value,
                        reason,
                        source=source,
                        row_id=row.row_id,
                        linkedid=row.linkedid,
                    )
                )
    insert_ignore(conn, recording_links, links)
    insert_ignore(
        conn,
        recording_refs,
        [{"source": source, "row_id": r, "ref_key": k, "linkedid": c} for (r, k), c in noted.items()],
    )
    if problems:
        upsert(conn, recording_problems, unique_problems(problems), update=("reason", "seen_us", "row_id"))


def _expected_where(value: str) -> str:
    name = value.strip().rsplit("/", 1)[-1]
    folder = names.date_folder(name)
    return f" (FreePBX would look in {folder}/)" if folder and "/" not in value else ""


class _Index:
    """The recordings a chunk of rows may name, fetched with a few IN queries."""

    def __init__(self, conn: Connection, refs: Refs, uniqueids: list[str]) -> None:
        wanted_names = {ref.value for lst in refs.values() for _, _, ref, _ in lst if not ref.is_path}
        wanted_paths = {_path_id(ref) for lst in refs.values() for _, _, ref, _ in lst if ref.is_path}
        self.by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.by_stem: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.paths: set[str] = set()
        self.by_uniqueid: dict[str, list[str]] = defaultdict(list)
        cols = (recordings.c.path_id, recordings.c.relpath, recordings.c.name, recordings.c.stem)
        for batch in chunked(sorted(wanted_names)):
            for r in conn.execute(select(*cols).where(recordings.c.name.in_(batch))):
                self.by_name[r.name].append((r.path_id, r.relpath))
        stems = sorted({names.split_name(n)[0] for n in wanted_names if n not in self.by_name})
        for batch in chunked(stems):
            for r in conn.execute(select(*cols).where(recordings.c.stem.in_(batch))):
                self.by_stem[r.stem].append((r.path_id, r.relpath))
        for batch in chunked(sorted(wanted_paths)):
            self.paths.update(
                conn.execute(select(recordings.c.path_id).where(recordings.c.path_id.in_(batch))).scalars()
            )
        for batch in chunked(sorted(set(uniqueids))):
            for u in conn.execute(
                select(recordings.c.path_id, recordings.c.uniqueid).where(recordings.c.uniqueid.in_(batch))
            ):
                self.by_uniqueid[u.uniqueid].append(u.path_id)

    def resolve(self, ref: names.Reference) -> str | None:
        if ref.is_path:
            pid = _path_id(ref)
            return pid if pid in self.paths else None
        # Exact name first (a case-insensitive collation may return x.wav for x.WAV), then
        # the same stem with another audio extension.
        hits = [h for h in self.by_name.get(ref.value, []) if h[1].rsplit("/", 1)[-1] == ref.value]
        if not hits:
            stem = names.split_name(ref.value)[0]
            hits = [
                h
                for h in self.by_stem.get(stem, [])
                if names.split_name(h[1].rsplit("/", 1)[-1])[0] == stem and names.is_audio_name(h[1])
            ]
        if not hits:
            return None
        folder = names.date_folder(ref.value)
        hits.sort(key=lambda h: (not (folder and h[1].startswith(folder + "/")), h[1].count("/"), h[1]))
        return hits[0][0]
