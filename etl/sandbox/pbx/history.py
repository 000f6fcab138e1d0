"""The machinery of the deterministic FreePBX history (the calls themselves are in calls.py).

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
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .office import (
    AMAFLAGS_DOCUMENTATION,
    COMPANIES,
    DIDS,
    FIRST_F,
    FIRST_M,
    FORMS,
    LANDLINE,
    LAST,
    LONG_CALL_SHARE,
    MOBILE,
    SCENARIOS,
    TRUNK,
)


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


class CallHistory:
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
        code = MOBILE[h % 11] if (h >> 8) % 10 < 7 else LANDLINE[h % 4]
        national = f"{code}{(h >> 16) % 10_000_000:07d}"
        kind = (h >> 40) % 20
        if kind < 11:
            female = (h >> 45) & 1
            first = (FIRST_F if female else FIRST_M)[(h >> 46) % 9]
            last = LAST[(h >> 50) % 16]
            if female and not last.isascii():
                last += "а"
            name = f"{first} {last}" if (h >> 54) & 3 else f"{last} {first[0]}."
        elif kind < 16:
            name = FORMS[(h >> 46) % 4].format(COMPANIES[(h >> 50) % 12])
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
            national = f"{MOBILE[self.rr(11)]}{self.rr(10_000_000):07d}"
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
