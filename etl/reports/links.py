"""Every href a report writes is built here, from parts that cannot smuggle a scheme in.

- 1C navigation links (docs/reference/onec-http.md §5a): `e1cib/data/Документ.<name>?ref=<32 hex>`, the ref
  being the GUID `g1-g2-g3-g4-g5` written as `g4 g5 g3 g2 g1`; built only from a GUID that
  matches the pattern and a document name of letters, digits and `_`. An optional web-client
  prefix (`[reports] onec_link_base`) must be http(s).
- Recordings: a relative path inside the recordings root (as the recordings stage stored it),
  never absolute, never with `..`, percent-encoded; prefixed with `url_base` when that is an
  http(s) URL or a path, else the path from the page's folder to the root.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from etl.e1cib import GUID_RE as GUID_RE  # re-exported: the reports and their tests name them here
from etl.e1cib import NAME_RE, href
from etl.e1cib import e1cib_ref as e1cib_ref
from etl.e1cib import guid_of_ref as guid_of_ref
from etl.e1cib import safe_base as safe_base


def document_name(event_document: str) -> str:
    """`Document_Событие` → `Событие` (the OData entity set → the 1C metadata name)."""
    name = event_document.removeprefix("Document_")
    return name if NAME_RE.match(name) else "Событие"


def event_href(guid: str | None, document: str, base: str = "") -> str | None:
    return href("Документ", document_name(document), guid, base)


def safe_relpath(relpath: str, relpath_b64: str | None = None) -> str | None:
    """The percent-encoded relative path of a recording, or None if it could leave the root."""
    if relpath_b64:
        try:
            raw = base64.urlsafe_b64decode(relpath_b64.encode("ascii"))
        except (ValueError, UnicodeError):
            return None
        parts_b = raw.split(b"/")
        if raw.startswith(b"/") or b".." in parts_b or b"\\" in raw or any(p == b"" for p in parts_b):
            return None
        return quote(raw, safe="/")
    if not relpath or "\\" in relpath or "\x00" in relpath:
        return None
    p = PurePosixPath(relpath)
    if p.is_absolute() or any(part in ("..", "") for part in relpath.split("/")):
        return None
    return quote(relpath, safe="/")


class RecordingLinker:
    """Links from pages in one folder to recordings."""

    def __init__(self, root: Path | None, url_base: str, page_dir: Path, report_dir: Path) -> None:
        base = (url_base or "").strip()
        parts = urlsplit(base)
        if base and parts.scheme.lower() in ("http", "https") and parts.netloc:
            self.prefix = base.rstrip("/") + "/"
        elif base and not parts.scheme and not base.startswith("//"):
            if base.startswith("/"):  # an absolute path on this host
                self.prefix = quote(base.rstrip("/"), safe="/") + "/"
            else:  # relative to the report folder (as the demo writes it)
                rel = os.path.relpath(report_dir, page_dir)
                prefix = PurePosixPath(rel, base) if rel != "." else PurePosixPath(base)
                self.prefix = quote(prefix.as_posix().rstrip("/"), safe="/") + "/"
        elif root is not None:
            rel = os.path.relpath(root.resolve(), page_dir.resolve())
            self.prefix = quote(PurePosixPath(*Path(rel).parts).as_posix(), safe="/") + "/"
        else:
            self.prefix = ""
        self.root = root

    def href(self, relpath: str, relpath_b64: str | None = None) -> str | None:
        if not self.prefix:
            return None
        safe = safe_relpath(relpath, relpath_b64)
        return None if safe is None else self.prefix + safe
