"""The rows a file read by the scan gives the ledger (pure: the scan passes the time)."""

from __future__ import annotations

import os
import re
from typing import Any

from etl.recordings import names
from etl.recordings.media import Media
from etl.recordings.problems import problem


def file_row(
    pid: str,
    dir_hash: str,
    relp: bytes,
    st: os.stat_result,
    media: Media,
    patterns: list[re.Pattern[str]],
    tag: str,
    seen: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `recordings` row of one file read in this scan, and its problems (an empty or
    unreadable file, a name that is not UTF-8), stamped `seen`."""
    shown, raw = names.display_path(relp)
    name = shown.rsplit("/", 1)[-1]
    stem = names.split_name(name)[0]
    row = {
        "path_id": pid,
        "relpath": shown,
        "relpath_b64": raw,
        "dir_hash": dir_hash,
        "name": name[:255],
        "stem": stem[:255],
        "uniqueid": names.uniqueid_from_name(name, patterns),
        "pattern_tag": tag,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "recorded_us": names.time_from_name(name) or st.st_mtime_ns // 1000,
        "state": media.state,
        "format": media.format,
        "codec": media.codec,
        "sample_rate": media.sample_rate,
        "channels": media.channels,
        "bitrate": media.bitrate,
        "duration": media.duration,
        "error": media.error,
        "scanned_us": seen,
    }
    problems = []
    if media.state in ("empty", "unreadable"):
        kind = media.state
        problems.append(
            problem(
                kind,
                "scan",
                shown,
                media.error or kind,
                path_id=pid,
                dir_hash=dir_hash,
                seen_us=seen,
            )
        )
    if raw is not None:
        problems.append(
            problem(
                "odd_name",
                "scan",
                shown,
                f"file name is not valid UTF-8; kept byte for byte, shown as {shown!r}; "
                "no CDR name can match it",
                path_id=pid,
                dir_hash=dir_hash,
                seen_us=seen,
            )
        )
    return row, problems
