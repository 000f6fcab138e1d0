"""Value-level transforms of the configuration: `${VAR}` interpolation (percent-encoded in a
URL's user-info), durations and time-zone names."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from etl.errors import ConfigError

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _userinfo_span(template: str) -> tuple[int, int] | None:
    """Where the user-info (`user:password`) of a URL template lies, `${…}` references counted
    as opaque: from after `scheme://` to the last `@` before the authority ends."""
    m = URL_SCHEME.match(template)
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
    if tz and zone_exists(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if zone_exists(name):
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if zone_exists(name):
                return name
    except OSError:
        pass
    return "UTC"


def zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False
