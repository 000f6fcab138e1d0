"""HTML reports from the ledger: per client, the index, reconciliation and data quality.

    build_reports(cfg, ledger, onec=None, recordings=None, client=None, since=None, until=None,
                  out_dir=None)   # cfg: Settings.report_settings()

Pure preparation lives in `figures` (DataFrames in, records out), reading in `data` and
`problems`, links in `links`, charts in `charts`, exports in `exports`. Each page has its module
(`page_client`, `page_index`, `page_reconciliation`, `page_quality`) on the run state of
`context`; `build` decides what a run computes (full, incremental, one client) and composes them,
rendering with the templates in the top-level `reports/` folder. State (page hashes, stored index
rows, watermarks) is in the ledger's `report_*` tables (`etl.ledger.tables`).
"""

from etl.reports.build import ReportSummary, build_reports

__all__ = ["ReportSummary", "build_reports"]
