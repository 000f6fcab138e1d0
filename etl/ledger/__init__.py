"""The ledger (local state store): every table, the engine and `Ledger`, the SQL helpers.

    tables.py   every table on one `metadata`; imports only SQLAlchemy and `etl.cdr_columns`
    sql.py      upsert, insert_ignore, bulk_write, select_in, frame_rows, chunked
    store.py    make_engine, Ledger (open, probe, create the schema, cursors, runs, counts)

Nothing here imports a stage: the stages import their tables from `etl.ledger.tables`, so a
pure transform may read a table's columns without loading the engine code.
"""
