"""Smart routing decisions on a scripted AMI event stream, through the double."""

from __future__ import annotations

import pytest

from etl.ami.routing import TomlManagerDirectory
from etl.phones import PhoneNormaliser
from etl.sandbox.ami import LiveStack, run, until

MANAGERS = {"8 916 123-45-67": "101; ООО Ромашка", "+79169999999": "102; ИП Иванов"}


def ivr_event(caller: str, linkedid: str, event: str = "Newexten") -> list[tuple[str, str]]:
    chan = f"Local/74951230001@from-trunk-{linkedid};2"
    return [
        ("Event", event),
        ("Channel", chan),
        ("CallerIDNum", caller),
        ("Context", "ivr"),
        ("Exten", "s"),
        ("Uniqueid", linkedid),
        ("Linkedid", linkedid),
        ("Application", "Playback"),
    ]


def test_directory_normalises_numbers() -> None:
    d = TomlManagerDirectory(MANAGERS, PhoneNormaliser())
    assert (d.lookup("79161234567").extension, d.lookup("+7 916 123 45 67").client) == (
        "101",
        "ООО Ромашка",
    )
    assert d.lookup("84950000000").extension is None


@pytest.mark.parametrize("dry_run", [False, True])
def test_idle_manager_gets_the_call_busy_and_unknown_stay_in_ivr(dry_run: bool) -> None:
    async def main() -> None:
        async with LiveStack(managers=MANAGERS, dry_run=dry_run) as stack:
            stack.double.extensions = {"101": (0, "PJSIP/101"), "102": (2, "PJSIP/102")}
            await stack.double.restart()
            await until(lambda: stack.states.get("102") is not None)
            await stack.double.emit(ivr_event("89161234567", "call-1"))  # idle manager 101
            await stack.double.emit(ivr_event("89161234567", "call-1", "VarSet"))  # same call: decided once
            await stack.double.emit(ivr_event("+79169999999", "call-2"))  # manager 102 busy
            await stack.double.emit(ivr_event("84950000000", "call-3"))  # unknown caller
            await stack.double.emit(ivr_event("<unknown>", "call-4"))  # withheld
            await stack.double.emit(
                [
                    ("Event", "Newexten"),
                    ("Channel", "PJSIP/103-1"),
                    ("CallerIDNum", "103"),
                    ("Context", "from-internal"),
                    ("Uniqueid", "x"),
                    ("Linkedid", "x"),
                ]
            )
            await until(lambda: len(stack.router.decisions) == 4)
            await stack.router.drain()
            got = {d.linkedid: (d.action, d.extension) for d in stack.router.decisions}
            assert got == {
                "call-1": ("redirect", "101"),
                "call-2": ("stay", "102"),
                "call-3": ("stay", None),
                "call-4": ("stay", None),
            }
            reasons = {d.linkedid: d.reason for d in stack.router.decisions}
            assert "Busy" in reasons["call-2"] and "unknown caller" in reasons["call-3"]
            redirects = stack.double.actions_named("Redirect")
            if dry_run:
                assert redirects == [] and stack.double.actions_named("Setvar") == []
            else:
                assert len(redirects) == 1
                r = dict(redirects[0])
                assert (r["Channel"], r["Context"], r["Exten"]) == (
                    "Local/74951230001@from-trunk-call-1;2",
                    "cdr1c-route",
                    "101",
                )
                sv = dict(stack.double.actions_named("Setvar")[0])
                assert (sv["Variable"], sv["Value"]) == ("CDR1C_RING_TIMEOUT", "20")

    run(main())


def test_failed_redirect_is_recorded_as_staying() -> None:
    async def main() -> None:
        async with LiveStack(managers=MANAGERS) as stack:
            stack.double.extensions = {"101": (0, "PJSIP/101")}
            stack.double.channels = set()  # the caller hung up meanwhile
            await stack.double.restart()
            await until(lambda: stack.states.get("101") is not None)
            await stack.double.emit(ivr_event("89161234567", "call-9"))
            await until(lambda: len(stack.router.decisions) == 1)
            d = stack.router.decisions[0]
            assert d.action == "stay" and "Channel does not exist" in d.reason

    run(main())
