"""The asyncio AMI client against the TCP double (real sockets on 127.0.0.1, ephemeral ports)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import pytest

from etl.ami.client import AmiClient, Backoff
from etl.ami.protocol import Message
from etl.ami.states import ExtensionStates
from etl.errors import AmiActionFailed, AmiConnectionLost, AmiNotConnected, AmiUnsafeValue
from etl.sandbox.ami import WAIT, AmiDouble, OriginatePlan, run, until

SECRET = "s3cret-ami-secret"
FAST = Backoff(initial=0.02, maximum=0.05)
LONG = 4 * WAIT  # a client timeout or back-off no test should ever see expire


def scenario(
    test: Callable[[AmiDouble, AmiClient], Awaitable[None]],
    *,
    auth: str = "md5",
    line_end: bytes = b"\r\n",
    **client_kw: object,
) -> None:
    async def main() -> None:
        double = AmiDouble(line_end=line_end)
        await double.start()
        client = AmiClient(
            "127.0.0.1",
            double.port,
            "cdr1c",
            SECRET,
            auth=auth,
            backoff=FAST,
            rng=random.Random(1),
            **client_kw,
        )  # type: ignore[arg-type]
        try:
            await client.start()
            await client.wait_connected(WAIT)
            await test(double, client)
        finally:
            await client.stop()
            await double.stop()

    run(main())


@pytest.mark.parametrize("auth", ["md5", "plain"])
@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
def test_login_and_ping(auth: str, line_end: bytes) -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        assert client.banner == "Asterisk Call Manager/11.0.0"
        pong = await client.send_action("Ping")
        assert pong.get("Ping") == "Pong"
        login = double.actions_named("Login")[0]
        keys = [k for k, _ in login]
        if auth == "md5":
            assert double.actions[0][0] == ("Action", "Challenge")
            assert "Key" in keys and "Secret" not in keys
        else:
            assert ("Secret", SECRET) in login

    scenario(t, auth=auth, line_end=line_end)


def test_wrong_secret_is_refused_after_one_second_and_never_connects() -> None:
    async def main() -> None:
        double = AmiDouble()
        await double.start()
        client = AmiClient(
            "127.0.0.1",
            double.port,
            "cdr1c",
            "wrong",
            auth="plain",
            backoff=Backoff(initial=LONG, maximum=LONG),
            connect_timeout=LONG,
            action_timeout=LONG,
        )
        t0 = time.monotonic()
        await client.start()
        await until(lambda: client.last_error is not None)
        elapsed = time.monotonic() - t0
        assert 0.9 <= elapsed < LONG / 2, elapsed  # Asterisk's answer, not a timeout of the client
        assert len(double.actions_named("Login")) == 1  # one attempt: no retry came before it
        assert "AmiAuthFailed" in (client.last_error or "")
        assert not client.connected
        assert SECRET not in (client.last_error or "") and "wrong" not in (client.last_error or "")
        await client.stop()
        await double.stop()

    run(main())


def test_double_refuses_actions_before_login_and_keeps_the_session() -> None:
    async def main() -> None:
        double = AmiDouble()
        await double.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", double.port)
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(b"Action: Ping\r\nActionID: a1\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == (
            b"Response: Error\r\nActionID: a1\r\nMessage: Permission denied\r\n\r\n"
        )
        writer.write(b"Action: Logoff\r\nActionID: a2\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == (
            b"Response: Goodbye\r\nActionID: a2\r\nMessage: Thanks for all the fish.\r\n\r\n"
        )
        assert await reader.read() == b""  # closed after Goodbye
        writer.close()
        await double.stop()

    run(main())


def test_concurrent_actions_are_matched_by_action_id() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.extensions = {"101": (0, "PJSIP/101")}
        results = await asyncio.gather(
            *[
                client.send_action("ExtensionState", [("Exten", "101"), ("Context", "ext-local")])
                if i % 2
                else client.send_action("Ping")
                for i in range(40)
            ]
        )
        for i, msg in enumerate(results):
            assert (msg.get("Exten") == "101") if i % 2 else (msg.get("Ping") == "Pong")
        assert len({m.action_id for m in results}) == 40

    scenario(t)


def test_event_list_collects_every_item() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.extensions = {str(e): (8 if e == 102 else 0, f"PJSIP/{e}") for e in range(101, 107)}
        response, items = await client.send_list("ExtensionStateList")
        assert response.get("EventList") == "start"
        assert [m.get("Exten") for m in items] == [str(e) for e in range(101, 107)]
        states = ExtensionStates()
        states.replace_all(items)
        assert states.is_idle("101") and not states.is_idle("102")
        assert states.get("102").status_text == "Ringing"  # type: ignore[union-attr]

    scenario(t)


@pytest.mark.parametrize(
    ("plan", "success", "reason"),
    [
        (OriginatePlan("Success", 4), True, 4),
        (OriginatePlan("Failure", 5), False, 5),
        (OriginatePlan("Failure", 3), False, 3),
        (OriginatePlan("Failure", 0), False, 0),
    ],
)
def test_async_originate_is_tied_to_its_originate_response(
    plan: OriginatePlan, success: bool, reason: int
) -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.originate_plans["79161234567"] = plan
        # a decoy originate answered differently must not be mixed up with ours
        double.originate_plans["555"] = OriginatePlan("Success" if not success else "Failure", 1, 0.001)
        decoy = await client.originate(
            [
                ("Channel", "PJSIP/102"),
                ("Context", "c"),
                ("Exten", "555"),
                ("Priority", 1),
                ("ChannelId", "c1c-decoy"),
            ]
        )
        pending = await client.originate(
            [
                ("Channel", "PJSIP/101"),
                ("Context", "from-internal"),
                ("Exten", "79161234567"),
                ("Priority", 1),
                ("ChannelId", "c1c-0001"),
                ("Async", "false"),
            ]
        )
        assert pending.response.get("Message") == "Originate successfully queued"
        result = await asyncio.wait_for(pending.outcome, WAIT)
        assert (result.success, result.reason, result.uniqueid) == (success, reason, "c1c-0001")
        assert (await decoy.outcome).uniqueid == "c1c-decoy"
        sent = double.actions_named("Originate")[-1]
        assert ("Async", "true") in sent and ("Async", "false") not in sent  # sync would block AMI

    scenario(t)


def test_unsafe_value_is_refused_before_anything_is_written() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        await client.send_action("Ping")
        before = bytes(double.raw_in)
        with pytest.raises(AmiUnsafeValue):
            await client.originate([("Channel", "PJSIP/101"), ("CallerID", '"x" <1>\r\n\r\nAction: Command')])
        await client.send_action("Ping")
        after = bytes(double.raw_in)[len(before) :]
        assert after.count(b"Action:") == 1 and b"Originate" not in after

    scenario(t)


def test_error_response_raises_with_asterisks_message() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.channels = set()
        with pytest.raises(AmiActionFailed, match="Channel does not exist: PJSIP/9-1"):
            await client.send_action(
                "Redirect",
                [("Channel", "PJSIP/9-1"), ("Context", "c"), ("Exten", "1"), ("Priority", 1)],
            )
        with pytest.raises(AmiActionFailed, match="Invalid/unknown command: FooBarBaz"):
            await client.send_action("FooBarBaz")

    scenario(t)


def test_connection_closed_mid_message_fails_in_flight_originate_and_reconnects() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        seen: list[Message] = []
        client.on_event(seen.append)
        double.hold_originate_responses = True
        pending = await client.originate(
            [("Channel", "PJSIP/101"), ("Context", "c"), ("Exten", "1"), ("Priority", 1)]
        )
        await double.drop_mid_message(
            [
                ("Event", "OriginateResponse"),
                ("ActionID", pending.action_id),
                ("Response", "Success"),
                ("Reason", "4"),
            ]
        )
        with pytest.raises(AmiConnectionLost):
            await asyncio.wait_for(pending.outcome, WAIT)
        assert not [m for m in seen if m.event == "OriginateResponse"]  # the half message is not an event
        await until(lambda: client.connects == 2)
        assert len(double.actions_named("Originate")) == 1

    scenario(t)


def test_server_restart_during_originate_reports_failure_and_never_repeats_it() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.silent = True  # the Originate reaches Asterisk but no answer comes back
        task = asyncio.create_task(
            client.originate(
                [
                    ("Channel", "PJSIP/101"),
                    ("Context", "c"),
                    ("Exten", "79161234567"),
                    ("Priority", 1),
                ]
            )
        )
        await until(lambda: bool(double.actions_named("Originate")))
        double.silent = False
        await double.restart()
        with pytest.raises(AmiConnectionLost):
            await task
        await until(lambda: client.connected and client.connects == 2)
        await client.send_action("Ping")
        assert len(double.actions_named("Originate")) == 1
        await double.stop()
        await until(lambda: not client.connected)
        with pytest.raises(AmiNotConnected):  # nothing is queued for a later connection
            await client.originate([("Channel", "PJSIP/101")])

    scenario(t)


def test_on_disconnect_runs_once_per_lost_session_not_per_failed_attempt_nor_on_stop() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        lost: list[tuple[int, bool]] = []  # (logins so far, connected) as each call saw them

        async def buggy(c: AmiClient) -> None:
            raise RuntimeError("a hook's bug")

        async def hook(c: AmiClient) -> None:
            lost.append((c.connects, c.connected))

        client.on_disconnect(buggy)  # logged; the next hook and the reconnecting go on
        client.on_disconnect(hook)
        double.users, double.auth_fail_delay = {}, 0.0  # back, but refusing every login
        logins = len(double.actions_named("Login"))
        await double.restart()
        await until(lambda: len(double.actions_named("Login")) >= logins + 3)  # three failed attempts
        assert lost == [(1, False)]
        double.users = {"cdr1c": SECRET}
        await until(lambda: client.connects == 2 and client.connected)
        await double.restart()
        await until(lambda: client.connects == 3 and client.connected)
        assert lost == [(1, False), (2, False)]
        await client.stop()
        assert lost == [(1, False), (2, False)]

    scenario(t)


def test_utf8_character_split_across_two_writes() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        seen: list[Message] = []
        client.on_event(seen.append)
        data = double.message([("Event", "Newchannel"), ("CallerIDName", "José Müller"), ("Uniqueid", "u1")])
        cut = data.index("ü".encode()) + 1
        await double.emit_raw(data, chunks=[cut], pause=0.05)
        await until(lambda: any(m.event == "Newchannel" for m in seen))
        assert [m.get("CallerIDName") for m in seen if m.event == "Newchannel"] == ["José Müller"]

    scenario(t)


def test_half_open_connection_is_noticed_by_ping() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        double.silent = True
        await until(lambda: not client.connected)
        assert "half-open" in (client.last_error or "")
        double.silent = False
        await until(lambda: client.connected)

    scenario(t, ping_interval=0.1, ping_timeout=0.2)


def test_slow_reader_is_dropped_by_asterisk_and_state_is_resynced() -> None:
    async def t(double: AmiDouble, client: AmiClient) -> None:
        states = ExtensionStates()

        async def resync(c: AmiClient) -> None:
            _, items = await c.send_list("ExtensionStateList")
            states.replace_all(items)

        client.on_connect(resync)
        double.extensions = {"101": (0, "PJSIP/101")}
        blocked = []

        def slow(msg: Message) -> None:
            if msg.event == "Burst" and not blocked:
                blocked.append(1)
                # The reader stalls 10 × Asterisk's writetimeout (set below), and Asterisk's
                # write times out. The stall is the cause here, not a wait for something: a
                # slower machine only makes it longer.
                time.sleep(0.5)

        client.on_event(slow)
        double.writetimeout = 0.05
        big = double.message([("Event", "Burst"), ("Data", "x" * 900)]) * 20000  # ~18 MB
        double.extensions["101"] = (1, "PJSIP/101")  # changes while we are not listening
        await double.emit_raw(big)
        await until(lambda: client.connects == 2)
        await until(lambda: states.get("101") is not None and states.get("101").status == 1)  # type: ignore[union-attr]

    scenario(t)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    delays = Backoff(initial=0.5, maximum=8).delays(random.Random(3))
    it = iter(delays)
    got = [next(it) for _ in range(10)]
    assert 0.25 <= got[0] <= 0.5 and all(d <= 8 for d in got) and max(got) > 4
    assert len(set(got)) == len(got)  # jittered
