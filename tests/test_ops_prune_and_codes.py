"""`cdr1c prune` (what goes, what must stay) and every exit code being what --help and the README say."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from etl.errors import ExitCode
from etl.ledger.store import Ledger, now_utc
from etl.ledger.tables import cdr_rows, delivered, outbox, runs
from etl.locks import job_lock
from jobs.cli import EXIT_CODES_HELP, cli
from tests.capture import capture_rows, load_cdr
from tests.conftest import ROOT, require_fixtures
from tests.ops_helpers import write_config

DAY_US = 86_400 * 1_000_000


def _cli(cfg: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    return result.exit_code, result.output


def test_prune_removes_only_what_no_rerun_can_need(tmp_path: Path, ledger_url: str) -> None:
    require_fixtures()
    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    load_cdr(src)
    cfg = write_config(tmp_path / "c.toml", src, ledger_url, 'keep_runs = "30d"\nkeep_delivered = "60d"\n')
    assert _cli(cfg, "sync")[0] == 0
    ledger = Ledger.open(ledger_url)
    now = now_utc()
    now_us = int(now.timestamp() * 1_000_000)
    old, recent = now - timedelta(days=40), now - timedelta(days=5)
    with ledger.begin() as conn:
        for job, started in [("sync", old), ("sync", old), ("verify", old), ("sync", recent)]:
            conn.execute(runs.insert().values(job=job, started=started, finished=started, status="ok",
                                              exit_code=0, summary="{}"))  # fmt: skip
        ids = [r for (r,) in conn.execute(select(cdr_rows.c.row_id).order_by(cdr_rows.c.row_id).limit(3))]
        # One row's call is old (delivered long ago), one is old but queued again, one is recent.
        conn.execute(
            cdr_rows.update().where(cdr_rows.c.row_id.in_(ids[:2])).values(calldate_us=now_us - 90 * DAY_US)
        )
        long_ago = now_us - 70 * DAY_US
        conn.execute(delivered.insert(), [
            {"source": "default", "row_id": i, "record_hash": "h", "delivered_us": long_ago}
            for i in [*ids, "gone-from-ledger"]
        ])  # fmt: skip
        conn.execute(outbox.insert().values(source="default", row_id=ids[1], enqueued_us=now_us))
    before_runs = ledger.count(runs)

    code, out = _cli(cfg, "prune", "--dry-run")
    assert code == 0 and "would remove 2 run logs" in out and "2 delivered-record hashes" in out
    assert ledger.count(runs) == before_runs and ledger.count(delivered) == 4

    code, out = _cli(cfg, "prune")
    assert code == 0, out
    assert "removed 2 run logs older than 30d" in out and "2 delivered-record hashes" in out
    with ledger.engine.connect() as conn:
        kept = {r for (r,) in conn.execute(select(delivered.c.row_id))}
        jobs = sorted(j for (j,) in conn.execute(select(runs.c.job)))
    assert kept == {ids[1], ids[2]}  # queued again, and a recent call: their hashes stay
    # The old verify run is the last of its job: it stays; the two old syncs go.
    assert jobs == ["prune", "sync", "sync", "verify"]
    assert ledger.count(cdr_rows) == 48  # the copy itself is never pruned
    ledger.close()


def test_keep_delivered_must_outlast_the_lookback(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml", "sqlite:///x.sqlite", "sqlite:///l.sqlite", 'keep_delivered = "30m"\n'
    )
    code, out = _cli(cfg, "prune")
    assert code == ExitCode.CONFIG and "general.keep_delivered: must be longer than" in out


def test_exit_codes_are_documented_in_help_and_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    top = CliRunner().invoke(cli, ["--help"]).output
    for code in ExitCode:
        assert re.search(rf"^\s+{int(code)}\s+\S", EXIT_CODES_HELP, re.M), code
        assert re.search(rf"^\s+{int(code)}\s+\S", top, re.M), code
        assert f"| {int(code)} |" in readme, code


def test_each_exit_code_where_it_can_be_produced(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    require_fixtures()
    rows = capture_rows()
    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    load_cdr(src, [*rows, {**rows[0], "uniqueid": "", "linkedid": ""}])  # one row that cannot be understood
    cfg = write_config(tmp_path / "c.toml", src, f"sqlite:///{tmp_path / 'l.sqlite'}")
    day = rows[0]["calldate"].date().isoformat()

    # 7: verify before any sync: the source has the day's rows, the ledger has none
    assert _cli(cfg, "verify", "--since", day, "--until", day)[0] == ExitCode.MISMATCH
    # 5: finished, one row quarantined
    assert _cli(cfg, "sync")[0] == ExitCode.NEEDS_ATTENTION
    # 0: nothing new, nothing wrong (the quarantined row is already known)
    assert _cli(cfg, "sync")[0] == ExitCode.OK
    # 6: a run (cron, the scheduler) holds the lock
    with job_lock(tmp_path, "sync", "default"):
        code, out = _cli(cfg, "sync")
    assert code == ExitCode.LOCKED and "already running" in out
    # 2: configuration
    bad = tmp_path / "bad.toml"
    bad.write_text('[source]\nurl = "sqlite:///x"\nlokback = "1h"\n')
    code, out = _cli(bad, "sync")
    assert code == ExitCode.CONFIG and "did you mean 'lookback'" in out
    # 3: the source is unreachable
    down = write_config(
        tmp_path / "down.toml", "mysql+pymysql://u:p@127.0.0.1:1/cdr", f"sqlite:///{tmp_path / 'd.sqlite'}"
    )
    assert _cli(down, "sync")[0] == ExitCode.SOURCE_UNREACHABLE
    # 4: 1C does not answer
    onec_section = '[onec]\nurl = "http://127.0.0.1:1/crm"\nretries = 0\ntimeout = 1\nfirst_timeout = 1\n'
    onec = write_config(tmp_path / "onec.toml", src, f"sqlite:///{tmp_path / 'o.sqlite'}", onec_section)
    assert _cli(onec, "sync")[0] == ExitCode.ONEC_UNREACHABLE
    # 1: a bug (an exception nobody planned for)
    import jobs.sync

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(jobs.sync, "run", boom)
    assert _cli(cfg, "sync")[0] == ExitCode.FAILED
