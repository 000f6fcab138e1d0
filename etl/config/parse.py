"""Building `Settings` from a parsed TOML document: one reader per section, each value checked
by `Section`, sections a command does not use read without their secrets."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from etl.config.checker import Section
from etl.config.onec_defaults import DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY
from etl.config.settings import (
    DEFAULT_TRUNK_CHANNELS,
    DIAL_FORMAT,
    FREEPBX_INBOUND_CONTEXTS,
    FREEPBX_OUTBOUND_CONTEXTS,
    KNOWN_SECTIONS,
    SCHEDULE_JOBS,
    SOURCE_KEYS,
    AmiSettings,
    ApiSettings,
    OnecSettings,
    RecordingsSettings,
    ReportsSettings,
    ScheduleSettings,
    Settings,
    SourceSettings,
    StateSettings,
    schedule_interval,
)
from etl.config.values import local_zone_name
from etl.errors import ConfigError

_T = TypeVar("_T")


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
        sync_on=sec.choice("sync_on", "off", ("off", "cdr", "hangup")),
        sync_source=sec.text("sync_source", ""),
        sync_debounce=sec.number("sync_debounce", 0.5, minimum=0),
        sync_max_wait=sec.number("sync_max_wait", 2.0, minimum=0),
        sync_retry=sec.number("sync_retry", 1.0, minimum=0.1),
        sync_give_up=sec.number("sync_give_up", 60.0, minimum=1),
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
    out = ApiSettings(
        listen=listen,
        token=token,
        originate_rate=sec.text("originate_rate", "10/m"),
        tokens_file=sec.path_value("tokens_file", "cdr1c-tokens.json"),
    )
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
    if ami is not None and ami.sync_source and ami.sync_source not in sources:
        raise ConfigError(
            f"no source named {ami.sync_source!r}; configured: {', '.join(sources)}", "ami.sync_source"
        )

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
        service_level_seconds=sec.integer("service_level_seconds", 20, minimum=0, maximum=3600),
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
