"""`cdr1c demo` end to end: sample PBX → ledger → recordings → reconcile → 1C stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from jobs.cli import cli


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
