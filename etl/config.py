"""The one settings object: a TOML file read, interpolated and validated.

`load_settings(path)` returns `Settings`, every section a frozen dataclass. Any string value may
contain `${ENV_VAR}` (or `${ENV_VAR:-default}`) so secrets stay out of the file. Validation
errors name the key (`source.lookback: …`) and say what is wrong; unknown keys are errors too,
with a "did you mean" hint, because a typo must not silently fall back to a default.

A section that is absent turns its stage off (`settings.onec is None` → nothing pushed).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from etl.errors import ConfigError

_T = TypeVar("_T")

DEFAULT_CONFIG_NAME = "cdr1c.toml"
CONFIG_ENV = "CDR1C_CONFIG"

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _userinfo_span(template: str) -> tuple[int, int] | None:
    """Where the user-info (`user:password`) of a URL template lies, `${…}` references counted
    as opaque: from after `scheme://` to the last `@` before the authority ends."""
    m = _SCHEME.match(template)
    if m is None:
        return None
    masked = _ENV_REF.sub(lambda r: "x" * len(r[0]), template)  # a default may hold `/` or `@`
    end = len(masked)
    for stop in "/?#":
        i = masked.find(stop, m.end())
        if i != -1:
            end = min(end, i)
    at = masked.rfind("@", m.end(), end)
    return (m.end(), at) if at != -1 else None


def interpolate(
    value: str, key: str, env: Mapping[str, str] | None = None, unresolved: dict[str, str] | None = None
) -> str:
    """Expand `${NAME}` / `${NAME:-default}` from the environment; unknown names are errors.

    In a URL's user-info a value is percent-encoded, so any user name or password (`@`, `:`,
    `/`, `%`, Cyrillic…) reaches the driver exactly as it is. With `unresolved` given, an unset
    name is recorded there (key → name) and left as written instead of being an error."""
    environ = os.environ if env is None else env
    userinfo = _userinfo_span(value)

    def expand(m: re.Match[str]) -> str:
        name, default = m["name"], m["default"]
        if name in environ:
            text = environ[name]
        elif default is not None:
            text = default
        elif unresolved is not None:
            unresolved.setdefault(key, name)
            return m[0]
        else:
            raise ConfigError(f"environment variable {name} is not set", key)
        if userinfo is not None and userinfo[0] <= m.start() and m.end() <= userinfo[1]:
            return quote(text, safe="")
        return text

    return _ENV_REF.sub(expand, value)


def parse_duration(value: Any, key: str) -> timedelta:
    """`90` (seconds), `"90s"`, `"15m"`, `"6h"`, `"2d"`, `"1w"`, `"250ms"` → timedelta."""
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration such as '6h', got {value!r}", key)
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m["n"]) * _UNIT_SECONDS[m["unit"] or "s"])
    raise ConfigError(f"expected a duration such as '90s', '15m', '6h' or '2d', got {value!r}", key)


def local_zone_name() -> str:
    """The IANA name of this host's zone (TZ, /etc/timezone, /etc/localtime), else 'UTC'."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _zone_exists(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if _zone_exists(name):
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if _zone_exists(name):
                return name
    except OSError:
        pass
    return "UTC"


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


