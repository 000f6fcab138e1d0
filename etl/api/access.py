"""Who is asking: per-employee tokens bound to an extension and a role, panel sessions, and what
each role may do.

- The `[api] token` is the administrator's: everything, as before.
- A **manager** token is bound to one extension: it originates, intercepts and picks up only
  to that extension, and sees only that extension's events and calls' cards.
- A **supervisor** token is bound to its own extension too, and may also listen to, whisper to
  and barge in on anyone, and follow everyone's events.

Tokens are kept in a JSON file (`[api] tokens_file`, mode 0600) as SHA-256 hashes only: a token
is 32 random bytes, so a fast hash is enough (nothing to brute-force), and a leaked file gives
no working token. The file, not the ledger: it is written by `cdr1c tokens` on the live host and
read by `cdr1c live` there (re-read when it changes, so a revoke takes effect at the next
request), with no schema change in a ledger that MariaDB, PostgreSQL or SQLite may hold.

The panel never carries a token in a URL: the 1C form asks `POST /v1/panel/links` (with the
employee's token in the header) for a one-time code valid a minute, opens `/panel/login?code=…`,
and the answer sets an HttpOnly, SameSite=Strict session cookie (signed, see `Access`). A code
works once; a session ends when its token is revoked. A request authenticated by the cookie that
changes anything must also carry `X-Cdr1c-Panel: 1` (a page of another site cannot add it: CSRF).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROLES = ("manager", "supervisor")
TOKEN_PREFIX = "c1t_"
CODE_SECONDS = 60.0
SESSION_SECONDS = 12 * 3600.0
COOKIE = "cdr1c_panel"
CSRF_HEADER = "X-Cdr1c-Panel"


class AccessDenied(Exception):
    """Authenticated, but not allowed to do this (HTTP 403)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The one asking: `admin` (the `[api] token`), or an employee's role and extension."""

    role: str  # admin | supervisor | manager
    extension: str | None = None
    name: str = ""
    token_id: str = ""

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def as_json(self) -> dict[str, Any]:
        return {"role": self.role, "extension": self.extension, "name": self.name}

    # --- what it may do --------------------------------------------------------------------

    def own(self, extension: str, what: str) -> None:
        """`extension` must be this employee's own (the admin may use any)."""
        if not self.admin and extension != self.extension:
            raise AccessDenied(f"{what}: a {self.role} token acts only for extension {self.extension}")

    def spy(self, supervisor: str) -> None:
        if self.role == "manager":
            raise AccessDenied("listen, whisper and barge need a supervisor token")
        self.own(supervisor, "supervisor")

    def admin_only(self, what: str) -> None:
        if not self.admin:
            raise AccessDenied(f"{what} needs the administrator's token")

    def events_of(self, extension: str | None) -> str | None:
        """Whose events it follows: managers only their own extension's."""
        if self.role != "manager":
            return extension
        if extension is not None:
            self.own(extension, "extension")
        return self.extension

    def sees_call(self, extensions: set[str]) -> None:
        """A call's card: a manager's phone must have been part of it."""
        if self.role == "manager" and self.extension not in extensions:
            raise AccessDenied("a manager sees the cards of calls to their own extension only")


@dataclass(frozen=True)
class TokenRecord:
    id: str
    extension: str
    role: str
    name: str
    hash: str
    created: float

    def principal(self) -> Principal:
        return Principal(self.role, self.extension, self.name, self.id)

    def public(self) -> dict[str, Any]:
        """What `cdr1c tokens list` shows: never the hash."""
        return {k: v for k, v in asdict(self).items() if k != "hash"}


