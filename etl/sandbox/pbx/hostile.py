"""FreePBX-shaped rows a real `cdr` table can hold and the extractor must survive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .office import DIDS, TRUNK


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