class Section:
    """Typed, key-checked access to one TOML table; `done()` rejects keys nobody read."""

    def __init__(
        self,
        table: dict[str, Any],
        path: str,
        base_dir: Path,
        env: Mapping[str, str] | None = None,
        unresolved: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(table, dict):
            raise ConfigError("expected a table", path)
        self.table = table
        self.path = path
        self.base_dir = base_dir
        self.env = env
        self.unresolved = unresolved  # given: an unset `${NAME}` is recorded, not an error
        self.accepted: set[str] = set()  # every key asked for: all the section accepts

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def has(self, name: str) -> bool:
        return name in self.table

    def raw(self, name: str, default: Any = None) -> Any:
        self.accepted.add(name)
        value = self.table.get(name, default)
        if isinstance(value, str):
            value = self.interpolate(value, name)
        return value

    def interpolate(self, value: str, name: str) -> str:
        return interpolate(value, self.key(name), self.env, self.unresolved)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.raw(name, default)
        if value is None:
            if required:
                raise ConfigError("is required", self.key(name))
            return None
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {type(value).__name__} {value!r}", self.key(name))
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}; got {value!r}", self.key(name))
        return str(value)

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.raw(name, default)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected a whole number, got {value!r}", self.key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be at least {minimum}, got {value}", self.key(name))
        if maximum is not None and value > maximum:
            raise ConfigError(f"must be at most {maximum}, got {value}", self.key(name))
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number, got {value!r}", self.key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be at least {minimum}, got {value}", self.key(name))
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", self.key(name))
        return value

    def duration(self, name: str, default: str | int) -> timedelta:
        return parse_duration(self.raw(name, default), self.key(name))

    def zone(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not _zone_exists(value):
            raise ConfigError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Moscow'",
                self.key(name),
            )
        return str(value)

    def regex(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"not a valid regular expression: {exc}", self.key(name)) from None
        return str(value)

    def str_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name, default if default is not None else [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"expected a list of strings, got {value!r}", self.key(name))
        return [self.interpolate(v, name) for v in value]

    def regex_list(self, name: str, default: list[str]) -> list[str]:
        values = self.str_list(name, default)
        for v in values:
            try:
                re.compile(v)
            except re.error as exc:
                raise ConfigError(f"{v!r} is not a valid regular expression: {exc}", self.key(name)) from None
        return values

    def path_value(self, name: str, default: str | None = None, *, required: bool = False) -> Path | None:
        value = self.text(name, default, required=required)
        return None if value is None else self.resolve(value)

    def resolve(self, path: str) -> Path:
        """A path as written in the file: relative paths start at the configuration's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def db_url(self, name: str, default: str | None = None) -> str:
        """An SQLAlchemy URL or a `csv://` path. Relative SQLite and CSV paths start at the
        configuration's folder, like every path; a URL whose user-info SQLAlchemy would misread
        (a literal `@` in a password) is an error that does not repeat the URL."""
        url = str(self.text(name, default, required=default is None))
        if url.startswith("csv://"):
            return "csv://" + str(self.resolve(url[len("csv://") :]))
        if not _SCHEME.match(url):
            raise ConfigError(
                "expected an SQLAlchemy URL (mysql+pymysql://user:pw@host/asteriskcdrdb, "
                "postgresql+psycopg://…, sqlite:///path) or csv:///path/Master.csv",
                self.key(name),
            )
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url)
        except Exception:
            parsed = None
        # one `@` ends the user-info: another one leaves the host, or the password, in doubt
        if parsed is None or (parsed.get_backend_name() != "sqlite" and url.count("@") > 1):
            raise ConfigError(
                "not a URL SQLAlchemy can read: in a user name or password written in the file, "
                "percent-encode @ : / ? # % (@ is %40), or put it in ${VARIABLE}, which is encoded",
                self.key(name),
            )
        db = parsed.database or ""
        if parsed.get_backend_name() != "sqlite" or db in ("", ":memory:") or db.startswith("file:"):
            return url
        resolved = str(self.resolve(db))
        return url if resolved == db else parsed.set(database=resolved).render_as_string(hide_password=False)

    def table_of(self, name: str) -> dict[Any, Any]:
        self.accepted.add(name)
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError("expected a table", self.key(name))
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.accepted)
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, sorted(self.accepted), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key{hint}", self.key(name))


# --- sections -------------------------------------------------------------------------------

FREEPBX_INBOUND_CONTEXTS = [
    r"^from-trunk",
    r"^from-pstn",
    r"^from-did",
    r"^ext-did",
    r"^from-zaptel",
    r"^from-dahdi",
]
FREEPBX_OUTBOUND_CONTEXTS = [r"^from-internal", r"^outbound-allroutes", r"^outrt-", r"^macro-dialout"]
DEFAULT_TRUNK_CHANNELS: list[str] = []
# `[ami] dial_format` (etl/phones.py DialFormat): an optional `+`, a few digits (a trunk or
# outside-line prefix), then one field: `8{national}`, `7{national}`, `+{e164}`, `{e164}`.
DIAL_FORMAT = re.compile(r"\+?\d{0,8}\{(?:national|e164)\}\Z")


@dataclass(frozen=True)
class SourceSettings:
    """One PBX's CDR: `[source]` (named `default`) or `[source.NAME]`."""

    name: str
    url: str
    table: str = "cdr"
    timezone: str = "UTC"
    lookback: timedelta = timedelta(hours=6)
    chunk_size: int = 10_000
    cursor: str = "auto"  # auto | calldate | start | id | addtime
    identity: str = "auto"  # auto: uniqueid+sequence where sequence exists, else a row hash
    csv_columns: tuple[str, ...] = ()  # cdr_custom files: the declared column order
    encoding_fallback: str = "cp1251"
    region: str = "RU"
    extension_pattern: str = r"^\d{2,5}$"
    inbound_contexts: tuple[str, ...] = tuple(FREEPBX_INBOUND_CONTEXTS)
    outbound_contexts: tuple[str, ...] = tuple(FREEPBX_OUTBOUND_CONTEXTS)
    trunk_channels: tuple[str, ...] = tuple(DEFAULT_TRUNK_CHANNELS)
    csv_fallback: str | None = None  # a Master.csv written beside the database (verify + fill gaps)

    @property
    def is_csv(self) -> bool:
        return self.url.startswith("csv://")


