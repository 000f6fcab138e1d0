"""The whole live stack on loopback against an `AmiDouble`, for API tests and benchmarks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .double import AmiDouble
from .wire import WAIT

TOKEN = "t0ken-for-tests-0123456789"


class LiveStack:
    """Double + AMI client + operations + states + hub + HTTP API, all on 127.0.0.1:0."""

    def __init__(
        self,
        *,
        managers: dict[str, str] | None = None,
        rate: str = "1000/s",
        backfill: object = None,
        ivr_context: str = "ivr",
        dry_run: bool = False,
        call_ids: Callable[[], str] | None = None,
        access: Any = None,
        panel: Any = None,
        **settings: Any,
    ) -> None:
        from etl.config import AmiSettings

        self.double = AmiDouble()
        self.settings = AmiSettings(
            host="127.0.0.1",
            port=0,
            user="cdr1c",
            secret="s3cret-ami-secret",
            context="from-internal",
            ivr_context=ivr_context,
            intercept_context="from-internal-xfer",
            routing_context="cdr1c-route",
            managers=managers or {},
            routing_dry_run=dry_run,
            hint_context="ext-local",
        )
        self.settings = dataclasses.replace(self.settings, **settings)
        self.call_ids = call_ids
        self.rate = rate
        self.backfill = backfill
        self.url = ""
        self.access = access  # etl.api.access.Access (None: only TOKEN, the administrator's)
        self.panel = panel  # etl.api.feed.PanelData (None: a bare one)

    async def __aenter__(self) -> LiveStack:
        from aiohttp import web

        from etl.ami.client import AmiClient, Backoff
        from etl.ami.operations import Operations
        from etl.ami.routing import SmartRouter, TomlManagerDirectory
        from etl.ami.screenpop import ScreenPop
        from etl.ami.states import ExtensionStates
        from etl.api.app import LiveContext, create_app
        from etl.api.feed import PanelData, PanelFeed
        from etl.api.hub import EventHub
        from etl.api.jobs import BackfillJobs
        from etl.api.wiring import wire
        from etl.phones import PhoneNormaliser

        await self.double.start()
        self.settings = dataclasses.replace(self.settings, port=self.double.port)
        s = self.settings
        self.client = AmiClient(s.host, s.port, s.user, s.secret, backoff=Backoff(0.02, 0.05))
        self.normaliser = PhoneNormaliser("RU", s.extension_pattern)
        self.states = ExtensionStates(s.channel, s.hint_context)
        self.directory = TomlManagerDirectory(s.managers, self.normaliser)
        self.hub = EventHub()
        self.panel = self.panel or PanelData(directory=self.directory)
        self.feed = PanelFeed(self.hub, self.states, self.panel)
        self.pop = ScreenPop(s.channel, self.normaliser, self.directory)
        if self.call_ids is None:
            self.ops = Operations(self.client, s, calls=self.pop.calls)
        else:
            self.ops = Operations(self.client, s, self.call_ids, calls=self.pop.calls)
        self.router = SmartRouter(
            self.ops,
            self.states,
            self.directory,
            self.normaliser,
            ivr_context=s.ivr_context,
            ring_timeout=s.routing_ring_timeout,
            dry_run=s.routing_dry_run,
        )

        wire(self.client, states=self.states, feed=self.feed, pop=self.pop, router=self.router)
        await self.client.start()
        await self.client.wait_connected(WAIT)
        self.jobs = BackfillJobs(self.backfill) if self.backfill else None  # type: ignore[arg-type]

        def status() -> dict[str, object]:
            return {"connected": self.client.connected, "connects": self.client.connects}

        app = create_app(
            LiveContext(
                token=TOKEN,
                ops=self.ops,
                states=self.states,
                hub=self.hub,
                ami_status=status,
                jobs=self.jobs,
                originate_rate=self.rate,
                sse_keepalive=0.2,
                access=self.access,
                panel=self.panel,
            )
        )
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.stop()
        await self.runner.cleanup()
        await self.double.stop()
        if self.jobs:
            self.jobs.shutdown()
