"""The one settings object: a TOML file read, interpolated and validated.

`load_settings(path)` returns `Settings`, every section a frozen dataclass. Any string value may
contain `${ENV_VAR}` (or `${ENV_VAR:-default}`) so secrets stay out of the file. Validation
errors name the key (`source.lookback: …`) and say what is wrong; unknown keys are errors too,
with a "did you mean" hint, because a typo must not silently fall back to a default.

A section that is absent turns its stage off (`settings.onec is None` → nothing pushed).

The package by role: `values` (`${VAR}` interpolation, durations, zones), `checker` (`Section`:
typed, key-checked access to a table), `settings` (the dataclasses), `onec_defaults` (the 1C
field defaults), `parse` (a document → `Settings`) and `load` (the file).
"""

from etl.config.checker import Section
from etl.config.load import load_settings, resolve_config_path
from etl.config.onec_defaults import DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY
from etl.config.parse import parse_settings
from etl.config.settings import (
    DIAL_FORMAT,
    FREEPBX_INBOUND_CONTEXTS,
    FREEPBX_OUTBOUND_CONTEXTS,
    KNOWN_SECTIONS,
    SOURCE_KEYS,
    AmiSettings,
    OnecSettings,
    RecordingsSettings,
    ReportsSettings,
    ScheduleSettings,
    Settings,
    SourceSettings,
    StateSettings,
    schedule_interval,
)
from etl.config.values import parse_duration

__all__ = [
    "DEFAULT_ONEC_FIELDS",
    "DEFAULT_ONEC_KEY",
    "DIAL_FORMAT",
    "FREEPBX_INBOUND_CONTEXTS",
    "FREEPBX_OUTBOUND_CONTEXTS",
    "KNOWN_SECTIONS",
    "SOURCE_KEYS",
    "AmiSettings",
    "OnecSettings",
    "RecordingsSettings",
    "ReportsSettings",
    "ScheduleSettings",
    "Section",
    "Settings",
    "SourceSettings",
    "StateSettings",
    "load_settings",
    "parse_duration",
    "parse_settings",
    "resolve_config_path",
    "schedule_interval",
]
