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
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from etl.config import Settings
from etl.days import day_bounds_us
from etl.errors import ConfigError
from etl.ledger.sql import bulk_write, chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import report_marks, report_pages, report_rows
from etl.phones import normalise_number

from . import data as D
from . import figures as F
from .charts import heatmap, weekly_bars
from .exports import csv_line, write_table, write_table_lines, xlsx_cells
from .i18n import Locale
from .links import GUID_RE, RecordingLinker, event_href
from .reasons import reason_text, summary_text
from .render import (
    call_rows_html,
    callback_row_html,
    data_hash,
    index_row_html,
    none_row_html,
    renderer_for,
    unknown_row_html,
    write_spliced,
    write_text,
)

MARGIN_US = 120_000_000  # re-read changes stamped up to 2 minutes before the last mark
ROWS_FORMAT = "rows-5"  # of `report_rows`: a new one makes a full run (in the fingerprint)
MAX_ROWS = 5000  # rows shown on the reconciliation and quality pages (exports say the total)
CALL_HEADER = (
    "when",
    "direction",
    "number",
    "employee",
    "wait",
    "talk",
    "outcome",
    "recording",
    "event",
    "linkedid",
)


@dataclass
class ReportSummary:
    out_dir: str
    mode: str
    parties: int = 0
    calls: int = 0
    pages_rendered: int = 0
    pages_unchanged: int = 0
    callbacks: int = 0
    seconds: float = 0.0
    pages: list[str] = field(default_factory=list)
    entry: str = ""  # the page to open (index, or the client's page), relative to out_dir


@dataclass(slots=True)
class IndexRow:
    """A party as the index needs it (`report_rows`): sort keys and its rendered pieces."""

    id: str
    kind: str
    fp: str
    phones: str
    manager: str
    last_us: int | None
    total: int
    hash: str
    html: str
    csv: str
    xlsx: str
    unknown: list[str] | None  # [html, csv line, xlsx cells] of an unknown number
    callbacks: list[list[Any]]  # [last_us, number, html, csv line, xlsx cells]


ROW_COLUMNS = [
    "target",
    "party_id",
    "kind",
    "fp",
    "phones",
    "manager",
    "last_us",
    "total",
    "row_hash",
    "row_html",
    "row_csv",
    "row_xlsx",
    "unknown_html",
    "unknown_csv",
    "unknown_xlsx",
    "cb_keys",
    "cb_html",
    "cb_csv",
    "cb_xlsx",
    "updated_us",
]


