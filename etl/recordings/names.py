"""Pure rules about recording names: what a file is called, what a CDR field points at.

Nothing here touches the disk. `cdr_reference` is the one gate every name taken from a CDR
field passes through: it returns a root-relative reference or a refusal with its reason, and
no value — `..`, an absolute path elsewhere, a NUL byte — can produce a reference that leaves
the root (tests/test_recordings_names.py checks that with hypothesis).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# Extensions (lower-cased) of files Asterisk or a MIXMON_POST script writes. `.WAV` (upper
# case) is GSM-in-WAV; `wav49` is its name in MIXMON_FORMAT, never on disk.
AUDIO_EXTENSIONS = frozenset(
    {"wav", "wav49", "gsm", "mp3", "ogg", "oga", "opus", "flac", "raw"}
    | {"sln", "sln16", "sln48", "ulaw", "alaw", "ul", "al", "ulw", "alw", "g722", "g729"}
)

# FreePBX: <type>-<dest>-<from>-<YYYYMMDD>-<HHMMSS>-<UNIQUEID>.<ext>; the uniqueid may itself
# contain '-' or ';' (a preset ChannelId such as `c1c-0001;2`), so it runs to the extension.
FREEPBX_NAME = re.compile(r"-(?P<date>\d{8})-(?P<time>\d{6})-(?P<uniqueid>.+)\.[A-Za-z0-9]+$")
# A bare Asterisk uniqueid (`[system-]<epoch>.<counter>`) anywhere in another naming scheme.
BARE_UNIQUEID = re.compile(r"(?<![\d.])(?P<uniqueid>1\d{9}\.\d+(?:;\d)?)(?![\d])")
_DATE_TIME = re.compile(r"(?:^|[-_])(?P<date>\d{8})-(?P<time>\d{6})(?:[-_.]|$)")


def split_name(name: str) -> tuple[str, str]:
    """`'a-b.c.wav'` → `('a-b.c', 'wav')`; the extension lower-cased, '' when there is none."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, ext.lower()


def is_audio_name(name: str) -> bool:
    return split_name(name)[1] in AUDIO_EXTENSIONS


def on_disk_name(name: str) -> str:
    """MixMonitor writes `x.wav49` as `x.WAV`; FreePBX does the same when it resolves a name."""
    stem, ext = split_name(name)
    return f"{stem}.WAV" if ext == "wav49" else name


def compile_patterns(name_pattern: str) -> list[re.Pattern[str]]:
    """The configured pattern (if any) first, then the FreePBX layout, then a bare uniqueid."""
    out = [re.compile(name_pattern)] if name_pattern else []
    return [*out, FREEPBX_NAME, BARE_UNIQUEID]


def pattern_tag(name_pattern: str) -> str:
    """A short fingerprint of the patterns in use: a changed `name_pattern` re-reads every name."""
    return hashlib.sha1(("v1\0" + name_pattern).encode()).hexdigest()[:12]


def uniqueid_from_name(name: str, patterns: list[re.Pattern[str]]) -> str | None:
    for pattern in patterns:
        m = pattern.search(name)
        if m and m.groupdict().get("uniqueid"):
            return m["uniqueid"][:150]
    return None


def time_from_name(name: str) -> int | None:
    """The `YYYYMMDD-HHMMSS` in a FreePBX name as µs (read as UTC: the PBX zone is unknown
    here; callers allow a day of slack), or None."""
    m = FREEPBX_NAME.search(name) or _DATE_TIME.search(name)
    if not m:
        return None
    try:
        dt = datetime.strptime(m["date"] + m["time"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1_000_000


def date_folder(name: str) -> str | None:
    """FreePBX's folder for a recordingfile: `YYYY/MM/DD` from the name's date, or None.

    FreePBX itself splits on '-' and takes the 4th part, which breaks when a part contains '-';
    we look for the `-YYYYMMDD-HHMMSS-` group instead and check it is a real date.
    """
    m = FREEPBX_NAME.search(name) or _DATE_TIME.search(name)
    if not m:
        return None
    d = m["date"]
    try:
        datetime.strptime(d, "%Y%m%d")
    except ValueError:
        return None
    return f"{d[:4]}/{d[4:6]}/{d[6:8]}"


# --- paths as bytes -------------------------------------------------------------------------


def path_id(relpath: bytes) -> str:
    return hashlib.sha1(relpath).hexdigest()


def display_path(relpath: bytes) -> tuple[str, str | None]:
    """Text to store and show for a relative path, plus its exact bytes (base64) when the name
    is not valid UTF-8. The text shows odd bytes as `\\xNN`; the bytes round-trip exactly."""
    try:
        return relpath.decode("utf-8"), None
    except UnicodeDecodeError:
        shown = relpath.decode("utf-8", "backslashreplace")
        return shown, base64.urlsafe_b64encode(relpath).decode("ascii")


def stored_path_bytes(relpath: str, relpath_b64: str | None) -> bytes:
    """The inverse of `display_path`."""
    if relpath_b64:
        return base64.urlsafe_b64decode(relpath_b64.encode("ascii"))
    return relpath.encode("utf-8")


# --- names from CDR fields ------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Where a CDR field points: a root-relative POSIX path, or a bare name to look up."""

    value: str
    is_path: bool  # True: `value` is a relative path under the root; False: a base name


@dataclass(frozen=True)
class Refusal:
    value: str
    reason: str


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _under(path: str, base: str) -> str | None:
    """`path` relative to `base` when `path` is `base` or inside it (both normalised), else None."""
    base = base.rstrip("/") or "/"
    if base == "/":
        return path.lstrip("/")
    if path == base:
        return ""
    if path.startswith(base + "/"):
        return path[len(base) + 1 :]
    return None


def cdr_reference(value: str, *, root: str, pbx_root: str) -> Reference | Refusal | None:
    """Turn one value of `recordingfile` or `userfield` into a safe reference, or refuse it.

    - empty → None;
    - NUL or control characters, `..` as a path component → refused;
    - an absolute path under `root`, or under `pbx_root` (the folder as the PBX names it, when
      the recordings are mounted elsewhere) → its relative part; any other absolute path →
      refused;
    - a relative path with folders → that path; a bare name → a name to look up.
    """
    v = value.strip()
    if not v:
        return None
    if _CONTROL.search(v):
        return Refusal(value, "control character (NUL, CR, LF…) in a name from the CDR")
    v = v.replace("\\", "/")  # a Windows-style separator is still a separator
    parts = v.split("/")
    if ".." in parts:
        return Refusal(value, "'..' in a name from the CDR: it could leave the recordings root")
    absolute = v.startswith("/")
    if absolute:
        norm = posixpath.normpath(v)
        rel = _under(norm, posixpath.normpath(root))
        if rel is None and pbx_root:
            rel = _under(norm, posixpath.normpath(pbx_root))
        if rel is None:
            return Refusal(value, f"absolute path outside the recordings root {root}")
        v = rel
    v = posixpath.normpath(v) if v else v
    if v in ("", ".") or v.endswith("/"):
        return Refusal(value, "names a folder, not a file")
    v = on_disk_name(v)
    return Reference(v, is_path=absolute or "/" in v)


def field_values(value: str) -> list[str]:
    """The whole value first, then its `;`-separated parts (Asterisk joins both parties'
    userfield with ';'), because a name may itself contain ';' (`…-c1c-0001;2.wav`)."""
    v = value.strip()
    if not v:
        return []
    out = [v]
    if ";" in v:
        out.extend(p.strip() for p in v.split(";") if p.strip() and p.strip() != v)
    return out
