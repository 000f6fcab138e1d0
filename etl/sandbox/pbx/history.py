"""A deterministic FreePBX PBX history: CDR rows, the `cdr` table, WAV recordings, hostile rows.

`generate_history(calls, seed)` streams CDR rows shaped like the real Asterisk 22 capture in
`tests/fixtures/asterisk22-capture1` (one call = several rows sharing `linkedid`, several rows
sharing `uniqueid` and differing by `sequence`, FreePBX recording names), for a small office:
12 extensions 101–112, ring groups 600/601, queue 400, an IVR, three DIDs, one PJSIP trunk.

How rows are shaped (the rules the tests check):
- `uniqueid`/`linkedid` are `<epoch>.<counter>` (epoch of the channel's creation, UTC);
  `linkedid` is the uniqueid of the call's first channel; channel names carry a global hex
  counter (`PJSIP/101-0000001a`, `Local/108@from-queue-0000002b;1`).
- `calldate` is the naive local start of the row (`timezone`), `duration = end - calldate`,
  `billsec = end - answer`. A leg whose party A is already up (answered by the IVR or the
  queue) has `billsec == duration` whatever its disposition, as Asterisk reports it (see the
  capture's ring-group legs); otherwise an unanswered leg has `billsec == 0`. ANSWERED rows
  always have `billsec > 0`.
- `sequence` grows with CDR creation (numbered when the call is generated, so a leg created
  late in a long call can carry a lower number than a call that started meanwhile; it never
  resets: no simulated Asterisk restart). Rows come out in the order Asterisk INSERTs them:
  when party A of the row hangs up. A call lasting hours is written after hundreds of later
  calls; an attended transfer's consultation row (party A: the transferer's second channel)
  is written at the transfer, before the rows of the caller.
- Recording names are FreePBX's `<type>-<to>-<from>-<YYYYMMDD-HHMMSS>-<uniqueid>.wav`
  (`in`, `out`, `rg`, `q`, `exten`) in `recordingfile`; `userfield` holds the same name on
  about a third of the calls (custom dialplans do that) and is empty otherwise. Every row of a
  recorded call's party A carries the name, also the unanswered ones (their file is 44 bytes).

Memory does not grow with `calls`: start times are drawn hour by hour, clients are derived
from their index by hashing (a bounded cache, not a table), and only calls still in progress
are held (a heap ordered by the time their rows are written).
"""

from __future__ import annotations

import heapq
import math
import operator
import random
import sqlite3
import wave
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from etl.store import FREEPBX_COLUMNS

SQL_DIR = Path(__file__).resolve().parent.parent / "sql" / "cdr"

# The stock Asterisk (alembic) column order: start/answer/end, no calldate, no FreePBX extras.
ASTERISK_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "userfield",
    "uniqueid",
    "linkedid",
    "peeraccount",
    "sequence",
)
DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
AMAFLAGS_DOCUMENTATION = 3

# A fixed anchor keeps `cdr1c demo` output identical from day to day.
ANCHOR = datetime(2026, 11, 1, 0, 0, 0)
DEFAULT_DAYS = 30

TRUNK = "rt-trunk"
TRUNK_CID = "74951230000"
DIDS = ("74951230000", "74951230001", "74951230002")
EMPLOYEES = {
    "101": "Иван Петров",
    "102": "Ольга Смирнова",
    "103": "Сергей Иванов",
    "104": "Анна Кузнецова",
    "105": "Дмитрий Соколов",
    "106": "Елена Попова",
    "107": "Алексей Лебедев",
    "108": "Мария Козлова",
    "109": "Николай Новиков",
    "110": "Татьяна Морозова",
    "111": "Павел Волков",
    "112": "Наталья Фёдорова",
}
EXTENSIONS = tuple(EMPLOYEES)
RING_GROUPS = {"600": ("101", "102", "103"), "601": ("104", "105", "106", "107")}
QUEUE = "400"
QUEUE_MEMBERS = ("108", "109", "110", "111", "112")

