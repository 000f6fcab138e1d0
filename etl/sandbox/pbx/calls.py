"""The office's calls, one method per scenario of `SCENARIOS`, and `generate_history`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .history import CallHistory
from .office import (
    AMAFLAGS_DOCUMENTATION,
    ANCHOR,
    DEFAULT_DAYS,
    DIDS,
    EMPLOYEES,
    EXTENSIONS,
    QUEUE,
    QUEUE_MEMBERS,
    RING_GROUPS,
    TRUNK,
    TRUNK_CID,
)


class OfficeCalls(CallHistory):
    """The call shapes of the sample office (`SCENARIOS`), each returning (write_epoch, rows)."""

    def _inbound(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, num, uid = self.inbound_base(t0)
        rnd = self.rng.random
        up = rnd() < 0.35
        t_dial = self.ivr_prefix(base, t0) if up else t0 + self.rr(0, 2)
        ext = EXTENSIONS[self.rr(len(EXTENSIONS))]
        base.update(dst=ext, dst_cnam=EMPLOYEES[ext])
        self.record(base, self.recname("in", ext, num, t_dial, uid))
        dial = {"dstchannel": self.new_chan(f"PJSIP/{ext}"), "lastdata": f"PJSIP/{ext},20,tT"}
        r = rnd()
        rows: list[dict[str, Any]]
        if r < 0.76:
            answer = t_dial + self.ring()
            end = answer + self.talk()
            rows = [self.row(base, t0, end, t0 if up else answer, disposition="ANSWERED", **dial)]
        elif r < 0.93:
            gave_up = rnd() < 0.5
            stop = t_dial + (self.ring(3, 19) if gave_up else 20)
            rows = [self.row(base, t0, stop, t0 if up else None, disposition="NO ANSWER", **dial)]
            end = stop
            if not gave_up:
                rows.append(self.after_dial(base, stop, up, ext, vm=rnd() < 0.5))
                end = rows[-1]["duration"] + stop
        else:
            stop = t_dial + self.rr(0, 2)
            rows = [self.row(base, t0, stop, t0 if up else None, disposition="BUSY", **dial)]
            rows.append(self.after_dial(base, stop, up, ext, vm=rnd() < 0.3))
            end = stop + rows[-1]["duration"]
        return [(end, rows)]

    def _ivr_hangup(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, _, _ = self.inbound_base(t0, did=DIDS[0])
        end = t0 + self.rr(2, 40)
        if self.rng.random() < 0.5:  # as in the capture: still in the trunk context
            cols = {"dst": DIDS[0], "dcontext": "from-trunk", "lastapp": "Playback",
                    "lastdata": "custom/ivr-welcome"}  # fmt: skip
        else:  # FreePBX IVR module: BackGround in ivr-N at `s`
            cols = {"dst": "s", "dcontext": "ivr-1", "lastapp": "BackGround",
                    "lastdata": "custom/main-menu"}  # fmt: skip
        return [(end, [self.row(base, t0, end, t0, disposition="ANSWERED", **cols)])]

    def _ring_group(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, num, uid = self.inbound_base(t0)
        rnd = self.rng.random
        group = "600" if rnd() < 0.6 else "601"
        members = RING_GROUPS[group]
        up = rnd() < 0.35
        t_dial = self.ivr_prefix(base, t0) if up else t0 + self.rr(0, 2)
        base.update(dst=group, dcontext="ext-group")
        self.record(base, self.recname("rg", group, num, t_dial, uid))
        lastdata = "&".join(f"PJSIP/{m}" for m in members) + ",20,tT"
        answered_by = members[self.rr(len(members))] if rnd() < 0.8 else None
        stop = t_dial + (self.ring(3, 19) if answered_by else 20)
        end = stop + self.talk() if answered_by else stop
        rows: list[dict[str, Any]] = []
        answer: int | None
        for i, m in enumerate(members):
            t = t0 if i == 0 else t_dial  # the first leg continues party A's first CDR
            chan = self.new_chan(f"PJSIP/{m}")
            if m == answered_by:
                leg_end, disp, answer = end, "ANSWERED", (t if up else stop)
            elif answered_by is None or rnd() < 0.9:
                busy = rnd() < 0.08
                leg_end = t_dial if busy else stop
                disp = "BUSY" if busy else "NO ANSWER"
                answer = t if up else None
            else:
                leg_end, disp, answer = t_dial, "BUSY", (t if up else None)
            rows.append(
                self.row(base, t, leg_end, answer, dstchannel=chan, lastdata=lastdata,
                         disposition=disp, dst_cnam=EMPLOYEES[m] if m == answered_by else "")
            )  # fmt: skip
        if answered_by is None:
            rows.append(self.after_dial(base, stop, up, members[0], vm=False))
            end = stop + rows[-1]["duration"]
        return [(end, rows)]

    def _queue(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, num, uid = self.inbound_base(t0)
        rnd = self.rng.random
        t = self.ivr_prefix(base, t0) if rnd() < 0.5 else t0 + 1
        base.update(dst=QUEUE, dcontext="ext-queues", lastapp="Queue", lastdata=f"{QUEUE},t,,,300,,,,,")
        self.record(base, self.recname("q", QUEUE, num, t, uid))
        patience = self.rr(20, 240)  # the caller abandons after this long
        k = self.rr(len(QUEUE_MEMBERS))  # rrmemory: round robin from here
        rows: list[dict[str, Any]] = []
        leg_start, end, answered = t0, t, False
        for _ in range(12):
            m = QUEUE_MEMBERS[k % len(QUEUE_MEMBERS)]
            k += 1
            chan = self.new_chan(f"Local/{m}@from-queue", ";1")
            if rnd() < 0.55:
                answer = t + self.ring(2, 14)
                end = answer + self.talk()
                rows.append(self.row(base, leg_start, end, leg_start, dstchannel=chan,
                                     disposition="ANSWERED", dst_cnam=EMPLOYEES[m]))  # fmt: skip
                answered = True
                break
            stop = t + 15
            if stop - t0 >= patience:
                stop = max(t, t0 + patience)
                rows.append(self.row(base, leg_start, stop, leg_start, dstchannel=chan,
                                     disposition="NO ANSWER"))  # fmt: skip
                end = stop
                break
            rows.append(self.row(base, leg_start, stop, leg_start, dstchannel=chan,
                                 disposition="NO ANSWER"))  # fmt: skip
            t = leg_start = stop + 5  # retry
            end = t
        if not answered:  # caller hangs up while waiting: party A's last CDR, still in Queue
            hang = max(end, t0 + patience) + 1
            rows.append(self.row(base, end, hang, end, disposition="ANSWERED"))
            end = hang
        for r in rows:  # the caller was answered by Queue(): every leg bills from its start
            r["billsec"] = r["duration"]
        return [(end, rows)]

    def _blind_transfer(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, num, uid = self.inbound_base(t0)
        a = EXTENSIONS[self.rr(len(EXTENSIONS))]
        b = EXTENSIONS[(EXTENSIONS.index(a) + 1 + self.rr(len(EXTENSIONS) - 1)) % len(EXTENSIONS)]
        self.record(base, self.recname("in", a, num, t0, uid))
        # Party A's channel is moved to b@from-internal-xfer before its first CDR is
        # finalised, so both rows show dst=b, dcontext=from-internal-xfer (as in the capture).
        base.update(dst=b, dcontext="from-internal-xfer")
        answer = t0 + self.ring()
        t_x = answer + self.rr(8, 120)
        row1 = self.row(base, t0, t_x, answer, dstchannel=self.new_chan(f"PJSIP/{a}"),
                        lastdata=f"PJSIP/{a},20,tT", dst_cnam=EMPLOYEES[a])  # fmt: skip
        ring_b = self.ring()
        rows = [row1]
        if self.rng.random() < 0.85:
            end = t_x + ring_b + self.talk()
            rows.append(self.row(base, t_x, end, t_x, dstchannel=self.new_chan(f"PJSIP/{b}"),
                                 lastdata=f"PJSIP/{b},20,tT", dst_cnam=EMPLOYEES[b]))  # fmt: skip
        else:
            stop = t_x + 20
            rows.append(self.row(base, t_x, stop, t_x, dstchannel=self.new_chan(f"PJSIP/{b}"),
                                 lastdata=f"PJSIP/{b},20,tT", disposition="NO ANSWER"))  # fmt: skip
            rows.append(self.after_dial(base, stop, True, b, vm=self.rng.random() < 0.5))
            end = stop + rows[-1]["duration"]
        return [(end, rows)]

    def _attended_transfer(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        base, num, uid = self.inbound_base(t0)
        a = EXTENSIONS[self.rr(len(EXTENSIONS))]
        b = EXTENSIONS[(EXTENSIONS.index(a) + 1 + self.rr(len(EXTENSIONS) - 1)) % len(EXTENSIONS)]
        base.update(dst=a, dst_cnam=EMPLOYEES[a])
        self.record(base, self.recname("in", a, num, t0, uid))
        answer = t0 + self.ring()
        t_c = answer + self.rr(10, 150)  # a puts the caller on hold, calls b
        b_answer = t_c + self.ring(2, 10)
        t_x = b_answer + self.rr(5, 60)  # a completes the transfer
        end = t_x + self.talk()
        a_chan = self.new_chan(f"PJSIP/{a}")
        row1 = self.row(base, t0, t_x, answer, dstchannel=a_chan, lastdata=f"PJSIP/{a},20,tT")
        # The consultation: a's new channel, its own uniqueid, the call's linkedid (DTMF
        # atxfer: the new channel inherits linkedid from a). Written when it is swapped out.
        c_uid = self.new_uid(t_c)
        b_chan = self.new_chan(f"PJSIP/{b}")
        consult = self.row(
            base, t_c, t_x, b_answer, clid=f'"{EMPLOYEES[a]}" <{a}>', src=a, dst=b,
            dcontext="from-internal-xfer", channel=self.new_chan(f"PJSIP/{a}"), dstchannel=b_chan,
            lastdata=f"PJSIP/{b},20,tT", uniqueid=c_uid, did="", cnum=a, cnam=EMPLOYEES[a],
            dst_cnam=EMPLOYEES[b], userfield="",
            recordingfile=self.recname("exten", b, a, t_c, c_uid),
        )  # fmt: skip
        row3 = self.row(base, t_x, end, t_x, dst=b, dcontext="from-internal-xfer",
                        dstchannel=b_chan, lastdata=f"PJSIP/{a},20,tT",
                        dst_cnam=EMPLOYEES[b])  # fmt: skip
        return [(t_x, [consult]), (end, [row1, row3])]

    def _outbound(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        ext = EXTENSIONS[self.rr(len(EXTENSIONS))]
        number = self.dialled()
        uid = self.new_uid(t0)
        name = EMPLOYEES[ext]
        base = {
            "calldate": None, "clid": f'"{name}" <{ext}>', "src": ext, "dst": number,
            "dcontext": "from-internal", "channel": self.new_chan(f"PJSIP/{ext}"),
            "dstchannel": "", "lastapp": "Dial", "lastdata": "", "duration": 0, "billsec": 0,
            "disposition": "ANSWERED", "amaflags": AMAFLAGS_DOCUMENTATION, "accountcode": "",
            "uniqueid": uid, "userfield": "", "did": "", "recordingfile": "", "cnum": ext,
            "cnam": name, "outbound_cnum": TRUNK_CID, "outbound_cnam": "", "dst_cnam": "",
            "linkedid": uid, "peeraccount": "", "sequence": 0,
        }  # fmt: skip
        self.record(base, self.recname("out", number, ext, t0, uid))
        dial = {
            "dstchannel": self.new_chan(f"PJSIP/{TRUNK}"),
            "lastdata": f"PJSIP/{number}@{TRUNK},300,T",
        }
        r = self.rng.random()
        if r < 0.68:
            answer = t0 + self.ring(3, 25)
            end = answer + self.talk()
            return [(end, [self.row(base, t0, end, answer, disposition="ANSWERED", **dial)])]
        if r < 0.84:
            stop, disp = t0 + self.rr(15, 60), "NO ANSWER"
        elif r < 0.95:
            stop, disp = t0 + self.rr(0, 3), "BUSY"
        elif r < 0.98:
            stop, disp = t0 + self.rr(0, 2), "CONGESTION"
        else:
            stop, disp = t0, "FAILED"
        rows = [self.row(base, t0, stop, None, disposition=disp, **dial)]
        rows.append(self.after_dial(base, stop, False, ext, vm=False))
        return [(stop + rows[-1]["duration"], rows)]

    def _internal(self, t0: int) -> list[tuple[int, list[dict[str, Any]]]]:
        a = EXTENSIONS[self.rr(len(EXTENSIONS))]
        b = EXTENSIONS[(EXTENSIONS.index(a) + 1 + self.rr(len(EXTENSIONS) - 1)) % len(EXTENSIONS)]
        uid = self.new_uid(t0)
        base = {
            "calldate": None, "clid": f'"{EMPLOYEES[a]}" <{a}>', "src": a, "dst": b,
            "dcontext": "from-internal", "channel": self.new_chan(f"PJSIP/{a}"), "dstchannel": "",
            "lastapp": "Dial", "lastdata": f"PJSIP/{b},20,tT", "duration": 0, "billsec": 0,
            "disposition": "ANSWERED", "amaflags": AMAFLAGS_DOCUMENTATION, "accountcode": "",
            "uniqueid": uid, "userfield": "", "did": "", "recordingfile": "", "cnum": a,
            "cnam": EMPLOYEES[a], "outbound_cnum": "", "outbound_cnam": "",
            "dst_cnam": EMPLOYEES[b], "linkedid": uid, "peeraccount": "", "sequence": 0,
        }  # fmt: skip
        self.record(base, self.recname("exten", b, a, t0, uid))
        chan = self.new_chan(f"PJSIP/{b}")
        r = self.rng.random()
        if r < 0.75:
            answer = t0 + self.ring(2, 12)
            end = answer + max(3, self.talk() // 3)
            return [(end, [self.row(base, t0, end, answer, dstchannel=chan)])]
        if r < 0.95:
            gave_up = self.rng.random() < 0.6
            stop = t0 + (self.ring(3, 19) if gave_up else 20)
            rows = [self.row(base, t0, stop, None, dstchannel=chan, disposition="NO ANSWER")]
            if not gave_up:
                rows.append(self.after_dial(base, stop, False, b, vm=True))
            return [(stop + (rows[-1]["duration"] if not gave_up else 0), rows)]
        stop = t0 + self.rr(0, 2)
        rows = [self.row(base, t0, stop, None, dstchannel=chan, disposition="BUSY")]
        rows.append(self.after_dial(base, stop, False, b, vm=True))
        return [(stop + rows[-1]["duration"], rows)]


# --- public API --------------------------------------------------------------------------------
def default_start() -> datetime:
    """The fixed start of the demo history: `DEFAULT_DAYS` before `ANCHOR` (local wall clock)."""
    return ANCHOR - timedelta(days=DEFAULT_DAYS)


def generate_history(
    calls: int,
    seed: int,
    start: datetime | None = None,
    timezone: str = "Europe/Moscow",
    *,
    days: float = DEFAULT_DAYS,
) -> Iterator[dict[str, Any]]:
    """Yield the CDR rows of `calls` calls in the order Asterisk would INSERT them.

    Rows carry the FreePBX columns (`FREEPBX_COLUMNS`): `calldate` a naive local datetime in
    `timezone`, `duration`/`billsec`/`amaflags`/`sequence` ints, the rest strings. Call starts
    spread over `days` days from `start` (naive = local in `timezone`; default `ANCHOR` minus
    30 days, so the demo is stable), weighted to office hours. Same arguments, same rows.
    """
    if calls < 0:
        raise ValueError("calls must be >= 0")
    if days <= 0:
        raise ValueError("days must be > 0")
    zone = ZoneInfo(timezone)
    history = OfficeCalls(calls, seed, start or default_start(), days, zone)
    return history.calls()
