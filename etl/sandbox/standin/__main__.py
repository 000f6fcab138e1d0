"""`python -m etl.sandbox.standin`: serve a 1C stand-in until Ctrl-C (docs/onec-setup.md)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from etl.sandbox import standin
from etl.sandbox.crm import add_crm_sets
from etl.sandbox.standin import Faults, StandIn


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m etl.sandbox.standin", description=(standin.__doc__ or "").split("\n\n")[0]
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--base", default="/crm", help="publication path (default /crm)")
    ap.add_argument("--user", default="Администратор")
    ap.add_argument("--password", default="пароль-секрет")
    ap.add_argument("--register", default="InformationRegister_ЗвонкиАТС")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    ap.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    ap.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped")
    ap.add_argument("--first-stall", type=float, default=0.0, help="seconds the first request waits")
    ap.add_argument("--events", action="store_true", help="serve Document_Событие and contacts sets")
    ap.add_argument(
        "--state",
        type=Path,
        help="keep the base in this file: served from it at start, every accepted write on disk "
        "before its answer (default: in memory only)",
    )
    args = ap.parse_args(argv)
    faults = Faults(args.latency, args.error_rate, args.drop_rate, args.first_stall)
    stand = StandIn(
        user=args.user,
        password=args.password,
        base=args.base,
        register=args.register,
        faults=faults,
        host=args.host,
        port=args.port,
    )
    if args.events:
        add_crm_sets(stand)
    if args.state is not None:
        stand.keep(args.state)
    print(f"1C stand-in at {stand.url} (user {args.user!r}); Ctrl-C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stand._server.serve_forever()


if __name__ == "__main__":
    main()
