"""How long the AMI client waits before it connects again."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: exponential from `initial` to `maximum`, each × random 50–100 %."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delays(self, rng: random.Random) -> Iterable[float]:
        delay = self.initial
        while True:
            yield delay * rng.uniform(0.5, 1.0)
            delay = min(self.maximum, delay * self.factor)
