"""Rows of `recording_problems`: one integrity problem, keyed by its kind and what it is about
(pure; the scan and the link both write them)."""

from __future__ import annotations

from typing import Any

from etl.clock import now_us
from etl.recordings import names


def unique_problems(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per problem (the last wins), as an upsert of one statement needs."""
    return list({r["problem_id"]: r for r in rows}.values())


def problem(
    kind: str,
    origin: str,
    subject: str,
    reason: str,
    *,
    source: str | None = None,
    row_id: str | None = None,
    linkedid: str | None = None,
    path_id: str | None = None,
    dir_hash: str | None = None,
    seen_us: int | None = None,
) -> dict[str, Any]:
    """One row of `recording_problems`; its key is the kind plus what it is about."""
    key = "\0".join([kind, source or "", linkedid or "", path_id or "", subject])
    return {
        "problem_id": names.path_id(key.encode("utf-8", "surrogateescape")),
        "kind": kind,
        "origin": origin,
        "source": source,
        "row_id": row_id,
        "linkedid": linkedid,
        "path_id": path_id,
        "dir_hash": dir_hash,
        "subject": subject,
        "reason": reason,
        "seen_us": seen_us if seen_us is not None else now_us(),
    }
