"""Directions: the column-wise classification agrees with its rules applied row by row, and the
channel-prefix shortcut with the plain channel pattern."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.config import FREEPBX_INBOUND_CONTEXTS, FREEPBX_OUTBOUND_CONTEXTS
from etl.directions import Directions, _channel_prefixes, channel_extension
from etl.normalise import Options

PLAIN = re.compile(r"^[A-Za-z0-9_]+/(?P<ext>[^@\-/;]+)")

channels = st.one_of(
    st.sampled_from(
        [
            "",
            "PJSIP/101-0000002a",
            "PJSIP/rt-trunk-0000002f",
            "Local/101@from-internal-0000;1",
            "Local/110@from-queue-0000002b;2",
            "Local/101@phones-00000007;1",
            "SIP/101-00000007",
            "Local/84951234567@pstn-00000008;1",
            "SIP/trunk-00000",
            "DAHDI/i1/84951234567-1",
            "IAX2/trunk/74951234567-3",
            "-",
            "/",
            "PJSIP/",
            "PJSIP/-1",
            "PJSIP//1",
            "PJSIP/;1-2",
            "PJS IP/101-1",
            "Канал/101-1",
            "PJSIP/101\n-1",
        ]
    ),
    st.builds(
        "{}/{}{}-{}{}".format,
        st.sampled_from(["PJSIP", "SIP", "Local", "DAHDI", "IAX2", "pjsip_2", ""]),
        st.one_of(
            st.sampled_from(["101", "trunk", "rt-trunk", "i1/84951234567", "", "+7916", "*97"]),
            st.text(max_size=8),
        ),
        st.sampled_from(["", "@from-internal", "@from-queue", "/x"]),
        st.text(alphabet="0123456789abcdef", max_size=8),
        st.sampled_from(["", ";1", ";2"]),
    ),
    st.text(alphabet="PJSIPLocal019_/@-;,.*# \n\x00ы", max_size=30),
    st.text(max_size=20),
)


@settings(max_examples=500)
@given(st.lists(channels, max_size=30))
def test_channel_prefixes_keep_the_extension(values: list[str]) -> None:
    """Cutting a channel at its first '-' changes nothing the channel pattern can see."""
    prefixes = _channel_prefixes(np.array(values, dtype=object))
    assert len(prefixes) == len(values)
    for channel, prefix in zip(values, prefixes, strict=True):
        m = PLAIN.match(channel)
        assert channel_extension(channel) == channel_extension(prefix) == (m["ext"] if m else None)


numbers = st.one_of(
    st.sampled_from(
        [
            "",
            "101",
            "1001",
            "12345",
            "123456",
            "*97",
            "*98101",
            "s",
            "vmu101",
            "600",
            "79161234567",
            "89161234567",
            "+79161234567",
            "+7 916 123-45-67",
            "9161234567",
            "84951234567",
            "74951230000",
            "+442079460958",
            "00442079460958",
            "8",
            "+",
            "7",
            " 101 ",
        ]
    ),
    st.text(alphabet="0123456789+*# ", max_size=14),
    st.text(max_size=6),
)
contexts = st.one_of(
    st.sampled_from(
        [
            "from-internal",
            "from-internal-xfer",
            "from-did-direct",
            "from-trunk",
            "from-pstn",
            "ext-queues",
            "ext-group",
            "ext-local",
            "macro-dialout-trunk",
            "outrt-1",
            "ivr-1",
            "macro-hangupcall",
            "",
        ]
    ),
    st.text(max_size=8),
)
COLUMNS = ["src", "dst", "cnum", "dcontext", "channel", "dstchannel"]
cdr = st.fixed_dictionaries(
    {
        "src": numbers,
        "dst": numbers,
        "cnum": numbers,
        "dcontext": contexts,
        "channel": channels,
        "dstchannel": channels,
    }
)
# rows as a PBX writes them (few values each), so that the rules meet each other often
plausible_number = st.sampled_from(["", "101", "102", "84951234567", "+79161234567", "79161234567", "s"])
plausible = st.fixed_dictionaries(
    {
        "src": plausible_number,
        "dst": plausible_number,
        "cnum": plausible_number,
        "dcontext": st.sampled_from(
            ["from-internal", "from-trunk", "from-did-direct", "outrt-1", "ext-queues"]
        ),
        "channel": st.sampled_from(
            ["PJSIP/101-1", "Local/102@phones-2;1", "PJSIP/trunk-3", "PJSIP/rt-trunk-4"]
        ),
        "dstchannel": st.sampled_from(["", "PJSIP/102-5", "Local/84951234567@pstn-6;1", "PJSIP/trunk-7"]),
    }
)
FREEPBX = Options(
    source="p",
    inbound_contexts=tuple(FREEPBX_INBOUND_CONTEXTS),
    outbound_contexts=tuple(FREEPBX_OUTBOUND_CONTEXTS),
)
WITH_TRUNKS = Options(
    source="p",
    inbound_contexts=tuple(FREEPBX_INBOUND_CONTEXTS),
    outbound_contexts=tuple(FREEPBX_OUTBOUND_CONTEXTS),
    trunk_channels=(r"^PJSIP/rt-trunk", r"trunk-0"),
)
# one of each, used for every example as a sync uses one for every chunk (numbers remembered)
DIRECTIONS = {False: Directions(FREEPBX), True: Directions(WITH_TRUNKS)}


def row_by_row(d: Directions, r: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The classification rules for one row (see `Directions.apply`)."""
    ext, external = d.phones.is_extension, d.phones.external
    src_ext, dst_ext, cnum_ext = ext(r["src"]), ext(r["dst"]), ext(r["cnum"])
    src_num, dst_num = external(r["src"]), external(r["dst"])
    in_ctx = any(p.search(r["dcontext"]) for p in d.inbound)
    out_ctx = any(p.search(r["dcontext"]) for p in d.outbound)
    trunk = any(p.search(r["channel"]) for p in d.trunks)
    rang, chan = channel_extension(r["dstchannel"]), channel_extension(r["channel"])
    # an extension's phone dialling an external number from an outbound context, whatever src
    # says (click-to-call: src is the dialled number or empty)
    phone_out = ext(chan) and out_ctx and dst_num is not None and not in_ctx and not trunk
    inbound = in_ctx or trunk or (not src_ext and src_num is not None and not phone_out)
    internal = not inbound and src_ext and (dst_ext or ext(rang) or (out_ctx and dst_num is None))
    outbound = not inbound and not internal and (src_ext or out_ctx) and dst_num is not None
    if inbound:
        return "inbound", src_num, rang if ext(rang) else r["dst"] if dst_ext else None
    if phone_out and outbound:
        return "outbound", dst_num, chan
    if internal or outbound:
        extension = r["src"] if src_ext else r["cnum"] if cnum_ext else chan if ext(chan) else None
        return "internal" if internal else "outbound", dst_num if outbound else None, extension
    return "unknown", None, None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(cdr, plausible), max_size=40), st.booleans(), st.randoms(use_true_random=False))
