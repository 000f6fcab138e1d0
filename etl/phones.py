"""Phone numbers: one canonical form (E.164) before any matching.

With the default region RU, `8 916 123-45-67`, `+7 916 123 45 67`, `79161234567` and
`9161234567` are one number, `+79161234567`. Internal extensions (short digit strings matching
the extension pattern) are not phone numbers and are returned as `None` by `normalise_number`.

`PhoneNormaliser` memoises per distinct input: a CDR chunk has far fewer distinct numbers than
rows, and phonenumbers costs tens of microseconds per parse.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from etl.config import DIAL_FORMAT

_DIGITS = re.compile(r"\d")
_JUNK = re.compile(r"[^\d+]")


def digits(value: str) -> str:
    """Only the digits of `value` (for fallbacks such as 1C's `Представление`)."""
    return "".join(_DIGITS.findall(value or ""))


@lru_cache(maxsize=200_000)
def normalise_number(value: str | None, region: str = "RU") -> str | None:
    """E.164 (`+79161234567`) for anything that is a plausible external number, else None.

    Rules beyond phonenumbers' own: a Russian `8` trunk prefix (`8 916…`, `8 495…`) and a bare
    `7` + 10 digits are read as +7; a 10-digit number is read in `region`; `00` is an
    international prefix. Numbers phonenumbers deems impossible are None.
    """
    if not value:
        return None
    raw = _JUNK.sub("", value.strip())
    if not raw or raw == "+":
        return None
    plus = raw.startswith("+")
    d = raw.lstrip("+")
    if not d:
        return None
    if region == "RU":  # the common shapes, without a phonenumbers parse (~40 µs each)
        fast = _fast_ru(d, plus)
        if fast is not None:
            return fast
    if plus:
        candidate = "+" + d
    elif d.startswith("00") and len(d) > 4:
        candidate = "+" + d[2:]
    elif region == "RU" and len(d) == 11 and d[0] in "78":
        candidate = "+7" + d[1:]
    elif region == "RU" and len(d) == 12 and d.startswith("810"):
        candidate = "+" + d[3:]
    else:
        candidate = d
    try:
        parsed = phonenumbers.parse(candidate, None if candidate.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _fast_ru(d: str, plus: bool) -> str | None:
    """+7 and ten national digits, which is what phonenumbers gives for these shapes: a
    possible Russian number is ten national digits (tests/test_phones.py checks agreement)."""
    if plus:
        return "+" + d if len(d) == 11 and d[0] == "7" and d[1] in "3489" else None
    if len(d) == 11 and d[0] in "78" and d[1] in "3489":
        return "+7" + d[1:]
    if len(d) == 10 and d[0] in "3489":
        return "+7" + d
    return None


class PhoneNormaliser:
    """Normalises numbers for one region, treating extension-like strings as internal."""

    def __init__(self, region: str = "RU", extension_pattern: str = r"^\d{2,5}$") -> None:
        self.region = region
        self.extension = re.compile(extension_pattern)

    def is_extension(self, value: str | None) -> bool:
        return bool(value) and bool(self.extension.match(str(value).strip()))

    def external(self, value: str | None) -> str | None:
        """E.164 of an external number; None for extensions, service codes and junk."""
        if not value or self.is_extension(value):
            return None
        return normalise_number(str(value), self.region)


class DialFormat:
    """The form in which the PBX's outbound routes want an external number (`[ami] dial_format`).

    A number as typed (digits and an optional leading `+`, separators already removed) is
    normalised to E.164 first, so `+7 (495) 123-45-67`, `8 495 1234567` and `74951234567` all
    dial the same string. `{e164}` is the number with its country code (digits only, write
    `+{e164}` for the plus), `{national}` its national significant number. A `{national}`
    format fits numbers of the region's own country; a number of another country is dialled
    with the region's international prefix before its E.164 digits (RU: `810…`, most of
    Europe: `00…`). Extensions and what is not a phone number (service codes) stay as typed.
    """

    def __init__(self, template: str, region: str = "RU", extension_pattern: str = r"^\d{2,6}$") -> None:
        if not DIAL_FORMAT.match(template):
            raise ValueError(f"a dial format looks like '8{{national}}' or '+{{e164}}', got {template!r}")
        self.template = template
        self.phones = PhoneNormaliser(region, extension_pattern)
        self.country = phonenumbers.country_code_for_region(region)
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        prefix = metadata.international_prefix if metadata is not None else None
        self.international = prefix if prefix and prefix.isdigit() else "00"

    def dial(self, typed: str) -> str:
        e164 = self.phones.external(typed)
        if e164 is None:
            return typed
        parsed = phonenumbers.parse(e164, None)
        if "{national}" in self.template and parsed.country_code != self.country:
            return self.international + e164[1:]
        national = phonenumbers.national_significant_number(parsed)
        return self.template.format(national=national, e164=e164[1:])
