"""`cdr1c live` as a process against the AMI double replaying a recorded real call, for the
panel's browser tests (tests/test_panel_browser.py).

The double and its `Replay` run in a thread with their own event loop (the browser helper runs
its own loop in the test's thread); the live component is the real `python -m jobs live`, with a
ledger holding the caller's 1C client and call history, and employees' tokens in its tokens file.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from etl.api.access import TokenFile
from etl.ledger.store import Ledger
from etl.ledger.tables import calls, client_phones, clients, employees
from etl.sandbox.ami import TOKEN, AmiDouble
from tests.conftest import ROOT
from tests.live_replay import Replay, Scenario
from tests.test_live_process import free_port

CALLER = "+79161234567"
CLIENT = "ООО «Ромашка»"
CLIENT_REF = "11111111-2222-3333-4444-555555555555"
MANAGER = "Мария Петрова"


def seed_ledger(url: str) -> None:
    """The caller is a 1C client managed by 102, with one answered and one open missed call."""
    ledger = Ledger.open(url)
    now = datetime.now(UTC)

    def call(linkedid: str, ago: timedelta, outcome: str, ext: str) -> dict[str, Any]:
        start = int((now - ago).timestamp() * 1e6)
        return {
            "source": "default", "linkedid": linkedid, "start_us": start, "answer_us": None,
            "end_us": start + 30_000_000, "wait": 5, "talk": 25 if outcome == "answered" else 0,
            "direction": "inbound", "external_number": CALLER, "extension": ext, "outcome": outcome,
            "reason": "" if outcome == "answered" else "no answer", "legs": 1, "attempts": 1,
            "updated_us": start,
        }  # fmt: skip

    with ledger.begin() as c:
        c.execute(employees.insert(), [{"ref_key": "e-102", "name": MANAGER, "extension": "102"}])
        c.execute(
            clients.insert(), [{"ref_key": CLIENT_REF, "name": CLIENT, "manager_ref": "e-102", "read_us": 0}]
        )
        c.execute(
            client_phones.insert(),
            [{"client_ref": CLIENT_REF, "phone": CALLER, "presentation": "8 916 123-45-67"}],
        )
        c.execute(
            calls.insert(),
            [
                call("old.1", timedelta(days=3), "answered", "102"),
                call("old.2", timedelta(hours=2), "missed", ""),
            ],
        )
    ledger.close()


class LiveWorld:
    """Double + replay (in a thread) + `cdr1c live` (a process) + tokens for 101, 102, 103."""

    def __init__(self, tmp: Path, scenario: str, rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self.tmp = tmp
        self.scenario = Scenario.load(scenario)
        if rewrite is not None:  # e.g. a hostile caller name in every event that carries it
            self.scenario.events = [type(r)(r.t, rewrite(r.raw)) for r in self.scenario.events]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.double = AmiDouble()
        self.double.hint_context = "phones"
        self.double.extensions = {e: (0, f"Custom:{e}") for e in ("101", "102", "103")}
        self.replay = Replay(self.double, self.scenario)
        self.run(self.double.start())
        tokens = TokenFile(tmp / "cdr1c-tokens.json")
        self.tokens = {
            "101": tokens.add("101", "manager", "Иван Петров")[1],
            "102": tokens.add("102", "manager", MANAGER)[1],
            "103": tokens.add("103", "supervisor", "Ольга Смирнова")[1],
        }
        seed_ledger(f"sqlite:///{tmp / 'ledger.sqlite'}")
        self.api_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        config = tmp / "cdr1c.toml"
        config.write_text(
            f'[source]\nurl = "sqlite:///{tmp / "cdr.sqlite"}"\n'
            f'[state]\nurl = "sqlite:///{tmp / "ledger.sqlite"}"\n'
            f'[general]\nlock_dir = "{tmp}"\n'
            f'[ami]\nport = {self.double.port}\nuser = "cdr1c"\nsecret = "s3cret-ami-secret"\n'
            'channel = "Local/{ext}@phones"\nhint_context = "phones"\nintercept_context = "from-internal"\n'
            f'[ami.managers]\n"{CALLER}" = "102; {CLIENT}"\n'
            f'[api]\nlisten = "127.0.0.1:{self.api_port}"\ntoken = "{TOKEN}"\n',
            encoding="utf-8",
        )
        self.config = config
        self.log = (tmp / "live.log").open("wb")
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobs", "--config", str(self.config), "live"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        self.wait_for(self._connected, 60, "cdr1c live logged in to the double")

    def restart(self) -> None:
        """Stop `cdr1c live` (SIGTERM, as systemd does) and start it again on the same port."""
        self.proc.terminate()
        assert self.proc.wait(15) == 0
        self.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def until(self, event: str, **headers: str) -> Any:
        return self.run(self.replay.until(event, **headers))

    def wait_for(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll an observable condition (a process and a socket: no event to await here)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.tmp / "live.log").read_text()
            got = condition()
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError(f"not within {timeout} s: {what}")

    def _connected(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return bool(json.load(r)["ami"]["connected"])
        except (urllib.error.URLError, ConnectionError):
            return False

    def login_link(self, extension: str) -> str:
        req = urllib.request.Request(
            f"{self.url}/v1/panel/links",
            method="POST",
            headers={"Authorization": f"Bearer {self.tokens[extension]}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return f"{self.url}{json.load(r)['url']}"

    def actions(self, name: str) -> list[dict[str, str]]:
        return [
            dict(a) for a in list(self.double.actions) if dict(a).get("Action", "").lower() == name.lower()
        ]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.run(self.double.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
