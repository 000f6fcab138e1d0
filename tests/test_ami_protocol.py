"""AMI framing against the real Asterisk 22 bytes, and the no-injection property."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.ami.protocol import (
    MAX_LINE_BYTES,
    FrameParser,
    decode_value,
    parse_message,
    serialise_action,
)
from etl.errors import AmiUnsafeValue
from etl.sandbox.ami import frame_like_manager_c
from tests.conftest import AMI_WIRE

WIRE = AMI_WIRE
SCENARIOS = sorted(p.name[: -len(".recv.bin")] for p in WIRE.glob("*.recv.bin"))


def _recorded(name: str) -> tuple[bytes, list[list[int]], list[dict[str, object]]]:
    data = (WIRE / f"{name}.recv.bin").read_bytes()
    chunks = [json.loads(line) for line in (WIRE / f"{name}.chunks.jsonl").read_text().splitlines()]
    cuts = [[c["off"], c["len"]] for c in chunks if c["dir"] == "recv"]
    framed = [json.loads(line) for line in (WIRE / f"{name}.jsonl").read_text().splitlines()]
    messages = [m for m in framed if m["dir"] == "recv" and m.get("kind") != "banner"]
    return data, cuts, messages


def _after_banner(data: bytes) -> bytes:
    return data[data.index(b"\n") + 1 :]


@pytest.mark.parametrize("name", SCENARIOS or ["missing"])
def test_recorded_streams_parse_into_the_recorded_messages(name: str) -> None:
    data, cuts, expected = _recorded(name)
    parser = FrameParser()
    got = []
    banner = data.index(b"\n") + 1
    for off, length in cuts:  # the very TCP reads Asterisk produced
        if off + length > banner:
            got.extend(parser.feed(data[max(off, banner) : off + length]))
    assert parser.pending == 0
    assert len(got) == len(expected)
    for msg, want in zip(got, expected, strict=True):
        if want["utf8"]:
            assert [list(h) for h in msg.headers] == want["headers"]
        else:  # cp1251 bytes: every value must re-encode to exactly the recorded bytes
            raw = bytes.fromhex(str(want["raw_hex"]))
            assert [k for k, _ in msg.headers] == [k for k, _ in want["headers"]]  # type: ignore[attr-defined]
            for _, value in msg.headers:
                assert value.encode("utf-8") in raw or value.encode("cp1251") in raw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=60))
def test_any_split_of_the_stream_gives_the_same_messages(cuts: list[int]) -> None:
    stream = _after_banner((WIRE / "cyrillic_callerid.recv.bin").read_bytes())
    whole = [m.headers for m in FrameParser().feed(stream)]
    parser, got, pos = FrameParser(), [], 0
    for size in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        got.extend(m.headers for m in parser.feed(stream[pos : pos + size]))
        pos += size
        if pos >= len(stream):
            break
    got.extend(m.headers for m in parser.feed(stream[pos:]))
    assert got == whole


def test_cp1251_caller_name_is_decoded_not_dropped() -> None:
    stream = _after_banner((WIRE / "cyrillic_callerid.recv.bin").read_bytes())
    names = {m.get("CallerIDName") for m in FrameParser().feed(stream) if m.event == "NewCallerid"}
    assert "Иван Петров" in names
    # The same name sent as cp1251 comes back as cp1251 bytes; it must decode to the same text.
    assert sum(1 for m in FrameParser().feed(stream) if m.get("CallerIDName") == "Иван Петров") >= 4


def test_bare_cr_inside_a_value_is_not_a_line_break() -> None:
    stream = _after_banner((WIRE / "injection.recv.bin").read_bytes())
    raw_cr = [m for m in FrameParser().feed(stream) if "\r" in (m.get("CallerIDName") or "")]
    assert raw_cr, "the recording has an OriginateResponse with a raw CR in CallerIDName"
    for m in raw_cr:
        assert m.get("CallerIDName") == "Inj4\rAction: Ping"
        assert "Action" not in m


def test_crlf_and_bare_lf_streams_are_equivalent() -> None:
    crlf = b"Event: A\r\nKey: v1\r\n\r\nResponse: Success\r\nActionID: x\r\n\r\n"
    lf = crlf.replace(b"\r\n", b"\n")
    mixed = b"Event: A\nKey: v1\r\n\nResponse: Success\r\nActionID: x\n\r\n"
    want = [m.headers for m in FrameParser().feed(crlf)]
    assert want == [[("Event", "A"), ("Key", "v1")], [("Response", "Success"), ("ActionID", "x")]]
    assert [m.headers for m in FrameParser().feed(lf)] == want
    assert [m.headers for m in FrameParser().feed(mixed)] == want


def test_utf8_character_split_across_reads_survives() -> None:
    data = "Event: Newchannel\r\nCallerIDName: José Müller\r\n\r\n".encode()
    parser = FrameParser()
    got = []
    for i in range(len(data)):
        got.extend(parser.feed(data[i : i + 1]))
    assert [m.get("CallerIDName") for m in got] == ["José Müller"]


def test_values_decode_one_by_one() -> None:
    body = "Event: X\r\nA: Иван\r\n".encode() + b"B: " + "Петров".encode("cp1251") + b"\r\nC: \xff\xfe\x98"
    msg = parse_message(body)
    assert msg.get("A") == "Иван" and msg.get("B") == "Петров"
    # bytes no codec accepts are kept as surrogate escapes, not dropped
    assert msg["C"].encode("utf-8", "surrogateescape") == b"\xff\xfe\x98"
    assert decode_value(b"\x98") == "\udc98"


def test_keys_are_case_insensitive_and_the_first_wins() -> None:
    msg = parse_message(b"Event: X\r\nChannel: first\r\nchannel: second\r\nVariable: a=1\r\nVariable: b=2")
    assert msg.get("CHANNEL") == "first"
    assert msg.get_all("variable") == ["a=1", "b=2"]


def test_serialise_writes_crlf_lines_and_a_blank_line() -> None:
    assert serialise_action("Ping", [("ActionID", "a1")]) == b"Action: Ping\r\nActionID: a1\r\n\r\n"
    assert (
        serialise_action("X", [("N", 5), ("B", True), ("Skip", None)])
        == b"Action: X\r\nN: 5\r\nB: true\r\n\r\n"
    )


@pytest.mark.parametrize(
    "value",
    [
        "a\rb",
        "a\nb",
        "a\x00b",
        "\r\n\r\nAction: Command",
        "x\u2028y",
        "x\u2029y",
        "x\x85y",
        "x\x0bY",
        "x\x1cy",
        "x" * MAX_LINE_BYTES,
        "\ud800",
    ],
)
def test_unsafe_values_are_refused(value: str) -> None:
    with pytest.raises(AmiUnsafeValue):
        serialise_action("Originate", [("CallerID", value)])


def test_bad_keys_and_too_many_headers_are_refused() -> None:
    for key in ["Caller ID", "X:Y", "", "A\r\nB", "Кл"]:
        with pytest.raises(AmiUnsafeValue):
            serialise_action("Originate", [(key, "v")])
    with pytest.raises(AmiUnsafeValue):
        serialise_action("Originate", [("Variable", f"v{i}=1") for i in range(200)])


_TRICKY = st.sampled_from(
    [
        "\r",
        "\n",
        "\r\n",
        "\r\n\r\n",
        "\n\n",
        "\x00",
        "\u2028",
        "\u2029",
        "\x85",
        "\r\n\r\nAction: Command\r\nCommand: core restart now\r\n\r\n",
        "\nVariable: INJECTED=yes",
        "Action: Ping",
        ":",
        "é",
        "Ж",
    ]
)
_VALUES = st.lists(
    st.one_of(st.text(max_size=40), _TRICKY, st.text(min_size=900, max_size=1100)), max_size=4
).map("".join)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_VALUES, min_size=1, max_size=5))
def test_no_input_ever_adds_a_header_or_an_action(values: list[str]) -> None:
    fields = [("ActionID", "inj-1")] + [(f"Field{i}", v) for i, v in enumerate(values)]
    try:
        wire = serialise_action("Originate", fields)
    except AmiUnsafeValue:
        return
    actions = frame_like_manager_c(wire)
    assert len(actions) == 1
    assert [k for k, _ in actions[0]] == ["Action", "ActionID"] + [f"Field{i}" for i in range(len(values))]
    assert all(len(line) <= 1024 for line in wire.split(b"\n"))
    # our own reader gives back what was meant (less the leading blanks Asterisk skips)
    parsed = FrameParser().feed(wire)
    assert len(parsed) == 1
    assert parsed[0].headers[2:] == [(f"Field{i}", v.lstrip(" \t")) for i, v in enumerate(values)]
