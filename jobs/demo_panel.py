"""`cdr1c demo --panel`: the telephony panel on the demo's sample PBX, until Ctrl-C.

An AMI double (etl/sandbox/ami) stands in for Asterisk: every few seconds one of the demo's 1C
clients calls an employee (ringing, answered, hung up, as Asterisk's events say it), another
waits in the queue for a while, and a colleague talks now and then. The real `cdr1c live` runs
against it with the demo's ledger, so the card shows the client, the manager, the last calls
and the open missed ones from the demo's history. A manager's token is made for the employee the
calls ring (printed: paste it into the panel's sign-in form).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import secrets
from pathlib import Path

import click
from sqlalchemy import select

from etl.api.access import TokenFile
from etl.config import AmiSettings, Settings, load_settings
from etl.config.settings import ApiSettings
from etl.errors import ConfigError, ExitCode
from etl.ledger.store import Ledger
from etl.ledger.tables import client_phones, clients, employees
from etl.sandbox.ami import AmiDouble

LINES = ("101", "102", "103", "104", "105", "106")
RING, TALK, PAUSE = 4.0, 8.0, 4.0  # seconds: a call rings, talks, and the next one comes


def callers(settings: Settings, limit: int = 20) -> list[tuple[str, str, str | None]]:
    """(number, client, manager's extension) of the demo's 1C clients with a phone."""
    ledger = Ledger.open(settings.state.url, create=False)
    try:
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                select(client_phones.c.phone, clients.c.name, employees.c.extension)
                .join(clients, clients.c.ref_key == client_phones.c.client_ref)
                .outerjoin(employees, employees.c.ref_key == clients.c.manager_ref)
                .order_by(client_phones.c.phone)
                .limit(limit)
            ).all()
    finally:
        ledger.close()
    return [(r[0], r[1], r[2]) for r in rows]


def run(out_dir: Path, *, port: int = 8765, extension: str = "101") -> ExitCode:
    config = out_dir.resolve() / "cdr1c.toml"
    if not config.is_file():
        raise ConfigError(f"{config} not found: run `cdr1c demo --dir {out_dir}` first", "--dir")
    settings = load_settings(config)
    people = callers(settings)
    if not people:
        raise ConfigError(
            f"the demo's ledger in {out_dir} has no 1C clients: run `cdr1c demo` again", "--dir"
        )
    asyncio.run(_serve(settings, people, port, extension))
    return ExitCode.OK


async def _serve(settings: Settings, people: list[tuple[str, str, str | None]], port: int, ext: str) -> None:
    from jobs import live

    secret = secrets.token_hex(8)
    double = AmiDouble(users={"cdr1c": secret})
    double.extensions = {e: (0, f"PJSIP/{e}") for e in LINES}
    await double.start()
    assert settings.path is not None
    tokens = TokenFile(settings.path.parent / "cdr1c-tokens.json")
    tokens.revoke(ext)
    _, token = tokens.add(ext, "manager", "demo")
    demo = dataclasses.replace(
        settings,
        ami=AmiSettings(host="127.0.0.1", port=double.port, user="cdr1c", secret=secret),
        api=ApiSettings(listen=f"127.0.0.1:{port}", token=secrets.token_urlsafe(24), tokens_file=tokens.path),
    )
    click.echo(f"panel:          http://127.0.0.1:{port}/panel  (calls ring manager {ext})")
    click.echo(f"token for {ext}:  {token}")
    click.echo("                paste it into the panel's sign-in form; Ctrl-C stops the demo PBX")
    player = asyncio.create_task(_calls(double, people, ext))
    try:
        await live._serve(demo)
    finally:
        player.cancel()
        await double.stop()


async def _calls(double: AmiDouble, people: list[tuple[str, str, str | None]], ext: str) -> None:
    """Calls to `ext` from the clients in turn; now and then a queue waiter and a busy colleague."""
    rng = random.Random(1)
    ids = itertools.count(1)
    await asyncio.sleep(2.0)
    for number, _client, _manager in itertools.cycle(people):
        n = next(ids)
        trunk, phone = f"PJSIP/trunk-{n:08x}", f"PJSIP/{ext}-{n:08x}"
        linked, leg = f"1796600000.{2 * n}", f"1796600000.{2 * n + 1}"
        caller = [("Channel", trunk), ("Uniqueid", linked), ("Linkedid", linked),
                  ("CallerIDNum", number.lstrip("+")), ("CallerIDName", "")]  # fmt: skip
        dest = [("DestChannel", phone), ("DestUniqueid", leg), ("DestLinkedid", linked)]
        await double.emit([("Event", "Newchannel"), *caller, ("Context", "from-trunk")])
        await double.emit(
            [("Event", "Newchannel"), ("Channel", phone), ("Uniqueid", leg), ("Linkedid", linked)]
        )
        await double.emit([("Event", "DialBegin"), *caller, *dest])
        await double.set_extension(ext, 8)
        waiter = rng.choice(people)
        if n % 2 == 0:  # someone else waits in the queue meanwhile
            await double.emit([("Event", "QueueCallerJoin"), ("Channel", f"PJSIP/trunk-q{n}"),
                               ("Uniqueid", f"q.{n}"), ("Linkedid", f"q.{n}"), ("Queue", "support"),
                               ("Position", "1"), ("CallerIDNum", waiter[0].lstrip("+")),
                               ("CallerIDName", "")])  # fmt: skip
        colleague = rng.choice([x for x in LINES if x != ext])
        await double.set_extension(colleague, 1)
        await asyncio.sleep(RING)
        await double.emit([("Event", "DialEnd"), *caller, *dest, ("DialStatus", "ANSWER")])
        await double.set_extension(ext, 1)
        await asyncio.sleep(TALK)
        await double.emit([("Event", "Hangup"), ("Channel", phone), ("Uniqueid", leg), ("Linkedid", linked),
                           ("ConnectedLineNum", number.lstrip("+"))])  # fmt: skip
        await double.emit([("Event", "Hangup"), *caller])
        await double.set_extension(ext, 0)
        await double.set_extension(colleague, 0)
        if n % 2 == 0:
            await double.emit([("Event", "QueueCallerLeave"), ("Uniqueid", f"q.{n}"), ("Queue", "support")])
        await asyncio.sleep(PAUSE)
