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
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

GUID_RE = re.compile(
    r"^([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$"
)
NAME_RE = re.compile(r"^\w{1,80}$")


def e1cib_ref(guid: str) -> str | None:
    """The 32-hex `ref` of a navigation link for a GUID, or None if it is not a GUID."""
    m = GUID_RE.match(guid or "")
    if not m:
        return None
    g1, g2, g3, g4, g5 = m.groups()
    return (g4 + g5 + g3 + g2 + g1).lower()


def guid_of_ref(ref: str) -> str | None:
    """The inverse of `e1cib_ref` (for tests and for reading links back)."""
    if not re.fullmatch(r"[0-9a-fA-F]{32}", ref or ""):
        return None
    r = ref.lower()
    g4, g5, g3, g2, g1 = r[0:4], r[4:16], r[16:20], r[20:24], r[24:32]
    return f"{g1}-{g2}-{g3}-{g4}-{g5}"


def document_name(event_document: str) -> str:
    """`Document_Событие` → `Событие` (the OData entity set → the 1C metadata name)."""
    name = event_document.removeprefix("Document_")
    return name if NAME_RE.match(name) else "Событие"


def safe_base(url: str) -> str:
    """A configured link prefix, kept only if it is http(s); anything else (javascript:, data:,
    file:) gives ''."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def event_href(guid: str | None, document: str, base: str = "") -> str | None:
    ref = e1cib_ref(guid or "")
    if ref is None:
        return None
    return f"{safe_base(base)}e1cib/data/Документ.{document_name(document)}?ref={ref}"


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
