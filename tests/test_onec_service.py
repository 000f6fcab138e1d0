"""HTTP-service mode: batches of records per POST with one result per record (docs/onec/)."""

from __future__ import annotations

from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.onec import outbox
from etl.onec.push import push
from etl.sandbox.standin import Faults, StandIn
from tests.conftest import CAPTURE, require_fixtures
from tests.onec_helpers import capture_rows, cdr_row, insert_rows, ledger_count, onec_settings


def test_batches_deliver_once_and_per_record_errors_are_dead_letters(ledger_url: str) -> None:
    require_fixtures()
    with StandIn(faults=Faults(error_rate=0.15, drop_rate=0.15, seed=3)) as stand:
        fields = dict(onec_settings("http://x", "").onec.fields)  # type: ignore[union-attr]
        fields["Клиент_Key"] = "client"
        s = onec_settings(stand.url, ledger_url, mode="http-service", batch_size=10, fields=fields)
        ledger = Ledger.open(ledger_url)
        rows = capture_rows(CAPTURE)
        rows.append(cdr_row(uniqueid="bad.1"))
        insert_rows(ledger, rows)

        def derive(conn: object, batch: list[dict[str, object]]) -> None:
            for r in batch:
                if r["uniqueid"] == "bad.1":
                    r["client"] = "не-guid"  # 1C cannot take it: an `error` result for this record only

        for _ in range(3):
            push(s.onec, ledger, derive=derive)
            if ledger_count(ledger, outbox.outbox) == 0:
                break
        assert sorted(stand.stats.created_keys) == sorted(("default", r["row_id"]) for r in rows[:-1])
        with ledger.engine.connect() as c:
            [dl] = c.execute(select(outbox.dead_letters)).mappings().all()
        assert dl["row_id"] == "bad.1:0" and "Edm.Guid" in dl["message"]
        assert ledger_count(ledger, outbox.outbox) == 0
        # a re-send of everything is answered `unchanged` and patches nothing
        with ledger.begin() as c:
            c.execute(outbox.delivered.delete())
            outbox.enqueue(c, "default", [r["row_id"] for r in rows[:-1]])
        again = push(s.onec, ledger)
        assert again.delivered == 48 and again.already_held == 48 and again.patched == 0
        ledger.close()
