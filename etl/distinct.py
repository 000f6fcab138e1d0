"""Column work once per distinct value: a chunk has far fewer distinct numbers, contexts,
dispositions and channel prefixes than rows (used by `etl.normalise` and `etl.directions`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


class Distinct:
    """One column as codes into its distinct values, to compute something once per distinct
    value (`map`): a chunk has far fewer distinct numbers, contexts, channel prefixes than rows."""

    def __init__(self, values: pd.Series | np.ndarray) -> None:
        self.values = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values
        self.codes, self.uniques = pd.factorize(self.values)
        self.missing = self.codes < 0  # None / NaN: factorize gives them no code

    def map(self, fn: Callable[[Any], Any], dtype: type = object) -> np.ndarray:
        """`fn(value)` for each row, as an array of `dtype`."""
        table: np.ndarray = np.empty(len(self.uniques) + 1, dtype=dtype)  # the last: for code -1
        table[:-1] = [fn(v) for v in self.uniques]
        out = table[self.codes]
        if self.missing.any():
            out[self.missing] = [fn(v) for v in self.values[self.missing]]
        return out
