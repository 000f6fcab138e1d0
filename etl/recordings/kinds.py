"""The kinds of integrity problems of recordings (`recording_problems.kind`, etl/ledger/tables.py):
`scan` owns the kinds it finds on disk, `link` the ones it finds in CDR."""

SCAN_KINDS = ("empty", "unreadable", "refused", "odd_name")
LINK_KINDS = ("missing", "orphan", "duration_mismatch", "refused")
PROBLEM_KINDS = (
    "missing",
    "orphan",
    "empty",
    "unreadable",
    "duration_mismatch",
    "refused",
    "odd_name",
)
