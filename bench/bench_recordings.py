"""Benchmark of the recordings scan: first scan vs a rescan with nothing changed, and peak
memory at two tree sizes (it must not grow with the number of files).

    .venv/bin/python -m bench.bench_recordings                  # 100,000 files vs 20,000
    .venv/bin/python -m bench.bench_recordings --files 10000 --small 2000   # a quick look

Each measurement runs in a fresh subprocess on a freshly generated FreePBX-style tree
(YYYY/MM/DD folders of 1,000 distinct real 8 kHz PCM WAV files of 0.25 s each) with a
SQLite ledger in the same temporary folder.
Time is wall-clock; memory is the tracemalloc peak of Python allocations during the scan
(measured in a second, separate run, since tracing slows Python down) and the process's
maximum RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import wave
from datetime import date, timedelta
from pathlib import Path

PER_DIR = 1000


def make_tree(root: Path, n: int) -> None:
    """n files in YYYY/MM/DD folders with FreePBX names, each a real PCM WAV of its own."""
    day = date(2026, 1, 1)
    made = 0
    counter = 0
    while made < n:
        folder = root / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True)
        for _ in range(min(PER_DIR, n - made)):
            counter += 1
            name = f"in-101-7916{counter:07d}-{day:%Y%m%d}-101500-17956{counter:05d}.{counter}.wav"
            with wave.open(str(folder / name), "wb") as w:  # 0.25 s, a sample differs per file
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(counter.to_bytes(4, "little") + b"\0\0" * 1998)
            made += 1
        day += timedelta(days=1)


def measure(root: str, db: str, trace: bool) -> dict[str, float]:
    """Runs inside the subprocess: first scan, then a rescan; returns the figures."""
    from etl.config import RecordingsSettings
    from etl.ledger.store import Ledger
    from etl.recordings import scan

    settings = RecordingsSettings(root=Path(root))
    ledger = Ledger.open(f"sqlite:///{db}")
    out: dict[str, float] = {}
    for label in ("first", "rescan"):
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        summary = scan(settings, ledger, progress=False)
        out[f"{label}_s"] = time.perf_counter() - t0
        if trace:
            out[f"{label}_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        out[f"{label}_found"] = summary.found
        out[f"{label}_probed"] = summary.new + summary.changed
    out["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ledger.close()
    return out


def run_case(n: int, trace: bool, workdir: Path) -> dict[str, float]:
    case = workdir / f"case-{n}-{int(trace)}"
    root = case / "monitor"
    root.mkdir(parents=True)
    make_tree(root, n)
    db = case / "ledger.sqlite"
    cmd = [sys.executable, "-m", "bench.bench_recordings", "--child", str(root), str(db)]
    if trace:
        cmd.append("--trace")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    shutil.rmtree(case)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=20_000, help="the smaller tree for the memory comparison")
    ap.add_argument("--child", nargs=2, metavar=("ROOT", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.trace)))
        return

    with tempfile.TemporaryDirectory(prefix="cdr1c-bench-rec-") as tmp:
        work = Path(tmp)
        big = run_case(args.files, False, work)
        big_mem = run_case(args.files, True, work)
        small_mem = run_case(args.small, True, work)
    ratio = big["first_s"] / big["rescan_s"]
    print(f"recordings scan, {args.files:,} files ({PER_DIR} per folder), SQLite ledger")
    print(
        f"  first scan   {big['first_s']:8.2f} s  ({args.files / big['first_s']:,.0f} files/s, "
        f"{big['first_probed']:,.0f} read with mutagen)"
    )
    print(
        f"  rescan       {big['rescan_s']:8.2f} s  ({args.files / big['rescan_s']:,.0f} files/s, "
        f"{big['rescan_probed']:,.0f} read)"
    )
    print(f"  ratio        {ratio:8.1f}x  (target >= 20x)")
    print("  peak Python memory (tracemalloc) first scan / rescan:")
    for n, m in ((args.small, small_mem), (args.files, big_mem)):
        print(
            f"    {n:>7,} files: {m['first_peak_mib']:6.2f} MiB / {m['rescan_peak_mib']:6.2f} MiB"
            f"   (max RSS {m['maxrss_mib']:.0f} MiB)"
        )
    growth = big_mem["first_peak_mib"] / small_mem["first_peak_mib"]
    print(f"  memory growth for {args.files / args.small:.0f}x the files: {growth:.2f}x")


if __name__ == "__main__":
    main()
