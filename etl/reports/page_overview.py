"""The overview page (`overview.html`, the reports' first page) and its CSV/XLSX tables.

Its figures come from day aggregates kept between runs (`overview_data`, `report_marks`): a
full run computes every day from one read of the calls; an incremental run recomputes only
the days the changed calls touch (their own and, for the callbacks, `callback_hours` before)
from the calls of those days; the page sums the days of the period and of the previous one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from etl.days import day_bounds_us

from . import data as D
from . import overview as O
from . import overview_data as OD
from . import overview_series as S
from .charts_overview import bars, busiest_hours
from .context import MARGIN_US, Context
from .exports import write_csv, write_xlsx_cells, xlsx_cells
from .render import data_hash, write_text

PAGE = "overview.html"


def write_table(folder: Path, stem: str, header: list[str], rows: list[tuple[Any, ...]]) -> list[str]:
    """`stem`.csv and `stem`.xlsx (stored, not deflated: the overview is written on every
    incremental run that has new calls, and these tables are small)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / f"{stem}.csv", header, rows)
    write_xlsx_cells(folder / f"{stem}.xlsx", header, [xlsx_cells(r) for r in rows], deflate=False)
    return [f"{stem}.csv", f"{stem}.xlsx"]


def _runs(days: list[str]) -> list[tuple[date, date]]:
    """Consecutive runs of ISO days, as (first, last)."""
    out: list[tuple[date, date]] = []
    for d in sorted(date.fromisoformat(x) for x in days):
        if out and d - out[-1][1] <= timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _firsts(frame: pd.DataFrame, known: dict[str, int]) -> tuple[dict[str, int], list[int]]:
    """Each number's first call: the stored one or an earlier one in `frame`; and the stored
    first calls that an earlier call replaced."""
    seen: dict[str, int] = {}
    for n, t in zip(frame["external_number"].tolist(), frame["start_us"].tolist(), strict=True):
        if n not in seen or t < seen[n]:
            seen[n] = int(t)
    out = dict(seen)
    moved = []
    for n, t in seen.items():
        k = known.get(n)
        if k is not None and k <= t:
            out[n] = k
        elif k is not None:
            moved.append(k)
    return out, moved


def _margin(changed: list[tuple[str, str, str, int, int]]) -> set[tuple[str, str, str, int]]:
    """The rows the next run's scan re-reads (stamped within `MARGIN_US` of the newest)."""
    newest: dict[str, int] = {}
    for k, _, _, _, at in changed:
        newest[k] = max(newest.get(k, 0), at)
    return {(k, s, lk, at) for k, s, lk, _, at in changed if at > newest[k] - MARGIN_US}


