"""Legs → calls: talk time is the union of answered intervals, never double-counted."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.calls import group_calls

US = 1_000_000


def leg(
    linkedid: str,
    i: int,
    start: int,
    answer: int | None,
    end: int,
    disposition: str,
    dst: str = "PJSIP/101-1",
) -> dict:
    return {
        "source": "p", "linkedid": linkedid, "row_id": f"{linkedid}#{i}", "calldate_us": start * US,
        "answer_us": None if answer is None else answer * US, "end_us": end * US, "disposition": disposition,
        "dstchannel": dst, "lastapp": "Dial", "extension": "101", "direction": "inbound",
        "external_number": "+79161234567", "sequence": i, "dst": "101",
    }  # fmt: skip


def union_length(intervals: list[tuple[int, int]]) -> int:
    covered: set[int] = set()
    for s, e in intervals:
        covered.update(range(s, e))
    return len(covered)


interval = st.tuples(st.integers(0, 300), st.integers(0, 120)).map(lambda t: (t[0], t[0] + t[1]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(interval, min_size=1, max_size=5), min_size=1, max_size=6))
def test_talk_is_the_union_of_answered_intervals(calls: list[list[tuple[int, int]]]) -> None:
    legs = []
    for n, intervals in enumerate(calls):
        for i, (s, e) in enumerate(intervals):
            legs.append(leg(f"L{n}", i, max(0, s - 5), s, e, "ANSWERED", f"PJSIP/10{i}-1"))
    out = group_calls(pd.DataFrame(legs)).set_index("linkedid")
    for n, intervals in enumerate(calls):
        assert out.loc[f"L{n}", "talk"] == union_length(intervals)
        assert out.loc[f"L{n}", "attempts"] == len(intervals)
        assert out.loc[f"L{n}", "outcome"] == "answered"


def test_ring_group_queue_and_missed() -> None:
    legs = [
        # ring group: three phones rang at once, 102 answered
        leg("rg", 1, 0, None, 20, "NO ANSWER", "PJSIP/101-1"),
        leg("rg", 2, 0, 8, 60, "ANSWERED", "PJSIP/102-1"),
        leg("rg", 3, 0, None, 20, "NO ANSWER", "PJSIP/103-1"),
        # busy, then nobody: the strongest reason wins
        leg("miss", 1, 100, None, 110, "BUSY"),
        leg("miss", 2, 100, None, 130, "NO ANSWER", "PJSIP/102-1"),
        # the IVR answered, nobody else: missed in the IVR
        leg("ivr", 1, 200, 200, 230, "ANSWERED", ""),
    ]
    legs[1]["extension"] = "102"
    out = group_calls(pd.DataFrame(legs)).set_index("linkedid")
    assert (out.loc["rg", "outcome"], out.loc["rg", "attempts"], out.loc["rg", "talk"]) == ("answered", 3, 52)
    assert (out.loc["rg", "wait"], out.loc["rg", "extension"]) == (8, "102")
    assert (out.loc["miss", "outcome"], out.loc["miss", "reason"], out.loc["miss", "wait"]) == (
        "missed",
        "busy",
        30,
    )
    assert (out.loc["ivr", "outcome"], out.loc["ivr", "reason"], out.loc["ivr", "attempts"]) == (
        "missed",
        "ivr",
        0,
    )
