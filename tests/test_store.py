"""The ledger's fast paths (plain driver SQL) on every back-end: bulk writes, key look-ups."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.ledger.sql import bulk_write, frame_rows, select_in
from etl.ledger.store import Ledger
from etl.ledger.tables import calls
from etl.sources.sql import rows_frame

CALL = {
    "source": "pbx", "start_us": 1, "answer_us": None, "end_us": 2, "wait": 0, "talk": 0,
    "direction": "inbound", "external_number": None, "extension": None, "outcome": "missed",
    "reason": "busy", "legs": 1, "attempts": 1,
}  # fmt: skip


def _calls_frame(n: int, source: str = "pbx") -> pd.DataFrame:
    frame = pd.DataFrame([{**CALL, "source": source, "linkedid": f"L{i}"} for i in range(n)])
    frame["answer_us"] = pd.array([i if i % 2 else None for i in range(n)], dtype="Int64")
    frame["external_number"] = np.array([f"+7916{i:07d}" if i % 3 else None for i in range(n)], dtype=object)
    frame["extension"] = pd.Series([None if i % 3 else float("nan") for i in range(n)], dtype=object)
    return frame


def test_bulk_write_select_in_and_frame_rows(ledger_url: str) -> None:
    """Missing values of every kind become NULL, constants fill their column, updates replace,
    and the batched IN look-up finds exactly the keys asked for, with the extra condition."""
    ledger = Ledger.open(ledger_url)
    columns = [c.name for c in calls.columns]
    frame = _calls_frame(7)
    with ledger.begin() as conn:
        bulk_write(conn, calls, columns, frame_rows(frame, calls, columns, {"updated_us": 5}))
        other = _calls_frame(2, source="other")
        bulk_write(conn, calls, columns, frame_rows(other, calls, columns, {"updated_us": 5}))
    with ledger.begin() as conn:  # the same keys again, outcome updated
        again = frame.assign(outcome="answered")
        bulk_write(
            conn, calls, columns, frame_rows(again, calls, columns, {"updated_us": 6}), update=["outcome"]
        )
        bulk_write(conn, calls, columns, iter(()))  # nothing to write is not an error
    with ledger.engine.connect() as conn:
        asked = ["L0", "L1", "L3", "L4", "L6", "missing"]
        wanted = ("linkedid", "answer_us", "external_number", "extension", "outcome", "updated_us")
        found = list(select_in(conn, calls, wanted, "linkedid", asked, {"source": "pbx"}, batch=2))
        assert list(select_in(conn, calls, ("linkedid",), "linkedid", [], {"source": "pbx"})) == []
    by_id = {r[0]: r[1:] for r in found}
    assert set(by_id) == {"L0", "L1", "L3", "L4", "L6"}  # 'other' rows have L0, L1 too: filtered out
    assert by_id["L0"] == (None, None, None, "answered", 5)
    assert by_id["L1"] == (1, "+79160000001", None, "answered", 5)
    assert by_id["L3"][0:2] == (3, None)
    assert ledger.count(calls) == 9
    ledger.close()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1))
            ),
            st.one_of(st.none(), st.text(max_size=8)),
            st.one_of(st.none(), st.integers(-5, 5)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_rows_frame_keeps_values_and_types(
    rows: list[tuple[datetime | None, str | None, int | None]],
) -> None:
    """Driver rows become object columns holding the very values; date-time objects become a
    datetime64 column (as DataFrame.from_records made them)."""
    frame = rows_frame(rows, ["calldate", "clid", "duration"])
    assert frame["clid"].dtype == object and frame["duration"].dtype == object
    assert frame["clid"].tolist() == [r[1] for r in rows]
    assert frame["duration"].tolist() == [r[2] for r in rows]
    if any(r[0] is not None for r in rows):
        assert pd.api.types.is_datetime64_any_dtype(frame["calldate"])
        expected = pd.Series([r[0] for r in rows], dtype="datetime64[us]")
        pd.testing.assert_series_equal(
            frame["calldate"].astype("datetime64[us]"), expected, check_names=False, check_index=False
        )


def test_rows_frame_aware_times_keep_their_wall_clock() -> None:
    moscow = datetime(2026, 11, 25, 10, 0, tzinfo=UTC).astimezone()
    frame = rows_frame([(moscow, "a")], ["calldate", "clid"])
    assert frame["calldate"].dt.tz is not None
    assert frame["calldate"].iat[0].to_pydatetime() == moscow
