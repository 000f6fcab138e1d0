"""The Jinja2 environment (autoescape on for every template), inlined CSS/JS, atomic writes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from etl.data_files import data_folder

from .i18n import Locale

TEMPLATES = data_folder("reports") / "templates"
STATIC = data_folder("reports") / "static"
MAX_TEXT = 300  # characters of a foreign string shown in a cell; the rest is in the tooltip


def clip(value: Any, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_id(value: Any, keep: int = 8) -> str:
    """A long id (a GUID) cut to its first `keep` characters and `…`; the page puts the whole
    value in the tooltip."""
    text = "" if value is None else str(value)
    return text if len(text) <= keep + 4 else text[:keep] + "…"


def template_version() -> str:
    """Changes when any template or static file changes (then every page is rendered again)."""
    h = hashlib.blake2b(digest_size=12)
    for folder in (TEMPLATES, STATIC):
        for p in sorted(folder.iterdir()):
            if p.is_file():
                h.update(p.name.encode())
                h.update(p.read_bytes())
    return h.hexdigest()


_RENDERERS: dict[tuple[str, str], Renderer] = {}


def renderer_for(locale: Locale) -> Renderer:
    """A `Renderer` for this language and the template set as it is on disk now, reused
    within the process: compiling the templates was ~0.035 s of every run (a second run in the
    same process, the live component or the benchmark's incremental run, skips it). Keyed by
    the files' hash, so an edited template is compiled again."""
    key = (locale.lang, template_version())
    r = _RENDERERS.get(key)
    if r is None:
        _RENDERERS.clear()
        r = _RENDERERS[key] = Renderer(locale, key[1])
    return r


class Renderer:
    """Renders pages for one language; knows the template set's own version hash."""

    def __init__(self, locale: Locale, version: str | None = None) -> None:
        self.locale = locale
        self.version = version or template_version()
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=True,  # every template, whatever its file name
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["clip"] = clip
        self.env.filters["short_id"] = short_id
        self.env.globals.update(
            t=locale.labels,
            loc=locale,
            lang=locale.lang,
            css=Markup(self._static("report.css")),
            script=Markup(self._static("report.js")),
            csp=Markup(self.csp),
        )
        self._templates: dict[str, Any] = {}

    @staticmethod
    def _static(name: str) -> str:
        return (STATIC / name).read_text(encoding="utf-8")

    @cached_property
    def csp(self) -> str:
        """Only our own inline script (by hash) may run; no network, no plugins, no forms."""
        js = self._static("report.js")
        digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode()
        return (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{digest}'; media-src * file: data: blob:; "
            "base-uri 'none'; form-action 'none'; object-src 'none'"
        )

    def render(self, template: str, **context: Any) -> str:
        tpl = self._templates.get(template)
        if tpl is None:
            tpl = self._templates[template] = self.env.get_template(template)
        return str(tpl.render(**context))


def escape_text(value: Any) -> str:
    """`markupsafe.escape` for plain values (never Markup), as a str: the same five entities,
    without a Markup object per cell (~1 µs each; a page of calls has thousands of cells)."""
    return (
        str(value)
        .replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def call_rows_html(rows: list[tuple[Any, ...]], loc: Locale) -> Markup:
    """The calls table body. Built here rather than in the template because Jinja's per-cell
    machinery cost ~90 µs a row (a million-call report spent most of its time there); every
    value still goes through `escape`, exactly as autoescape would, and hrefs come only from
    `links`, which builds them from checked parts."""
    if not rows:
        return Markup(f'<tr><td colspan="10">{escape(loc["none"])}</td></tr>')
    esc = escape_text  # every value here is plain text (links builds the hrefs as str)
    labels = {k: str(esc(loc.direction(k))) for k in ("inbound", "outbound", "internal")}
    outcomes = {k: str(esc(loc.outcome(k))) for k in ("answered", "missed")}
    no_audio, open_1c = str(esc(loc["no_audio"])), str(esc(loc["open_1c"]))
    dur = loc.duration
    out = []
    for when, direction, number, employee, wait, talk, outcome, audio, event, event_no, linkedid in rows:
        d = labels.get(direction) or str(esc(direction))
        o = outcomes.get(outcome) or str(esc(outcome))
        a = f'<audio controls preload="none" src="{esc(audio)}">{no_audio}</audio>' if audio else ""
        e = (
            f'<a class="e1c nowrap" href="{esc(event)}" title="{open_1c}">'
            f"{esc(clip(event_no, 40)) or open_1c}</a>"
            if event
            else ""
        )
        out.append(
            f'<tr class="{esc(outcome)}"><td class="nowrap">{esc(when)}</td><td>{d}</td>'
            f'<td class="nowrap">{esc(number)}</td>'
            f'<td><bdi>{esc(clip(employee))}</bdi></td><td class="n">{dur(wait)}</td>'
            f'<td class="n">{dur(talk)}</td><td class="nowrap">{o}</td><td>{a}</td><td>{e}</td>'
            f'<td class="id nowrap">{esc(clip(linkedid, 150))}</td></tr>\n'
        )
    return Markup("".join(out))


def index_row_html(p: dict[str, Any], loc: Locale, when: Callable[[int | None], str]) -> str:
    """One row of the index's clients table, as the template wrote it (same reasons and the same
    escaping as `call_rows_html`)."""
    esc = escape
    fig, phones, name = p["fig"], p["phones"], p["name"]
    first = phones[0] if phones else ""
    shown = (name or first) if phones else name
    open_ = sum(c[1] for c in p["cb"])
    integer = loc.integer
    return (
        f'<tr data-last="{fig["last_us"] or 0}" data-missed="{esc(fig["missed"])}" '
        f'data-name="{esc(clip(name or first or "", 200).lower())}">\n'
        f'<td><a href="clients/{esc(p["file"])}.html"><bdi>{esc(clip(shown))}</bdi></a></td>\n'
        f'<td class="phones">{esc(" ".join(phones))}</td>\n'
        f"<td><bdi>{esc(clip(p['manager']))}</bdi></td>\n"
        f'<td class="n">{esc(integer(fig["calls_in"]))}</td>'
        f'<td class="n">{esc(integer(fig["calls_out"]))}</td>\n'
        f'<td class="n">{esc(integer(fig["missed"]))}</td><td class="n{" bad" if open_ else ""}">'
        f"{esc(integer(open_))}</td>\n"
        f'<td class="n">{esc(loc.duration(fig["talk"]))}</td>'
        f'<td class="nowrap">{esc(when(fig["last_us"]))}</td>\n'
        "</tr>\n"
    )


def callback_row_html(
    p: dict[str, Any], number: str, count: int, last_us: int, loc: Locale, when: Callable[[int | None], str]
) -> str:
    """One row of a manager's missed-and-not-called-back table."""
    esc = escape
    return (
        f'<tr data-number="{esc(number)}"><td><a href="clients/{esc(p["file"])}.html"><bdi>'
        f'{esc(clip(p["name"] or number))}</bdi></a></td><td class="nowrap">{esc(number)}</td>'
        f'<td class="n">{esc(loc.integer(count))}</td><td class="nowrap">{esc(when(last_us))}</td></tr>\n'
    )


def unknown_row_html(p: dict[str, Any], loc: Locale, when: Callable[[int | None], str]) -> str:
    """One row of the unknown-numbers table."""
    esc = escape
    return (
        f'<tr><td class="nowrap"><a href="clients/{esc(p["file"])}.html">{esc(p["phones"][0])}</a></td>'
        f"<td><bdi>{esc(clip(p['name']))}</bdi></td>"
        f'<td class="n">{esc(loc.integer(p["fig"]["total"]))}</td>'
        f'<td class="n">{esc(loc.integer(p["fig"]["missed"]))}</td>'
        f'<td class="nowrap">{esc(when(p["fig"]["last_us"]))}</td></tr>\n'
    )


def none_row_html(loc: Locale, columns: int) -> str:
    return f'<tr><td colspan="{columns}">{escape(loc["none"])}</td></tr>\n'


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_spliced(path: Path, page: str, pieces: dict[str, list[str]]) -> None:
    """Writes `page` with each marker in `pieces` replaced by that list of pieces, joined: the
    index's ~15 MB of stored rows go to the file without passing through the template (Markup
    and Jinja's own concatenation were two more copies of them, ~0.03 s a run)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        rest = page
        for marker, parts in pieces.items():
            head, sep, tail = rest.partition(marker)
            if not sep:  # a section the page does not show
                continue
            rest = tail
            f.write(head.encode("utf-8"))
            f.write("".join(parts).encode("utf-8"))
        f.write(rest.encode("utf-8"))
    tmp.replace(path)


def data_hash(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