@dataclass
class Options:
    out_dir: Path
    zone: ZoneInfo
    lang: str
    callback_hours: float
    since_us: int | None
    until_us: int | None
    period: str
    event_document: str
    onec_link_base: str
    client_xlsx: bool
    rec_root: Path | None
    url_base: str

    @classmethod
    def of(cls, settings: Settings, out_dir: Path | None, since: date | None, until: date | None) -> Options:
        rs = settings.reports
        zone = ZoneInfo(rs.timezone if rs else (settings.onec.timezone if settings.onec else "UTC"))
        folder = out_dir or (rs.dir if rs else settings.lock_dir / "reports")
        lo = hi = None
        if since or until:
            lo_d = since or date(1970, 1, 2)
            hi_d = until or date(9998, 12, 30)
            if lo_d > hi_d:
                raise ConfigError("--since is after --until", "--since")
            lo, hi = day_bounds_us(lo_d, hi_d, zone)
            lo = lo if since else None
            hi = hi if until else None
        return cls(
            out_dir=folder.resolve(),
            zone=zone,
            lang=rs.lang if rs else "ru",
            callback_hours=rs.callback_hours if rs else 24.0,
            since_us=lo,
            until_us=hi,
            period=f"{since.isoformat() if since else '…'} — {until.isoformat() if until else '…'}"
            if since or until
            else "",
            event_document=settings.onec.event_document if settings.onec else "Document_Событие",
            onec_link_base=rs.onec_link_base if rs else "",
            client_xlsx=rs.client_xlsx if rs else True,
            rec_root=settings.recordings.root if settings.recordings else None,
            url_base=settings.recordings.url_base if settings.recordings else "",
        )

    def fingerprint(self, template_version: str) -> str:
        parts = [
            template_version,
            str(self.zone),
            self.lang,
            self.callback_hours,
            self.since_us,
            self.until_us,
            self.event_document,
            self.onec_link_base,
            self.client_xlsx,
            str(self.rec_root),
            self.url_base,
        ]
        return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def party_file(party_id: str) -> str:
    """A safe file name for a party: GUIDs and digit strings as they are, anything else hashed."""
    if GUID_RE.match(party_id) or (party_id[:1] == "n" and party_id[1:].isdigit()):
        return party_id.lower()
    return "x" + hashlib.sha1(party_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class Builder:
    def __init__(self, settings: Settings, ledger: Ledger, opts: Options) -> None:
        self.settings = settings
        self.ledger = ledger
        self.opts = opts
        self.loc = Locale(opts.lang)
        self.renderer = renderer_for(self.loc)
        self.target = hashlib.sha1(str(opts.out_dir).encode()).hexdigest()
        self.pages_dir = opts.out_dir / "clients"
        self.data_dir = opts.out_dir / "data"
        self.recs = RecordingLinker(opts.rec_root, opts.url_base, self.pages_dir, opts.out_dir)
        self.summary = ReportSummary(str(opts.out_dir), "full")
        self.old_hashes: dict[str, str] = {}
        self.new_hashes: dict[str, str] = {}
        self._whens: dict[int, str] = {}
        self._stored: dict[str, IndexRow] = {}
        self._gc_was_enabled = True
        self._folders_made = False

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
            self.old_hashes = dict(
                D._fetch(
                    conn,
                    select(report_pages.c.page, report_pages.c.data_hash).where(
                        report_pages.c.target == self.target
                    ),
                )
            )
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
                stamps = D.watermarks(conn)
                summaries = self._parties(conn, directory, None)
            else:
                self.summary.mode = "incremental"
                dirty, stamps = self._dirty(conn, directory, json.loads(marks["stamps"]))
                summaries = self._parties(conn, directory, dirty) if dirty else {}
            if client is None:
                stored = self._store_parties(summaries)
                self._index(stored, directory, fp)
                self._reconciliation(conn, directory)
                self._quality(conn)
                self.summary.entry = "index.html"
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

    def _folders(self) -> None:
        """The output folders, made when the first file is about to be written (a run that
        writes nothing leaves nothing behind)."""
        if not self._folders_made:
            for d in (self.opts.out_dir, self.pages_dir, self.data_dir):
                d.mkdir(parents=True, exist_ok=True)
            self._folders_made = True

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
        numbers, refs, new_stamps = D.changed_numbers(conn, stamps, MARGIN_US)
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

    # --- per-party pages ------------------------------------------------------------------
    def _parties(
        self, conn: Connection, directory: D.Directory, only: set[str] | None
    ) -> dict[str, dict[str, Any] | None]:
        o = self.opts
        links_exist = D.has_links(conn)
        if only is None:
            frame = D.read_calls(conn, since_us=o.since_us, until_us=o.until_us)
            keys: list[tuple[str, str]] | None = None
        else:
            numbers = {p for ref in only for p in directory.phones.get(ref, [])}
            numbers |= {"+" + pid[1:] for pid in only if pid[:1] == "n" and pid[1:].isdigit()}
            linked = D.linked_to(conn, [p for p in only if p in directory.names]) if links_exist else []
            frame = D.read_calls(
                conn, since_us=o.since_us, until_us=o.until_us, numbers=sorted(numbers), keys=linked
            )
            extra = set(frame["external_number"]) - numbers  # complete numbers for the callback rule
            if extra:
                more = D.read_calls(conn, since_us=o.since_us, until_us=o.until_us, numbers=sorted(extra))
                frame = pd.concat([frame, more]).drop_duplicates(["source", "linkedid"], ignore_index=True)
            keys = list(zip(frame["source"], frame["linkedid"], strict=True))
        links = D.read_links(conn, keys) if links_exist else pd.DataFrame(columns=["source", "linkedid"])
        if len(links):
            frame = frame.merge(
                links[["source", "linkedid", "client_ref", "event_ref"]],
                on=["source", "linkedid"],
                how="left",
            )
            frame["client_ref"] = frame["client_ref"].where(
                frame["client_ref"].isin(list(directory.names)), None
            )
        else:
            frame["client_ref"] = None
            frame["event_ref"] = None
        open_missed = F.missed_not_called_back(frame, o.callback_hours)
        assigned = F.assign_parties(frame, directory.owners)
        if only is not None:
            assigned = assigned[assigned["party_id"].isin(only)]
        recs = D.read_recordings(conn, keys)
        if len(recs):
            assigned = assigned.merge(
                recs[["source", "linkedid", "relpath", "relpath_b64"]], on=["source", "linkedid"], how="left"
            )
        else:
            assigned["relpath"] = None
            assigned["relpath_b64"] = None
        number_calls = assigned[assigned["party_id"].str.startswith("n")] if len(assigned) else assigned
        if only is None:
            cnames = D.caller_names(conn, None)
        else:
            cnames = D.caller_names(
                conn, list(zip(number_calls["source"], number_calls["linkedid"], strict=True))
            )
        event_refs = [e for e in assigned["event_ref"].dropna().unique().tolist() if e]
        event_no = D.event_numbers(conn, event_refs) if event_refs else {}
        assigned = F.local_columns(assigned, o.zone) if len(assigned) else assigned
        cb_by_party = self._callbacks(open_missed, assigned)
        self.summary.callbacks += len(open_missed)
        out: dict[str, dict[str, Any] | None] = {}
        seen: set[str] = set()
        if len(assigned):
            assigned = assigned.sort_values(
                ["party_id", "start_us", "linkedid"], ascending=[True, False, True], kind="stable"
            )
            arrays = {
                c: assigned[c].to_numpy()
                for c in ("direction", "outcome", "wait", "talk", "start_us", "weekday", "hour", "week")
            }
            arrays["direction"] = arrays["direction"].astype(str)
            arrays["outcome"] = arrays["outcome"].astype(str)
            lists = {
                c: assigned[c].tolist()
                for c in (
                    "iso",
                    "direction",
                    "external_number",
                    "extension",
                    "wait",
                    "talk",
                    "outcome",
                    "relpath",
                    "relpath_b64",
                    "event_ref",
                    "linkedid",
                )
            }
            for pid, s, e in F.group_bounds(assigned["party_id"].to_numpy()):
                seen.add(pid)
                part = {k: v[s:e] for k, v in arrays.items()}
                rows = self._rows(lists, s, e, directory, event_no)
                out[pid] = self._page(pid, directory, cnames, part, rows, cb_by_party.get(pid, []))
                self.summary.calls += e - s
        wanted = set(directory.names) if only is None else only
        for pid in sorted(wanted - seen):
            if pid in directory.names:
                out[pid] = self._page(pid, directory, cnames, None, [], [])
            else:
                out[pid] = None  # a number without calls any more: its page goes
        return out

    def _callbacks(self, open_missed: pd.DataFrame, assigned: pd.DataFrame) -> dict[str, list[list[Any]]]:
        if open_missed.empty or assigned.empty:
            return {}
        m = open_missed.merge(assigned[["source", "linkedid", "party_id"]], on=["source", "linkedid"])
        # grouped in plain Python (pandas' groupby and a frame per group cost more than the rows)
        groups: dict[tuple[str, str], list[Any]] = {}
        cols = (
            m["party_id"].tolist(),
            m["external_number"].tolist(),
            m["start_us"].tolist(),
            m["linkedid"].tolist(),
        )
        for pid, number, start, lk in zip(*cols, strict=True):
            if not isinstance(pid, str) or not isinstance(number, str):  # groupby drops missing keys
                continue
            g = groups.get((pid, number))
            if g is None:
                groups[(pid, number)] = [1, int(start), [lk]]
            else:
                g[0] += 1
                g[1] = max(g[1], int(start))
                g[2].append(lk)
        out: dict[str, list[list[Any]]] = {}
        for (pid, number), (count, last, lks) in sorted(groups.items()):
            out.setdefault(pid, []).append([number, count, last, sorted(lks)])
        return out

    def _rows(
        self, lists: dict[str, list[Any]], s: int, e: int, directory: D.Directory, event_no: dict[str, str]
    ) -> list[tuple[Any, ...]]:
        loc, doc, base = self.loc, self.opts.event_document, self.opts.onec_link_base
        staff = directory.by_extension
        rows = []
        L = lists
        for i in range(s, e):
            ext = L["extension"][i]
            ext = ext if isinstance(ext, str) else ""
            ev = L["event_ref"][i]
            rel = L["relpath"][i]
            rows.append(
                (
                    loc.when(L["iso"][i]),
                    L["direction"][i],
                    L["external_number"][i],
                    staff.get(ext, ext),
                    int(L["wait"][i]),
                    int(L["talk"][i]),
                    L["outcome"][i],
                    self.recs.href(rel, L["relpath_b64"][i]) if isinstance(rel, str) else None,
                    event_href(ev, doc, base) if isinstance(ev, str) else None,
                    event_no.get(ev, "") if isinstance(ev, str) else "",
                    L["linkedid"][i],
                )
            )
        return rows

    def _page(
        self,
        pid: str,
        directory: D.Directory,
        cnames: dict[str, str],
        part: dict[str, np.ndarray] | None,
        rows: list[tuple[Any, ...]],
        callbacks: list[list[Any]],
    ) -> dict[str, Any]:
        loc = self.loc
        if pid in directory.names:
            kind, name, phones = "client", directory.names[pid], directory.phones.get(pid, [])
            manager = directory.managers.get(pid, "")
        else:
            number = "+" + pid[1:]
            kind, name, phones, manager = "number", cnames.get(number, ""), [number], ""
        empty = {
            "direction": np.array([], dtype=str),
            "outcome": np.array([], dtype=str),
            "wait": np.array([]),
            "talk": np.array([]),
            "start_us": np.array([], dtype=np.int64),
        }
        fig = F.figures(part if part is not None else empty)
        file = party_file(pid)
        summary = {
            "id": pid,
            "kind": kind,
            "name": name,
            "phones": phones,
            "manager": manager,
            "fp": directory.fingerprint(pid) if kind == "client" else "",
            "fig": fig,
            "cb": callbacks,
            "file": file,
        }
        page = f"clients/{file}.html"
        h = data_hash(self.renderer.version, summary, rows)
        self.new_hashes[page] = h
        if self.old_hashes.get(page) == h and (self.opts.out_dir / page).exists():
            self.summary.pages_unchanged += 1
            return summary
        weeks, series = F.weekly(part) if part is not None and len(part["week"]) else ([], {})
        week_labels = [loc.day(w) for w in weeks]
        charts = {
            "weekly": weekly_bars(
                weeks,
                series,
                {k: loc[f"chart_{k}"] for k in ("inbound", "outbound", "missed")},
                week_labels,
                loc["per_week"],
                loc.integer,
            ),
            "heat": heatmap(F.heat(part), loc["weekdays"].split(), loc["heatmap"])
            if part is not None and len(part["week"])
            else "",
        }
        self._folders()
        header = [loc[k] for k in CALL_HEADER]
        export_rows = [
            (
                r[0],
                loc.direction(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                loc.outcome(r[6]),
                r[7] or "",
                r[9] or (r[8] or ""),
                r[10],
            )
            for r in rows
        ]
        exports = write_table(
            self.data_dir, f"client-{file}", header, export_rows, xlsx=self.opts.client_xlsx
        )
        html = self.renderer.render(
            "client.html",
            root="../",
            page_title=name or (phones[0] if phones else pid),
            party=summary,
            fig=fig,
            rows=rows,
            rows_html=call_rows_html(rows, loc),
            charts=charts,
            callbacks=callbacks,
            exports=[f"../data/{n}" for n in exports],
            when=self._when,
            period=self.opts.period,
        )
        write_text(self.opts.out_dir / page, html)
        self.summary.pages_rendered += 1
        self.summary.pages.append(page)
        return summary

    def _when(self, us: int | None) -> str:
        if us is None:
            return ""
        text = self._whens.get(us)
        if text is None:
            t = datetime.fromtimestamp(int(us) / 1_000_000, self.opts.zone)
            text = self._whens[us] = self.loc.when(t.isoformat())
        return text

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
        now = time.time_ns() // 1000
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

    def _unchanged(self, page: str, h: str) -> bool:
        self.new_hashes[page] = h
        if self.old_hashes.get(page) == h and (self.opts.out_dir / page).exists():
            self.summary.pages_unchanged += 1
            return True
        return False

    def _rendered(self, page: str) -> None:
        self.summary.pages_rendered += 1
        self.summary.pages.append(page)

    # --- reconciliation and quality -------------------------------------------------------
    def _reconciliation(self, conn: Connection, directory: D.Directory) -> None:
        loc = self.loc
        counts, rows, total = D.reconciliation_rows(conn, MAX_ROWS)
        doc, base = self.opts.event_document, self.opts.onec_link_base
        mismatched = {r["external_number"] for r in rows if r["status"] == "mismatch"}
        hit = directory.owners[directory.owners["phone"].isin(mismatched)]
        owners: dict[str, list[str]] = {}
        for phone, ref in sorted(zip(hit["phone"], hit["client_ref"], strict=True)):
            owners.setdefault(phone, []).append(ref)

        def party(ref: str | None) -> dict[str, Any]:
            """A client as a cell shows it: its name linking to its page, else its GUID."""
            ref = ref or ""
            known = ref in directory.names
            return {
                "name": directory.names.get(ref, ""),
                "ref": ref,
                "page": f"clients/{party_file(ref)}.html" if known else None,
            }

        view = []
        for r in rows:
            number = r["external_number"] or ""
            others = [party(o) for o in owners.get(number, [])] if r["status"] == "mismatch" else []
            view.append(
                {
                    "status": r["status"],
                    "when": self._when(r["start_us"]),
                    "number": number,
                    "employee": directory.by_extension.get(r["extension"] or "", r["extension"] or ""),
                    "client": party(r["client_ref"]),
                    "event": event_href(r["event_ref"], doc, base),
                    "event_ref": r["event_ref"] or "",
                    "linkedid": r["linkedid"],
                    "owners": others,
                    "detail": f"{loc['number_owners']} {', '.join(o['name'] or o['ref'] for o in others)}"
                    if others
                    else "",
                }
            )
        if self._unchanged("reconciliation.html", data_hash(self.renderer.version, counts, view)):
            return
        self._folders()
        header = [
            loc["status"],
            loc["when"],
            loc["number"],
            loc["employee"],
            loc["client"],
            loc["event"],
            loc["linkedid"],
            loc["detail"],
        ]
        exports = write_table(
            self.data_dir,
            "reconciliation-problems",
            header,
            [
                (
                    loc[v["status"]],
                    v["when"],
                    v["number"],
                    v["employee"],
                    v["client"]["name"] or v["client"]["ref"],
                    v["event_ref"],
                    v["linkedid"],
                    v["detail"],
                )
                for v in view
            ],
        )
        html = self.renderer.render(
            "reconciliation.html",
            root="",
            page_title=loc["reconciliation"],
            counts=counts,
            rows=view,
            total=total,
            exports=[f"data/{n}" for n in exports],
            period=self.opts.period,
        )
        write_text(self.opts.out_dir / "reconciliation.html", html)
        self._rendered("reconciliation.html")

    def _quality(self, conn: Connection) -> None:
        loc = self.loc
        tables = D.quality_tables(conn, MAX_ROWS)
        problems = D.problem_counts(conn)
        if self._unchanged("quality.html", data_hash(self.renderer.version, tables, problems)):
            return
        self._folders()

        def when_dt(v: Any) -> str:
            return self._when(int(v.timestamp() * 1_000_000)) if v is not None else ""

        def reason(v: Any) -> str:
            return reason_text(str(v or ""), loc.lang)

        def problem(v: Any) -> str:
            return loc.word("problem", str(v))

        def run_status(v: Any) -> str:
            return loc.word("run", str(v))

        def run_summary(v: Any) -> str:
            return summary_text(str(v or ""), loc.lang, self._when)

        # per table: (column, label, cell class, conversion)
        N, W, C = "nowrap", "", "code"
        specs: dict[str, list[tuple[str, str, str, Any]]] = {
            "quarantine": [
                ("source", "source", N, None),
                ("row_key", "cdr_row", N, None),
                ("reason", "reason", W, reason),
                ("raw", "content", C, None),
                ("first_seen", "first_seen", N, when_dt),
            ],
            "dead_letters": [
                ("source", "source", N, None),
                ("row_id", "cdr_row", N, None),
                ("status", "http_status", N, None),
                ("code", "onec_code", N, None),
                ("message", "message", W, None),
                ("dead_us", "rejected_at", N, self._when),
            ],
            "recording_problems": [
                ("kind", "kind", W, problem),
                ("source", "source", N, None),
                ("subject", "file_or_value", W, None),
                ("reason", "reason", W, reason),
                ("seen_us", "seen_at", N, self._when),
            ],
            "runs": [
                ("job", "job", N, None),
                ("started", "started", N, when_dt),
                ("status", "status", N, run_status),
                ("exit_code", "exit_code_long", N, None),
                ("summary", "summary", W, run_summary),
            ],
        }
        views: dict[str, dict[str, Any]] = {}
        for name, spec in specs.items():
            rows, total = tables[name]
            values = [
                [conv(r[c]) if conv is not None else ("" if r[c] is None else r[c]) for c, _, _, conv in spec]
                for r in rows
            ]
            labels = [loc[label] for _, label, _, _ in spec]
            files = write_table(self.data_dir, f"quality-{name.replace('_', '-')}", labels, values)
            views[name] = {
                "cols": labels,
                "classes": [cls for _, _, cls, _ in spec],
                "rows": values,
                "total": total,
                "exports": [f"data/{n}" for n in files],
            }
        html = self.renderer.render(
            "quality.html",
            root="",
            page_title=loc["quality"],
            tables=views,
            problems={problem(k): n for k, n in problems.items()},
            period=self.opts.period,
        )
        write_text(self.opts.out_dir / "quality.html", html)
        self._rendered("quality.html")

    def _save_hashes(self, conn: Connection) -> None:
        now = time.time_ns() // 1000
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
    settings: Settings,
    ledger: Ledger,
    *,
    client: str | None = None,
    since: date | None = None,
    until: date | None = None,
    out_dir: Path | None = None,
    full: bool = False,
) -> ReportSummary:
    """Render the reports into `out_dir` (default `[reports] dir`); see the module docstring."""
    opts = Options.of(settings, out_dir, since, until)
    return Builder(settings, ledger, opts).run(client, full)


def iter_pages(out_dir: Path) -> Iterator[Path]:
    yield from sorted(out_dir.glob("*.html"))
    yield from sorted((out_dir / "clients").glob("*.html"))
