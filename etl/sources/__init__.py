"""CDR sources: SQL tables (MariaDB/MySQL, PostgreSQL, SQLite) and cdr_csv / cdr_custom files."""

from __future__ import annotations

from etl.config import SourceSettings
from etl.sources.base import CdrSource


def open_source(settings: SourceSettings) -> CdrSource:
    """Open the source a `[source]` section describes (raises SourceUnreachable)."""
    if settings.is_csv:
        from etl.sources.csvfile import CsvSource

        return CsvSource(settings)
    from etl.sources.sql import SqlSource

    return SqlSource(settings)


__all__ = ["CdrSource", "open_source"]
