"""Legs → calls: talk time is the union of answered intervals, never double-counted."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.calls import CALL_COLUMNS, group_calls

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


# --- every rule against a brute-force oracle ------------------------------------------------

DISPOSITIONS = ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "CANCEL", ""]
REASONS = ["busy", "congestion", "failed", "cancel", "no answer"]  # strongest first

LEG_FIELDS = {
    "source": st.sampled_from(["a", "b"]),
    "linkedid": st.sampled_from(["1.1", "1.10", "1.2", "2.0", "L"]),
    "calldate_us": st.integers(0, 6).map(lambda s: s * US),  # few values: ties
    "answer_us": st.one_of(st.none(), st.integers(-2, 12).map(lambda s: s * US)),
    "end_us": st.integers(-1, 14).map(lambda s: s * US),  # may end before the answer
    "disposition": st.sampled_from(DISPOSITIONS),
    "dstchannel": st.sampled_from(["", "PJSIP/101-1", "PJSIP/102-1", "Local/110@from-queue-1;1"]),
    "lastapp": st.sampled_from(["Dial", "Queue", "ChanSpy", "ExtenSpy", "Hangup", "Playback"]),
    "extension": st.one_of(st.none(), st.sampled_from(["101", "102", "110"])),
    "direction": st.sampled_from(["inbound", "outbound", "internal", "unknown"]),
    "external_number": st.one_of(st.none(), st.sampled_from(["+79161234567", "+74951234567"])),
    "sequence": st.one_of(st.none(), st.integers(0, 3)),
    "dst": st.sampled_from(["101", "s", ""]),
}
any_leg = st.fixed_dictionaries(LEG_FIELDS)


def expected_calls(legs: list[dict], has_sequence: bool, has_dst: bool) -> dict[tuple[str, str], dict]:
    """The rules of etl/calls.py, one call at a time, in plain Python."""
    calls: dict[tuple[str, str], list[dict]] = {}
    for leg in legs:
        calls.setdefault((leg["source"], leg["linkedid"]), []).append(leg)
    out = {}
    for key, call in calls.items():
        call = sorted(call, key=lambda g: (g["calldate_us"], (g["sequence"] or 0) if has_sequence else 0))
        person = [
            g
            for g in call
            if g["disposition"] == "ANSWERED"
            and (g["dstchannel"] != "" or g["lastapp"] in ("ChanSpy", "ExtenSpy"))
        ]
        start = min(g["calldate_us"] for g in call)
        end = max(g["end_us"] for g in call)
        answers = [g["answer_us"] for g in person if g["answer_us"] is not None]
        covered: set[int] = set()  # whole seconds during which a person was on the line
        for g in person:
            if g["answer_us"] is not None:
                covered.update(range(g["answer_us"] // US, g["end_us"] // US))
        answerers = [
            g["extension"] if g["direction"] != "internal" else (g["dst"] if has_dst else None)
            for g in person
        ]
        answered_by = next((a for a in answerers if a is not None), None)
        first_ext = next((g["extension"] for g in call if g["extension"] is not None), None)
        reasons = [g["disposition"].lower() for g in call if g["disposition"].lower() in REASONS]
        first_answer = min(answers) if answers else None
        wait = (first_answer or 0) - start if person else end - start
        out[key] = {
            "start_us": start,
            "end_us": end,
            "answer_us": first_answer,
            "wait": max(0, wait // US),
            "talk": len(covered),
            "direction": call[0]["direction"],
            "external_number": next(
                (g["external_number"] for g in call if g["external_number"] is not None), None
            ),
            "extension": answered_by
            if answered_by is not None and call[0]["direction"] != "outbound"
            else first_ext,
            "outcome": "answered" if person else "missed",
            "reason": "" if person else min(reasons, key=REASONS.index, default="ivr"),
            "legs": len(call),
            "attempts": len({g["dstchannel"] for g in call if g["dstchannel"]}),
        }
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(any_leg, max_size=25),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_every_rule_against_a_brute_force_oracle(
    legs: list[dict], has_sequence: bool, has_dst: bool, sync_dtypes: bool, rnd
) -> None:
    for i, leg in enumerate(legs):
        leg["row_id"] = f"r{i}"
    rnd.shuffle(legs)  # in no particular order, and under an index that is not 0..n-1
    index = [7 * i + 3 for i in reversed(range(len(legs)))]
    frame = pd.DataFrame(legs, columns=["row_id", *LEG_FIELDS], index=index)
    frame = frame.drop(columns=[c for c, keep in (("sequence", has_sequence), ("dst", has_dst)) if not keep])
    if sync_dtypes:  # as the sync's normalise gives them: object text, nullable integer times
        text = {c: object for c in frame.columns if frame[c].dtype == "str"}
        frame = frame.astype(text | dict.fromkeys(("calldate_us", "answer_us", "end_us"), "Int64"))
    out = group_calls(frame)

    assert list(out.columns) == list(CALL_COLUMNS)
    expected = expected_calls(legs, has_sequence, has_dst)
    assert list(zip(out["source"], out["linkedid"], strict=True)) == sorted(expected)
    if legs:  # (an empty frame has untyped columns)
        assert all(out[col].dtype == "int64" for col in ("wait", "talk", "legs", "attempts"))
    for row in out.to_dict("records"):
        want = expected[(row["source"], row["linkedid"])]
        got = {k: (None if pd.isna(v) else v) for k, v in row.items() if k in want}
        assert got == want
