"""The stand-in's data on disk: an append-only journal of the base's changes, one JSON line each.

A real 1C commits each accepted write before it answers; so does the stand-in that keeps a
journal (`Publication.keep`): the lines of a request are written in one `write` and fsynced
under the base's lock, before the answer leaves. A `kill -9` (or a power cut) loses nothing
that was answered. At start the journal is replayed, then rewritten as one snapshot line, so
the file stays as large as the data, not as the history.

Lines (each a JSON object):

- `{"sets": {name: {"fields": {f: [edm, length]}, "key": [...], "rows": [...]}}}`: these
  entity sets, in place of any of the same name (what `Publication.save` writes: a journal
  of one line; the older single-document save files read the same way);
- `{"put": name, "row": {...}}`: a row written (created or changed), by its key;
- `{"del": name, "key": [...]}`: a row deleted;
- `{"drop": [names]}`: entity sets taken out of the publication.

A last line without its newline is a write the process died in (never answered): it is left
out, and the rewrite at the next start drops it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

Entry = Mapping[str, Any]


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of the journal at `path`, oldest first; a torn last line is left out."""
    lines = path.read_bytes().split(b"\n")
    lines.pop()  # b"" after the last newline, or a torn line
    for line in lines:
        if line.strip():
            yield json.loads(line)


def _line(entry: Entry) -> bytes:
    return json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"


class Journal:
    """An open journal: `append` returns once the entries are on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, entries: Iterable[Entry]) -> None:
        data = b"".join(_line(e) for e in entries)
        if not data:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def write_snapshot(path: Path, snapshot: Entry) -> None:
    """Replace `path` with the one line `snapshot`, atomically and durably: a crash leaves the
    old file or the new one, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(_line(snapshot))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
