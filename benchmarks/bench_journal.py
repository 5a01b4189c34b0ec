"""Cost of journaling: a copy of many small frames with and without the journal, alternating runs.

In process (run_job with and without a Journal) and through the command line as users run it
(`vfxcopy copy` and `vfxcopy copy --no-journal`, each a new process with the benchmark's own data
folder; the manifest and report are written by both, so the difference is the journal's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CopyOptions, JobSpec, VerifyMode
from vfxcopy.core.journal import Journal
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence


def once(src: list[Path], work: Path, journal: Journal | None, fsync: bool) -> float:
    dest = work / "dst"
    shutil.rmtree(dest, ignore_errors=True)
    # Manifest writing is measured with the copy (it is part of a verified job either way).
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(dest),
                   copy=CopyOptions(fsync=fsync, verify=VerifyMode.TRANSFER))
    started = time.perf_counter()
    result = run_job(spec, journal=journal)
    elapsed = time.perf_counter() - started
    assert result.state.value == "completed", result.message
    return elapsed


def once_cli(src: list[Path], work: Path, journal: bool, fsync: bool) -> float:
    dest = work / "dst"
    shutil.rmtree(dest, ignore_errors=True)
    env = {**os.environ, "VFXCOPY_DATA_DIR": str(work / "data"), "VFXCOPY_CONFIG_DIR": str(work / "config")}
    command = [sys.executable, "-m", "vfxcopy", "copy", "-q", "--verify", "transfer", str(src[0].parent), str(dest)]
    command += [] if journal else ["--no-journal"]
    command += [] if fsync else ["--no-fsync"]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--size", type=int, default=16 << 10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-fsync", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = make_byte_sequence(work / "src", count=args.frames, size=args.size)
        journal = Journal(work / "journal.sqlite3")
        runs: dict[str, list[float]] = {"plain": [], "logged": [], "cli plain": [], "cli logged": []}
        fsync = not args.no_fsync
        for _ in range(args.repeat):
            runs["plain"].append(once(src, work, None, fsync))
            runs["logged"].append(once(src, work, journal, fsync))
            runs["cli plain"].append(once_cli(src, work, False, fsync))
            runs["cli logged"].append(once_cli(src, work, True, fsync))
        journal.close()
        print(f"{args.frames} frames x {args.size} B, fsync {'on' if fsync else 'off'}, median of {args.repeat}:")
        for where, key in (("in process", ""), ("command line", "cli ")):
            p, j = statistics.median(runs[key + "plain"]), statistics.median(runs[key + "logged"])
            print(f"  {where}: without journal {p:.2f} s, with journal {j:.2f} s "
                  f"(x{j / p:.2f}; {(j - p) / args.frames * 1000:.3f} ms per frame)")


if __name__ == "__main__":
    main()
