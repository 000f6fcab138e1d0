"""Keeping secrets out of logs, reports and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.engine import make_url

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")


def mask_url(url: str) -> str:
    """Return `url` with any password replaced by `***` (SQLAlchemy and HTTP URLs alike)."""
    try:
        parsed = make_url(url)
        if parsed.password is not None:
            return parsed.render_as_string(hide_password=True)
    except Exception:
        pass
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-trivial secret in `text`, and passwords in URLs."""
    out = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, "***")
    return out
