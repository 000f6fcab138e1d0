"""Metrics textfile, `status --json` reading the same values, JSON logs, and no secret anywhere."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from etl.ledger.store import Ledger, now_utc
from etl.ledger.tables import quarantine, runs
from etl.sandbox.crm import add_crm_sets
from etl.sandbox.standin import StandIn
from tests.capture import capture_rows, load_cdr
from tests.conftest import Databases, require_fixtures
from tests.ops_helpers import run_cdr1c, write_config

SRC_PASSWORD = "Src-S3cret-pw"
SRC2_PASSWORD = "0ther-Src-pw"
ONEC_PASSWORD = "1C-Tайна-pw"


def metrics_of(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def onec_section(url: str, password: str) -> str:
    return (
        f'[onec]\nurl = "{url}"\nuser = "Администратор"\npassword = "{password}"\n'
        'timezone = "UTC"\nretries = 0\ntimeout = 30\nfirst_timeout = 30\n'
    )


def test_metrics_file_parses_and_agrees_with_status_json(tmp_path: Path, databases: Databases) -> None:
    require_fixtures()
    rows = capture_rows()
    src, ledger_url = databases.url("sqlite"), databases.url("sqlite")
    load_cdr(src, rows)
    metrics = tmp_path / "prom" / "cdr1c.prom"
    with StandIn(password="not-what-we-send") as stand:  # 1C refuses our password: 401
        cfg = write_config(tmp_path / "c.toml", src, ledger_url, onec_section(stand.url, ONEC_PASSWORD))
        code, _, err = run_cdr1c(cfg, "--metrics-file", str(metrics), "sync")
    assert code == 4, err  # 1C unreachable / refuses the credentials; the rows are in the ledger
    newest = max(r["calldate"] for r in rows).replace(tzinfo=UTC).timestamp()

    m = metrics_of(metrics)
    src_label = (("source", "default"),)
    assert m["cdr1c_ledger_rows"][src_label] == len(rows)
    assert m["cdr1c_quarantined_rows"][src_label] == 0
    assert m["cdr1c_newest_call_timestamp_seconds"][src_label] == newest
    assert abs(m["cdr1c_lag_seconds"][src_label] - (time.time() - newest)) < 30
    assert m["cdr1c_outbox_pending"][()] == len(rows)  # nothing delivered: the whole backlog waits
    assert m["cdr1c_dead_letters"][()] == 0
    sync = (("job", "sync"),)
    assert m["cdr1c_last_exit_code"][sync] == 4
    assert 0 < m["cdr1c_last_run_duration_seconds"][sync] < 60
    assert sync not in m.get("cdr1c_last_success_timestamp_seconds", {})  # never succeeded yet
    assert abs(m["cdr1c_last_run_timestamp_seconds"][sync] - time.time()) < 60

    # The ledger changes (a human-readable quarantine, one dead letter); any command rewrites
    # the file, atomically: a new inode, no temporary file left beside it.
    ledger = Ledger.open(ledger_url)
    with ledger.begin() as conn:
        conn.execute(quarantine.insert(), [
            {"source": "default", "row_key": f"k{i}", "reason": "uniqueid is empty", "raw": "{}",
             "first_seen": now_utc(), "run_id": None} for i in range(2)
        ])  # fmt: skip
        conn.execute(runs.insert().values(job="verify", started=now_utc(), finished=now_utc(), status="ok",
                                          exit_code=0, summary="{}"))  # fmt: skip
    ledger.close()
    before = os.stat(metrics).st_ino
    code, out, _ = run_cdr1c(cfg, "--metrics-file", str(metrics), "status", "--json")
    assert code == 0
    assert os.stat(metrics).st_ino != before
    assert sorted(p.name for p in metrics.parent.iterdir()) == ["cdr1c.prom"]
    m = metrics_of(metrics)
    assert m["cdr1c_quarantined_rows"][src_label] == 2
    assert m["cdr1c_last_exit_code"][(("job", "verify"),)] == 0
    assert (("job", "verify"),) in m["cdr1c_last_success_timestamp_seconds"]

    state = json.loads(out)  # `status --json` reads the same values back
    assert state["sources"]["default"]["rows"] == m["cdr1c_ledger_rows"][src_label]
    assert state["sources"]["default"]["quarantined"] == 2
    assert state["outbox"]["pending"] == m["cdr1c_outbox_pending"][()]
    assert state["jobs"]["sync"]["last_exit_code"] == 4
    assert state["jobs"]["sync"]["last_success"] is None
    assert state["jobs"]["sync"]["last_duration_seconds"] == m["cdr1c_last_run_duration_seconds"][sync]
    code, text, _ = run_cdr1c(cfg, "status")
    assert "last success" in text and "never" in text


def test_no_password_in_any_log_line_error_message_summary_or_metric(
    tmp_path: Path, databases: Databases
) -> None:
    """Passwords in a source URL and in [onec] password, DEBUG logging, text and JSON, every
    output the runs produced: stdout, stderr, the run summaries in the ledger, the metrics file."""
    require_fixtures()
    pg = databases.url("postgres")  # trust auth: the password in the URL is sent and ignored
    load_cdr(pg)
    src = pg.replace("postgres@", f"postgres:{SRC_PASSWORD}@", 1)
    dead_src = f"mysql+pymysql://cdr:{SRC2_PASSWORD}@127.0.0.1:1/asteriskcdrdb"  # unreachable
    ledger_url = databases.url("sqlite")
    metrics = tmp_path / "m.prom"
    outputs: list[str] = []
    # 1C accepts us (text logs), then refuses us (JSON logs); one source answers, one does not.
    for stand_password, fmt in ((ONEC_PASSWORD, "text"), ("something-else", "json")):
        with StandIn(password=stand_password) as stand:
            add_crm_sets(stand)
            cfg = tmp_path / "c.toml"
            cfg.write_text(
                f'[source.pbx]\nurl = "{src}"\ntimezone = "UTC"\n'
                f'[source.old]\nurl = "{dead_src}"\ntimezone = "UTC"\n'
                f'[state]\nurl = "{ledger_url}"\n[general]\nlock_dir = "{tmp_path}"\n'
                + onec_section(stand.url, ONEC_PASSWORD)
            )
            for verb in (["sync"], ["check"], ["status", "--json"]):
                code, out, err = run_cdr1c(
                    cfg, "-v", "--log-format", fmt, "--metrics-file", str(metrics), *verb
                )
                assert code in (0, 3, 4, 5), (verb, code, err)
                outputs += [out, err]
                if fmt == "json":
                    for line in err.splitlines():
                        record = json.loads(line)  # every stderr line is one JSON object
                        assert {"ts", "level", "logger", "msg"} <= set(record)
    everything = "\n".join(outputs)
    assert "sync finished" in everything and "pbx" in everything  # the runs did log
    assert "127.0.0.1:1" in everything  # the unreachable source was reported (masked)
    ledger = Ledger.open(ledger_url)
    with ledger.engine.connect() as conn:
        summaries = [s for (s,) in conn.execute(runs.select().with_only_columns(runs.c.summary))]
    ledger.close()
    assert any('"delivered": 48' in s for s in summaries)  # 1C accepted the records once
    everything += "\n".join(summaries) + metrics.read_text()
    basic = base64.b64encode(f"Администратор:{ONEC_PASSWORD}".encode()).decode()
    for secret in (SRC_PASSWORD, SRC2_PASSWORD, ONEC_PASSWORD, basic):
        assert secret not in everything, secret