_FIRST_M = ("Иван", "Пётр", "Алексей", "Сергей", "Андрей", "Михаил", "Олег", "Юрий", "Артём")
_FIRST_F = ("Анна", "Мария", "Ольга", "Елена", "Ирина", "Светлана", "Юлия", "Дарья", "Вера")
_LAST: tuple[str, ...] = (
    "Петров",
    "Иванов",
    "Сидоров",
    "Кузнецов",
    "Смирнов",
    "Волков",
    "Зайцев",
    "Орлов",
)
_LAST += ("Морозов", "Лебедев", "Козлов", "Новиков", "Фёдоров", "Егоров", "Белов", "Титов")
_COMPANIES: tuple[str, ...] = (
    "Ромашка",
    "Вектор",
    "Альфа",
    "Стройинвест",
    "Техносервис",
    "Север",
    "Меридиан",
)
_COMPANIES += ("Гранит", "Логистик Плюс", "Эталон", "Восход", "Дельта")
_FORMS = ("ООО «{}»", "АО «{}»", "ИП {}", "ООО \u201c{}\u201d")
_MOBILE = ("903", "905", "909", "915", "916", "917", "925", "926", "977", "985", "999")
_LANDLINE = ("495", "499", "812", "343")

# Scenario weights (per call). Sum is normalised.
SCENARIOS: tuple[tuple[str, float], ...] = (
    ("inbound", 0.30),  # DID → extension: answered, no answer (+voicemail/hang-up), busy
    ("ivr_hangup", 0.06),  # caller leaves in the IVR: one ANSWERED row, no dstchannel
    ("ring_group", 0.13),  # several legs, one ANSWERED or none
    ("queue", 0.12),  # member attempts, answered or abandoned
    ("blind_transfer", 0.04),  # 2 rows
    ("attended_transfer", 0.03),  # 3 rows, two uniqueids
    ("outbound", 0.24),  # answered / busy / no answer / congestion / failed
    ("internal", 0.08),
)
LONG_CALL_SHARE = 0.004  # answered calls talking 1–4 hours (their rows are written late)


