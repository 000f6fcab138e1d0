"""`/health` of `cdr1c live` (the real command, a child process) shows the event-driven sync:
the AMI double sends the capture's real `Cdr` events, the 1C stand-in takes the records, and the
PBX's CDR database is a PostgreSQL database that does not exist yet, then does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import create_engine, text

from etl.api.health import HEALTH_SCHEMA
from etl.sandbox.ami import TOKEN, AmiDouble, LiveStack, until
from etl.sandbox.ami.wire import run
from etl.sandbox.standin import StandIn
from tests.conftest import POSTGRES, ROOT, port_open, require, require_fixtures
from tests.live_sync_support import Pbx, calls, event_bytes, write_config
from tests.test_live_process import free_port

PBX_PASSWORD = "pbx-Pa55word-never-shown"
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pbx_database() -> Iterator[str]:
    """The name of a PostgreSQL database that does not exist (dropped at the end if created)."""
    require(port_open(*POSTGRES), "PostgreSQL on 127.0.0.1:5432")
    name = f"cdr1c_h_{uuid.uuid4().hex[:12]}"
    yield name
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def create_database(name: str) -> None:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()


def test_a_failing_event_sync_makes_health_degraded_with_a_redacted_reason_until_a_run_succeeds(
    tmp_path: Path, pbx_database: str
) -> None:
    require_fixtures()
    call = next(c for c in calls(31) if len(c.rows) == 1)  # one row: found by one run, whole
    # trust authentication: the password is never checked, only carried in the URL
    pbx_url = f"postgresql+psycopg://postgres:{PBX_PASSWORD}@127.0.0.1:5432/{pbx_database}"
    api_port = free_port()
    seen: list[dict[str, Any]] = []
    secrets: list[str] = []  # the configuration's, once it is written

    def health() -> dict[str, Any]:
        """GET /health (the child's); {} while it does not answer yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=5) as r:
                assert r.status == 200  # degraded or not: the process is alive
                raw = r.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return {}
        for secret in secrets:
            assert secret not in raw
        body: dict[str, Any] = json.loads(raw)
        Draft202012Validator(HEALTH_SCHEMA).validate(body)
        seen.append(body)
        return body

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings = write_config(
                tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite'}", stand, double.port, pbx_url,
                "sync_debounce = 0.05\nsync_retry = 0.1\nsync_give_up = 3600",
            )  # fmt: skip
            secrets.extend(settings.secrets())
            assert PBX_PASSWORD in secrets and "s3cret-ami-secret" in secrets
            config = tmp_path / "cdr1c.toml"
            with config.open("a", encoding="utf-8") as f:
                f.write(f'[api]\nlisten = "127.0.0.1:{api_port}"\ntoken = "{TOKEN}"\n')
            log = (tmp_path / "live.log").open("wb")  # a file: a pipe nobody reads would fill up
            live = subprocess.Popen(
                [sys.executable, "-m", "jobs", "--config", str(config), "live"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                await until(
                    lambda: live.poll() is not None or health().get("ami", {}).get("connected", False)
                )
                assert live.poll() is None, live.stderr.read().decode() if live.stderr else ""
                first = seen[-1]
                assert first["status"] == "ok" and first["reasons"] == []
                assert first["sync"]["mode"] == "cdr" and first["sync"]["state"] == "idle"

                await double.emit_raw(event_bytes(double, call))  # the call ends; its database is not there
                await until(lambda: health().get("status") == "degraded")
                down = seen[-1]
                sync = down["sync"]
                assert down["ami"]["connected"] is True  # AMI itself is fine
                assert sync["state"] == "failing" and sync["waiting"] == 1
                assert sync["last_run"]["outcome"] == "failed" and sync["last_run"]["exit_code"] == 3
                assert sync["last_run"]["trigger"] == "ami-cdr" and sync["last_run"]["delivered"] == 0
                message = sync["last_error"]["message"]
                assert (
                    f"source default (postgresql+psycopg://postgres:***@127.0.0.1:5432/{pbx_database})"
                    in message
                )
                assert down["reasons"] == [f"event-driven sync failing: {message}"]

                create_database(pbx_database)  # the database is back, with the call's rows
                pbx = Pbx(pbx_url)
                pbx.write(call)
                pbx.close()
                await until(lambda: health().get("status") == "ok" and seen[-1]["sync"]["waiting"] == 0)
                up = seen[-1]
                sync = up["sync"]
                assert up["reasons"] == [] and sync["state"] == "ok" and sync["waiting"] == 0
                assert sync["last_run"]["outcome"] == "ok" and sync["last_run"]["exit_code"] == 0
                assert sync["last_run"]["delivered"] == len(call.rows)
                assert sync["last_error"]["message"] == message  # what last went wrong, and when
                assert sync["last_error"]["at"] <= sync["last_run"]["at"]
                assert set(stand.stats.created_keys) == call.register_keys()
            finally:
                live.send_signal(signal.SIGTERM)
                live.wait(30)
                log.close()
        await double.stop()

    run(scenario())


def test_without_sync_on_health_says_off_and_only_ami_degrades_it() -> None:
    """The existing contract: 200 with "ok" while AMI is connected, "degraded" while it is not;
    the sync's part says off; the reasons name AMI."""

    async def main() -> None:
        async with LiveStack() as stack, aiohttp.ClientSession(stack.url) as http:
            async with http.get("/health") as r:
                up = await r.json()
                assert r.status == 200 and up["status"] == "ok" and up["reasons"] == []
            await stack.double.stop()
            await until(lambda: not stack.client.connected)
            async with http.get("/health") as r:
                down = await r.json()
                assert r.status == 200 and down["status"] == "degraded"
            assert down["reasons"] == ["AMI not connected"] and down["ami"]["connected"] is False
            for body in (up, down):
                assert body["sync"] == {"mode": "off", "state": "off"}
                Draft202012Validator(HEALTH_SCHEMA).validate(body)

    run(main())