@dataclass(frozen=True)
class RecordingsSettings:
    root: Path
    url_base: str = ""
    name_pattern: str = ""  # extra regex with a (?P<uniqueid>…) group
    duration_tolerance: float = 3.0  # seconds between recording length and billsec
    # The folder as the PBX names it: absolute paths in CDR fields under it are mapped onto
    # `root` (the same files, mounted elsewhere on this host).
    pbx_root: str = "/var/spool/asterisk/monitor"
    batch_size: int = 500  # files compared with the ledger per query, and per transaction


@dataclass(frozen=True)
class OnecSettings:
    mode: str
    url: str
    user: str
    password: str
    timezone: str
    register: str
    event_document: str
    event_call_id_field: str
    key: tuple[str, ...]
    fields: dict[str, str]
    concurrency: int = 8
    batch_size: int = 500
    timeout: float = 30.0
    first_timeout: float = 120.0
    retries: int = 8
    ca_bundle: str | None = None
    verify_tls: bool = True
    service_path: str = "hs/cdr1c/records"
    extensions: dict[str, str] = field(default_factory=dict)  # extension → employee (TOML table)
    metadata_cache: Path | None = None
    retry_backoff: float = 0.5  # first back-off in seconds; doubles per attempt, with jitter
    retry_backoff_max: float = 30.0
    # IIS answers an HTML 404 past 2048 bytes of query (docs/reference/onec-http.md §2.2)
    max_url_bytes: int = 1500
    event_date_field: str = "Date"
    event_client_field: str = ""  # "" = by document: Контрагент (Событие) / АбонентКонтакт (ТелефонныйЗвонок)
    event_responsible_field: str = "Ответственный_Key"
    client_catalog: str = "Catalog_Контрагенты"
    manager_field: str = ""  # "" = none; e.g. ОсновнойМенеджер_Key (Партнеры)
    users_catalog: str = "Catalog_Пользователи"
    user_extension_field: str = ""  # a 1C attribute holding the employee's extension, if any
    region: str = "RU"  # for normalising contact-information phones


@dataclass(frozen=True)
class StateSettings:
    url: str


