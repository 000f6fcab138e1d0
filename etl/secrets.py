"""Keeping secrets out of logs, reports and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from etl.urls import parse_db_url

# `scheme://user:password@`: the password runs to the last `@` before white space, so a password
# with an unescaped `@` is masked whole rather than cut at its first `@`.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S*)@")


def _mask_userinfo(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def mask_url(url: str) -> str:
    """Return `url` with any password replaced by `***` (SQLAlchemy and HTTP URLs alike)."""
    from sqlalchemy.engine import make_url  # an error's message: SQLAlchemy is loaded by then

    try:
        parsed = make_url(url)
        if parsed.password is not None and "@" not in (parsed.host or ""):
            return parsed.render_as_string(hide_password=True)
    except Exception:
        pass
    return _mask_userinfo(url)


def url_secrets(url: str) -> list[str]:
    """The password of `url` in every spelling a message may carry: as the driver receives it,
    percent-encoded as the configuration writes it, and as SQLAlchemy renders it."""
    parsed = parse_db_url(url)  # as SQLAlchemy's make_url reads it, without importing it
    password = parsed.password if parsed is not None else None
    if not password:
        return []
    pw = str(password)
    return sorted({pw, quote(pw, safe=""), quote(pw, safe=" +")})


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-trivial secret in `text`, and passwords in URLs."""
    out = _mask_userinfo(text)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, "***")
    return out
