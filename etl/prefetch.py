"""Run a generator in a child process and consume its items here, a few items ahead.

A large sync is two kinds of work of about the same cost: reading + normalising (driver,
pandas) and writing the ledger (driver, SQLite). In one process they take turns; here they run
on two cores at once. The child is spawned (not forked), so threads in the parent — the
scheduler's, the live API's — cannot leave it holding a lock; its function and arguments must
be picklable. A child whose parent disappears (a `kill -9`) notices and exits; a child that
dies makes the parent raise instead of waiting forever.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Iterator
from typing import Any

POLL_SECONDS = 1.0


class ChildDied(RuntimeError):
    pass


def _child(fn: Callable[..., Iterator[Any]], args: tuple[Any, ...], out: Any, parent: int) -> None:
    def put(item: tuple[str, Any]) -> bool:
        while True:
            try:
                out.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if os.getppid() != parent:  # the parent is gone: nobody will read
                    return False

    try:
        for item in fn(*args):
            if not put(("item", item)):
                return
    except BaseException as exc:
        put(("error", exc))
        return
    put(("end", None))


def in_child(fn: Callable[..., Iterator[Any]], *args: Any, depth: int = 3) -> Iterator[Any]:
    """Yield what `fn(*args)` yields, computed in a child process."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue(maxsize=depth)
    proc = ctx.Process(target=_child, args=(fn, args, out, os.getpid()), daemon=True, name="cdr1c-reader")
    proc.start()
    try:
        while True:
            try:
                kind, payload = out.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not proc.is_alive():
                    raise ChildDied(f"the reader process ended with code {proc.exitcode}") from None
                continue
            if kind == "item":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=10)
        out.close()
