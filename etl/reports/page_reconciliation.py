"""The reconciliation page: counts per status and the problem calls and events, linked to 1C."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from . import data as D
from .context import MAX_ROWS, Context, party_file
from .exports import write_table
from .links import event_href
from .problems import reconciliation_rows
from .render import data_hash, write_text


class ReconciliationPage(Context):
    # --- reconciliation and quality -------------------------------------------------------
    def _reconciliation(self, conn: Connection, directory: D.Directory) -> None:
        loc = self.loc
        counts, rows, total = reconciliation_rows(conn, MAX_ROWS)
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
