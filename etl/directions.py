"""Direction of each CDR row: inbound / outbound / internal, the external number and the
extension (the employee's phone), from contexts, channels and which side is an extension.

Pure, column-wise (`Directions.apply` on a chunk's frame). The sync runs it in its reader or its
writer process, whichever has time (etl/sync.py); `etl.normalise` calls it for a whole chunk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from etl.distinct import Distinct
from etl.phones import PhoneNormaliser

_EXT_IN_CHANNEL = re.compile(r"^[A-Za-z0-9_]+/(?P<ext>[^@\-/;]+)")


class DirectionRules(Protocol):
    """What the classification needs of a source's settings (`etl.normalise.Options` has it)."""

    @property
    def region(self) -> str: ...
    @property
    def extension_pattern(self) -> str: ...
    @property
    def inbound_contexts(self) -> Sequence[str]: ...
    @property
    def outbound_contexts(self) -> Sequence[str]: ...
    @property
    def trunk_channels(self) -> Sequence[str]: ...


class Directions:
    """Inbound / outbound / internal from contexts, channels and which side is an extension.

    Called once per chunk during a sync, so the per-value work (regexes, phone parsing) is done
    once per distinct value of a column and spread over its rows with numpy (`Distinct`), and
    what is learnt about a number is remembered for the next chunks. Channel names are cut at
    their unique suffix first (`_channel_prefixes`): otherwise nearly every one is distinct.
    The columns are text (str), as `normalise_chunk` leaves them; None reads as it always did.
    """

    def __init__(self, opts: DirectionRules) -> None:
        self.phones = PhoneNormaliser(opts.region, opts.extension_pattern)
        self.inbound = [re.compile(p) for p in opts.inbound_contexts]
        self.outbound = [re.compile(p) for p in opts.outbound_contexts]
        self.trunks = [re.compile(p) for p in opts.trunk_channels]
        self._numbers: dict[Any, tuple[bool, str | None]] = {}

    def _number(self, value: Any) -> tuple[bool, str | None]:
        """Whether a src / dst / cnum is an extension, and its E.164 if it is an external
        number; remembered, as most numbers of a chunk turn up again in the next ones."""
        known = self._numbers.get(value)
        if known is None:
            if len(self._numbers) >= 100_000:
                self._numbers.clear()
            known = self._numbers[value] = (self.phones.is_extension(value), self.phones.external(value))
        return known

    def _is_extension(self, value: Any) -> bool:
        return self._number(value)[0]

    def _external(self, value: Any) -> str | None:
        return self._number(value)[1]

    def _has_number(self, value: Any) -> bool:
        return self._number(value)[1] is not None

    def _rings_extension(self, channel: Any) -> bool:
        return self.phones.is_extension(channel_extension(channel))

    def apply(self, f: pd.DataFrame) -> pd.DataFrame:
        ext = self._is_extension
        src, dst, cnum = (Distinct(f[c]) for c in ("src", "dst", "cnum"))
        context = Distinct(f["dcontext"])
        chan = Distinct(_channel_prefixes(f["channel"].to_numpy(dtype=object)))
        dst_chan = Distinct(_channel_prefixes(f["dstchannel"].to_numpy(dtype=object)))

        src_ext, dst_ext, cnum_ext = src.map(ext, bool), dst.map(ext, bool), cnum.map(ext, bool)
        src_has_num, dst_has_num = src.map(self._has_number, bool), dst.map(self._has_number, bool)
        in_ctx = context.map(lambda v: any(p.search(v) for p in self.inbound), bool)
        out_ctx = context.map(lambda v: any(p.search(v) for p in self.outbound), bool)
        # trunk patterns are the user's and may look at the suffix: whole channel names here
        trunk = (
            Distinct(f["channel"]).map(lambda v: any(p.search(v) for p in self.trunks), bool)
            if self.trunks
            else np.zeros(len(f), dtype=bool)
        )
        dst_chan_is_ext = dst_chan.map(self._rings_extension, bool)
        chan_is_ext = chan.map(self._rings_extension, bool)

        # An extension's phone dialling out: its channel (`PJSIP/101-…`, `Local/101@…;1`) in an
        # outbound context to an external number, whatever src says. A click-to-call's CDR row
        # has the dialled number (cdr1c's CallerID) or nothing as src (docs/normalisation.md).
        phone_out = chan_is_ext & out_ctx & dst_has_num & ~in_ctx & ~trunk
        inbound = in_ctx | trunk | (~src_ext & src_has_num & ~phone_out)
        internal = ~inbound & src_ext & (dst_ext | dst_chan_is_ext | (out_ctx & ~dst_has_num))
        outbound = ~inbound & ~internal & (src_ext | out_ctx) & dst_has_num
        direction = _DIRECTIONS[np.select([inbound, internal, outbound], [1, 2, 3], 0)]

        # the phone that rang (from the destination channel) names the employee better than
        # dst, which may be a ring group or queue number
        nan = np.full(len(f), np.nan, dtype=object)
        inbound_ext = np.where(
            dst_chan_is_ext, dst_chan.map(channel_extension), np.where(dst_ext, dst.values, nan)
        )
        by_channel = phone_out & outbound  # the phone's extension, not src or cnum
        outbound_ext = np.where(
            src_ext & ~by_channel,
            src.values,
            np.where(
                cnum_ext & ~by_channel, cnum.values, np.where(chan_is_ext, chan.map(channel_extension), nan)
            ),
        )
        extension = np.where(inbound, inbound_ext, np.where(internal | outbound, outbound_ext, nan))
        # An inbound row without a number gets NaN, but None when no src of the chunk has a
        # number: what the Series.map-based version gave (its mapping's dtype was inferred).
        no_number = nan if src_has_num.any() else np.full(len(f), None, dtype=object)
        external = np.where(
            inbound,
            np.where(src_has_num, src.map(self._external), no_number),
            np.where(outbound, dst.map(self._external), nan),
        )
        return pd.DataFrame(
            {"direction": direction, "external_number": external, "extension": extension},
            index=f.index,
            dtype=object,
        )


_DIRECTIONS = np.array(["unknown", "inbound", "internal", "outbound"], dtype=object)


def _channel_prefixes(channels: np.ndarray) -> np.ndarray:
    """Channel names cut before their first '-', where Asterisk's unique suffix starts
    (`PJSIP/101-0000002a` → `PJSIP/101`, `Local/101@from-queue-0000;1` → `Local/101@from`).

    `channel_extension` gives the same for a channel and its prefix, as nothing its pattern
    matches can be a '-' (tests/test_directions.py checks this); the prefixes repeat."""
    try:
        return np.array([c.partition("-")[0] for c in channels], dtype=object)
    except AttributeError:  # a None among them (not from a sync: its text columns are str)
        return channels


def channel_extension(channel: str) -> str | None:
    m = _EXT_IN_CHANNEL.match(channel or "")
    return m["ext"] if m else None


def add_directions(rows: pd.DataFrame, directions: Directions) -> pd.DataFrame:
    """Rows with direction, external_number and extension (see `Directions`)."""
    if rows.empty or "direction" in rows.columns:
        return rows
    return pd.concat([rows, directions.apply(rows)], axis=1)