@dataclass(frozen=True)
class ReportsSettings:
    dir: Path
    timezone: str
    lang: str = "ru"
    callback_hours: float = 24.0
    onec_link_base: str = ""  # web-client address before `e1cib/…` (empty: bare navigation links)
    client_xlsx: bool = True  # an XLSX beside each client's CSV (5 ms a client; off for huge bases)


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    user: str
    secret: str
    channel: str = "PJSIP/{ext}"
    context: str = "from-internal"
    number_pattern: str = r"^\+?\d{1,20}$"
    ivr_context: str = ""
    extension_pattern: str = r"^\d{2,6}$"
    hint_context: str = "ext-local"
    auth: str = "md5"  # md5 | plain
    ping_interval: float = 20.0
    originate_timeout: float = 30.0
    routing_dry_run: bool = True  # log decisions only: the safe default
    routing_ring_timeout: int = 20
    managers: dict[str, str] = field(default_factory=dict)  # caller number → extension
    intercept_context: str = ""  # where an intercepted call is sent (empty: `context`)
    routing_context: str = ""  # where smart routing sends a caller (empty: `context`)
    ping_timeout: float = 5.0  # an unanswered Ping after this long means a half-open connection
    dial_format: str = "8{national}"  # how outbound routes want a number (etl/phones.py DialFormat)


@dataclass(frozen=True)
class ApiSettings:
    listen: str = "127.0.0.1:8765"
    token: str = ""
    originate_rate: str = "10/m"

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True)
class ScheduleSettings:
    jobs: dict[str, str]  # job name → cron expression ("*/5 * * * *") or interval ("every 30s")
    misfire_grace: timedelta = timedelta(minutes=5)
    timezone: str = "UTC"  # the zone cron expressions are read in


_EVERY = re.compile(r"^\s*every\s+(?P<duration>.+)$", re.IGNORECASE)


def schedule_interval(expr: str) -> timedelta | None:
    """`"every 30s"` / `"every 15m"` → the interval; a cron expression → None."""
    m = _EVERY.match(expr)
    if m is None:
        return None
    interval = parse_duration(m["duration"].strip(), "schedule")
    if interval.total_seconds() < 1:
        raise ConfigError(f"an interval of at least 1s, got {expr!r}", "schedule")
    return interval


@dataclass(frozen=True)
class Settings:
    """Everything cdr1c knows about an installation. Absent sections are None (stage off)."""

    path: Path | None
    sources: dict[str, SourceSettings]
    state: StateSettings
    recordings: RecordingsSettings | None = None
    onec: OnecSettings | None = None
    reports: ReportsSettings | None = None
    ami: AmiSettings | None = None
    api: ApiSettings | None = None
    schedule: ScheduleSettings | None = None
    lock_dir: Path = Path("/tmp")
    keep_runs: timedelta = timedelta(days=90)  # `cdr1c prune`: run logs older than this go
    keep_delivered: timedelta = timedelta(days=180)  # delivered-record hashes of calls older than this

    def secrets(self) -> list[str]:
        """Every secret value in the settings, for redaction of logs and messages."""
        from etl.secrets import url_secrets

        out: list[str] = []
        for s in self.sources.values():
            out.extend(url_secrets(s.url))
        out.extend(url_secrets(self.state.url))
        if self.onec:
            out.append(self.onec.password)
        if self.ami:
            out.append(self.ami.secret)
        if self.api:
            out.append(self.api.token)
        return [s for s in out if s]


KNOWN_SECTIONS = ("source", "recordings", "onec", "state", "reports", "ami", "api", "schedule", "general")
SCHEDULE_JOBS = ("sync", "recordings", "reconcile", "report", "verify", "prune")
SOURCE_KEYS = [
    "url", "table", "timezone", "lookback", "chunk_size", "cursor", "identity", "csv_columns",
    "encoding_fallback", "region", "extension_pattern", "inbound_contexts", "outbound_contexts",
    "trunk_channels", "csv_fallback",
]  # fmt: skip


