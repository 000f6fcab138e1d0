"""A stand-in for a 1C:Enterprise web publication, for tests, the demo and admins' dry runs.

It behaves as docs/reference/onec-http.md documents a real 1C 8.3 publication (section numbers
below), not as a polite REST server:

- `POST InformationRegister_X` → 200 (not 201) and the record; the same key again → 400 with
  `odata.error` code 15, nothing overwritten (§1.7). `PATCH`/`GET`/`DELETE` by the full key.
- Unknown properties are silently ignored; strings longer than the field are silently truncated;
  a non-number into an Int64 field is silently ignored; a bad GUID → 400 code 1; invalid JSON →
  500 code -1 (§1.6).
- A `+` anywhere in the query string → 500 (1C does not decode `+` as a space, §2.2).
- Atom-XML unless JSON is asked for (`$format=json` or `Accept: application/json`, §1.2);
  `odata.count` and Int64 values as strings; `$metadata` is XML only (§1.1).
- HTTP Basic with a UTF-8 login (§2.1); `IBSession: start` gets a session cookie.
- `$filter` (eq/ne/gt/ge/lt/le/and/or/not), `$select`, `$orderby`, `$top`, `$skip`, `$count`,
  `$inlinecount=allpages` (§1.5); unknown field in `$filter` → 400 code 14.
- Events, catalogs and contact information are served from data given to `add_rows`.
- An HTTP-service endpoint (`POST /<base>/hs/cdr1c/records`) taking batches of register records,
  answering per record as docs/onec/ describes.
- Switchable faults: latency per request, a 5xx rate, a dropped-connection rate (half of the
  drops happen after the write was applied, as when a proxy loses the answer), and a stall on
  the first request (a cold 1C).

Run it standalone so an administrator can point cdr1c at it before touching a real base:

    python -m etl.sandbox.standin --port 8081 --user Администратор --password secret

then in cdr1c.toml `[onec] url = "http://127.0.0.1:8081/crm"`, and run `cdr1c check` / `cdr1c sync`.
`keep` (`--state FILE`) keeps its entity sets in a file as 1C keeps its infobase: each accepted
write is on disk before its answer, so a `kill -9` loses nothing answered, and a restart on the
same file serves the same data (journal.py; `cdr1c standin` serves the demo's 1C that way,
jobs/demo.py).
"""

from .model import EntitySet, Faults, OnecError, Stats
from .stand import StandIn

__all__ = ["EntitySet", "Faults", "OnecError", "StandIn", "Stats"]
