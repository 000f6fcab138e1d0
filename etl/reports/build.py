"""Building the reports: which pages to (re)compute, one grouped pass over their calls,
rendering only pages whose data hash changed, then the index, reconciliation and quality.

Modes:
- full: no marks yet for this output folder, or settings/templates changed: every party is
  computed from one read of the calls; pages whose data hash is unchanged are still skipped.
- incremental: the numbers whose calls, 1C links or recordings changed since the last run
  (watermarks), plus clients whose 1C card changed, are recomputed — only their calls are read.
- client: `--client ID` renders that one page.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import OnecSettings, RecordingsSettings, ReportsSettings
from etl.errors import ConfigError
from etl.ledger.sql import bulk_write, chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import report_marks, report_pages
from etl.phones import normalise_number

from . import data as D
from . import figures as F
from .context import MARGIN_US, ROWS_FORMAT, Options, ReportSummary, party_file
from .page_client import ClientPages
from .page_index import IndexPage
from .page_overview import OverviewPage
from .page_quality import QualityPage
from .page_reconciliation import ReconciliationPage

__all__ = ["ReportSummary", "build_reports", "iter_pages"]


class Builder(ClientPages, IndexPage, OverviewPage, ReconciliationPage, QualityPage):
    """One run: which parties to compute, the pages, then the marks for the next run."""

    # --- orchestration --------------------------------------------------------------------
    def run(self, client: str | None, full: bool) -> ReportSummary:
        # An incremental run allocates ~21,000 stored index rows and their pieces at once:
        # the cyclic GC's passes over them were ~0.25 s of a ~1.2 s run. Its work is bounded
        # (the dirty parties), so it runs without the collector; a full run keeps it.
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(client, full)
        finally:
            if self._gc_was_enabled:
                gc.enable()
            else:
                gc.disable()

    def _run(self, client: str | None, full: bool) -> ReportSummary:
        started = time.perf_counter()
        with self.ledger.engine.connect() as conn:
            marks = {
                k: v
                for k, v in conn.execute(
                    select(report_marks.c.name, report_marks.c.value).where(
                        report_marks.c.target == self.target
                    )
                )
            }
            directory = D.read_directory(conn)
            fp = self.opts.fingerprint(self.renderer.version + ROWS_FORMAT)
            if client is not None:
                self.summary.mode = "client"
                self._read_hashes(conn, None)
                stamps = D.watermarks(conn)
                pid = self._resolve(client, directory)
                summaries = self._parties(conn, directory, {pid})
                if summaries.get(pid) is None:
                    period = f" in {self.opts.period}" if self.opts.period else ""
                    raise ConfigError(f"no calls with {client!r}{period} in the ledger", "--client")
                self.summary.entry = f"clients/{party_file(pid)}.html"
            elif full or marks.get("fingerprint") != fp or "stamps" not in marks:
                self.summary.mode = "full"
                if self._gc_was_enabled:
                    gc.enable()  # a full run reads every call: keep the collector
                self._read_hashes(conn, None)
                stamps = D.watermarks(conn)
                summaries = self._parties(conn, directory, None)
            else:
                self.summary.mode = "incremental"
                dirty, stamps = self._dirty(conn, directory, json.loads(marks["stamps"]))
                self._read_hashes(conn, {f"clients/{party_file(p)}.html" for p in dirty})
                summaries = self._parties(conn, directory, dirty) if dirty else {}
            if client is None:
                stored = self._store_parties(summaries)
                self._index(stored, directory, fp)
                self._overview(conn, directory)
                self._reconciliation(conn, directory)
                self._quality(conn)
                self.summary.entry = "overview.html"
        with self.ledger.begin() as wconn:
            self._save_hashes(wconn)
            if client is None:
                bulk_write(
                    wconn,
                    report_marks,
                    ["target", "name", "value"],
                    [(self.target, "fingerprint", fp), (self.target, "stamps", json.dumps(stamps))],
                    update=["value"],
                )
        self.summary.seconds = round(time.perf_counter() - started, 3)
        return self.summary

    def _read_hashes(self, conn: Connection, pages: set[str] | None) -> None:
        """The stored data hashes of every page, or (an incremental run) of the pages outside
        `clients/` and of these client pages: the only ones the run looks at (reading all
        ~21,000 and building their dict was ~0.06 s of a ~1 s incremental run)."""
        t = report_pages.c
        stmt = select(t.page, t.data_hash).where(t.target == self.target)
        if pages is None:
            self.old_hashes = dict(D._fetch(conn, stmt))
            return
        self.old_hashes = dict(D._fetch(conn, stmt.where(t.page.not_like("clients/%"))))
        for chunk in chunked(sorted(pages)):
            self.old_hashes.update(D._fetch(conn, stmt.where(t.page.in_(chunk))))

    def _resolve(self, client: str, directory: Any) -> str:
        if client in directory.names:
            return client
        number = normalise_number(client)
        if number:
            owners = sorted(directory.owners_of([number]))
            return owners[0] if owners else F.number_party(number)
        raise ConfigError(f"no client or phone number {client!r} in the ledger", "--client")

    def _dirty(
        self, conn: Connection, directory: D.Directory, stamps: dict[str, int]
    ) -> tuple[set[str], dict[str, int]]:
        """The parties to compute again, and the new watermarks."""
        self._ov_changed = []
        numbers, refs, new_stamps = D.changed_numbers(conn, stamps, MARGIN_US, self._ov_changed)
        owners = directory.owners_of(numbers)
        owned = set(directory.owners[directory.owners["phone"].isin(numbers)]["phone"])
        dirty = set(owners) | refs | {F.number_party(n) for n in numbers - owned}
        stored = self._read_rows(conn)
        self._stored = stored  # the index starts from these: no second read
        get = stored.get
        for ref, fp in directory.fingerprints():
            row = get(ref)
            if row is None or row.fp != fp:
                dirty.add(ref)
        dirty.update(pid for pid, r in stored.items() if r.kind == "client" and pid not in directory.names)
        # a number a client gained or lost moves between that client and its own number page
        for ref in list(dirty):
            dirty.update(F.number_party(p) for p in directory.phones.get(ref, []))
            if ref in stored:
                dirty.update(F.number_party(p) for p in stored[ref].phones.split())
        return dirty, new_stamps

    def _save_hashes(self, conn: Connection) -> None:
        now = now_us()
        changed = [
            (self.target, p, h, now) for p, h in self.new_hashes.items() if self.old_hashes.get(p) != h
        ]
        for chunk in chunked(changed, 5000):
            bulk_write(
                conn,
                report_pages,
                ["target", "page", "data_hash", "rendered_us"],
                chunk,
                update=["data_hash", "rendered_us"],
            )


def build_reports(
    cfg: ReportsSettings,
    ledger: Ledger,
    *,
    onec: OnecSettings | None = None,
    recordings: RecordingsSettings | None = None,
    client: str | None = None,
    since: date | None = None,
    until: date | None = None,
    out_dir: Path | None = None,
    full: bool = False,
) -> ReportSummary:
    """Render the reports into `out_dir` (default `cfg.dir`); see the module docstring.
    `onec` names 1C's event document in the links into 1C (`Document_Событие` without it),
    `recordings` gives the recordings' root and URL base (no links to recordings without it).
    `cdr1c report` passes `Settings.report_settings()`, which stands in for an absent
    `[reports]` section."""
    opts = Options.of(cfg, onec, recordings, out_dir, since, until)
    return Builder(ledger, opts).run(client, full)


def iter_pages(out_dir: Path) -> Iterator[Path]:
    yield from sorted(out_dir.glob("*.html"))
    yield from sorted((out_dir / "clients").glob("*.html"))