def _source(name: str, sec: Section) -> SourceSettings:
    url = sec.db_url("url")
    cursor = sec.choice("cursor", "auto", ("auto", "calldate", "start", "id", "addtime"))
    identity = sec.choice("identity", "auto", ("auto", "hash"))
    region = sec.text("region", "RU").upper()
    if not re.fullmatch(r"[A-Z]{2}", region):
        raise ConfigError(
            f"expected a two-letter region code such as 'RU', got {region!r}", sec.key("region")
        )
    enc = sec.text("encoding_fallback", "cp1251")
    try:
        "".encode(enc)
    except LookupError:
        raise ConfigError(f"unknown encoding {enc!r}", sec.key("encoding_fallback")) from None
    csv_fallback = sec.path_value("csv_fallback")
    out = SourceSettings(
        name=name,
        url=url,
        table=sec.text("table", "cdr"),
        timezone=sec.zone("timezone", local_zone_name()),
        lookback=sec.duration("lookback", "6h"),
        chunk_size=sec.integer("chunk_size", 10_000, minimum=100, maximum=1_000_000),
        cursor=cursor,
        identity=identity,
        csv_columns=tuple(sec.str_list("csv_columns")),
        encoding_fallback=enc,
        region=region,
        extension_pattern=sec.regex("extension_pattern", r"^\d{2,5}$"),
        inbound_contexts=tuple(sec.regex_list("inbound_contexts", FREEPBX_INBOUND_CONTEXTS)),
        outbound_contexts=tuple(sec.regex_list("outbound_contexts", FREEPBX_OUTBOUND_CONTEXTS)),
        trunk_channels=tuple(sec.regex_list("trunk_channels", DEFAULT_TRUNK_CHANNELS)),
        csv_fallback=str(csv_fallback) if csv_fallback else None,
    )
    sec.done()
    return out


def _sources(raw: Any, reader: _Reader) -> dict[str, SourceSettings]:
    if not isinstance(raw, dict):
        raise ConfigError("expected a table", "source")
    # `[source] url = …` is one source named "default"; `[source.NAME]` tables are several.
    if "url" in raw:
        return {"default": _source("default", reader.section(raw, "source"))}
    out: dict[str, SourceSettings] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            close = difflib.get_close_matches(name, SOURCE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"[source] needs `url` (or [source.NAME] tables){hint}", f"source.{name}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", name):
            raise ConfigError("source names are 1–32 letters, digits, '-' or '_'", f"source.{name}")
        out[name] = _source(name, reader.section(table, f"source.{name}"))
    if not out:
        raise ConfigError("needs `url` or at least one [source.NAME] table", "source")
    return out


DEFAULT_ONEC_FIELDS: dict[str, str] = {
    "Источник": "source",
    "ИдентификаторЗвонка": "uniqueid",
    "Последовательность": "sequence",
    "ИдентификаторСтроки": "row_id",
    "ИдентификаторСвязи": "linkedid",
    "Дата": "calldate",
    "ВремяОтвета": "answer",
    "ВремяОкончания": "end",
    "CallerID": "clid",
    "НомерВызывающего": "src",
    "НомерНазначения": "dst",
    "КонтекстНазначения": "dcontext",
    "Канал": "channel",
    "КаналНазначения": "dstchannel",
    "ПоследнееПриложение": "lastapp",
    "ПоследниеДанные": "lastdata",
    "Длительность": "duration",
    "ДлительностьРазговора": "billsec",
    "Статус": "disposition",
    "ФлагиАМА": "amaflags",
    "КодСчета": "accountcode",
    "ПолеПользователя": "userfield",
    "DID": "did",
    "ФайлЗаписи": "recordingfile",
    "НомерАбонента": "cnum",
    "ИмяАбонента": "cnam",
    "ИмяНазначения": "dst_cnam",
    "Направление": "direction",
    "ВнешнийНомер": "external_number",
    "ДобавочныйНомер": "extension",
    "ПутьКЗаписи": "recording_path",
    "ДлительностьЗаписи": "recording_duration",
    "Клиент_Key": "client",  # a reference attribute: OData exposes it as `<Name>_Key`
    "Событие_Key": "event",
}
DEFAULT_ONEC_KEY = ("Источник", "ИдентификаторСтроки")


