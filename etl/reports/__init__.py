"""HTML reports from the ledger: per client, the index, reconciliation and data quality.

    build_reports(settings, ledger, client=None, since=None, until=None, out_dir=None)

Pure preparation lives in `figures` (DataFrames in, records out), reading in `data`, links in
`links`, charts in `charts`, exports in `exports`; `build` composes them and renders with the
templates in the top-level `reports/` folder. State (page hashes, party summaries, watermarks)
is in the ledger tables of `state`.
"""

from etl.reports.build import ReportSummary, build_reports

__all__ = ["ReportSummary", "build_reports"]