def _mix(x: int) -> int:
    """splitmix64: a cheap, well-spread integer hash (derives clients without storing them)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _hour_weight(local: datetime) -> float:
    """Relative call volume of a local hour: office hours on weekdays, little at night."""
    h = local.hour
    if h < 8 or h >= 22:
        w = 0.02
    elif h == 8:
        w = 0.3
    elif h in (9, 17):
        w = 0.9
    elif h == 13:
        w = 0.8
    elif h < 17:
        w = 1.25
    elif h == 18:
        w = 0.4
    else:
        w = 0.1
    return w * (0.12 if local.weekday() >= 5 else 1.0)


class _History:
    """One PBX's counters and random stream; `calls()` yields (write_epoch, rows) per call."""

    def __init__(self, calls: int, seed: int, start: datetime, days: float, zone: ZoneInfo) -> None:
        self.n_calls = calls
        self.seed = seed
        self.rng = random.Random(seed)
        self.zone = zone
        aware = start if start.tzinfo else start.replace(tzinfo=zone)
        self.t_start = int(aware.timestamp())
        self.t_end = self.t_start + int(days * 86400)
        self.pool = max(5, calls // 50)
        self.uid = 100 + self.rr(50)  # the `.N` of uniqueids (channels created)
        self.chan = 0x20 + self.rr(0x40)  # hex suffix of channel names
        self.seq = self.rr(10, 60)  # cdr.c global_cdr_sequence
        self._hours: dict[int, datetime] = {}
        self.client = lru_cache(maxsize=16384)(self._client)
        names = [s for s, _ in SCENARIOS]
        total = sum(w for _, w in SCENARIOS)
        acc, self._cum = 0.0, []
        for _, w in SCENARIOS:
            acc += w / total
            self._cum.append(acc)
        self._builders: list[Callable[[int], list[tuple[int, list[dict[str, Any]]]]]] = [
            getattr(self, "_" + name) for name in names
        ]

    # --- time ------------------------------------------------------------------------------
    def local(self, epoch: int) -> datetime:
        """Naive local datetime of a UTC epoch (hour bases cached: cheap per row)."""
        hour = epoch // 3600
        base = self._hours.get(hour)
        if base is None:
            if len(self._hours) > 50_000:
                self._hours.clear()
            base = datetime.fromtimestamp(hour * 3600, self.zone).replace(tzinfo=None)
            self._hours[hour] = base
        return base + timedelta(seconds=epoch - hour * 3600)

    def start_times(self) -> Iterator[int]:
        """Exactly `n_calls` sorted start epochs, spread over the span by `_hour_weight`."""
        first = self.t_start - self.t_start % 3600
        hours = range(first, self.t_end, 3600)
        weights = [_hour_weight(self.local(h)) for h in hours]
        total = sum(weights) or 1.0
        done, acc = 0, 0.0
        for h, w in zip(hours, weights, strict=True):
            acc += w
            upto = round(self.n_calls * acc / total)
            n, done = upto - done, upto
            lo = max(h, self.t_start)
            span = min(h + 3600, self.t_end) - lo
            if n <= 0 or span <= 0:
                continue
            rnd = self.rng.random
            yield from sorted(lo + int(rnd() * span) for _ in range(n))

    def rr(self, a: int, b: int | None = None) -> int:
        """randrange without its argument checks: a quarter of the cost, same determinism."""
        if b is None:
            return int(self.rng.random() * a)
        return a + int(self.rng.random() * (b - a))

    # --- identities ------------------------------------------------------------------------
    def new_uid(self, epoch: int) -> str:
        self.uid += 1
        return f"{epoch}.{self.uid}"

    def new_chan(self, prefix: str, suffix: str = "") -> str:
        self.chan += 1
        return f"{prefix}-{self.chan:08x}{suffix}"

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _client(self, idx: int) -> tuple[str, str, tuple[str, ...]]:
        """(national 10 digits, caller name or '', the number forms this client calls from)."""
        h = _mix(self.seed * 1_000_003 + idx)
        code = _MOBILE[h % 11] if (h >> 8) % 10 < 7 else _LANDLINE[h % 4]
        national = f"{code}{(h >> 16) % 10_000_000:07d}"
        kind = (h >> 40) % 20
        if kind < 11:
            female = (h >> 45) & 1
            first = (_FIRST_F if female else _FIRST_M)[(h >> 46) % 9]
            last = _LAST[(h >> 50) % 16]
            if female and not last.isascii():
                last += "а"
            name = f"{first} {last}" if (h >> 54) & 3 else f"{last} {first[0]}."
        elif kind < 16:
            name = _FORMS[(h >> 46) % 4].format(_COMPANIES[(h >> 50) % 12])
        else:
            name = ""
        forms_all = ("7" + national, "8" + national, "+7" + national, national)
        pick = (h >> 58) % 8
        if pick < 2:  # a client seen under several number forms
            forms: tuple[str, ...] = forms_all
        elif pick == 2:
            forms = (forms_all[1],)
        elif pick == 3:
            forms = (forms_all[2],)
        else:
            forms = (forms_all[0],)
        return national, name, forms

    def caller(self) -> tuple[str, str, str]:
        """(number as presented, caller-id name, clid) of an external caller."""
        r = self.rng.random()
        if r < 0.01:
            return "anonymous", "Anonymous", '"Anonymous" <anonymous>'
        idx = int(self.pool * self.rng.random() ** 2.2)  # a few clients call a lot
        _, name, forms = self.client(idx)
        num = forms[0] if len(forms) == 1 else forms[self.rr(len(forms))]
        shown = name or num
        return num, shown, f'"{shown}" <{num}>'

    def dialled(self) -> str:
        """The number an employee dials: mostly `8…`, sometimes `+7…`, `7…` or 10 digits."""
        if self.rng.random() < 0.7:
            national = self.client(int(self.pool * self.rng.random() ** 2.2))[0]
        else:
            national = f"{_MOBILE[self.rr(11)]}{self.rr(10_000_000):07d}"
        r = self.rng.random()
        if r < 0.8:
            return "8" + national
        if r < 0.87:
            return "+7" + national
        if r < 0.94:
            return "7" + national
        return national

    # --- durations -------------------------------------------------------------------------
    def ring(self, lo: int = 2, hi: int = 18) -> int:
        return int(self.rng.triangular(lo, hi, lo + 3))

    def talk(self) -> int:
        if self.rng.random() < LONG_CALL_SHARE:
            return self.rr(3600, 4 * 3600)
        return max(3, min(3000, int(self.rng.lognormvariate(4.2, 1.0))))

    def recname(self, kind: str, to: str, frm: str, epoch: int, uid: str) -> str:
        d = self.local(epoch)
        stamp = f"{d.year:04}{d.month:02}{d.day:02}-{d.hour:02}{d.minute:02}{d.second:02}"
        return f"{kind}-{to}-{frm}-{stamp}-{uid}.wav"

    # --- the call loop ---------------------------------------------------------------------
    def calls(self) -> Iterator[dict[str, Any]]:
        pending: list[tuple[int, int, list[dict[str, Any]]]] = []
        order = 0
        cum, builders, rnd = self._cum, self._builders, self.rng.random
        push, pop = heapq.heappush, heapq.heappop
        for t0 in self.start_times():
            while pending and pending[0][0] <= t0:
                yield from pop(pending)[2]
            r = rnd()
            i = 0
            while r > cum[i] and i < len(cum) - 1:
                i += 1
            for write_at, rows in builders[i](t0):
                order += 1
                push(pending, (write_at, order, rows))
        while pending:
            yield from pop(pending)[2]

    # --- rows ------------------------------------------------------------------------------
    def row(self, base: dict[str, Any], t: int, end: int, answer: int | None, **cols: Any) -> dict[str, Any]:
        """One CDR row from call-level `base`: times in epochs → calldate/duration/billsec."""
        r = base.copy()
        r["calldate"] = self.local(t)
        r["duration"] = end - t
        r["billsec"] = 0 if answer is None else end - answer
        r["sequence"] = self.next_seq()
        r.update(cols)
        return r

    def inbound_base(self, t0: int, did: str | None = None) -> tuple[dict[str, Any], str, str]:
        num, name, clid = self.caller()
        uid = self.new_uid(t0)
        base = {
            "calldate": None,
            "clid": clid,
            "src": num,
            "dst": "",
            "dcontext": "from-did-direct",
            "channel": self.new_chan(f"PJSIP/{TRUNK}"),
            "dstchannel": "",
            "lastapp": "Dial",
            "lastdata": "",
            "duration": 0,
            "billsec": 0,
            "disposition": "ANSWERED",
            "amaflags": AMAFLAGS_DOCUMENTATION,
            "accountcode": "",
            "uniqueid": uid,
            "userfield": "",
            "did": did or DIDS[0 if self.rng.random() < 0.6 else 1 + self.rr(2)],
            "recordingfile": "",
            "cnum": num,
            "cnam": name,
            "outbound_cnum": "",
            "outbound_cnam": "",
            "dst_cnam": "",
            "linkedid": uid,
            "peeraccount": "",
            "sequence": 0,
        }
        return base, num, uid

    def record(self, base: dict[str, Any], name: str) -> None:
        base["recordingfile"] = name
        if self.rng.random() < 0.33:
            base["userfield"] = name

    def ivr_prefix(self, base: dict[str, Any], t0: int) -> int:
        """Caller answered by the IVR first; returns when the IVR hands the call on."""
        base["did"] = DIDS[0]
        return t0 + self.rr(4, 16)

    def after_dial(self, base: dict[str, Any], t: int, up: bool, ext: str, vm: bool) -> dict[str, Any]:
        """The party A row after a failed Dial: voicemail or the hang-up macro."""
        if vm:
            msg = self.rr(4, 45)
            return self.row(
                base, t, t + msg, t, dst=f"vmu{ext}", dcontext="ext-local", dstchannel="",
                lastapp="VoiceMail", lastdata=f"{ext}@default,u", disposition="ANSWERED",
            )  # fmt: skip
        end = t + (1 if up else self.rr(0, 2))
        return self.row(
            base, t, end, t if up else None, dst="s", dcontext="macro-hangupcall", dstchannel="",
            lastapp="Hangup", lastdata="", disposition="ANSWERED" if up else "NO ANSWER",
        )  # fmt: skip

    # --- scenarios: each returns [(write_epoch, rows)], rows in sequence order -------------
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
    history = _History(calls, seed, start or default_start(), days, zone)
    return history.calls()


def ddl_text(dialect: str, schema: str = "freepbx") -> str:
    """The CREATE TABLE text for `schema` (freepbx | asterisk) on mysql | postgresql | sqlite."""
    if schema not in ("freepbx", "asterisk"):
        raise ValueError(f"unknown CDR schema {schema!r} (freepbx or asterisk)")
    return (SQL_DIR / f"{schema}.{dialect}.sql").read_text(encoding="utf-8")


def ddl_statements(dialect: str, schema: str = "freepbx") -> list[str]:
    lines = [ln for ln in ddl_text(dialect, schema).splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _sql_value(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


_AMA_TEXT = {0: "", 1: "OMIT", 2: "BILLING", 3: "DOCUMENTATION"}


def asterisk_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """A FreePBX-shaped row as the stock Asterisk schema stores it (`ASTERISK_COLUMNS`).

    start = calldate, end = start + duration, answer = end - billsec (NULL when billsec is 0),
    amaflags as text: exactly how Asterisk derives duration and billsec from the three times.
    """
    start = row["calldate"]
    end = start + timedelta(seconds=row["duration"])
    answer = end - timedelta(seconds=row["billsec"]) if row["billsec"] else None
    return (
        row["accountcode"], row["src"], row["dst"], row["dcontext"], row["clid"], row["channel"],
        row["dstchannel"], row["lastapp"], row["lastdata"], start, answer, end, row["duration"],
        row["billsec"], row["disposition"], _AMA_TEXT.get(row["amaflags"], str(row["amaflags"])),
        row["userfield"], row["uniqueid"], row["linkedid"], row["peeraccount"], row["sequence"],
    )  # fmt: skip


def _batches(rows: Iterable[dict[str, Any]], convert: Callable[[dict[str, Any]], tuple[Any, ...]],
             size: int) -> Iterator[list[tuple[Any, ...]]]:  # fmt: skip
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(convert(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _converter(
    schema: str, text_dates: bool
) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    if schema == "asterisk":
        if not text_dates:
            return ASTERISK_COLUMNS, asterisk_row
        return ASTERISK_COLUMNS, lambda r: tuple(_sql_value(v) for v in asterisk_row(r))
    get = operator.itemgetter(*FREEPBX_COLUMNS)
    if not text_dates:
        return FREEPBX_COLUMNS, get

    def freepbx_text(r: dict[str, Any]) -> tuple[Any, ...]:
        values = get(r)
        return (_sql_value(values[0]), *values[1:])

    return FREEPBX_COLUMNS, freepbx_text


def write_sqlite(
    path: Path, rows: Iterable[dict[str, Any]], *, schema: str = "freepbx", batch: int = 5000
) -> int:
    """Create the `cdr` table in the SQLite file `path` (if missing) and insert `rows`; count."""
    columns, convert = _converter(schema, text_dates=True)
    names = ", ".join(_quote(c, "sqlite") for c in columns)
    insert = f"INSERT INTO cdr ({names}) VALUES ({', '.join('?' * len(columns))})"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        for statement in ddl_statements("sqlite", schema):
            con.execute(statement)
        n = 0
        for chunk in _batches(rows, convert, batch):
            con.executemany(insert, chunk)
            n += len(chunk)
        con.commit()
        return n
    finally:
        con.close()


def _quote(column: str, dialect: str) -> str:
    if column != "end":
        return column
    return "`end`" if dialect == "mysql" else '"end"'


def write_sql(url: str, rows: Iterable[dict[str, Any]], *, schema: str = "freepbx", batch: int = 5000) -> int:
    """Create the `cdr` table at a SQLAlchemy `url` from the dialect's DDL file and bulk-insert.

    MariaDB/MySQL: pymysql's executemany (one multi-row INSERT per batch); PostgreSQL: COPY;
    SQLite: executemany. One commit per batch, so memory stays flat for any number of rows.
    """
    from sqlalchemy import create_engine

    engine = create_engine(url)
    name = engine.dialect.name
    dialect = {
        "mariadb": "mysql",
        "mysql": "mysql",
        "postgresql": "postgresql",
        "sqlite": "sqlite",
    }.get(name)
    if dialect is None:
        raise ValueError(f"no CDR DDL for the {name} dialect")
    columns, convert = _converter(schema, text_dates=dialect == "sqlite")
    names = ", ".join(_quote(c, dialect) for c in columns)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert = f"INSERT INTO cdr ({names}) VALUES ({', '.join([mark] * len(columns))})"
    n = 0
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for statement in ddl_statements(dialect, schema):
                cur.execute(statement)
            raw.commit()
            for chunk in _batches(rows, convert, batch):
                if dialect == "postgresql":
                    with cur.copy(f"COPY cdr ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                        for values in chunk:
                            copy.write_row(values)
                else:
                    cur.executemany(insert, chunk)
                raw.commit()
                n += len(chunk)
            cur.close()
        finally:
            raw.close()
    finally:
        engine.dispose()
    return n


# --- recordings --------------------------------------------------------------------------------
WAV_RATE = 8000
EMPTY_WAV_BYTES = 44  # what MixMonitor leaves for a call nobody answered


@lru_cache(maxsize=1)
def _tone_second() -> bytes:
    """One second of 8 kHz mono 16-bit PCM: two soft tones and a little noise (deterministic)."""
    rng = random.Random(0)
    samples = array(
        "h",
        (
            int(
                3000 * math.sin(2 * math.pi * 425 * i / WAV_RATE)
                + 1200 * math.sin(2 * math.pi * 950 * i / WAV_RATE)
                + rng.randint(-300, 300)
            )
            for i in range(WAV_RATE)
        ),
    )
    if samples.itemsize != 2:  # pragma: no cover - every CPython platform has 2-byte shorts
        raise RuntimeError("array('h') is not 16-bit")
    import sys

    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def recording_path(root: Path, recordingfile: str, calldate: datetime | None = None) -> Path:
    """`root/YYYY/MM/DD/<recordingfile>`; the date is the name's TIMESTR (FreePBX takes it from
    the same ${EPOCH}), else `calldate`."""
    parts = recordingfile.split("-")
    day = parts[3][:8] if len(parts) > 4 and parts[3][:8].isdigit() else None
    if day is None:
        if calldate is None:
            raise ValueError(f"no date in {recordingfile!r} and no calldate")
        day = calldate.strftime("%Y%m%d")
    return Path(root) / day[:4] / day[4:6] / day[6:8] / recordingfile


def is_missing_on_purpose(recordingfile: str, every: int = 150) -> bool:
    """About one recording in `every` is not written, so integrity checks have something to show."""
    return every > 0 and zlib.crc32(recordingfile.encode()) % every == 0


def write_recordings(
    root: Path,
    rows: Iterable[dict[str, Any]],
    *,
    seconds_cap: float | None = 5.0,
    missing_every: int = 150,
) -> int:
    """Write the WAV file named by each row's `recordingfile` under `root/YYYY/MM/DD/`.

    A recording whose call was answered (some ANSWERED row with a dstchannel) gets PCM audio
    (8 kHz mono 16-bit) lasting its talk time — the longest such billsec — capped at
    `seconds_cap` seconds (None: no cap). So with the default cap a recording is NOT as long as
    billsec beyond 5 s: demo files stay small; pass `seconds_cap=None` for true lengths. A
    recording nobody answered is a 44-byte header-only WAV, as MixMonitor leaves it. Names for
    which `is_missing_on_purpose` holds are skipped. Returns the number of files written.

    Memory is one entry per distinct recording (rows of a call need not be adjacent).
    """
    talk: dict[str, tuple[datetime, int]] = {}
    for row in rows:
        name = row.get("recordingfile") or ""
        if not name:
            continue
        seconds = row["billsec"] if row["disposition"] == "ANSWERED" and row["dstchannel"] else 0
        seen = talk.get(name)
        if seen is None or seconds > seen[1]:
            talk[name] = (row["calldate"], max(seconds, seen[1] if seen else 0))
    second = _tone_second()
    written = 0
    for name, (calldate, seconds) in talk.items():
        if is_missing_on_purpose(name, missing_every):
            continue
        path = recording_path(root, name, calldate)
        path.parent.mkdir(parents=True, exist_ok=True)
        length = float(seconds) if seconds_cap is None else min(float(seconds), seconds_cap)
        frames = int(length * WAV_RATE)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(WAV_RATE)
            full, rest = divmod(frames, WAV_RATE)
            for _ in range(full):
                w.writeframesraw(second)
            if rest:
                w.writeframesraw(second[: rest * 2])
        written += 1
    return written


# --- hostile rows ------------------------------------------------------------------------------
def hostile_rows() -> list[dict[str, Any]]:
    """FreePBX-shaped rows a real `cdr` table can hold and the extractor must survive.

    Each dict has the FreePBX columns plus `_expect`: "ok" when the row must load (maybe after
    repair: cp1251 / cut UTF-8 decoded, long lastdata kept), else the quarantine reason keyword
    ("calldate", "uniqueid", "duration", "identity"); and `_note`, what the row is. Byte values
    (`bytes`) are what pymysql hands back for a column that is not valid UTF-8. The two rows
    with identity `1795600009.1`/sequence 9 are identical: they collapse into one ledger row
    (both "ok"); the third with that identity differs and must be quarantined as "identity".
    """
    when = datetime(2026, 10, 15, 10, 0, 0)
    good: dict[str, Any] = {
        "calldate": when,
        "clid": '"Иван Петров" <79161234567>',
        "src": "79161234567",
        "dst": "101",
        "dcontext": "from-did-direct",
        "channel": f"PJSIP/{TRUNK}-00000101",
        "dstchannel": "PJSIP/101-00000102",
        "lastapp": "Dial",
        "lastdata": "PJSIP/101,20,tT",
        "duration": 30,
        "billsec": 25,
        "disposition": "ANSWERED",
        "amaflags": 3,
        "accountcode": "",
        "uniqueid": "1795600000.1",
        "userfield": "",
        "did": DIDS[0],
        "recordingfile": "",
        "cnum": "79161234567",
        "cnam": "Иван Петров",
        "outbound_cnum": "",
        "outbound_cnam": "",
        "dst_cnam": "",
        "linkedid": "1795600000.1",
        "peeraccount": "",
        "sequence": 1,
    }
    cut = "Пётр Сидоров".encode()[:7]  # "Пёт" + the first byte of "р"

    def variant(n: int, expect: str, note: str, **cols: Any) -> dict[str, Any]:
        row = dict(good, uniqueid=f"1795600{n:03d}.1", linkedid=f"1795600{n:03d}.1", sequence=n)
        row["calldate"] = when + timedelta(minutes=n)
        row.update(cols)
        row["_expect"] = expect
        row["_note"] = note
        return row

    dup = {"uniqueid": "1795600009.1", "linkedid": "1795600009.1", "sequence": 9}
    return [
        variant(0, "ok", "a plain good row"),
        variant(1, "calldate", "MySQL zero date as pymysql returns it",
                calldate="0000-00-00 00:00:00"),
        variant(2, "calldate", "the FreePBX 1000-01-01 default", calldate=datetime(1000, 1, 1)),
        variant(3, "calldate", "unparseable date text", calldate="2026-13-45 25:61:00"),
        variant(4, "ok", "cp1251 bytes in clid/cnam",
                clid='"Иван Петров" <79161234567>'.encode("cp1251"),
                cnam="Иван Петров".encode("cp1251")),
        variant(5, "ok", "UTF-8 cut in the middle of a character",
                clid=b'"' + cut, cnam=cut, dst_cnam="Ольга".encode()[:5]),
        variant(6, "uniqueid", "NULL uniqueid", uniqueid=None),
        variant(7, "uniqueid", "empty uniqueid", uniqueid=""),
        variant(8, "duration", "negative duration", duration=-5, billsec=0),
        variant(10, "duration", "billsec greater than duration", duration=10, billsec=25),
        variant(11, "ok", "10 kB lastdata", lastdata="PJSIP/101&" * 1000 + ",20,tT"),
        variant(9, "ok", "duplicate identity, first copy", **dup),
        variant(9, "ok", "duplicate identity, identical second copy", **dup),
        variant(9, "identity", "same identity, different content", **dup, billsec=3),
        variant(12, "ok", "amaflags and disposition as text/number variants",
                amaflags="DOCUMENTATION", disposition="ANSWERED"),
    ]  # fmt: skip