def _onec(sec: Section) -> OnecSettings:
    mode = sec.choice("mode", "odata", ("odata", "http-service"))
    url = sec.text("url", required=True).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("expected the publication address, e.g. http://1c.local/crm", sec.key("url"))
    fields = {str(k): str(v) for k, v in (sec.table_of("fields") or DEFAULT_ONEC_FIELDS).items()}
    key = tuple(sec.str_list("key", list(DEFAULT_ONEC_KEY)))
    for k in key:
        if k not in fields:
            raise ConfigError(f"key field {k!r} is not mapped in [onec.fields]", sec.key("key"))
    extensions = {str(k): str(v) for k, v in sec.table_of("extensions").items()}
    cache = sec.path_value("metadata_cache")
    out = OnecSettings(
        mode=mode,
        url=url,
        user=sec.text("user", ""),
        password=sec.text("password", ""),
        timezone=sec.zone("timezone", "Europe/Moscow"),
        register=sec.text("register", "InformationRegister_ЗвонкиАТС"),
        event_document=sec.text("event_document", "Document_Событие"),
        event_call_id_field=sec.text("event_call_id_field", "ИдентификаторЗвонка"),
        key=key,
        fields=fields,
        concurrency=sec.integer("concurrency", 8, minimum=1, maximum=64),
        batch_size=sec.integer("batch_size", 500, minimum=1, maximum=10_000),
        timeout=sec.number("timeout", 30.0, minimum=1),
        first_timeout=sec.number("first_timeout", 120.0, minimum=1),
        retries=sec.integer("retries", 8, minimum=0, maximum=100),
        ca_bundle=sec.text("ca_bundle"),
        verify_tls=sec.flag("verify_tls", True),
        service_path=sec.text("service_path", "hs/cdr1c/records").strip("/"),
        extensions=extensions,
        metadata_cache=cache,
        retry_backoff=sec.number("retry_backoff", 0.5, minimum=0),
        retry_backoff_max=sec.number("retry_backoff_max", 30.0, minimum=0),
        max_url_bytes=sec.integer("max_url_bytes", 1500, minimum=300, maximum=64_000),
        event_date_field=sec.text("event_date_field", "Date"),
        event_client_field=sec.text("event_client_field", ""),
        event_responsible_field=sec.text("event_responsible_field", "Ответственный_Key"),
        client_catalog=sec.text("client_catalog", "Catalog_Контрагенты"),
        manager_field=sec.text("manager_field", ""),
        users_catalog=sec.text("users_catalog", "Catalog_Пользователи"),
        user_extension_field=sec.text("user_extension_field", ""),
        region=sec.text("region", "RU").upper(),
    )
    sec.done()
    return out


def _ami(sec: Section) -> AmiSettings:
    channel = sec.text("channel", "PJSIP/{ext}")
    if "{ext}" not in channel:
        raise ConfigError("the channel template must contain {ext}, e.g. 'PJSIP/{ext}'", sec.key("channel"))
    out = AmiSettings(
        host=sec.text("host", "127.0.0.1"),
        port=sec.integer("port", 5038, minimum=1, maximum=65535),
        user=sec.text("user", required=True),
        secret=sec.text("secret", required=True),
        channel=channel,
        context=sec.text("context", "from-internal"),
        number_pattern=sec.regex("number_pattern", r"^\+?\d{1,20}$"),
        ivr_context=sec.text("ivr_context", ""),
        extension_pattern=sec.regex("extension_pattern", r"^\d{2,6}$"),
        hint_context=sec.text("hint_context", "ext-local"),
        auth=sec.choice("auth", "md5", ("md5", "plain")),
        ping_interval=sec.number("ping_interval", 20.0, minimum=1),
        originate_timeout=sec.number("originate_timeout", 30.0, minimum=1),
        routing_dry_run=sec.flag("routing_dry_run", True),
        routing_ring_timeout=sec.integer("routing_ring_timeout", 20, minimum=1, maximum=300),
        managers={str(k): str(v) for k, v in sec.table_of("managers").items()},
        intercept_context=sec.text("intercept_context", ""),
        routing_context=sec.text("routing_context", ""),
        ping_timeout=sec.number("ping_timeout", 5.0, minimum=0.1),
        dial_format=sec.text("dial_format", "8{national}"),
    )
    if not DIAL_FORMAT.match(out.dial_format):
        raise ConfigError(
            "expected an optional +, digits and {national} or {e164}: '8{national}', '7{national}', "
            f"'+{{e164}}', '{{e164}}'; got {out.dial_format!r}",
            sec.key("dial_format"),
        )
    sec.done()
    return out


