"""Authentication of one request: a bearer token in the header, or the panel's session cookie.

A request the cookie authenticates that changes anything (not GET/HEAD) must also carry the
`X-Cdr1c-Panel: 1` header, which another site's page cannot send: the cookie alone never acts.
"""

from __future__ import annotations

from aiohttp import web

from etl.api.access import COOKIE, CSRF_HEADER, Access, Principal

PRINCIPAL = web.RequestKey("principal", Principal)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(Exception):
    """No valid token or session (HTTP 401), or a cookie-only change (HTTP 403)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def authenticate(request: web.Request, access: Access) -> Principal:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, given = header.partition(" ")
        p = access.bearer(given.strip()) if scheme.lower() == "bearer" else None
        if p is None:
            raise Unauthenticated("missing or wrong bearer token")
        return p
    sid = request.cookies.get(COOKIE)
    p = access.session(sid) if sid else None
    if p is None:
        raise Unauthenticated("missing or wrong bearer token")
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise Unauthenticated(f"a request with the panel's cookie must carry {CSRF_HEADER}: 1", 403)
    return p


def principal(request: web.Request) -> Principal:
    """Who asks (set by the middleware; the administrator for a route that needs no token)."""
    return request.get(PRINCIPAL) or Principal("anonymous")
