"""Phone numbers: every way of writing a Russian number gives one E.164 form."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from etl.phones import PhoneNormaliser, digits, normalise_number

# Russian mobile (9xx) and Moscow/St Petersburg geographic (495, 499, 812) numbers
national = st.tuples(
    st.sampled_from(["916", "903", "926", "985", "495", "499", "812"]),
    st.integers(0, 9_999_999),
).map(lambda t: f"{t[0]}{t[1]:07d}")


def spaced(number: str, draw_sep: str) -> str:
    return f"{number[:3]}{draw_sep}{number[3:6]}{draw_sep}{number[6:8]}{draw_sep}{number[8:]}"


@given(national, st.sampled_from(["", " ", "-"]))
def test_all_forms_are_one_number(number: str, sep: str) -> None:
    forms = [
        "8" + number,
        "+7" + number,
        "7" + number,
        number,
        f"8 ({number[:3]}) {number[3:6]}-{number[6:8]}-{number[8:]}",
        "+7 " + spaced(number, sep),
        "8" + spaced(number, sep),
    ]
    assert {normalise_number(f) for f in forms} == {"+7" + number}


@given(st.text(alphabet="0123456789", min_size=2, max_size=5))
def test_extensions_are_not_external_numbers(ext: str) -> None:
    assert PhoneNormaliser("RU", r"^\d{2,5}$").external(ext) is None


@given(st.text(max_size=40))
def test_never_raises_and_output_is_e164(value: str) -> None:
    out = normalise_number(value)
    assert out is None or (out.startswith("+") and out[1:].isdigit() and 7 <= len(out) <= 16)


def test_foreign_and_junk() -> None:
    assert normalise_number("+44 20 7123 4567") == "+442071234567"
    assert normalise_number("00442071234567") == "+442071234567"
    assert normalise_number("s") is None
    assert normalise_number("") is None
    assert normalise_number("anonymous") is None
    assert digits("+7 (916) 123-45-67") == "79161234567"


@given(st.text(alphabet="0123456789+", min_size=1, max_size=14))
def test_fast_path_agrees_with_phonenumbers(value: str) -> None:
    import phonenumbers

    from etl.phones import _fast_ru

    d = value.lstrip("+")
    if not d.isdigit():
        return
    fast = _fast_ru(d, value.startswith("+"))
    if fast is None:
        return
    parsed = phonenumbers.parse(fast, None)
    assert phonenumbers.is_possible_number(parsed)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == fast
