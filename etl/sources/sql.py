"""CDR in an SQL table, found by reflection and streamed with a server-side cursor.

Works with the FreePBX `asteriskcdrdb.cdr` (calldate, no answer/end, no id), the stock Asterisk
schema (start/answer/end, no calldate), and tables with an `id` or `addtime` column, which
then serve as the cursor (rows in insert order, so the look-back can be short). Columns are
matched case-insensitively; extra columns are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Column, MetaData, String, Table, and_, func, select, type_coerce
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from etl.cdr_columns import CDR_INT_COLUMNS, CDR_TEXT_COLUMNS
from etl.config import SourceSettings
from etl.errors import ConfigError, SourceUnreachable
from etl.ledger.store import make_engine
from etl.secrets import mask_url
from etl.sources.base import day_on_source_clock, time_cursor
from etl.sources.window import WindowQuery, window_start

TIME_COLUMNS = ("calldate", "start", "answer", "end", "addtime")
WANTED = {*CDR_TEXT_COLUMNS, *CDR_INT_COLUMNS, *TIME_COLUMNS, "id"}


def format_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def parse_cursor_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class SqlSource:
    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.name = settings.name
        try:
            self.engine = make_engine(settings.url, read_only=True)
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"source {self.name} ({mask_url(settings.url)}): {_short(exc)}") from None
        try:
            self._inspect(settings)
        except BaseException:
            self.engine.dispose()  # a source that failed to open keeps no connection
            raise

    def _inspect(self, settings: SourceSettings) -> None:
        """The table's columns, time column and cursor column (ConfigError when unfit)."""
        try:
            self.table = Table(settings.table, MetaData(), autoload_with=self.engine)
        except NoSuchTableError:
            raise ConfigError(
                f"table {settings.table!r} not found in {mask_url(settings.url)}", f"source.{self.name}.table"
            ) from None
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"source {self.name} ({mask_url(settings.url)}): {_short(exc)}") from None
        self.dialect = self.engine.dialect.name
        by_lower = {c.name.lower(): c for c in self.table.columns}
        self.columns: dict[str, Column[Any]] = {k: v for k, v in by_lower.items() if k in WANTED}
        if "calldate" in self.columns:
            self.time_column = "calldate"
        elif "start" in self.columns:
            self.time_column = "start"
        else:
            raise ConfigError(
                f"table {settings.table!r} has neither calldate nor start: is this an Asterisk CDR table?",
                f"source.{self.name}.table",
            )
        if "uniqueid" not in self.columns:
            raise ConfigError(f"table {settings.table!r} has no uniqueid column", f"source.{self.name}.table")
        wanted = settings.cursor
        if wanted == "auto":
            wanted = (
                "id" if "id" in self.columns else "addtime" if "addtime" in self.columns else self.time_column
            )
        elif wanted not in self.columns:
            raise ConfigError(f"cursor column {wanted!r} is not in the table", f"source.{self.name}.cursor")
        self.cursor_column = wanted
        self.has_sequence = "sequence" in self.columns and settings.identity == "auto"

    # --- queries ----------------------------------------------------------------------------
    def _selected(self) -> list[ColumnElement[Any]]:
        out: list[ColumnElement[Any]] = []
        for name, col in self.columns.items():
            if self.dialect == "sqlite":
                # SQLite keeps whatever text Asterisk wrote; don't let the driver parse dates
                # (a '0000-00-00' would abort the whole read).
                out.append(type_coerce(col, String()).label(name))
            else:
                out.append(col.label(name))
        return out

    def _bound(self, column: str, value: datetime | int) -> Any:
        if isinstance(value, datetime) and self.dialect == "sqlite":
            return format_time(value)
        return value

    def _stream(self, where: Any, order: str, chunk_size: int) -> Iterator[pd.DataFrame]:
        stmt = select(*self._selected())
        if where is not None:
            stmt = stmt.where(where)
        stmt = stmt.order_by(self.columns[order])
        names = list(self.columns)
        compiled = stmt.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
        params: Any = compiled.params
        if compiled.positional:
            params = tuple(params[k] for k in compiled.positiontup or ())
        # The driver's own server-side cursor, without SQLAlchemy's per-row Row objects:
        # reading is the floor of a sync's speed (bench/bench_sync.py).
        try:
            raw = self.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"source {self.name}: {_short(exc)}") from None
        try:
            driver = raw.driver_connection
            if self.dialect == "mysql":
                cursor = driver.cursor(_unbuffered_cursor_class(self.engine.dialect.driver))  # type: ignore[union-attr]
            elif self.dialect == "postgresql":
                cursor = driver.cursor(name="cdr1c_read")  # type: ignore[union-attr]
                cursor.itersize = chunk_size
            else:
                cursor = raw.cursor()
            decoders = _text_times(driver) if self.engine.dialect.driver == "pymysql" else None
            try:
                cursor.execute(str(compiled), params)
                while True:
                    rows = cursor.fetchmany(chunk_size)
                    if not rows:
                        break
                    yield rows_frame(rows, names)
            finally:
                cursor.close()
                if decoders is not None:
                    driver.decoders = decoders  # type: ignore[union-attr]
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise SourceUnreachable(f"source {self.name}: {_short(exc)}") from None
        finally:
            raw.close()

    def read(self, cursor: str | None, lookback: timedelta, chunk_size: int) -> Iterator[pd.DataFrame]:
        col = self.columns[self.cursor_column]
        where = None
        if cursor is not None:
            where = col >= self._bound(self.cursor_column, window_start(self.cursor_column, cursor, lookback))
        return self._stream(where, self.cursor_column, chunk_size)

    def window(self) -> tuple[WindowQuery, str, str] | None:
        """How `etl.sources.window` reads the look-back window of this table with the driver
        alone: the query, the table's and the cursor column's names; None where it cannot."""
        query = WindowQuery.from_url(self.settings.url)
        if query is None:
            return None
        return query, self.table.name, self.columns[self.cursor_column].name

    def read_window(self, since: datetime, until: datetime, chunk_size: int) -> Iterator[pd.DataFrame]:
        col = self.columns[self.time_column]
        where = and_(col >= self._bound(self.time_column, since), col < self._bound(self.time_column, until))
        return self._stream(where, self.time_column, chunk_size)

    def chunk_cursor(self, chunk: pd.DataFrame) -> str | None:
        if chunk.empty:
            return None
        values = chunk[self.cursor_column]
        if self.cursor_column == "id":
            ids = pd.to_numeric(values, errors="coerce").dropna()
            return str(int(ids.max())) if len(ids) else None
        return time_cursor(values)

    def count_by_day(self, since: date, until: date, zone: str | None = None) -> dict[date, int]:
        col = self.columns[self.time_column]
        if zone is not None and zone != self.settings.timezone:  # one count per day of `zone`
            out_zone: dict[date, int] = {}
            current = since
            while current <= until:
                lo, hi = day_on_source_clock(current, zone, self.settings.timezone)
                between = and_(
                    col >= self._bound(self.time_column, lo), col < self._bound(self.time_column, hi)
                )
                out_zone[current] = self._scalar(select(func.count()).select_from(self.table).where(between))
                current += timedelta(days=1)
            return out_zone
        lo = datetime.combine(since, datetime.min.time())
        hi = datetime.combine(until + timedelta(days=1), datetime.min.time())
        day = func.date(col) if self.dialect != "postgresql" else func.date_trunc("day", col)
        stmt = (
            select(day.label("day"), func.count().label("n"))
            .where(and_(col >= self._bound(self.time_column, lo), col < self._bound(self.time_column, hi)))
            .group_by(day)
        )
        out: dict[date, int] = {}
        try:
            with self.engine.connect() as conn:
                for d, n in conn.execute(stmt):
                    key = d if isinstance(d, date) and not isinstance(d, datetime) else pd.Timestamp(d).date()
                    out[key] = out.get(key, 0) + int(n)
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"source {self.name}: {_short(exc)}") from None
        return out

    def _scalar(self, stmt: Any) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"source {self.name}: {_short(exc)}") from None

    def describe(self) -> str:
        total = self._scalar(select(func.count()).select_from(self.table))
        missing = [c for c in ("linkedid", "sequence", "recordingfile") if c not in self.columns]
        extra = sorted({c.name for c in self.table.columns} - {c.name for c in self.columns.values()})
        parts = [
            f"{self.dialect} table {self.settings.table}: {total} rows",
            f"cursor {self.cursor_column}",
            f"identity {'uniqueid+sequence' if self.has_sequence else 'row hash'}",
        ]
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("ignored " + ", ".join(extra))
        return "; ".join(parts)

    def close(self) -> None:
        self.engine.dispose()


