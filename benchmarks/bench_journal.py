"""Cost of journaling: a copy of many small frames with and without the journal, alternating runs."""

from __future__ import annotations

import argparse
import shutil
import statistics
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
        plain: list[float] = []
        logged: list[float] = []
        for _ in range(args.repeat):
            plain.append(once(src, work, None, not args.no_fsync))
            logged.append(once(src, work, journal, not args.no_fsync))
        p, j = statistics.median(plain), statistics.median(logged)
        print(f"{args.frames} frames x {args.size} B, fsync {'off' if args.no_fsync else 'on'}, "
              f"median of {args.repeat}: without journal {p:.2f} s, with journal {j:.2f} s "
              f"(x{j / p:.2f}; {(j - p) / args.frames * 1000:.2f} ms per frame)")
        journal.close()


if __name__ == "__main__":
    main()
