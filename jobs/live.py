"""`cdr1c live`: the AMI client, line status, smart routing, screen pop and the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import date
from typing import Any

from aiohttp import web

from etl.ami.client import AmiClient
from etl.ami.operations import Operations
from etl.ami.routing import ManagerDirectory, SmartRouter, TomlManagerDirectory
from etl.ami.screenpop import ScreenPop
from etl.ami.states import ExtensionStates
from etl.api.access import Access, TokenFile
from etl.api.app import LiveContext, create_app
from etl.api.feed import PanelData, PanelFeed
from etl.api.health import sync_off
from etl.api.hub import EventHub
from etl.api.jobs import BackfillJobs
from etl.api.wiring import wire
from etl.config import Settings
from etl.errors import ConfigError, ExitCode
from etl.ledger.store import Ledger
from etl.phones import PhoneNormaliser

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 2.0  # seconds an unfinished HTTP request may take once stopping has begun


def run(settings: Settings) -> ExitCode:
    """Run until SIGINT/SIGTERM; the exit code is OK after a clean stop."""
    if settings.ami is None:
        raise ConfigError("the live component needs an [ami] section", "ami")
    if settings.api is None:
        raise ConfigError("the live component needs an [api] section with a token", "api")
    asyncio.run(_serve(settings))
    return ExitCode.OK


def _backfill_runner(settings: Settings) -> Any:
    def run_backfill(since: date, until: date) -> int:
        from jobs import backfill  # type: ignore[attr-defined]  # the lead's job; imported when used

        return int(backfill.run(settings, since=since, until=until, dry_run=False, push=True, only=()))

    return run_backfill


def _panel_data(settings: Settings, normaliser: PhoneNormaliser, directory: ManagerDirectory) -> PanelData:
    """The cards read the ledger (1C clients from the last sync, the calls); the queue list's
    clients come from the same directory smart routing uses."""
    from etl.api.cards import CardSource

    catalog = settings.onec.client_catalog if settings.onec else "Catalog_Контрагенты"
    link_base = settings.reports.onec_link_base if settings.reports else ""
    lang = settings.reports.lang if settings.reports else "ru"
    cards = CardSource(Ledger.open(settings.state.url), normaliser, catalog, link_base)
    return PanelData(cards=cards, directory=directory, lang=lang)


async def _serve(settings: Settings) -> None:
    ami, api = settings.ami, settings.api
    assert ami is not None and api is not None
    region = next(iter(settings.sources.values())).region if settings.sources else "RU"
    normaliser = PhoneNormaliser(region, ami.extension_pattern)
    client = AmiClient(
        ami.host,
        ami.port,
        ami.user,
        ami.secret,
        auth=ami.auth,
        ping_interval=ami.ping_interval,
        ping_timeout=ami.ping_timeout,
    )
    states = ExtensionStates(ami.channel, ami.hint_context)
    directory: ManagerDirectory = TomlManagerDirectory(ami.managers, normaliser)
    if settings.onec is not None:  # 1C's clients and managers, as the last sync read them
        from etl.ami.directory import LedgerManagerDirectory

        directory = LedgerManagerDirectory(Ledger.open(settings.state.url), normaliser, fallback=directory)
    hub = EventHub()
    panel = _panel_data(settings, normaliser, directory)
    feed = PanelFeed(hub, states, panel)
    pop = ScreenPop(ami.channel, normaliser, directory)
    ops = Operations(
        client, ami, calls=pop.calls, region=region
    )  # intercept: the caller's leg from the events
    router = SmartRouter(
        ops,
        states,
        directory,
        normaliser,
        ivr_context=ami.ivr_context,
        ring_timeout=ami.routing_ring_timeout,
        dry_run=ami.routing_dry_run,
    )

    syncer = _live_sync(settings)  # None unless [ami] sync_on names a path

    wire(client, states=states, feed=feed, pop=pop, router=router, syncer=syncer)

    def ami_status() -> dict[str, Any]:
        return {
            "connected": client.connected,
            "host": f"{ami.host}:{ami.port}",
            "banner": client.banner,
            "connects": client.connects,
            "last_error": client.last_error,
        }

    jobs = BackfillJobs(_backfill_runner(settings))
    app = create_app(
        LiveContext(
            token=api.token,
            ops=ops,
            states=states,
            hub=hub,
            ami_status=ami_status,
            jobs=jobs,
            originate_rate=api.originate_rate,
            access=Access(api.token, TokenFile(api.tokens_file) if api.tokens_file else None),
            panel=panel,
            sync_status=syncer.status if syncer is not None else sync_off,
        )
    )
    # On stop the app ends its event streams itself (etl/api/app.py); a request still waiting for
    # Asterisk gets SHUTDOWN_GRACE seconds, so SIGTERM always ends the process within 5 s.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, api.host, api.port)
    await site.start()
    log.info("live API on http://%s:%d, AMI %s:%d", api.host, api.port, ami.host, ami.port)
    log.info("panel on http://%s:%d/panel", api.host, api.port)
    if syncer is not None:
        await syncer.start()
    await client.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping live component")
        await client.stop()
        if syncer is not None:
            await syncer.stop()
        await runner.cleanup()
        jobs.shutdown()


def _live_sync(settings: Settings) -> Any:
    """The event-driven sync of `[ami] sync_on` (jobs/live_sync.py), or None when it is off."""
    ami = settings.ami
    if ami is None or ami.sync_on == "off" or not settings.sources:
        return None
    from etl.live_sync import Debouncer
    from jobs.live_sync import LiveSync

    source = ami.sync_source or next(iter(settings.sources))
    debouncer = Debouncer(
        quiet=ami.sync_debounce, max_wait=ami.sync_max_wait, retry=ami.sync_retry, give_up=ami.sync_give_up
    )
    log.info("a finished call (%s) syncs source %s", ami.sync_on, source)
    return LiveSync(settings, source, ami.sync_on, debouncer)