class TokenFile:
    """The employees' tokens, hashed, in a JSON file; re-read whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._records: list[TokenRecord] = []

    def records(self) -> list[TokenRecord]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, []
            return []
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            data = json.loads(self.path.read_text(encoding="utf-8") or "[]")
            self._records = [TokenRecord(**r) for r in data]
            self._stamp = stamp
        return list(self._records)

    def find(self, token: str) -> TokenRecord | None:
        """The record of this token; every stored hash is compared, in constant time each."""
        given = hash_token(token).encode()
        found = None
        for rec in self.records():
            if hmac.compare_digest(given, rec.hash.encode()):
                found = rec
        return found

    def add(self, extension: str, role: str, name: str = "") -> tuple[TokenRecord, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = new_token()
        rec = TokenRecord(secrets.token_hex(4), extension, role, name, hash_token(token), time.time())
        self._write([*self.records(), rec])
        return rec, token

    def revoke(self, ident: str) -> list[TokenRecord]:
        """Remove the token with this id, or every token of this extension; what was removed."""
        records = self.records()
        gone = [r for r in records if ident in (r.id, r.extension)]
        if gone:
            self._write([r for r in records if r not in gone])
        return gone

    def _write(self, records: list[TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in records], f, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)
        self._stamp = None


class Access:
    """Tokens → principals; one-time panel codes (in memory: they live a minute) and session
    cookies. A session cookie is signed, not stored: `<token id>.<expiry>.<HMAC>` with a key
    derived from the `[api] token`, so panels stay signed in across a restart of `cdr1c live`
    (their event streams reconnect by themselves), and a session ends when its token is revoked,
    when it expires, when the `[api] token` changes, or at sign-out."""

    def __init__(self, admin_token: str, tokens: TokenFile | None = None) -> None:
        self._admin = admin_token.encode()
        self._key = hashlib.sha256(b"cdr1c panel session\0" + self._admin).digest()
        self.tokens = tokens
        self._codes: dict[str, tuple[float, Principal]] = {}
        self._ended: dict[str, float] = {}  # signed-out cookies → their expiry

    def bearer(self, token: str) -> Principal | None:
        admin = hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._admin)
        rec = self.tokens.find(token) if self.tokens is not None else None
        if admin:
            return Principal("admin", name="administrator")
        return rec.principal() if rec is not None else None

    def _current(self, token_id: str) -> Principal | None:
        """The principal of a token id, if the token still exists (revoke ends its sessions)."""
        if token_id == "admin":
            return Principal("admin", name="administrator")
        if self.tokens is None:
            return None
        rec = next((r for r in self.tokens.records() if r.id == token_id), None)
        return rec.principal() if rec is not None else None

    def new_code(self, p: Principal) -> str:
        now = time.monotonic()
        self._codes = {k: v for k, v in self._codes.items() if v[0] > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = (now + CODE_SECONDS, p)
        return code

    def redeem(self, code: str) -> str | None:
        """A one-time code → a new session cookie value, or None."""
        found = None
        for known in list(self._codes):
            if hmac.compare_digest(known.encode(), code.encode("utf-8", "surrogatepass")):
                found = known
        if found is None:
            return None
        expires, p = self._codes.pop(found)
        if expires < time.monotonic():
            return None
        current = self._current(p.token_id or "admin")
        return self.new_session(current) if current is not None else None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def new_session(self, p: Principal) -> str:
        body = f"{p.token_id or 'admin'}.{int(time.time() + SESSION_SECONDS)}"
        return f"{body}.{self._sign(body)}"

    def session(self, sid: str) -> Principal | None:
        token_id, _, rest = sid.partition(".")
        expiry, _, mac = rest.partition(".")
        body = f"{token_id}.{expiry}"
        if not hmac.compare_digest(self._sign(body).encode(), mac.encode("utf-8", "surrogatepass")):
            return None
        if not expiry.isdigit() or int(expiry) < time.time() or sid in self._ended:
            return None
        return self._current(token_id)

    def end_session(self, sid: str) -> None:
        now = time.time()
        self._ended = {k: v for k, v in self._ended.items() if v > now}
        expiry = sid.partition(".")[2].partition(".")[0]
        if expiry.isdigit():
            self._ended[sid] = float(expiry)
