"""1C navigation links (`e1cib/data/<metadata name>?ref=<32 hex>`, docs/reference/onec-http.md §5a),
built only from parts that cannot smuggle a scheme or a path in: a GUID that matches the pattern,
a metadata name of letters, digits and `_`, and an optional web-client prefix that must be
http(s). Pure and light: the reports and the live panel's call card both build their links here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

GUID_RE = re.compile(
    r"^([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$"
)
NAME_RE = re.compile(r"^\w{1,80}$")


def e1cib_ref(guid: str) -> str | None:
    """The 32-hex `ref` of a navigation link for a GUID (its groups as g4 g5 g3 g2 g1), or None
    if it is not a GUID."""
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


def safe_base(url: str) -> str:
    """A configured link prefix, kept only if it is http(s); anything else (javascript:, data:,
    file:) gives ''."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def href(kind: str, name: str, guid: str | None, base: str = "") -> str | None:
    """`<base>e1cib/data/<kind>.<name>?ref=…` (kind `Документ` or `Справочник`), or None when the
    GUID is not one; a name that is not a plain metadata name is refused by the callers'
    defaults (`name` must match NAME_RE)."""
    ref = e1cib_ref(guid or "")
    if ref is None or not NAME_RE.match(name):
        return None
    return f"{safe_base(base)}e1cib/data/{kind}.{name}?ref={ref}"
