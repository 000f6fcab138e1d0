"""What the pages of one report run share: the options, the summary, a party's stored index
row, file names, and the `Context` every page builder extends (output folders, times as the
reader sees them, page hashes for skipping unchanged pages)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from etl.config import OnecSettings, RecordingsSettings, ReportsSettings
from etl.days import day_bounds_us
from etl.errors import ConfigError
from etl.ledger.store import Ledger

from .i18n import Locale
from .links import GUID_RE, RecordingLinker
from .render import renderer_for

MARGIN_US = 120_000_000  # re-read changes stamped up to 2 minutes before the last mark
ROWS_FORMAT = "rows-5"  # of `report_rows`: a new one makes a full run (in the fingerprint)
MAX_ROWS = 5000  # rows shown on the reconciliation and quality pages (exports say the total)


@dataclass
class ReportSummary:
    out_dir: str
    mode: str
    parties: int = 0
    calls: int = 0
    pages_rendered: int = 0
    pages_unchanged: int = 0
    callbacks: int = 0
    seconds: float = 0.0
    pages: list[str] = field(default_factory=list)
    entry: str = ""  # the page to open (index, or the client's page), relative to out_dir


@dataclass(slots=True)
class IndexRow:
    """A party as the index needs it (`report_rows`): sort keys and its rendered pieces."""

    id: str
    kind: str
    fp: str
    phones: str
    manager: str
    last_us: int | None
    total: int
    hash: str
    html: str
    csv: str
    xlsx: str
    unknown: list[str] | None  # [html, csv line, xlsx cells] of an unknown number
    callbacks: list[list[Any]]  # [last_us, number, html, csv line, xlsx cells]


ROW_COLUMNS = [
    "target",
    "party_id",
    "kind",
    "fp",
    "phones",
    "manager",
    "last_us",
    "total",
    "row_hash",
    "row_html",
    "row_csv",
    "row_xlsx",
    "unknown_html",
    "unknown_csv",
    "unknown_xlsx",
    "cb_keys",
    "cb_html",
    "cb_csv",
    "cb_xlsx",
    "updated_us",
]


@dataclass
class Options:
    out_dir: Path
    zone: ZoneInfo
    lang: str
    callback_hours: float
    since_us: int | None
    until_us: int | None
    period: str
    event_document: str
    onec_link_base: str
    client_xlsx: bool
    rec_root: Path | None
    url_base: str
    since: date | None = None  # the overview's period (`--since/--until` as given)
    until: date | None = None
    sl_seconds: int = 20  # the overview's service level threshold

    @classmethod
    def of(
        cls,
        rs: ReportsSettings,
        onec: OnecSettings | None,
        recordings: RecordingsSettings | None,
        out_dir: Path | None,
        since: date | None,
        until: date | None,
    ) -> Options:
        zone = ZoneInfo(rs.timezone)
        folder = out_dir or rs.dir
        lo = hi = None
        if since or until:
            lo_d = since or date(1970, 1, 2)
            hi_d = until or date(9998, 12, 30)
            if lo_d > hi_d:
                raise ConfigError("--since is after --until", "--since")
            lo, hi = day_bounds_us(lo_d, hi_d, zone)
            lo = lo if since else None
            hi = hi if until else None
        return cls(
            out_dir=folder.resolve(),
            zone=zone,
            lang=rs.lang,
            callback_hours=rs.callback_hours,
            since_us=lo,
            until_us=hi,
            period=f"{since.isoformat() if since else '…'} — {until.isoformat() if until else '…'}"
            if since or until
            else "",
            event_document=onec.event_document if onec else "Document_Событие",
            onec_link_base=rs.onec_link_base,
            client_xlsx=rs.client_xlsx,
            rec_root=recordings.root if recordings else None,
            url_base=recordings.url_base if recordings else "",
            since=since,
            until=until,
            sl_seconds=rs.service_level_seconds,
        )

    def fingerprint(self, template_version: str) -> str:
        parts = [
            template_version,
            str(self.zone),
            self.lang,
            self.callback_hours,
            self.since_us,
            self.until_us,
            self.event_document,
            self.onec_link_base,
            self.client_xlsx,
            str(self.rec_root),
            self.url_base,
        ]
        return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def party_file(party_id: str) -> str:
    """A safe file name for a party: GUIDs and digit strings as they are, anything else hashed."""
    if GUID_RE.match(party_id) or (party_id[:1] == "n" and party_id[1:].isdigit()):
        return party_id.lower()
    return "x" + hashlib.sha1(party_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class Context:
    """A run's state the page builders share; `build.Builder` composes the pages on it."""

    def __init__(self, ledger: Ledger, opts: Options) -> None:
        self.ledger = ledger
        self.opts = opts
        self.loc = Locale(opts.lang)
        self.renderer = renderer_for(self.loc)
        self.target = hashlib.sha1(str(opts.out_dir).encode()).hexdigest()
        self.pages_dir = opts.out_dir / "clients"
        self.data_dir = opts.out_dir / "data"
        self.recs = RecordingLinker(opts.rec_root, opts.url_base, self.pages_dir, opts.out_dir)
        self.summary = ReportSummary(str(opts.out_dir), "full")
        self.old_hashes: dict[str, str] = {}
        self.new_hashes: dict[str, str] = {}
        self._whens: dict[int, str] = {}
        self._stored: dict[str, IndexRow] = {}
        self._gc_was_enabled = True
        self._folders_made = False
        self._all_calls: Any = None  # a full run's calls frame, kept for the overview

    # --- shared by the pages ------------------------------------------------------------
    def _folders(self) -> None:
        """The output folders, made when the first file is about to be written (a run that
        writes nothing leaves nothing behind)."""
        if not self._folders_made:
            for d in (self.opts.out_dir, self.pages_dir, self.data_dir):
                d.mkdir(parents=True, exist_ok=True)
            self._folders_made = True

    def _when(self, us: int | None) -> str:
        if us is None:
            return ""
        text = self._whens.get(us)
        if text is None:
            t = datetime.fromtimestamp(int(us) / 1_000_000, self.opts.zone)
            text = self._whens[us] = self.loc.when(t.isoformat())
        return text

    def _unchanged(self, page: str, h: str) -> bool:
        self.new_hashes[page] = h
        if self.old_hashes.get(page) == h and (self.opts.out_dir / page).exists():
            self.summary.pages_unchanged += 1
            return True
        return False

    def _rendered(self, page: str) -> None:
        self.summary.pages_rendered += 1
        self.summary.pages.append(page)
