"""Pure naming rules: names from CDR fields never leave the root; uniqueids and date folders."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from etl.recordings.names import (
    Reference,
    Refusal,
    cdr_reference,
    compile_patterns,
    date_folder,
    display_path,
    field_values,
    stored_path_bytes,
    uniqueid_from_name,
)

ROOT = "/srv/recordings"
PBX = "/var/spool/asterisk/monitor"
pieces = st.sampled_from(["..", ".", "", "/", "\\", "a", "2026", "x.wav", "~", "etc", "\x00", ";", " "])
hostile = st.one_of(
    st.text(max_size=60),
    st.lists(pieces, max_size=12).map("".join),
    st.lists(pieces, max_size=8).map(lambda p: ROOT + "/" + "/".join(p)),
    st.lists(pieces, max_size=8).map(lambda p: PBX + "/" + "/".join(p)),
)


@settings(max_examples=600, deadline=None)
@given(hostile)
@example("../../../etc/passwd")
@example("/srv/recordings/../../etc/passwd")
@example("/srv/recordings-evil/x.wav")
@example("/var/spool/asterisk/monitor/../../../etc/shadow")
@example("2026/11/25/..\\..\\..\\etc\\passwd")
@example("/srv/recordings")
def test_a_cdr_value_never_escapes_the_root(value: str) -> None:
    ref = cdr_reference(value, root=ROOT, pbx_root=PBX)
    if ref is None:
        assert not value.strip()
        return
    if isinstance(ref, Refusal):
        assert ref.reason
        return
    assert isinstance(ref, Reference)
    assert not ref.value.startswith("/")
    assert ".." not in ref.value.split("/")
    assert "\x00" not in ref.value
    joined = posixpath.normpath(posixpath.join(ROOT, ref.value))
    assert joined.startswith(ROOT + "/")
    assert ref.is_path or "/" not in ref.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x.wav", Reference("x.wav", is_path=False)),
        ("x.wav49", Reference("x.WAV", is_path=False)),
        ("2026/11/25/x.wav", Reference("2026/11/25/x.wav", is_path=True)),
        (PBX + "/2026/11/25/x.wav", Reference("2026/11/25/x.wav", is_path=True)),
        (ROOT + "/x.mp3", Reference("x.mp3", is_path=True)),
        ("../x.wav", None),
        ("/etc/passwd", None),
        ("/srv/recordings-evil/x.wav", None),
        ("a\x00b.wav", None),
        (ROOT, None),
    ],
)
def test_cdr_reference_examples(value: str, expected: Reference | None) -> None:
    got = cdr_reference(value, root=ROOT, pbx_root=PBX)
    if expected is None:
        assert isinstance(got, Refusal) and got.reason
    else:
        assert got == expected


def test_uniqueid_and_folder_from_freepbx_names() -> None:
    patterns = compile_patterns("")
    name = "out-84957778899-101-20261125-234507-1795650307.28.wav"
    assert uniqueid_from_name(name, patterns) == "1795650307.28"
    assert date_folder(name) == "2026/11/25"
    # A preset ChannelId with '-' and a Local ';2' half: the uniqueid runs to the extension.
    odd = "out-79161234567-101-20261125-234507-c1c-0001;2.wav"
    assert uniqueid_from_name(odd, patterns) == "c1c-0001;2"
    # A destination containing '-' breaks FreePBX's own split; the date is still found.
    assert date_folder("q-sales-team-101-20261125-120000-1795650000.1.wav") == "2026/11/25"
    assert date_folder("no-date-here.wav") is None
    assert date_folder("x-20261345-120000-1.wav") is None  # month 13
    # A custom layout: the configured pattern wins; a bare uniqueid is a fallback.
    custom = compile_patterns(r"^rec_(?P<uniqueid>[^_]+)_")
    assert uniqueid_from_name("rec_abc.1_2026.wav", custom) == "abc.1"
    assert uniqueid_from_name("call 1795650307.28 final.mp3", patterns) == "1795650307.28"
    assert uniqueid_from_name("nothing.wav", patterns) is None


def test_field_values_keep_a_semicolon_name_whole_first() -> None:
    assert field_values("a-c1c-0001;2.wav") == ["a-c1c-0001;2.wav", "a-c1c-0001", "2.wav"]
    assert field_values(" x.wav ") == ["x.wav"]
    assert field_values("") == []


@given(st.binary(min_size=1, max_size=40))
def test_odd_names_round_trip(raw: bytes) -> None:
    shown, b64 = display_path(raw)
    assert stored_path_bytes(shown, b64) == raw
    shown.encode("utf-8")  # always storable as text
