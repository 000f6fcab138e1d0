"""The index: each party's row rendered once and stored (`report_rows`), the page spliced
together from the stored rows, with the callbacks per manager and the unknown numbers."""

from __future__ import annotations

import json
import secrets
from operator import attrgetter, itemgetter
from typing import Any

from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.ledger.sql import bulk_write, chunked
from etl.ledger.tables import report_rows

from . import data as D
from .context import ROW_COLUMNS, Context, IndexRow, party_file
from .exports import csv_line, write_table_lines, xlsx_cells
from .render import (
    callback_row_html,
    data_hash,
    index_row_html,
    none_row_html,
    unknown_row_html,
    write_spliced,
)


class IndexPage(Context):
    def _read_rows(self, conn: Connection) -> dict[str, IndexRow]:
        t = report_rows.c
        out: dict[str, IndexRow] = {}
        loads = json.loads
        rows = D._fetch(conn, select(*[t[c] for c in ROW_COLUMNS[1:-1]]).where(t.target == self.target))
        # every row's callback keys in one JSON decode (one call each cost ~7 µs a row)
        keys = iter(loads("[" + ",".join([r[14] for r in rows if r[14]]) + "]"))
        Row = IndexRow
        for r in rows:
            cb_keys = r[14]
            cbs: list[list[Any]] = []
            if cb_keys:
                cb_html, cb_csv, cb_xlsx = r[15], r[16], r[17]
                a = b = c = 0
                for when_us, number, lh, lc, lx in next(keys):
                    cbs.append(
                        [when_us, number, cb_html[a : a + lh], cb_csv[b : b + lc], cb_xlsx[c : c + lx]]
                    )
                    a, b, c = a + lh, b + lc, c + lx
            out[r[0]] = Row(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                [r[11], r[12], r[13]] if r[11] is not None else None,
                cbs,
            )
        return out

    # --- the index ------------------------------------------------------------------------
    def _index_row(self, p: dict[str, Any]) -> IndexRow:
        """A party's pieces of the index, rendered once when its summary is computed."""
        loc, when, fig = self.loc, self._when, p["fig"]
        row = (
            p["name"],
            " ".join(p["phones"]),
            p["manager"],
            fig["calls_in"],
            fig["calls_out"],
            fig["missed"],
            sum(c[1] for c in p["cb"]),
            fig["talk"],
            round(fig["wait_avg"], 1) if fig["wait_avg"] is not None else None,
            when(fig["last_us"]),
        )
        unknown = None
        if p["kind"] == "number":
            u = (p["phones"][0], p["name"], fig["total"], fig["missed"], when(fig["last_us"]))
            unknown = [unknown_row_html(p, loc, when), csv_line(u), xlsx_cells(u)]
        label = p["manager"] or loc["no_manager"]
        callbacks = []
        for number, count, last_us, linkedids in p["cb"]:
            c = (label, p["name"], number, count, when(last_us), " ".join(linkedids))
            callbacks.append(
                [
                    int(last_us),
                    str(number),
                    callback_row_html(p, number, count, last_us, loc, when),
                    csv_line(c),
                    xlsx_cells(c),
                ]
            )
        r = IndexRow(
            p["id"],
            p["kind"],
            p["fp"],
            " ".join(p["phones"]),
            p["manager"] or "",
            int(fig["last_us"]) if fig["last_us"] is not None else None,
            int(fig["total"]),
            "",
            index_row_html(p, loc, when),
            csv_line(row),
            xlsx_cells(row),
            unknown,
            callbacks,
        )
        r.hash = data_hash(
            r.id,
            r.kind,
            r.fp,
            r.phones,
            r.manager,
            r.last_us,
            r.total,
            r.html,
            r.csv,
            r.xlsx,
            unknown,
            callbacks,
        )
        return r

    def _store_parties(self, summaries: dict[str, dict[str, Any] | None]) -> list[IndexRow]:
        now = now_us()
        fresh = {pid: self._index_row(s) for pid, s in summaries.items() if s}
        gone = [pid for pid, s in summaries.items() if s is None]
        dumps = json.dumps
        rows = [
            (
                self.target,
                r.id,
                r.kind,
                r.fp,
                r.phones,
                r.manager,
                r.last_us,
                r.total,
                r.hash,
                r.html,
                r.csv,
                r.xlsx,
                *(r.unknown or (None, None, None)),
                dumps([[c[0], c[1], len(c[2]), len(c[3]), len(c[4])] for c in r.callbacks])
                if r.callbacks
                else None,
                "".join([c[2] for c in r.callbacks]) if r.callbacks else None,
                "".join([c[3] for c in r.callbacks]) if r.callbacks else None,
                "".join([c[4] for c in r.callbacks]) if r.callbacks else None,
                now,
            )
            for r in fresh.values()
        ]
        with self.ledger.begin() as conn:
            if self.summary.mode == "full":
                conn.execute(delete(report_rows).where(report_rows.c.target == self.target))
            for chunk in chunked(gone):
                conn.execute(
                    delete(report_rows).where(
                        report_rows.c.target == self.target, report_rows.c.party_id.in_(chunk)
                    )
                )
            for part in chunked(rows, 5000):
                bulk_write(conn, report_rows, ROW_COLUMNS, part, update=ROW_COLUMNS[2:])
        # what is stored now, without reading it all again
        merged = {} if self.summary.mode == "full" else dict(self._stored)
        for pid in gone:
            merged.pop(pid, None)
        merged.update(fresh)
        stored = list(merged.values())
        for pid in gone:
            (self.opts.out_dir / "clients" / f"{party_file(pid)}.html").unlink(missing_ok=True)
        self.summary.parties = len(stored)
        return stored

    def _index(self, parties: list[IndexRow], directory: D.Directory, fp: str) -> None:
        """The index: the stored rows in order (last contact first), nothing rendered again."""
        loc = self.loc
        # two stable passes with C-level keys = one sort by (-(last_us or 0), id), ~2× cheaper
        parties.sort(key=attrgetter("id"))
        parties.sort(key=lambda r: r.last_us or 0, reverse=True)
        by_manager: dict[str, list[list[Any]]] = {}
        for p in parties:
            if p.callbacks:
                by_manager.setdefault(p.manager, []).extend(p.callbacks)
        managers = sorted(by_manager, key=lambda m: (m == "", m))
        for m in managers:
            by_manager[m].sort(key=itemgetter(1))  # then newest first: by (-last_us, number)
            by_manager[m].sort(key=itemgetter(0), reverse=True)
        has_directory = not directory.empty
        unknown = [p for p in parties if p.kind == "number"] if has_directory else []
        unknown.sort(key=lambda p: (-p.total, p.id))
        h = data_hash(
            self.renderer.version, fp, self.opts.period, has_directory, [(p.id, p.hash) for p in parties]
        )
        if self._unchanged("index.html", h):
            return
        self._folders()
        header = [
            loc["name"],
            loc["phones"],
            loc["manager"],
            loc["calls_in"],
            loc["calls_out"],
            loc["missed"],
            loc["open_missed"],
            loc["talk_total"],
            loc["wait_avg"],
            loc["last_contact"],
        ]
        exports = {
            "clients": write_table_lines(
                self.data_dir, "clients", header, [p.csv for p in parties], [p.xlsx for p in parties]
            )
        }
        cb_rows = [c for m in managers for c in by_manager[m]]
        exports["callbacks"] = write_table_lines(
            self.data_dir,
            "callbacks",
            [
                loc["manager"],
                loc["client"],
                loc["number"],
                loc["open_missed"],
                loc["last_missed"],
                "linkedid",
            ],
            [c[3] for c in cb_rows],
            [c[4] for c in cb_rows],
        )
        unknown_rows = [p.unknown for p in unknown if p.unknown is not None]
        if unknown:
            exports["unknown"] = write_table_lines(
                self.data_dir,
                "unknown-numbers",
                [loc["number"], loc["name"], loc["calls_total"], loc["missed"], loc["last_contact"]],
                [u[1] for u in unknown_rows],
                [u[2] for u in unknown_rows],
            )
        # the big sections are spliced in when writing (markers unique to this run, in order)
        token = secrets.token_hex(16)
        marker = {k: f"<!--{token}:{k}-->" for k in ["clients", *range(len(managers)), "unknown"]}
        html = self.renderer.render(
            "index.html",
            root="",
            page_title=loc["title"],
            parties=parties,
            by_manager=by_manager,
            managers=managers,
            unknown=unknown,
            clients_html=Markup(marker["clients"]),
            callbacks_html={m: Markup(marker[i]) for i, m in enumerate(managers)},
            unknown_html=Markup(marker["unknown"]),
            has_directory=has_directory,
            callback_hours=loc.decimal(self.opts.callback_hours, 0)
            if float(self.opts.callback_hours).is_integer()
            else loc.decimal(self.opts.callback_hours),
            exports={k: [f"data/{n}" for n in v] for k, v in exports.items()},
            when=self._when,
            period=self.opts.period,
        )
        pieces: dict[str, list[str]] = {marker["clients"]: [p.html for p in parties]}
        for i, m in enumerate(managers):
            pieces[marker[i]] = [c[2] for c in by_manager[m]]
        pieces[marker["unknown"]] = [u[0] for u in unknown_rows] or [none_row_html(loc, 5)]
        write_spliced(self.opts.out_dir / "index.html", html, pieces)
        self._rendered("index.html")
