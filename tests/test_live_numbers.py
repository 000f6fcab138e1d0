"""Numbers as people type them: one dialled string in the PBX's dial format, and a control
character anywhere is refused (422) before anything reaches the AMI socket."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import unicodedata
from collections.abc import Coroutine, Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.ami.operations import Policy
from etl.config import AmiSettings, parse_settings
from etl.errors import ConfigError, OperationRefused
from etl.sandbox.ami import TOKEN, LiveStack

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORMATS = ("8{national}", "7{national}", "+{e164}", "{e164}")
AMI = AmiSettings(host="127.0.0.1", port=5038, user="cdr1c", secret="s3cret-ami-secret")

# Russian mobile and Moscow / St Petersburg numbers, ten national digits
national = st.tuples(
    st.sampled_from(["916", "903", "985", "495", "499", "812"]), st.integers(0, 9_999_999)
).map(lambda t: f"{t[0]}{t[1]:07d}")
separator = st.sampled_from(["", " ", "-", " - ", ".", "\u00a0"])


@st.composite
def typed(draw: st.DrawFn, number: str) -> str:
    """`number` (ten national digits) as someone might type it: +7 / 8 / 7 / no prefix,
    the area code in brackets or not, any separators between the groups."""
    prefix = draw(st.sampled_from(["+7", "8", "7", "", "+7 ", "8 ", "+ 7"]))
    area = f"({number[:3]})" if draw(st.booleans()) else number[:3]
    groups = [area, number[3:6], number[6:8], number[8:]]
    out = prefix + draw(separator if prefix else st.just(""))
    for i, group in enumerate(groups):
        out += group + (draw(separator) if i < len(groups) - 1 else "")
    return out


def dialled(template: str, number: str) -> str:
    return template.format(national=number, e164="7" + number)


@settings(max_examples=300)
@given(st.data(), national, st.sampled_from(FORMATS))
def test_every_typed_form_dials_the_same_string(data: st.DataObject, number: str, template: str) -> None:
    policy = Policy(dataclasses.replace(AMI, dial_format=template))
    forms = [data.draw(typed(number)) for _ in range(4)]
    assert {policy.number(f) for f in forms} == {dialled(template, number)}


def test_extensions_and_service_numbers_stay_as_typed_foreign_numbers_get_the_prefix() -> None:
    policy = Policy(AMI)  # the default: 8{national}
    assert policy.number("102") == "102"
    assert policy.number("112") == "112"
    assert policy.number("+7 (495) 123-45-67") == "84951234567"
    assert policy.number("+44 20 7123 4567") == "810442071234567"  # RU's international prefix
    e164 = Policy(dataclasses.replace(AMI, dial_format="+{e164}"))
    assert e164.number("8 (495) 123-45-67") == "+74951234567"
    assert e164.number("+44 20 7123 4567") == "+442071234567"
    # number_pattern judges what is dialled
    domestic_only = Policy(dataclasses.replace(AMI, number_pattern=r"^8\d{10}$"))
    assert domestic_only.number("+7 916 123 45 67") == "89161234567"
    with pytest.raises(OperationRefused):
        domestic_only.number("+44 20 7123 4567")


# every C0/C1 control character, DEL and the Unicode line and paragraph separators
CONTROL = [chr(c) for c in range(0x110) if unicodedata.category(chr(c)) == "Cc"] + ["\u2028", "\u2029"]


@st.composite
def with_control(draw: st.DrawFn) -> str:
    number = draw(typed(draw(national)))
    at = draw(st.integers(0, len(number)))
    return number[:at] + draw(st.sampled_from(CONTROL)) + number[at:]


@given(with_control())
def test_a_control_character_anywhere_is_refused(value: str) -> None:
    with pytest.raises(OperationRefused):
        Policy(AMI).number(value)


def test_dial_format_is_checked_when_the_configuration_is_read() -> None:
    base = {"source": {"url": "sqlite:///x.sqlite"}}
    ami = {"user": "cdr1c", "secret": "s3cret-ami-secret"}
    default = parse_settings({**base, "ami": ami}).ami
    assert default is not None and default.dial_format == "8{national}"
    e164 = parse_settings({**base, "ami": {**ami, "dial_format": "+{e164}"}}).ami
    assert e164 is not None and e164.dial_format == "+{e164}"
    for bad in ("8{number}", "{national}\n", "8", "{national}{e164}", "x{e164}"):
        with pytest.raises(ConfigError, match=r"ami\.dial_format"):
            parse_settings({**base, "ami": {**ami, "dial_format": bad}})


# --- over HTTP, with the AMI double on the other side ----------------------------------------


class Background:
    """The live stack on its own event loop in a thread, so hypothesis can drive it example by
    example without starting it again for each."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = LiveStack()
        self.call(self.stack.__aenter__())
        self.http = self.call(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.stack.url)

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def post_call(self, to: str) -> tuple[int, dict[str, Any]]:
        async def post() -> tuple[int, dict[str, Any]]:
            async with self.http.post("/v1/calls", headers=AUTH, json={"from": "101", "to": to}) as r:
                return r.status, await r.json()

        return self.call(post())  # type: ignore[no-any-return]

    def close(self) -> None:
        self.call(self.http.close())
        self.call(self.stack.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def live() -> Iterator[Background]:
    bg = Background()
    yield bg
    bg.close()


def sent_since(live: Background, start: int) -> list[list[tuple[str, str]]]:
    """Actions the double received since `start`, keep-alive Pings aside."""
    return [a for a in live.stack.double.actions[start:] if dict(a).get("Action") != "Ping"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(with_control())
def test_control_characters_are_422_and_nothing_reaches_the_ami_socket(live: Background, value: str) -> None:
    actions, received = len(live.stack.double.actions), len(live.stack.double.raw_in)
    status, body = live.post_call(value)
    assert status == 422 and "error" in body
    assert sent_since(live, actions) == []
    assert all(b in b"\r\n" or b >= 0x20 for b in live.stack.double.raw_in[received:])


def test_the_lf_the_issue_saw_is_refused(live: Background) -> None:
    actions = len(live.stack.double.actions)
    assert live.post_call("84951234567\n")[0] == 422
    assert sent_since(live, actions) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), national)
def test_typed_numbers_reach_asterisk_in_the_dial_format(
    live: Background, data: st.DataObject, number: str
) -> None:
    actions = len(live.stack.double.actions)
    status, _ = live.post_call(data.draw(typed(number)))
    assert status == 201
    (originate,) = sent_since(live, actions)
    sent = dict(originate)
    assert sent["Exten"] == "8" + number  # the stack's [ami] has the default 8{national}
    assert sent["CallerID"] == f'"8{number}" <8{number}>'
