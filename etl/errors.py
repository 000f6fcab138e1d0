"""One exception hierarchy and the exit codes a run ends with.

Every failure a human must act on has a type here; the CLI maps the type to an exit code, so
cron, systemd and monitoring can tell "fix the config" from "the PBX database is down".
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every `cdr1c` command (documented in the README and `--help`)."""

    OK = 0
    FAILED = 1  # unexpected error: a bug or an unhandled condition; the log has the traceback
    CONFIG = 2  # the configuration (or the command line) is wrong
    SOURCE_UNREACHABLE = 3  # a CDR source or the state store cannot be reached
    ONEC_UNREACHABLE = 4  # the 1C publication cannot be reached or refuses us
    NEEDS_ATTENTION = 5  # finished, but rows quarantined, records dead-lettered, or 1C lacks a mapped object
    LOCKED = 6  # another run of the same job holds the lock; nothing was done
    MISMATCH = 7  # `verify` found counts that disagree
    NO_LEDGER = 8  # a command that only reads the ledger found none at `[state] url`; nothing created


class Cdr1cError(Exception):
    """Base of every error cdr1c raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(Cdr1cError):
    """The configuration is invalid; the message names the key and what is wrong."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class OnecMappingError(ConfigError):
    """1C answers, but lacks an entity set or a field the `[onec]` mapping names: the object is
    not in the publication's OData content, or the key names it wrongly. Nothing is down; a
    human adds the object to the content or fixes the key (`cdr1c check` says which)."""


class SourceUnreachable(Cdr1cError):
    """A CDR source (or the recordings folder) could not be opened or queried."""

    exit_code = ExitCode.SOURCE_UNREACHABLE


class StoreUnreachable(Cdr1cError):
    """The state store (`[state] url`, the ledger) could not be opened or queried. The same exit
    code as an unreachable source: the README's "a CDR source or the state store is unreachable"."""

    exit_code = ExitCode.SOURCE_UNREACHABLE

    def __init__(self, masked_url: str, reason: str) -> None:
        super().__init__(f"the state store at {masked_url} is unreachable: {reason}")


class LedgerMissing(Cdr1cError):
    """No ledger at `[state] url` (no SQLite file there, or a database without the ledger's
    tables), met by a command that only reads it: it creates nothing. A wrong path in the
    config, or no `cdr1c sync` yet."""

    exit_code = ExitCode.NO_LEDGER

    def __init__(self, masked_url: str) -> None:
        self.masked_url = masked_url
        super().__init__(
            f"no ledger exists at {masked_url} yet: `cdr1c sync` creates it "
            "(or check [state] url, if one should be there)"
        )


class OnecUnreachable(Cdr1cError):
    """The 1C publication did not answer, or refused the credentials."""

    exit_code = ExitCode.ONEC_UNREACHABLE


class LockHeld(Cdr1cError):
    """Another process runs the same job on the same source."""

    exit_code = ExitCode.LOCKED


class AmiError(Cdr1cError):
    """Something went wrong talking to the Asterisk Manager Interface."""


class AmiUnsafeValue(AmiError, ValueError):
    """A value would break AMI framing (CR, LF, NUL, a line separator) or is too long.

    Raised before anything is written: an action is either sent whole and intact or not at all.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class AmiNotConnected(AmiError):
    """No logged-in AMI session right now; nothing was sent."""


class AmiConnectionLost(AmiError):
    """The connection dropped while an action was in flight; it was not (and is never) re-sent."""


class AmiAuthFailed(AmiError):
    """Asterisk answered `Authentication failed` (wrong user, secret or permit)."""


class AmiActionFailed(AmiError):
    """Asterisk answered `Response: Error`; the message is Asterisk's."""

    def __init__(self, message: str, response: object = None) -> None:
        self.response = response
        super().__init__(message)


class AmiTimeout(AmiError):
    """No answer from Asterisk within the allowed time."""


class OperationRefused(Cdr1cError, ValueError):
    """A live operation is outside what the configuration allows (context, channel, number)."""


class OnecError(Cdr1cError):
    """1C answered with an error: HTTP status, 1C's internal code (`odata.error.code`) and text.

    `code` is None when the answer carried no `odata.error` (an IIS HTML page, an HTTP service's
    own body). The message is 1C's text as-is; it never contains credentials (we never send
    them in a URL, and callers redact it anyway).
    """

    exit_code = ExitCode.ONEC_UNREACHABLE

    def __init__(self, status: int, code: str | None, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        tag = f"HTTP {status}" + (f", 1C code {code}" if code is not None else "")
        super().__init__(f"1C: {tag}: {message}")

    @property
    def key_exists(self) -> bool:
        """400 with code 15: a record with this key is already in the register.

        See docs/reference/onec-http.md §1.7."""
        return self.status == 400 and self.code == "15"

    @property
    def not_in_content(self) -> bool:
        """404 with code 8 ("entity type not found"): the publication does not serve this entity
        set (docs/reference/onec-http.md §1.1, §2.3)."""
        return self.status == 404 and self.code == "8"

    @property
    def unknown_field(self) -> bool:
        """400 with code 6 (bad URL: property not found), 10 (property not found) or 14 (query
        option not understood, as an unknown field in `$filter` is): a query names a field the
        entity set does not have (docs/reference/onec-http.md §2.3)."""
        return self.status == 400 and self.code in ("6", "10", "14")

    @property
    def retryable(self) -> bool:
        """5xx (incl. code -1, a configuration handler failing) may pass on a retry; 4xx won't."""
        return self.status >= 500 or self.status in (408, 429)


class OnecCredentialsRefused(OnecUnreachable):
    """1C answered 401: the login or password is wrong (or not UTF-8 on the server side)."""