class OverviewPage(Context):
    _ov_changed: list[tuple[str, str, str, int, int]]  # what an incremental run found changed

    def _overview(self, conn: Connection, directory: D.Directory) -> None:
        o = self.opts
        today = datetime.now(o.zone).date()
        period = S.Period.of(today, o.since, o.until)
        days = self._overview_days(conn, period)
        self._overview_page(days, period, directory)

    # --- the day aggregates ---------------------------------------------------------------
    def _overview_days(self, conn: Connection, period: S.Period) -> dict[str, dict[str, Any]]:
        o = self.opts
        fixed = o.since is not None or o.until is not None
        allowed = set(period.previous.days() + period.days()) if fixed else None
        if self.summary.mode == "full":
            return self._overview_full(conn, period, allowed)
        stored = OD.read_days(conn, self.target)  # before writing: a reader's snapshot may be older
        changed: list[tuple[str, str, str, int, int]] = getattr(self, "_ov_changed", [])
        # the scan re-reads a margin before its watermark: what the last run saw there unchanged
        # is in its days already
        seen = OD.read_seen(conn, self.target)
        starts = {(s, t) for k, s, lk, t, at in changed if (k, s, lk, at) not in seen}
        touched = O.touched_days((t for _, t in starts), o.zone, o.callback_hours)
        if allowed is not None:
            touched &= allowed
        if not touched:
            if changed:
                with self.ledger.begin() as w:
                    OD.write_seen(w, self.target, _margin(changed))
            return stored
        sources = OD.read_sources(conn, self.target) | {s for s, _ in starts}
        frame = self._overview_frame(conn, touched, sources)
        known = OD.read_firsts(conn, self.target, frame["external_number"].unique().tolist())
        firsts, moved = _firsts(frame, known)
        # a number whose first call moved earlier (a backfill) was "new" on a day not touched
        extra = {d for d in O.touched_days(moved, o.zone, 0) if allowed is None or d in allowed} - touched
        if extra:
            more = self._overview_frame(conn, extra, sources)
            frame = pd.concat([frame, more], ignore_index=True).drop_duplicates(["source", "linkedid"])
            known.update(OD.read_firsts(conn, self.target, more["external_number"].unique().tolist()))
            firsts, _ = _firsts(frame, known)
            touched |= extra
        fresh = O.day_aggregates(frame, firsts, o.zone, o.callback_hours, touched)
        with self.ledger.begin() as w:
            OD.write_days(w, self.target, fresh, touched - set(fresh), everything=False)
            OD.write_firsts(
                w, self.target, {n: t for n, t in firsts.items() if known.get(n) != t}, everything=False
            )
            if not sources <= OD.read_sources(w, self.target):
                OD.write_sources(w, self.target, sources)
            OD.write_seen(w, self.target, _margin(changed))
        for d in touched:
            stored.pop(d, None)
        stored.update(fresh)
        return stored

    def _overview_full(
        self, conn: Connection, period: S.Period, allowed: set[str] | None
    ) -> dict[str, dict[str, Any]]:
        o = self.opts
        window = int(o.callback_hours * O.US_PER_HOUR)
        lo = hi = None
        if allowed is not None:
            lo, hi = day_bounds_us(period.previous.start, period.end - timedelta(days=1), o.zone)
            hi += window
        if allowed is None and self._all_calls is not None:  # every call, read for the clients
            calls = self._all_calls
            frame = OD.with_lines(
                conn, calls[list(O.OV_COLUMNS[:9])].assign(event=calls["event_ref"]), lo, hi
            )
        else:
            frame = OD.read_calls(conn, lo_us=lo, hi_us=hi)
        self._all_calls = None
        if allowed is None:
            firsts = frame.groupby("external_number")["start_us"].min().astype("int64").to_dict()
        else:
            firsts = OD.first_calls(conn, None)
        fresh = O.day_aggregates(frame, firsts, o.zone, o.callback_hours, allowed)
        sources = set(frame["source"].unique().tolist()) if allowed is None else OD.all_sources(conn)
        with self.ledger.begin() as w:
            OD.write_days(w, self.target, fresh, (), everything=True)
            OD.write_firsts(w, self.target, firsts, everything=True)
            OD.write_sources(w, self.target, sources)
            OD.write_seen(w, self.target, OD.margin_rows(conn, MARGIN_US))
        return fresh

    def _overview_frame(self, conn: Connection, days: set[str], sources: set[str]) -> pd.DataFrame:
        """The calls of these days and of `callback_hours` after each run of them."""
        o = self.opts
        window = int(o.callback_hours * O.US_PER_HOUR)
        parts = []
        for first_day, last_day in _runs(sorted(days)):
            lo, hi = day_bounds_us(first_day, last_day, o.zone)
            parts.append(OD.read_calls(conn, lo_us=lo, hi_us=hi + window, sources=sorted(sources)))
        return pd.concat(parts, ignore_index=True).drop_duplicates(["source", "linkedid"])

    # --- the page -------------------------------------------------------------------------
    def _overview_page(
        self, days: dict[str, dict[str, Any]], period: S.Period, directory: D.Directory
    ) -> None:
        o, loc = self.opts, self.loc
        prev = period.previous
        total = O.combine(S.select(days, period))
        fig = O.figures(total, o.sl_seconds)
        pfig = O.figures(O.combine(S.select(days, prev)), o.sl_seconds)
        labels, series = S.daily(days, period)
        _, pseries = S.daily(days, prev)
        previous = [
            sum(v) for v in zip(pseries["inbound"], pseries["outbound"], pseries["missed"], strict=True)
        ]
        wlabels, wseries = S.weekly(days, period.end - timedelta(days=1))
        grid = S.heat(days, period)
        managers = O.manager_rows(total, directory.by_extension)
        lines, queues = O.line_rows(total["did"]), O.line_rows(total["queue"])
        h = data_hash(
            self.renderer.version, period, o.sl_seconds, o.callback_hours, fig, pfig, series, pseries,
            wseries, grid, managers, lines, queues,
        )  # fmt: skip
        if self._unchanged(PAGE, h):
            return
        self._folders()
        rows = self._figure_rows(fig, pfig)
        exports = self._overview_exports(rows, labels, series, wlabels, wseries, managers, lines, queues)
        names = {
            "inbound": loc["chart_inbound"],
            "outbound": loc["chart_outbound"],
            "missed": loc["chart_missed"],
            "new": loc["ov_leg_new"],
            "returning": loc["ov_leg_ret"],
        }
        calls3 = {k: series[k] for k in ("inbound", "outbound", "missed")}
        short = [self._short(d) for d in labels]
        charts = {
            "daily": bars(
                [loc.day(d) for d in labels], short, calls3, names, title=loc["ov_per_day"],
                unit=loc["ov_calls_unit"], number=loc.integer, previous=previous,
                previous_name=loc["ov_prev_line"], total_name=loc["ov_total"],
            ),
            "weekly": bars(
                [loc.day(d) for d in wlabels], [self._short(d) for d in wlabels],
                {k: wseries[k] for k in ("inbound", "outbound", "missed")}, names,
                title=loc["ov_per_week"], unit=loc["ov_calls_unit"], number=loc.integer,
                total_name=loc["ov_total"],
            ),
            "clients": bars(
                [loc.day(d) for d in labels], short, {k: series[k] for k in ("new", "returning")}, names,
                title=loc["ov_clients"], unit=loc["ov_numbers_unit"], number=loc.integer,
            ),
            "heat": busiest_hours(grid, loc["weekdays"].split(), loc["ov_heat"]),
        }  # fmt: skip
        html = self.renderer.render(
            PAGE,
            root="",
            page_title=loc["ov_title"],
            period=self._span(period),
            previous=self._span(prev),
            rows=rows,
            charts=charts,
            heat_peak=loc.integer(max(max(r) for r in grid)),
            managers=managers,
            lines=lines,
            queues=queues,
            open_count=fig["open"],
            sl_seconds=o.sl_seconds,
            callback_hours=loc.decimal(o.callback_hours, 0 if float(o.callback_hours).is_integer() else 1),
            exports={k: [f"data/{n}" for n in v] for k, v in exports.items()},
            pct=self._pct,
        )
        write_text(o.out_dir / PAGE, html)
        self._rendered(PAGE)

    def _short(self, iso: str) -> str:
        """A date on an x-axis: `dd.mm` / `mm-dd`."""
        return self.loc.day(iso)[:5] if self.loc.lang == "ru" else iso[5:10]

    def _span(self, p: S.Period) -> str:
        last = p.end - timedelta(days=1)
        return f"{self.loc.day(p.start.isoformat())} — {self.loc.day(last.isoformat())}"

    def _pct(self, value: float | None) -> str:
        return "" if value is None else f"{self.loc.decimal(100 * value)}\u00a0%"

    def _figure_rows(self, fig: dict[str, Any], pfig: dict[str, Any]) -> list[dict[str, Any]]:
        """The figures as the cards and the summary export show them: group, label, values
        (text and raw), change, and the definition's key."""
        loc = self.loc
        kinds = {
            "volumes": [("inbound", "calls_in", "n", "call"), ("outbound", "calls_out", "n", "outbound"),
                        ("missed", "missed", "n", "missed")],
            "service": [("sl", "ov_sl", "%", "sl"), ("wait_median", "ov_wait_median", "s", "wait"),
                        ("wait_p90", "ov_wait_p90", "s", "wait"),
                        ("abandoned", "ov_abandoned", "n", "abandoned"),
                        ("aband_median", "ov_aband_median", "s", "abandoned"),
                        ("aband_p90", "ov_aband_p90", "s", "abandoned")],
            "callbacks": [("cb_share", "ov_cb_share", "%", "cb"), ("cb_15min", "ov_cb_15", "%", "cb"),
                          ("cb_1h", "ov_cb_1h", "%", "cb"), ("cb_same_day", "ov_cb_same", "%", "cb"),
                          ("cb_median", "ov_cb_median", "s", "cb"), ("open", "ov_open", "n", "open")],
            "clients": [("new", "ov_new", "n", "new"), ("returning", "ov_returning", "n", "new")],
        }  # fmt: skip
        out = []
        for group, items in kinds.items():
            for key, label, unit, definition in items:
                a, b = fig[key], pfig[key]
                text = {"n": loc.integer, "%": self._pct, "s": loc.duration}[unit]
                change = ""
                if a is not None and b is not None:
                    d = a - b
                    sign = "+" if d > 0 else "−" if d < 0 else "±"
                    if unit == "n":
                        change = sign + loc.integer(abs(d))
                    elif unit == "%":
                        change = f"{sign}{loc.decimal(100 * abs(d))}\u00a0{loc['ov_pp']}"
                    else:
                        change = sign + loc.duration(abs(d))
                raw = (round(100 * a, 1) if a is not None else None) if unit == "%" else a
                praw = (round(100 * b, 1) if b is not None else None) if unit == "%" else b
                out.append(
                    {
                        "group": group,
                        "key": key,
                        "label": loc[label].format(s=self.opts.sl_seconds),
                        "value": text(a),
                        "previous": text(b),
                        "change": change,
                        "raw": raw,
                        "praw": praw,
                        "unit": unit,
                        "definition": definition,
                    }
                )
        return out

    def _overview_exports(
        self,
        rows: list[dict[str, Any]],
        labels: list[str],
        series: dict[str, list[int]],
        wlabels: list[str],
        wseries: dict[str, list[int]],
        managers: list[dict[str, Any]],
        lines: list[dict[str, Any]],
        queues: list[dict[str, Any]],
    ) -> dict[str, list[str]]:
        loc, folder = self.loc, self.data_dir
        unit = {"n": "", "%": "%", "s": loc["ov_seconds"]}
        out = {
            "summary": write_table(
                folder, "overview-summary",
                [loc["ov_figure"], loc["ov_current"], loc["ov_previous"], ""],
                [(r["label"], r["raw"], r["praw"], unit[r["unit"]]) for r in rows],
            ),
        }  # fmt: skip
        head = [loc["date"], loc["chart_inbound"], loc["chart_outbound"], loc["chart_missed"]]
        keys = ("inbound", "outbound", "missed", "new", "returning")
        out["days"] = write_table(
            folder, "overview-days", [*head, loc["ov_leg_new"], loc["ov_leg_ret"]],
            [(d, *(series[k][i] for k in keys)) for i, d in enumerate(labels)],
        )  # fmt: skip
        out["weeks"] = write_table(
            folder, "overview-weeks", [*head, loc["ov_leg_new"], loc["ov_leg_ret"]],
            [(d, *(wseries[k][i] for k in keys)) for i, d in enumerate(wlabels)],
        )  # fmt: skip
        out["managers"] = write_table(
            folder, "overview-managers",
            [loc["ov_ext"], loc["employee"], loc["ov_answered"], loc["calls_out"], loc["missed"],
             loc["ov_called_back"], loc["talk_total"], loc["ov_avg_call"], loc["ov_event_share"],
             loc["ov_all_calls"]],
            [(m["ext"], m["name"], m["answered"], m["outbound"], m["missed"], m["called_back"], m["talk"],
              round(m["avg"], 1) if m["avg"] is not None else None,
              round(100 * m["event_share"], 1) if m["event_share"] is not None else None, m["calls"])
             for m in managers],
        )  # fmt: skip
        for name, table, label in (("lines", lines, "ov_line"), ("queues", queues, "ov_queue")):
            if table:
                out[name] = write_table(
                    folder, f"overview-{name}",
                    [loc[label], loc["ov_all_calls"], loc["ov_answered"], loc["missed"], loc["wait_avg"]],
                    [(r["key"], r["calls"], r["answered"], r["missed"],
                      round(r["wait_avg"], 1) if r["wait_avg"] is not None else None) for r in table],
                )  # fmt: skip
        return out