def test_directions_follow_the_rules_row_by_row(rows: list[dict[str, Any]], trunks: bool, rnd: Any) -> None:
    d = DIRECTIONS[trunks]
    index = list(range(100, 100 + len(rows)))
    rnd.shuffle(index)
    frame = pd.DataFrame(
        {c: pd.Series([r[c] for r in rows], dtype=object, index=index) for c in COLUMNS},
        index=index,
    )
    out = d.apply(frame)
    assert list(out.columns) == ["direction", "external_number", "extension"]
    assert list(out.index) == index
    assert [str(t) for t in out.dtypes] == ["object"] * 3
    got = [tuple(None if pd.isna(v) else v for v in t) for t in out.itertuples(index=False)]
    assert got == [row_by_row(d, r) for r in rows]


def test_none_reads_as_empty() -> None:
    """Not what a sync passes (its text columns are str), but None has always read as ''."""
    d = Directions(FREEPBX)
    rows = [
        ("101", "79161234567", "101", "from-internal", "PJSIP/101-1", "PJSIP/trunk-2"),
        ("79161234567", "101", "", "from-did-direct", "PJSIP/trunk-3", "PJSIP/101-4"),
        ("79161234567", "600", "", "ext-group", "", "Local/102@from-queue-5;1"),
    ]
    empty = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    for column in ("src", "dst", "cnum", "channel", "dstchannel"):
        for i in range(len(rows)):
            holed = empty.copy()
            holed.loc[i, column] = None
            blank = empty.copy()
            blank.loc[i, column] = ""
            pd.testing.assert_frame_equal(d.apply(holed), d.apply(blank))


def test_an_empty_frame() -> None:
    out = Directions(FREEPBX).apply(pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS}))
    assert out.empty and list(out.columns) == ["direction", "external_number", "extension"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["PJSIP/101-0000002a", "SIP/101-00000007", "Local/101@phones-00000007;1"]),
    st.sampled_from(["84951234567", "+74951234567", "89161234567", "+442079460958"]),
    st.sampled_from(["", "dialled", "101", "+79161234567"]),
    st.sampled_from(["from-internal", "outrt-1", "macro-dialout-trunk"]),
)
def test_a_phone_dialling_out_is_outbound_from_its_extension_whatever_src_says(
    channel: str, dialled: str, src: str, context: str
) -> None:
    """Click-to-call rows: cdr1c's Originate sets the CallerID to the dialled number, another
    panel sets none; the row is the phone's channel dialling out, the call is the extension's."""
    src = dialled if src == "dialled" else src
    row = {"src": src, "dst": dialled, "cnum": src, "dcontext": context, "channel": channel}
    frame = pd.DataFrame([{**row, "dstchannel": "PJSIP/trunk-00000008"}], dtype=object)
    out = DIRECTIONS[False].apply(frame).iloc[0]
    expected = DIRECTIONS[False].phones.external(dialled)
    assert (out["direction"], out["extension"], out["external_number"]) == ("outbound", "101", expected)
