"""The client pages: one pass over the calls of the parties to compute, grouped per party,
each page rendered only when its data hash changed (a number without a client is a party too)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from . import data as D
from . import figures as F
from .charts import heatmap, weekly_bars
from .context import Context, party_file
from .exports import write_table
from .links import event_href
from .render import call_rows_html, data_hash, write_text

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


class ClientPages(Context):
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
        if only is None:
            self._all_calls = frame  # the overview's full run reads no calls again
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
