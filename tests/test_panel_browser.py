"""The panel in a real headless Chromium, against `cdr1c live` (the process) on the AMI double
replaying real Asterisk 22 calls (tests/fixtures/asterisk22-live-scenarios/): the card pops up
within a second of the ringing with the 1C client, each click sends the right API request and
the right AMI action, hostile caller names run nothing, a manager cannot act for others."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import Browser, Page, variance
from tests.conftest import ROOT
from tests.panel_support import CLIENT, MANAGER, LiveWorld

pytestmark = pytest.mark.chromium

HOSTILE = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>" onmouseover="window.__pwned=3'
)
RECORD_REQUESTS = """
window.__reqs = [];
(function (f) {
  window.fetch = function (url, opts) {
    opts = opts || {};
    window.__reqs.push({url: String(url), method: opts.method || 'GET', body: opts.body || null});
    return f.apply(this, arguments);
  };
})(window.fetch);
"""


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made: list[LiveWorld] = []

    def make(scenario: str, **kw: Any) -> LiveWorld:
        w = LiveWorld(tmp_path, scenario, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def wait_in_page(page: Page, condition: str) -> Any:
    """Resolve when the JS expression is truthy in the page (checked every 20 ms)."""
    return page.eval(
        "new Promise(function (ok) { (function f() { var v = (" + condition + ");"
        " if (v) ok(v); else setTimeout(f, 20); })(); })"
    )


def open_panel(browser: Browser, world: LiveWorld, extension: str) -> Page:
    page = browser.open(world.login_link(extension))
    wait_in_page(page, "!document.getElementById('panel').hidden && document.querySelector('#lines li')")
    wait_in_page(page, "document.getElementById('stream').className.indexOf('ok') >= 0")
    page.eval(RECORD_REQUESTS)
    return page


def requests(page: Page) -> list[dict[str, Any]]:
    out = page.eval("window.__reqs")
    return [{**r, "body": json.loads(r["body"]) if r["body"] else None} for r in out]


def shot(browser: Browser, page: Page, width: int, path: Path) -> bytes:
    async def take() -> bytes:
        await browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            page.session,
        )
        r = await browser.send("Page.captureScreenshot", {"format": "png"}, page.session)
        return base64.b64decode(r["data"])

    png: bytes = browser.run(take())
    path.write_bytes(png)
    return png


def test_the_card_pops_up_within_a_second_of_ringing_with_the_client_and_stays_after_the_answer(
    browser: Browser, world: Any, tmp_path: Path
) -> None:
    w = world("inbound_ringing_answered")
    page = open_panel(browser, w, "101")
    w.until("DialBegin")  # the caller's Dial to 101's phone
    rang = time.monotonic()
    wait_in_page(page, "document.querySelector('#card .client-name')")
    took = time.monotonic() - rang
    assert took < 1.0, f"the card took {took:.2f} s"
    card = page.eval("document.getElementById('card').innerText")
    assert CLIENT in card and "+79161234567" in card and "Ivan Petrov" in card
    wait_in_page(page, "document.querySelector('#card .manager')")
    card = page.eval("document.getElementById('card').innerText")
    assert MANAGER in card and "(102)" in card, card
    link = page.eval("document.querySelector('#card a.client-name').getAttribute('href')")
    assert link == "e1cib/data/Справочник.Контрагенты?ref=44445555555555553333222211111111"
    assert page.eval("document.querySelectorAll('#card .history.missed li').length") == 1
    call_id = page.eval("document.querySelector('#card .call-id').textContent")
    assert call_id.endswith(w.scenario.truth["caller_leg"]["uniqueid"]), "the call's id is the linkedid"
    w.until("DialEnd", DialStatus="ANSWER")
    wait_in_page(page, "document.getElementById('card').className.indexOf('state-answered') >= 0")
    assert CLIENT in page.eval("document.getElementById('card').innerText"), "the card stays after the answer"
    w.until("ExtensionStatus", Exten="101", Status="1")
    wait_in_page(page, "document.querySelector('#lines li[data-ext=\"101\"]').dataset.state === 'talking'")
    # The README's pictures: `CDR1C_PANEL_SCREENSHOTS=docs/img pytest -k pops_up` rewrites them.
    folder = Path(os.environ.get("CDR1C_PANEL_SCREENSHOTS") or tmp_path)
    folder = folder if folder.is_absolute() else ROOT / folder
    for width in (400, 1400):
        png = shot(browser, page, width, folder / f"panel-{width}.png")
        assert variance(png) > 50, "a blank screenshot"
    assert page.errors == [], page.errors


def test_a_hostile_caller_name_shows_as_text_and_runs_nothing(browser: Browser, world: Any) -> None:
    w = world(
        "inbound_ringing_answered_direct",
        rewrite=lambda raw: raw.replace(b"Ivan Petrov", HOSTILE.encode()),
    )
    page = open_panel(browser, w, "101")
    w.until("DialBegin")
    wait_in_page(page, "document.querySelector('#card .caller-name')")
    assert page.eval("document.querySelector('#card .caller-name').textContent") == HOSTILE
    w.run(w.replay.rest())
    wait_in_page(page, "document.getElementById('card').className.indexOf('state-hangup') >= 0")
    assert page.eval("window.__pwned === undefined && window.__alerts === 0")
    assert page.eval("document.querySelectorAll('img, script:not([src])').length") == 0
    assert page.eval("document.querySelectorAll('[onerror], [onmouseover]').length") == 0
    assert page.errors == [], page.errors


def test_call_sends_the_request_and_an_originate_from_the_managers_own_phone_only(
    browser: Browser, world: Any
) -> None:
    w = world("click_to_call_cid101")
    page = open_panel(browser, w, "101")
    page.eval("document.getElementById('number').value = '8 (495) 123-45-67'")
    page.eval("document.querySelector('button[data-action=dial]').click()")
    w.wait_for(lambda: w.actions("Originate"), 10, "an Originate")
    (req,) = [r for r in requests(page) if r["url"] == "/v1/calls"]
    assert req["method"] == "POST" and req["body"] == {"from": "101", "to": "8 (495) 123-45-67"}
    (orig,) = w.actions("Originate")
    assert (orig["Channel"], orig["Context"], orig["Exten"]) == (
        "Local/101@phones",
        "from-internal",
        "84951234567",
    )
    # the same page (the manager's cookie) asking for another phone or a spy: 403, nothing sent
    post = "{method: 'POST', headers: {'X-Cdr1c-Panel': '1', 'Content-Type': 'application/json'}, body: "
    statuses = page.eval(
        "Promise.all(["
        f"fetch('/v1/calls', {post} JSON.stringify({{from: '102', to: '84951234567'}})}})"
        ".then(r => r.status),"
        f"fetch('/v1/spy', {post} JSON.stringify({{supervisor: '101', target: '102', mode: 'listen'}})}})"
        ".then(r => r.status)])"
    )
    assert statuses == [403, 403]
    assert len(w.actions("Originate")) == 1
    # a free colleague's line: "call" dials the colleague from the manager's own phone
    page.eval("document.querySelector('#lines li[data-ext=\"102\"] button[data-action=call]').click()")
    w.wait_for(lambda: len(w.actions("Originate")) == 2, 10, "a second Originate")
    assert w.actions("Originate")[1]["Exten"] == "102"


def test_listen_on_a_talking_line_sends_chanspy_for_a_supervisor(browser: Browser, world: Any) -> None:
    w = world("inbound_ringing_answered")
    page = open_panel(browser, w, "103")
    w.until("DialEnd", DialStatus="ANSWER")
    w.until("ExtensionStatus", Exten="101", Status="1")
    wait_in_page(page, "document.querySelector('#lines li[data-ext=\"101\"] button[data-action=listen]')")
    page.eval("document.querySelector('#lines li[data-ext=\"101\"] button[data-action=listen]').click()")
    w.wait_for(lambda: w.actions("Originate"), 10, "an Originate")
    spy = [r for r in requests(page) if r["url"] == "/v1/spy"]
    assert spy and spy[0]["body"] == {"supervisor": "103", "target": "101", "mode": "listen"}
    (orig,) = w.actions("Originate")
    assert (orig["Channel"], orig["Application"], orig["Data"]) == (
        "Local/103@phones",
        "ChanSpy",
        "Local/101@phones-,qE",
    )


def test_pick_up_a_ringing_colleague_runs_pickupchan_on_the_ringing_leg(browser: Browser, world: Any) -> None:
    w = world("ringing_pickup_pickupchan")
    page = open_panel(browser, w, "102")
    w.until("ExtensionStatus", Exten="101", Status="8")
    w.until("DialBegin")
    button = "document.querySelector('#lines li[data-ext=\"101\"] button[data-action=pickup]')"
    wait_in_page(page, button)
    page.eval(button + ".click()")
    w.wait_for(lambda: w.actions("Originate"), 10, "an Originate")
    truth = w.scenario.truth
    (req,) = [r for r in requests(page) if r["url"].endswith("/intercept")]
    assert req["url"] == f"/v1/calls/{truth['linkedid']}/intercept"
    assert req["body"] == {"to": "102", "mode": "pickup"}
    (orig,) = w.actions("Originate")
    assert (orig["Channel"], orig["Application"]) == ("Local/102@phones", "PickupChan")
    assert orig["Data"] == truth["ringing_phone_leg"]["channel"]


def test_take_a_caller_waiting_in_the_queue_redirects_the_callers_leg(browser: Browser, world: Any) -> None:
    w = world(
        "queue_wait_intercept_redirect",
        rewrite=lambda raw: raw.replace(b"Ivan Petrov", HOSTILE.encode()),
    )
    page = open_panel(browser, w, "102")
    w.until("QueueCallerJoin")
    button = "document.querySelector('#queue button[data-action=take]')"
    wait_in_page(page, button)
    assert page.eval("document.querySelector('#queue .caller-name').textContent") == HOSTILE
    assert page.eval("window.__pwned === undefined && document.querySelectorAll('img').length === 0")
    row = page.eval("document.querySelector('#queue li').innerText")
    assert "+79161234567" in row or "79161234567" in row
    assert CLIENT in row and page.eval("document.querySelector('#queue li.mine') !== null"), "102's client"
    page.eval(button + ".click()")
    w.wait_for(lambda: w.actions("Redirect"), 10, "a Redirect")
    truth = w.scenario.truth
    (req,) = [r for r in requests(page) if r["url"].endswith("/intercept")]
    assert req["url"] == f"/v1/calls/{truth['caller_leg']['uniqueid']}/intercept"
    assert req["body"] == {"to": "102", "mode": "redirect"}
    (redirect,) = w.actions("Redirect")
    assert (redirect["Channel"], redirect["Exten"], redirect["Context"]) == (
        truth["caller_leg"]["channel"],
        "102",
        "from-internal",
    )
    w.run(w.replay.rest())
    wait_in_page(page, "!document.querySelector('#queue button[data-action=take]')")
    assert page.errors == [], page.errors


def test_the_panel_says_pbx_not_connected_when_ami_drops(browser: Browser, world: Any) -> None:
    w = world("blf_states")
    page = open_panel(browser, w, "101")
    assert page.eval("document.getElementById('pbx-down').hidden")
    w.run(w.double.stop())  # Asterisk goes away: cdr1c live keeps running and says so
    wait_in_page(page, "!document.getElementById('pbx-down').hidden")
    text = page.eval("document.getElementById('pbx-down').innerText")
    assert "АТС не подключена" in text
    stale = page.eval("document.querySelectorAll('#lines li.stale').length")
    assert stale > 0, "the last known states, dimmed"
    page.eval("document.getElementById('lang').click()")
    assert "PBX not connected" in page.eval("document.getElementById('pbx-down').innerText")


def test_the_panel_reconnects_after_a_restart_of_cdr1c_live_and_stays_signed_in(
    browser: Browser, world: Any
) -> None:
    w = world("inbound_ringing_answered")
    page = open_panel(browser, w, "101")
    assert page.eval("document.getElementById('stream').getAttribute('data-opens')") == "1"
    w.restart()
    wait_in_page(page, "document.getElementById('stream').getAttribute('data-opens') === '2'")
    w.until("DialBegin")
    wait_in_page(page, "document.querySelector('#card .client-name')")
    assert CLIENT in page.eval("document.getElementById('card').innerText")
    assert page.errors == [], page.errors
