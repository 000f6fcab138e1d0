"""Every table of the ledger, imported so that `metadata` knows them all.

Stage modules define their tables on `etl.store.metadata`; list each module here once.
"""

from etl import store
from etl.onec import outbox, readers, reconcile  # noqa: F401
from etl.recordings import tables as recordings_tables  # noqa: F401
from etl.reports import state as reports_state  # noqa: F401

metadata = store.metadata
