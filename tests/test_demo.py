"""`cdr1c demo` end to end: sample PBX → ledger → recordings → reconcile → 1C stand-in."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from jobs.cli import cli
from tests.conftest import port_open


def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(out), "--calls", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "1C register (stand-in) holds" in result.output
    held = int(result.output.split("1C register (stand-in) holds ")[1].split()[0])
    status = CliRunner().invoke(cli, ["--config", str(out / "cdr1c.toml"), "status", "--json"])
    state = json.loads(status.output)
    src = state["sources"]["default"]
    assert src["rows"] == held > 0  # every CDR row is in 1C, once
    assert src["calls"] == 300 and src["quarantined"] == 0
    assert state["outbox"] == {"pending": 0, "delivered": held, "dead": 0}
    assert state["recordings"]["linked"] > 0 and state["recordings"]["refused"] == 0
    summary = json.loads((out / "reports" / "reconciliation.json").read_text(encoding="utf-8"))
    assert summary["counts"]["matched"] > 0 and summary["counts"]["event_without_call"] == 1
    # the same seed gives the same PBX
    again = CliRunner().invoke(cli, ["demo", "--dir", str(out), "--calls", "300", "--seed", "3"])
    assert again.exit_code == 0
    assert f"holds {held} records" in again.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _printed(output: str, marker: str) -> list[list[str]]:
    """The commands the demo printed that contain `marker`, as argument lists without the program."""
    return [shlex.split(line[16:])[1:] for line in output.splitlines() if marker in line]


class StandInProcess:
    """`cdr1c standin …` as the demo printed it, in a child process; up once it says so."""

    def __init__(self, args: list[str], port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobs", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once the port is bound and served
        assert f"127.0.0.1:{port}/crm" in line, (line, self.proc.stderr and self.proc.stderr.read())
        assert port_open("127.0.0.1", port)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return out


def _add_a_call(pbx: Path) -> None:
    """One more CDR row on the sample PBX, at its newest call's time (inside the look-back)."""
    with sqlite3.connect(pbx) as conn:
        conn.execute("CREATE TEMP TABLE more AS SELECT * FROM cdr ORDER BY calldate DESC LIMIT 1")
        conn.execute("UPDATE more SET uniqueid = '1799999999.1', linkedid = '1799999999.1', sequence = 0")
        conn.execute("INSERT INTO cdr SELECT * FROM more")


def test_the_demo_leaves_a_working_installation(tmp_path: Path) -> None:
    out, port = tmp_path / "demo", _free_port()
    demo = CliRunner().invoke(cli, ["demo", "--dir", str(out), "--calls", "120", "--port", str(port)])
    assert demo.exit_code == 0, demo.output
    config = (out / "cdr1c.toml").read_text(encoding="utf-8")
    assert f"`cdr1c standin --dir {out.resolve().as_posix()}`" in config  # how to reach 1C
    assert f'url = "http://127.0.0.1:{port}/crm"' in config
    (standin,) = _printed(demo.output, " standin --dir ")
    commands = _printed(demo.output, " --config ")
    assert [c[0] for c in commands] == ["check", "sync", "verify", "reconcile", "status"]

    served = StandInProcess(standin, port)
    try:
        for args in commands:
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, (args, result.output)
        _add_a_call(out / "pbx" / "asteriskcdrdb.sqlite")
        assert CliRunner().invoke(cli, commands[1]).exit_code == 0  # sync pushes it to the stand-in
    finally:
        said = served.stop()
    assert "its data are in" in said

    served = StandInProcess(standin, port)  # a second run serves what the first one held
    try:
        verify = CliRunner().invoke(cli, commands[2])
    finally:
        served.stop()
    assert verify.exit_code == 0, verify.output  # ledger and 1C agree, the new call included
    in_1c = sum(int(line.split()[5]) for line in verify.output.splitlines() if line.startswith("default "))
    status = json.loads(
        CliRunner().invoke(cli, ["status", "--json", "--config", str(out / "cdr1c.toml")]).output
    )
    assert in_1c == status["sources"]["default"]["rows"] == status["outbox"]["delivered"] > 0


def test_a_demo_waits_for_its_folders_stand_in_to_stop(tmp_path: Path) -> None:
    out, port = tmp_path / "demo", _free_port()
    args = ["demo", "--dir", str(out), "--calls", "20", "--port", str(port)]
    first = CliRunner().invoke(cli, args)
    (standin,) = _printed(first.output, " standin --dir ")
    served = StandInProcess(standin, port)
    try:
        again = CliRunner().invoke(cli, args)  # would rebuild the data the stand-in serves
    finally:
        served.stop()
    assert again.exit_code == 6 and "standin is already running" in again.output


def test_demo_serve_keeps_the_stand_in_up_until_ctrl_c(tmp_path: Path) -> None:
    out, port = tmp_path / "demo", _free_port()
    args = ["demo", "--dir", str(out), "--calls", "20", "--port", str(port), "--serve"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the demo's lines, then the stand-in's once it serves
            if "Ctrl-C stops it" in line:
                break
        assert f"127.0.0.1:{port}/crm" in line and port_open("127.0.0.1", port)
        verify = CliRunner().invoke(cli, ["verify", "--config", str(out / "cdr1c.toml")])
        assert verify.exit_code == 0, verify.output
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0 and "its data are in" in rest


def test_demo_panel_pops_up_a_ringing_call_from_a_demo_client(tmp_path: Path) -> None:
    """`cdr1c demo --panel`: the panel on the simulated PBX; a call from a 1C client rings 101
    within seconds, and its card names the client and the manager from the demo's 1C."""
    import time
    import urllib.request

    out, port = tmp_path / "demo", _free_port()
    args = ["demo", "--dir", str(out), "--calls", "40", "--panel", "--panel-port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("token for 101:"):
                break
        assert any(f"http://127.0.0.1:{port}/panel" in x for x in lines), lines
        token = line.split()[-1]

        def get(path: str) -> dict[str, object]:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                return dict(json.load(r))

        deadline, ringing, cursor = time.monotonic() + 60, None, 0
        while ringing is None and time.monotonic() < deadline:
            try:  # the long-poll waits for the events: no sleep
                got = get(f"/v1/events/poll?after={cursor}&wait=20")
            except OSError:  # not listening yet: poll the port until it is
                if not port_open("127.0.0.1", port):
                    time.sleep(0.05)
                continue
            events = list(got["events"])  # type: ignore[call-overload]
            cursor = int(got["cursor"])  # type: ignore[call-overload]
            ringing = next((e for e in events if e["type"] == "ringing" and e["client"]), None)
        assert ringing is not None and ringing["extension"] == "101"
        card = get(f"/v1/calls/{ringing['linkedid']}/card")
        client = card["client"]
        assert isinstance(client, dict) and client["name"] == ringing["client"] and client["manager"]
        assert str(client["link"]).startswith("e1cib/data/Справочник.")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
