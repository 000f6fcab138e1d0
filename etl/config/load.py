"""Finding and reading the configuration file (the I/O half of `parse_settings`)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection
from pathlib import Path

from etl.config.parse import parse_settings
from etl.config.settings import Settings
from etl.errors import ConfigError

DEFAULT_CONFIG_NAME = "cdr1c.toml"
CONFIG_ENV = "CDR1C_CONFIG"


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
