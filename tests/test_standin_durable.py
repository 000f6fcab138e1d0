"""The 1C stand-in keeps what it accepted as 1C does: every answered write survives a `kill -9`.

A stand-in process keeps its base in a file (`--state`); a push (the real client, in its own
process) runs against it until the ledger has recorded some records as delivered; then both are
killed with SIGKILL. A new stand-in on the same file holds every record the push heard 1C
accept, each once; a re-run of the push leaves every record there exactly once."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.onec import outbox
from etl.sandbox.standin import StandIn
from etl.sandbox.standin.journal import read_entries
from etl.sandbox.standin.publication import Publication
from tests.conftest import ROOT
from tests.onec_helpers import cdr_row, insert_rows
from tests.ops_helpers import wait_for

CHILD = ROOT / "tests" / "onec_push_child.py"
REGISTER = "InformationRegister_ЗвонкиАТС"
ROW_ID = "ИдентификаторСтроки"
ROWS = 300
WAIT = 120.0  # seconds: a generous bound; only a broken push or stand-in waits it out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandInProcess:
    """`python -m etl.sandbox.standin --state FILE` in a child process; up once it says so."""

    def __init__(self, state: Path, latency: float) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/crm"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "etl.sandbox.standin", "--port", str(port), "--state", str(state),
             "--latency", str(latency)],
            cwd=state.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once the state is loaded and the port bound
        assert self.url in line, (line, self.proc.stderr and self.proc.stderr.read())

    def row_ids(self) -> list[str]:
        """Every register record's row id, as 1C lists them over OData (duplicates kept)."""
        auth = base64.b64encode("Администратор:пароль-секрет".encode()).decode()
        url = f"{self.url}/odata/standard.odata/{REGISTER}?$format=json&$select={ROW_ID}"
        req = urllib.request.Request(
            urllib.parse.quote(url, safe=":/?&=$"), headers={"Authorization": f"Basic {auth}"}
        )
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return [row[ROW_ID] for row in json.load(r)["value"]]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(WAIT) == -signal.SIGKILL
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def push_process(url: str, ledger_url: str, mode: str, batch: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, ledger_url, mode, str(batch)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def delivered_ids(ledger: Ledger) -> set[str]:
    with ledger.engine.connect() as c:
        return {r[0] for r in c.execute(select(outbox.delivered.c.row_id))}


@pytest.mark.parametrize(
    ("mode", "batch", "latency"),
    # the latency makes the push last ≥ 1.5 s on any machine, so the kill lands in its middle
    [("odata", 1, 0.05), ("http-service", 10, 0.2)],
)
def test_kill_9_of_the_stand_in_loses_nothing_it_answered(
    tmp_path: Path, mode: str, batch: int, latency: float
) -> None:
    state, ledger_url = tmp_path / "onec.jsonl", f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger.open(ledger_url)
    rows = [cdr_row(uniqueid=f"1795650{i:03}.{i}", cnam="Смирнова Ольга") for i in range(ROWS)]
    all_ids = set(insert_rows(ledger, rows))
    stand = StandInProcess(state, latency)
    push = push_process(stand.url, ledger_url, mode, batch)
    try:
        wait_for(lambda: push.poll() is not None or len(delivered_ids(ledger)) >= ROWS // 10, WAIT,
                 f"{ROWS // 10} records delivered")  # fmt: skip
        assert push.poll() is None, "the push ended before the kill"
        stand.kill()
    finally:
        push.send_signal(signal.SIGKILL)
        push.wait(WAIT)
    acknowledged = delivered_ids(ledger)
    assert ROWS // 10 <= len(acknowledged) < ROWS  # the kill cut the push in its middle

    stand = StandInProcess(state, 0.0)  # a new 1C on the same base
    try:
        held = stand.row_ids()
        assert len(held) == len(set(held))  # each record once
        assert acknowledged <= set(held)  # everything 1C answered survived the kill
        final = push_process(stand.url, ledger_url, mode, batch)
        assert final.wait(WAIT) == 0, final.stderr and final.stderr.read()
        held = stand.row_ids()
    finally:
        stand.kill()
    assert sorted(held) == sorted(all_ids)  # every record exactly once
    assert delivered_ids(ledger) == all_ids
    ledger.close()


# --- the journal, in process ------------------------------------------------------------------
ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "patch", "delete", "batch"]), st.integers(0, 5), st.text(max_size=8)
    ),
    max_size=25,
)


def _record(n: int, clid: str) -> dict[str, Any]:
    return {"Источник": "default", "ИдентификаторЗвонка": f"17956500{n}.1", "Последовательность": 0,
            ROW_ID: f"17956500{n}.1:0", "CallerID": clid}  # fmt: skip


@given(ops)
def test_a_restart_serves_exactly_what_the_journal_accepted(
    tmp_path_factory: Any, steps: list[tuple[str, int, str]]
) -> None:
    """Creates, patches, deletes and batches journalled by one base, replayed by another (as a
    restart does): the same records, whatever the order of the changes."""
    path = tmp_path_factory.mktemp("journal") / "onec.jsonl"
    first = Publication()
    first.keep(path)
    es = first.sets[REGISTER]
    for op, n, clid in steps:
        rec = _record(n, clid)
        key = tuple(first.coerce(es, rec, {f: None for f in es.fields})[f] for f in es.key)
        if op == "create" and key not in es.rows:
            first.create(es, rec)
        elif op == "patch" and key in es.rows:
            first.put(es, key, first.coerce(es, {"CallerID": clid}, es.rows[key]))
        elif op == "delete" and key in es.rows:
            first.delete(es, key)
        elif op == "batch":
            first.batch([rec, _record(n + 1, clid)])
    first.close()
    second = Publication()
    second.keep(path)
    assert second.records() == first.records()
    assert len(list(read_entries(path))) == 1  # the restart compacted the journal to a snapshot
    second.close()


def test_a_torn_last_line_is_a_write_never_answered(tmp_path: Path) -> None:
    path = tmp_path / "onec.jsonl"
    first = Publication()
    first.keep(path)
    first.batch([_record(1, "a")])
    first.close()
    with path.open("ab") as fh:
        fh.write(json.dumps({"put": REGISTER, "row": {}}).encode()[:-3])  # died in the write
    with StandIn() as second:
        second.keep(path)
        assert [r[ROW_ID] for r in second.records()] == [_record(1, "a")[ROW_ID]]
        second.batch([_record(2, "b")])  # appends after the dropped torn line, not onto it
    third = Publication()
    third.load(path)
    assert sorted(r[ROW_ID] for r in third.records()) == [_record(1, "a")[ROW_ID], _record(2, "b")[ROW_ID]]
