"""The settings classes: every section a frozen dataclass, `Settings` the whole installation,
and the names and defaults they are checked against."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from etl.config.values import parse_duration
from etl.errors import ConfigError

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
    service_level_seconds: int = 20  # the overview's service level: inbound answered within this


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
    # The event-driven sync (etl/live_sync.py, docs/operations.md): off | cdr | hangup.
    sync_on: str = "off"
    sync_source: str = ""  # the source the PBX writes (empty: the only / first one)
    sync_debounce: float = 0.5  # seconds without a new end before a run starts
    sync_max_wait: float = 2.0  # seconds an end waits at most, however busy the PBX
    sync_retry: float = 1.0  # seconds before looking again for a row not yet in the CDR database
    sync_give_up: float = 60.0  # then the timer's sync brings it


@dataclass(frozen=True)
class ApiSettings:
    listen: str = "127.0.0.1:8765"
    token: str = ""
    originate_rate: str = "10/m"
    tokens_file: Path | None = None  # employees' hashed tokens (`cdr1c tokens`, etl/api/access.py)

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

    def report_settings(self) -> ReportsSettings:
        """`[reports]`, or what its absence means: the files go to `<lock_dir>/reports`, times
        are shown in 1C's zone (UTC without `[onec]`), every other key at its default. The one
        owner of that default: `cdr1c report` and the reconciliation files both ask here."""
        if self.reports is not None:
            return self.reports
        return ReportsSettings(
            dir=self.lock_dir / "reports",
            timezone=self.onec.timezone if self.onec else "UTC",
        )


KNOWN_SECTIONS = ("source", "recordings", "onec", "state", "reports", "ami", "api", "schedule", "general")
SCHEDULE_JOBS = ("sync", "recordings", "reconcile", "report", "verify", "prune")
SOURCE_KEYS = [
    "url", "table", "timezone", "lookback", "chunk_size", "cursor", "identity", "csv_columns",
    "encoding_fallback", "region", "extension_pattern", "inbound_contexts", "outbound_contexts",
    "trunk_channels", "csv_fallback",
]  # fmt: skip
