"""`make bench`: every benchmark in turn (each prints its own figures as JSON or a table).

Run one alone with `.venv/bin/python -m bench.bench_<name> --help`.
"""

from __future__ import annotations

import subprocess
import sys

BENCHES = [
    "bench.bench_sync",
    "bench.bench_sync_floor",
    "bench.bench_onec",
    "bench.bench_recordings",
    "bench.bench_recordings_link",
    "bench.bench_reports",
    "bench.bench_live",
    "bench.bench_live_sync",
]


def main() -> None:
    failed = []
    for name in sys.argv[1:] or BENCHES:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", name], check=False).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
