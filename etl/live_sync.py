"""When a finished call should start a sync, and what that sync must find: pure, no I/O.

`cdr1c live` feeds every AMI event to `CallEnds.apply`, which recognises a finished call in one
of two ways (`[ami] sync_on`):

- `cdr`: each `Cdr` event (cdr_manager) is one CDR row Asterisk has just written through its
  other backends; it names the row's `UniqueID`. The sync that follows must find as many rows
  with that uniqueid as `Cdr` events named it (one uniqueid can carry several rows: a ring
  group's legs share the caller's uniqueid, each with its own sequence).
- `hangup`: without cdr_manager, the `Hangup` of the last channel of a linkedid ends the call.
  The sync must then find at least one row of that linkedid.

`Debouncer` turns those ends into sync runs: a burst (a queue or ring group ends many legs at
once, calls ending every half second) becomes one run, started once no new end has come for
`quiet` seconds, or at the latest `max_wait` after the first one waiting; what the run did not
find yet (the event came before cdr_adaptive_odbc committed the row) is tried again after
`retry` seconds, up to `give_up` seconds after the end; then the timer's sync takes it over.
The worker that runs the syncs (jobs/live_sync.py) asks `due` and `take`, and gives back what
is still missing (`missing`) or a run that could not start (`postpone`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from etl.ami.protocol import Message

MODES = ("off", "cdr", "hangup")


@dataclass(frozen=True)
class Ended:
    """One finished call or CDR row: `kind` cdr (key = uniqueid) or hangup (key = linkedid)."""

    kind: str
    key: str


class CallEnds:
    """Recognises finished calls in the AMI event stream (see the module docstring)."""

    def __init__(self, mode: str, limit: int = 20_000) -> None:
        if mode not in MODES:
            raise ValueError(f"sync_on must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self._limit = limit
        self._linked: dict[str, str] = {}  # uniqueid → linkedid of every live channel
        self._open: Counter[str] = Counter()  # linkedid → live channels

    def apply(self, msg: Message) -> Ended | None:
        name = msg.event
        if self.mode == "cdr":
            uid = msg.get("UniqueID") or ""
            return Ended("cdr", uid) if name == "Cdr" and uid else None
        if self.mode != "hangup" or name is None:
            return None
        uid, linked = msg.get("Uniqueid") or "", msg.get("Linkedid") or ""
        if not uid:
            return None
        if name == "Hangup":
            linked = self._linked.pop(uid, "") or linked
            if not linked:
                return None
            self._open[linked] -= 1
            if self._open[linked] > 0:
                return None
            del self._open[linked]  # the last channel of the call (or one seen only at its end)
            return Ended("hangup", linked)
        before = self._linked.get(uid)
        if linked and before != linked:  # Newchannel, or a pickup moving a leg to another call
            if before is not None:
                self._open[before] -= 1
                if self._open[before] <= 0:
                    del self._open[before]
            self._linked[uid] = linked
            self._open[linked] += 1
            if len(self._linked) > self._limit:  # hangups missed while disconnected
                self.reset()
        return None

    def reset(self) -> None:
        """After a reconnect: hangups may have been missed (the timer covers those calls)."""
        self._linked.clear()
        self._open.clear()


@dataclass
class Wait:
    """What a sync must find for one end: `count` rows of this uniqueid (cdr) or one of this
    linkedid (hangup); `since` when the first end of it came, `tries` how many runs looked;
    `taken` while a run looks for it (an end of the same key coming meanwhile clears it)."""

    kind: str
    key: str
    count: int
    since: float
    tries: int = 0
    taken: bool = False


@dataclass
class Debouncer:
    """Ends in, sync runs out; every time is a number of seconds on one monotonic clock."""

    quiet: float = 0.5
    max_wait: float = 2.0
    retry: float = 1.0
    give_up: float = 60.0
    waits: dict[tuple[str, str], Wait] = field(default_factory=dict)
    _first: float | None = None  # the oldest end not yet taken by a run
    _last: float | None = None  # the newest one
    _retry_at: float | None = None  # when what a run did not find is looked for again

    def add(self, now: float, end: Ended) -> None:
        key = (end.kind, end.key)
        wait = self.waits.get(key)
        if wait is None:
            self.waits[key] = Wait(end.kind, end.key, 1, now)
        else:
            wait.taken = False  # the run in flight may have read before this end's row came
            wait.count += end.kind == "cdr"
        self._first = now if self._first is None else self._first
        self._last = now

    def next_at(self) -> float | None:
        """When the next run is due (None: nothing waits)."""
        fresh = (
            None
            if self._first is None or self._last is None
            else min(self._last + self.quiet, self._first + self.max_wait)
        )
        times = [t for t in (fresh, self._retry_at) if t is not None]
        return min(times) if times else None

    def due(self, now: float) -> bool:
        at = self.next_at()
        return at is not None and now >= at

    def take(self, now: float) -> list[Wait]:
        """Start a run: every wait, each counted as tried once more."""
        self._first = self._last = self._retry_at = None
        taken = list(self.waits.values())
        for w in taken:
            w.tries += 1
            w.taken = True
        return taken

    def missing(self, now: float, still: list[Wait]) -> list[Wait]:
        """After a run: `still` were not found. Found ones are forgotten; what is still missing is
        looked for again after `retry` unless it has waited `give_up`: those are returned (the
        timer's sync will bring them)."""
        keep = {(w.kind, w.key) for w in still}
        given_up = [w for w in still if now - w.since >= self.give_up]
        dropped = {(w.kind, w.key) for w in given_up}
        for key, w in list(self.waits.items()):
            # An end that came again during the run is not `taken` any more: the next run's.
            if w.taken and (key not in keep or key in dropped):
                del self.waits[key]
            w.taken = False
        if self.waits and self._first is None:
            self._retry_at = now + self.retry
        return given_up

    def postpone(self, now: float) -> None:
        """The run could not start (another sync of the source holds its lock): try again after
        `retry`; that run's rows may have been read before this end's row was committed."""
        for w in self.waits.values():
            w.taken = False
        self._retry_at = now + self.retry

    def pending(self) -> int:
        return len(self.waits)
