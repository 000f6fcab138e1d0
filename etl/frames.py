"""A DataFrame's cheap way between processes (the sync's reader → writer, `etl.prefetch`).

Pickling a frame pickles every string of its object columns one by one: for a CDR chunk that
is most of the cost of handing it over (≈6 µs a row, more than normalising it). Here a text
column travels as one string joined with a separator that none of its values contains, which
pickles as a single copy and splits back at C speed; missing values travel as a mask; numeric
and other columns travel as they are (numpy buffers already pickle cheaply). `unpack_frame`
gives back the same frame: same columns, values, dtypes and index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SEPARATORS = ("\x00", "\x1e", "\x1f", "\ufdd0")  # tried in turn: a column holding all of them is pickled


def pack_frame(frame: pd.DataFrame) -> dict[str, Any]:
    columns: list[tuple[str, str, Any]] = []
    for name, series in frame.items():
        columns.append((str(name), *_pack_column(series)))
    return {"index": frame.index, "columns": columns}


def unpack_frame(packed: dict[str, Any]) -> pd.DataFrame:
    index = packed["index"]
    data = {name: _unpack_column(kind, payload, index) for name, kind, payload in packed["columns"]}
    return pd.DataFrame(data, index=index, copy=False) if data else pd.DataFrame(index=index)


def _pack_column(series: pd.Series) -> tuple[str, Any]:
    values = series.array if isinstance(series.dtype, pd.api.extensions.ExtensionDtype) else series.to_numpy()
    if series.dtype != object or len(series) == 0:
        return "as is", values  # a numpy or extension array: pickled as buffers, dtype kept
    texts = values.tolist()
    gaps = None
    if pd.api.types.infer_dtype(values, skipna=False) != "string":  # one C-level scan: all str?
        if pd.api.types.infer_dtype(values, skipna=True) != "string":
            return "as is", values
        missing = pd.isna(values)  # str and missing values: where, and the missing value itself
        gaps = (missing, values[missing.argmax()])
        texts = ["" if m else v for v, m in zip(texts, missing.tolist(), strict=True)]
    for sep in SEPARATORS:
        joined = sep.join(texts)
        if joined.count(sep) == len(texts) - 1:  # no value holds the separator
            return "text", (sep, joined, gaps)
    return "as is", values


def _unpack_column(kind: str, payload: Any, index: pd.Index) -> pd.Series:
    if kind == "as is":
        return pd.Series(payload, index=index, dtype=payload.dtype, copy=False)
    sep, joined, gaps = payload
    values = np.array(joined.split(sep), dtype=object)
    if gaps is not None:
        values[gaps[0]] = gaps[1]
    return pd.Series(values, index=index, dtype=object, copy=False)