def rows_frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """A driver's rows as a frame of the values as they came: object columns, no inference
    (pandas would copy every text column into its `str` dtype, which normalisation undoes).
    Date-time objects (psycopg, mysqlclient) still become datetime64 columns."""
    frame = pd.DataFrame(_object_matrix(rows, len(columns)), columns=columns, dtype=object, copy=False)
    for name in columns:
        if name in TIME_COLUMNS and pd.api.types.infer_dtype(frame[name], skipna=True).startswith("datetime"):
            frame[name] = pd.Series(frame[name].tolist(), index=frame.index)
    return frame


def _object_matrix(rows: Sequence[Sequence[Any]], width: int) -> Any:
    try:  # pandas' own C routine for this (what DataFrame.from_records uses): ~3x numpy's
        from pandas._libs.lib import to_object_array_tuples

        return to_object_array_tuples(list(rows))
    except (ImportError, TypeError):
        out = np.empty((len(rows), width), dtype=object)
        out[:] = rows
        return out


def _text_times(driver: Any) -> dict[int, Any]:
    """Let pymysql hand DATETIME/TIMESTAMP/DATE values over as their text, parsed later for the
    whole column at once (`pd.to_datetime`): its per-value parse is a fifth of its fetch time.
    Returns the decoders to put back (the connection goes back to the pool)."""
    from pymysql.constants import FIELD_TYPE

    saved: dict[int, Any] = driver.decoders
    as_text = (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE)
    driver.decoders = {k: v for k, v in saved.items() if k not in as_text}
    return saved


def _unbuffered_cursor_class(driver: str) -> Any:
    """The streaming (server-side) cursor class of each MySQL driver SQLAlchemy knows."""
    if driver == "mysqldb":  # mysqlclient, the C driver (design.md §4.8)
        import MySQLdb.cursors  # type: ignore[import-not-found,unused-ignore]

        return MySQLdb.cursors.SSCursor
    import pymysql.cursors

    return pymysql.cursors.SSCursor


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return mask_url(text.splitlines()[0] if text else type(exc).__name__)
