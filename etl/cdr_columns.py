"""The CDR column lists: FreePBX's `cdr` columns and how the project groups them.

Shared by the transforms (`etl.normalise`), the sources, the sample history and the ledger's
`cdr_rows` table; it imports nothing, so none of them has to import another for a name.
"""

# FreePBX's `cdr` columns in FreePBX's order (docs/reference/asterisk.md §1.2; FPBX-cdr functions.inc.php).
FREEPBX_COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "did",
    "recordingfile",
    "cnum",
    "cnam",
    "outbound_cnum",
    "outbound_cnam",
    "dst_cnam",
    "linkedid",
    "peeraccount",
    "sequence",
)
CDR_INT_COLUMNS = ("duration", "billsec", "sequence")
# The text columns, in the same order (the order of the content hash and of the ledger table).
CDR_TEXT_COLUMNS = tuple(c for c in FREEPBX_COLUMNS if c not in ("calldate", *CDR_INT_COLUMNS))
DERIVED_COLUMNS = ("direction", "external_number", "extension")
