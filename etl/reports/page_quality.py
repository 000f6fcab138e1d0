"""The data-quality page: quarantined rows, dead letters, recording problems and recent runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from .context import MAX_ROWS, Context
from .exports import write_table
from .problems import problem_counts, quality_tables
from .reasons import reason_text, summary_text
from .render import data_hash, write_text


class QualityPage(Context):
    def _quality(self, conn: Connection) -> None:
        loc = self.loc
        tables = quality_tables(conn, MAX_ROWS)
        problems = problem_counts(conn)
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
