"""A frame packed for another process comes back the same: values, missing values, dtypes, index."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.frames import SEPARATORS, pack_frame, unpack_frame
from etl.normalise import Normalised

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", *SEPARATORS, "a\x00b", "".join(SEPARATORS), "Иван"]),
    st.none(),
)


def _object_column(values: list[str | None]) -> pd.Series:
    return pd.Series(np.array(values, dtype=object), dtype=object)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(texts, texts, st.one_of(st.integers(-(2**40), 2**40), st.none())), max_size=30),
    st.integers(0, 1_000),
)
def test_round_trip(rows: list[tuple[str | None, str | None, int | None]], start: int) -> None:
    index = pd.Index(range(start, start + 2 * len(rows), 2))  # not a default index
    frame = pd.DataFrame(
        {
            "a": _object_column([r[0] for r in rows]).set_axis(index),
            "b": _object_column([r[1] if r[1] is not None else np.nan for r in rows]).set_axis(index),
            "n": pd.array([r[2] for r in rows], dtype="Int64"),
            "f": np.arange(len(rows), dtype=float),
            "plain": _object_column(["x"] * len(rows)).set_axis(index),
        },
        index=index,
    )
    back = unpack_frame(pickle.loads(pickle.dumps(pack_frame(frame))))
    pd.testing.assert_frame_equal(back, frame)
    for col in ("a", "b"):  # None stays None and NaN stays NaN: the writer tells them apart
        assert [type(v) for v in back[col]] == [type(v) for v in frame[col]]


def test_text_travels_as_one_string() -> None:
    """The point of packing: a text column is one joined string, not n pickled objects."""
    frame = pd.DataFrame({"t": _object_column([f"PJSIP/{i}-0000" for i in range(1000)])})
    packed = pack_frame(frame)
    [(name, kind, payload)] = packed["columns"]
    assert (name, kind) == ("t", "text") and isinstance(payload[1], str)
    assert len(pickle.dumps(packed)) < len(pickle.dumps(frame))


def test_mixed_and_separator_heavy_columns_fall_back_to_pickle() -> None:
    every_separator = "".join(SEPARATORS)
    frame = pd.DataFrame(
        {"mixed": _object_column(["a", 1, None]), "seps": _object_column([every_separator] * 3)}
    )
    kinds = {name: kind for name, kind, _ in pack_frame(frame)["columns"]}
    assert kinds == {"mixed": "as is", "seps": "as is"}
    pd.testing.assert_frame_equal(unpack_frame(pack_frame(frame)), frame)


def test_normalised_pickles_through_the_packed_form() -> None:
    rows = pd.DataFrame(
        {"row_id": _object_column(["1#1", "1#2"]), "extension": _object_column(["101", None])}
    )
    item = Normalised(rows=rows, quarantine=[{"row_key": "k", "reason": "r", "raw": "{}"}], duplicates=2)
    back = pickle.loads(pickle.dumps(item))
    pd.testing.assert_frame_equal(back.rows, rows)
    assert (back.quarantine, back.duplicates) == (item.quarantine, 2)