def _api(sec: Section) -> ApiSettings:
    listen = sec.text("listen", "127.0.0.1:8765")
    if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):\d{1,5}", listen):
        raise ConfigError(f"expected HOST:PORT, got {listen!r}", sec.key("listen"))
    token = sec.text("token", "")
    if len(token) < 16:
        raise ConfigError(
            "set a random token of at least 16 characters (e.g. ${CDR1C_API_TOKEN})", sec.key("token")
        )
    out = ApiSettings(listen=listen, token=token, originate_rate=sec.text("originate_rate", "10/m"))
    sec.done()
    return out


def _schedule(sec: Section) -> ScheduleSettings:
    from apscheduler.triggers.cron import CronTrigger

    jobs: dict[str, str] = {}
    for name in SCHEDULE_JOBS:
        expr = sec.text(name)
        if expr is None:
            continue
        try:
            if schedule_interval(expr) is None:
                CronTrigger.from_crontab(expr)
        except (ValueError, ConfigError) as exc:
            raise ConfigError(
                f'not a cron expression ("*/5 * * * *") nor an interval ("every 30s"): {exc}',
                sec.key(name),
            ) from None
        jobs[name] = expr
    grace = sec.duration("misfire_grace", "5m")
    zone = sec.zone("timezone", local_zone_name())
    sec.done()
    return ScheduleSettings(jobs=jobs, misfire_grace=grace, timezone=zone)


@dataclass
class _Reader:
    """What every section is read with: the configuration's folder, the environment, and the
    sections the command uses (`None`: all of them)."""

    base_dir: Path
    env: Mapping[str, str]
    uses: Collection[str] | None
    unresolved: dict[str, str] = field(default_factory=dict)  # key → unset variable

    def section(self, table: Any, path: str) -> Section:
        used = self.uses is None or path.split(".")[0] in self.uses
        return Section(table, path, self.base_dir, self.env, None if used else self.unresolved)

    def optional(self, data: dict[str, Any], name: str, parse: Callable[[Section], _T]) -> _T | None:
        """A section that may be absent. One the command does not use, unreadable only for want
        of its variables (`url = "${ONEC_URL}"`), is left out as if absent."""
        if name not in data:
            return None
        sec = self.section(data[name], name)
        try:
            return parse(sec)
        except ConfigError:
            if any(key.split(".")[0] == name for key in sec.unresolved or ()):
                return None
            raise


def parse_settings(
    data: dict[str, Any],
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    uses: Collection[str] | None = None,
) -> Settings:
    """Validate a parsed TOML document into `Settings` (the pure half of `load_settings`).

    `env` stands for the environment (`${NAME}` values). `uses` names the sections a command
    reaches (`("state", "general")` for `status`): an unset variable in any other section is no
    error, its `${NAME}` stays as written, so a command runs without secrets it never sends. An
    optional section that then fails its checks is left out; `[source]` names the unset
    variable, as a used section does."""
    reader = _Reader(path.parent if path else Path.cwd(), os.environ if env is None else env, uses)
    try:
        return _parse(data, path, reader)
    except ConfigError as exc:
        section = (exc.key or "").split(".")[0]
        for key, name in reader.unresolved.items():
            if key.split(".")[0] == section:
                raise ConfigError(f"environment variable {name} is not set", key) from None
        raise


