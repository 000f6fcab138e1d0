"""The overview's period and its previous one, and the series its charts show, from the day
aggregates of `overview` (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .overview import empty_day


@dataclass(frozen=True)
class Period:
    """[start, end) in local days, and the previous period of the same length."""

    start: date
    end: date

    @classmethod
    def of(cls, today: date, since: date | None, until: date | None, days: int = 28) -> Period:
        end = (until + timedelta(days=1)) if until else today + timedelta(days=1)
        start = since if since else end - timedelta(days=days)
        return cls(start, max(end, start + timedelta(days=1)))

    @property
    def length(self) -> int:
        return (self.end - self.start).days

    @property
    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.length), self.start)

    def days(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.length)]


def select(days: Mapping[str, Mapping[str, Any]], period: Period) -> list[Mapping[str, Any]]:
    return [days[d] for d in period.days() if d in days]


def daily(days: Mapping[str, Mapping[str, Any]], period: Period) -> tuple[list[str], dict[str, list[int]]]:
    """Per day of the period: inbound answered, outbound, missed; and new / returning numbers."""
    labels = period.days()
    get = [days.get(d) or empty_day() for d in labels]
    return labels, _series(get)


def weekly(
    days: Mapping[str, Mapping[str, Any]], last_day: date, weeks: int = 52
) -> tuple[list[str], dict[str, list[int]]]:
    """Per week (Monday), the `weeks` weeks up to the one holding `last_day`."""
    monday = last_day - timedelta(days=last_day.weekday())
    labels = [(monday - timedelta(weeks=weeks - 1 - i)).isoformat() for i in range(weeks)]
    buckets: list[list[Mapping[str, Any]]] = [[] for _ in labels]
    first = date.fromisoformat(labels[0])
    for d, v in days.items():
        i = (date.fromisoformat(d) - first).days // 7
        if 0 <= i < weeks:
            buckets[i].append(v)
    keys = ("in", "out", "missed", "new", "ret")
    return labels, _series([{k: sum(v[k] for v in b) for k in keys} for b in buckets])


def _series(per: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    return {
        "inbound": [v["in"] - v["missed"] for v in per],
        "outbound": [v["out"] for v in per],
        "missed": [v["missed"] for v in per],
        "new": [v["new"] for v in per],
        "returning": [v["ret"] for v in per],
    }


def heat(days: Mapping[str, Mapping[str, Any]], period: Period) -> list[list[int]]:
    """Weekday (Monday first) × hour counts of the period's calls."""
    grid = [[0] * 24 for _ in range(7)]
    for d in period.days():
        v = days.get(d)
        if v:
            row = grid[date.fromisoformat(d).weekday()]
            for h, n in enumerate(v["hours"]):
                row[h] += n
    return grid
