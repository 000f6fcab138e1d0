"""The reports in a real headless Chromium, opened from file://: no console errors, audio
elements pointing at files that exist, the search box, a screenshot that is not blank, and a
corpus of hostile names that must show literally without running anything."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import update

from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, quarantine
from tests.browser import Browser, variance
from tests.reports_support import add_directory, build_pbx, numbers_by_calls, render

pytestmark = pytest.mark.chromium

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=2">',
    "' onmouseover='window.__pwned=3' x='",
    "javascript:window.__pwned=4",
    "</textarea><script>window.__pwned=5</script>",
    "\u202eRTL override \u202d‮ ООО «Ромашка»",
    "<svg/onload=window.__pwned=6>",
    "{{ 7*7 }} {% raw %}",
    "A" * 10_000,
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Ledger]:
    tmp = tmp_path_factory.mktemp("site")
    settings, ledger = build_pbx(tmp, f"sqlite:///{tmp / 'l.sqlite'}", calls_n=300, seed=9)
    numbers = numbers_by_calls(ledger)
    owned = add_directory(ledger, numbers[: len(HOSTILE) + 4], names=HOSTILE)
    # hostile caller-ID names on the unknown numbers, and a hostile quarantined row
    with ledger.begin() as conn:
        conn.execute(update(cdr_rows).values(cnam=HOSTILE[1]))
        conn.execute(
            quarantine.insert().values(
                source="default",
                row_key="k1",
                reason=HOSTILE[0],
                raw=HOSTILE[4],
                first_seen=__import__("datetime").datetime.now(__import__("datetime").UTC),
            )
        )
    summary = render(settings, ledger)
    return (
        Path(summary.out_dir),
        {ref: HOSTILE[i] if i < len(HOSTILE) else "" for i, ref in enumerate(owned)},
        ledger,
    )


def pages(out: Path) -> list[Path]:
    return [
        out / "index.html",
        out / "reconciliation.html",
        out / "quality.html",
        *sorted((out / "clients").glob("*.html"))[:6],
    ]


def test_pages_open_without_console_errors(
    browser: Browser, site: tuple[Path, dict[str, str], Ledger]
) -> None:
    out, _, _ = site
    for p in pages(out):
        page = browser.open(p.as_uri())
        assert page.errors == [], (p.name, page.errors)
        assert page.eval("document.querySelectorAll('main').length") == 1
        assert page.eval("document.styleSheets.length") >= 1


def test_audio_elements_point_to_files_that_exist(
    browser: Browser, site: tuple[Path, dict[str, str], Ledger]
) -> None:
    out, _, _ = site
    checked = 0
    for p in sorted((out / "clients").glob("*.html")):
        if "<audio" not in p.read_text(encoding="utf-8"):
            continue
        page = browser.open(p.as_uri())
        srcs = page.eval("[...document.querySelectorAll('audio')].map(a => a.src)")
        assert srcs
        for src in srcs:
            parts = urlsplit(src)
            assert parts.scheme == "file"
            assert Path(unquote(parts.path)).is_file(), src
        # and the browser can actually load the first one
        duration = page.eval(
            "new Promise(r => { const a = document.querySelector('audio'); a.preload = 'metadata';"
            " a.onloadedmetadata = () => r(a.duration); a.onerror = () => r(-1); a.load(); })"
        )
        assert duration and duration > 0
        checked += len(srcs)
        if checked > 20:
            break
    assert checked > 0


def test_search_box_filters_and_sort_buttons_work(
    browser: Browser, site: tuple[Path, dict[str, str], Ledger]
) -> None:
    out, _, _ = site
    page = browser.open((out / "index.html").as_uri())
    total = page.eval("document.querySelectorAll('#clients tbody tr').length")
    assert total > 5
    visible = "[...document.querySelectorAll('#clients tbody tr')].filter(r => !r.hidden).length"
    number = page.eval("document.querySelector('#clients tbody tr td.phones').textContent.split(' ')[0]")
    page.eval(
        f"(() => {{ const i = document.getElementById('filter'); i.value = {number!r};"
        " i.dispatchEvent(new Event('input')); })()"
    )
    assert page.eval(visible) == 1
    page.eval(
        "(() => { const i = document.getElementById('filter'); i.value = 'no such thing zz';"
        " i.dispatchEvent(new Event('input')); })()"
    )
    assert page.eval(visible) == 0
    page.eval(
        "(() => { const i = document.getElementById('filter'); i.value = '';"
        " i.dispatchEvent(new Event('input')); })()"
    )
    assert page.eval(visible) == total
    page.eval("document.querySelector('button[data-sort=missed]').click()")
    missed = page.eval(
        "[...document.querySelectorAll('#clients tbody tr')].map(r => Number(r.dataset.missed))"
    )
    assert missed == sorted(missed, reverse=True) and missed[0] > 0
    page.eval("document.querySelector('button[data-sort=last]').click()")
    last = page.eval("[...document.querySelectorAll('#clients tbody tr')].map(r => Number(r.dataset.last))")
    assert last == sorted(last, reverse=True)


def test_screenshot_is_not_blank(browser: Browser, site: tuple[Path, dict[str, str], Ledger]) -> None:
    out, owned, _ = site
    client = out / "clients" / f"{list(owned)[-1]}.html"
    for p in (out / "index.html", client):
        page = browser.open(p.as_uri())
        assert variance(page.screenshot()) > 100, p.name
    blank = browser.open("about:blank")
    assert variance(blank.screenshot()) < 1  # the measure itself tells blank from not


def test_hostile_names_show_literally_and_run_nothing(
    browser: Browser, site: tuple[Path, dict[str, str], Ledger]
) -> None:
    out, owned, _ = site
    for ref, name in owned.items():
        if not name:
            continue
        page = browser.open((out / "clients" / f"{ref}.html").as_uri())
        assert page.eval("window.__pwned === undefined && window.__alerts === 0")
        assert page.dialogs == []
        shown = page.eval("document.getElementById('party-name').textContent")
        if len(name) <= 1000:
            assert shown == name
        else:
            assert shown == name[:999] + "…"
        assert (
            page.eval(
                "document.querySelectorAll('main script, main img, main iframe, [onerror], [onload]').length"
            )
            == 0
        )
        hrefs = page.eval("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h.lower().lstrip().startswith(("javascript:", "data:"))]
    for name in ("index.html", "quality.html"):
        page = browser.open((out / name).as_uri())
        assert page.eval("window.__pwned === undefined && window.__alerts === 0"), name
        assert page.errors == []
    index = browser.open((out / "index.html").as_uri())
    text = index.eval("document.body.textContent")
    assert HOSTILE[0] in text and HOSTILE[1] in text and HOSTILE[4] in text
    quality = browser.open((out / "quality.html").as_uri())
    assert HOSTILE[4] in quality.eval("document.getElementById('quarantine').textContent")


def test_a_run_after_a_change_still_opens(
    browser: Browser, site: tuple[Path, dict[str, str], Ledger], tmp_path: Path
) -> None:
    out, _, _ledger = site
    page = browser.open((out / "reconciliation.html").as_uri())
    assert page.errors == [] and "Сверка" in page.eval("document.title + document.body.textContent")


def test_a_console_error_after_the_load_event_is_caught(browser: Browser, tmp_path: Path) -> None:
    """However long the page is busy after `load` (a slow machine), its errors are collected."""
    late = tmp_path / "late.html"
    late.write_text(
        "<script>addEventListener('load', () => setTimeout(() => {"
        " const t = Date.now(); while (Date.now() - t < 500) {} console.error('late'); }, 0));"
        "</script>"
    )
    assert browser.open(late.as_uri()).errors == ['[{"type": "string", "value": "late"}]']