def _parse(data: dict[str, Any], path: Path | None, reader: _Reader) -> Settings:
    base_dir = reader.base_dir
    for name in data:
        if name not in KNOWN_SECTIONS:
            close = difflib.get_close_matches(name, KNOWN_SECTIONS, n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise ConfigError(f"unknown section{hint}", name)
    if "source" not in data:
        raise ConfigError("the [source] section is required (where Asterisk writes its CDR)", "source")
    sources = _sources(data["source"], reader)

    state_sec = reader.section(data.get("state", {}), "state")
    state_url = state_sec.db_url("url", "sqlite:///cdr1c-state.sqlite")
    state_sec.done()

    recordings = reader.optional(data, "recordings", _recordings)
    onec = reader.optional(data, "onec", _onec)
    reports = reader.optional(data, "reports", _reports)
    ami = reader.optional(data, "ami", _ami)
    api = reader.optional(data, "api", _api)
    schedule = reader.optional(data, "schedule", _schedule)

    general = reader.section(data.get("general", {}), "general")
    lock_dir = general.path_value("lock_dir", str(base_dir))
    keep_runs = general.duration("keep_runs", "90d")
    keep_delivered = general.duration("keep_delivered", "180d")
    longest_lookback = max(s.lookback for s in sources.values())
    if keep_delivered <= longest_lookback:
        raise ConfigError(
            f"must be longer than the longest source lookback ({longest_lookback}): a re-read row "
            "needs its delivered hash to be recognised as unchanged",
            general.key("keep_delivered"),
        )
    general.done()
    assert lock_dir is not None

    return Settings(
        path=path,
        sources=sources,
        state=StateSettings(url=state_url),
        recordings=recordings,
        onec=onec,
        reports=reports,
        ami=ami,
        api=api,
        schedule=schedule,
        lock_dir=lock_dir,
        keep_runs=keep_runs,
        keep_delivered=keep_delivered,
    )


def _reports(sec: Section) -> ReportsSettings:
    rdir = sec.path_value("dir", "reports-out")
    assert rdir is not None
    out = ReportsSettings(
        dir=rdir,
        timezone=sec.zone("timezone", local_zone_name()),
        lang=sec.choice("lang", "ru", ("ru", "en")),
        callback_hours=sec.number("callback_hours", 24.0, minimum=0),
        onec_link_base=_link_base(sec),
        client_xlsx=sec.flag("client_xlsx", True),
    )
    sec.done()
    return out


def _link_base(sec: Section) -> str:
    """The web-client prefix of 1C navigation links: http(s) only, it becomes an href."""
    value = str(sec.text("onec_link_base", "")).strip()
    if value and not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
        raise ConfigError("expected an http(s):// address ending before e1cib/…", sec.key("onec_link_base"))
    return value


def _recordings(sec: Section) -> RecordingsSettings:
    root = sec.path_value("root", required=True)
    assert root is not None
    name_pattern = str(sec.regex("name_pattern", ""))
    if name_pattern and "(?P<uniqueid>" not in name_pattern:
        raise ConfigError("needs a (?P<uniqueid>…) group", sec.key("name_pattern"))
    pbx_root = str(sec.text("pbx_root", "/var/spool/asterisk/monitor"))
    if not pbx_root.startswith("/"):
        msg = f"expected an absolute path as the PBX sees it, got {pbx_root!r}"
        raise ConfigError(msg, sec.key("pbx_root"))
    out = RecordingsSettings(
        root=root,
        url_base=sec.text("url_base", ""),
        name_pattern=name_pattern,
        duration_tolerance=sec.number("duration_tolerance", 3.0, minimum=0),
        pbx_root=pbx_root.rstrip("/") or "/",
        batch_size=sec.integer("batch_size", 500, minimum=10, maximum=5000),
    )
    sec.done()
    return out


def resolve_config_path(explicit: str | None) -> Path:
    """`--config`, else `$CDR1C_CONFIG`, else `./cdr1c.toml`."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_settings(path: Path, *, uses: Collection[str] | None = None) -> Settings:
    """Read and validate the TOML file at `path` (`uses`: see `parse_settings`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {path} not found (use --config PATH, set {CONFIG_ENV}, "
            "or start from cdr1c.example.toml)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_settings(data, path.resolve(), uses=uses)
