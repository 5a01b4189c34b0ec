"""`vfxcopy verify` against `ascmhl-debug verify` on the same delivery (sealed by `ascmhl create`), alternating runs.

Both read every file from the page cache (a warm-up run of each first), so the
figure is the cost of hashing plus each tool's own overhead (start-up, history
parsing, traversal). `vfxcopy verify` runs as users run it (a new process) and,
beside it, in process (verify_destination: no start-up). Also times one
manifest write of a job of that size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.verify import ManifestEntry, hash_path, write_generation

BIN = Path(sys.executable).parent
# The reference CLI asks GitHub for a newer version on start: point it at a closed port.
ENV = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stdout}{proc.stderr}")
    return elapsed


def timed_in_process(root: Path) -> float:
    from vfxcopy.core.jobs import CancelToken
    from vfxcopy.core.verify import verify_destination

    started = time.perf_counter()
    report = verify_destination(str(root), CancelToken(), lambda event: None)
    elapsed = time.perf_counter() - started
    if not report.passed:
        raise SystemExit(f"verify_destination did not pass: {report.to_dict()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=4 << 20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hash", default="xxh128", choices=["xxh128", "xxh64", "md5"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "delivery"
        paths = make_byte_sequence(root / "plates", count=args.frames, size=args.size)
        subprocess.run([str(BIN / "ascmhl"), "create", str(root), "-h", args.hash], check=True, env=ENV,
                       capture_output=True)
        ours = [sys.executable, "-m", "vfxcopy", "verify", str(root), "-q"]
        theirs = [str(BIN / "ascmhl-debug"), "verify", str(root)]
        timed(ours), timed(theirs), timed_in_process(root)  # warm the page cache and the imports
        a: list[float] = []
        b: list[float] = []
        c: list[float] = []
        for _ in range(args.repeat):
            a.append(timed(ours))
            b.append(timed(theirs))
            c.append(timed_in_process(root))
        total = args.frames * args.size
        ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
        print(f"{args.frames} files x {args.size >> 10} KiB ({total / 2**30:.2f} GiB), {args.hash}, "
              f"median of {args.repeat}:")
        print(f"  vfxcopy verify       {ma:6.2f} s  {total / ma / 2**20:7.0f} MiB/s  (command line)")
        print(f"  verify_destination   {mc:6.2f} s  {total / mc / 2**20:7.0f} MiB/s  (in process)")
        print(f"  ascmhl-debug verify  {mb:6.2f} s  {total / mb / 2**20:7.0f} MiB/s  (command line)")
        print(f"  ratio (ascmhl / vfxcopy time): command line {mb / ma:.2f}x, in process {mb / mc:.2f}x")

        # One generation for a job of that size, from hashes the copy already has (no reading).
        entries = [ManifestEntry(f"plates/{p.name}", args.size, p.stat().st_mtime, args.hash,
                                 hash_path(str(p), args.hash)) for p in paths]
        started = time.perf_counter()
        write_generation(root, entries)
        print(f"  write_generation of {len(entries)} entries onto that history: "
              f"{time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
