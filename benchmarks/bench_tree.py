"""A delivery tree through the CLI (`vfxcopy copy TREE DEST`) side by side with `cp -r` and `rsync -a`.

    python benchmarks/bench_tree.py [--rounds N] [--quick] [--dir DIR] [--fanout]

The tree: 781 frames x 800 KB in three sequences, plus 50 other files (1 KB to
2 MB: .mov, .wav, sidecars, EDLs) in 10 folders. Every contender is a separate
process started the same way (wall time includes Python's start-up for vfxcopy),
in alternating order per round, each on a fresh destination that is deleted
right after, then `sync` and a 1 s pause (untimed), as in bench_copy.py. The
copies are checked against the source (`diff -r`) once per contender.

In process: the engine alone on the same tree (scan_tree, tree_job, run_pipeline: no
interpreter start-up, no pre-flight), with the same two option sets, beside the commands.

Like for like: `cp -r` and `rsync -a` neither hash nor fsync, so they are compared
with `vfxcopy --verify none --no-fsync` (targets: >= 0.95x cp -r, >= 1.5x rsync -a,
ratio = reference time / vfxcopy time); vfxcopy's defaults (fsync, xxh3 transfer
hashing, ASC MHL manifest) are compared with `cp -r` followed by `sync` of the files.

--fanout loop|loop-ram|loop-ram2|tmpfs (root: mounts, drop_caches): two destinations on two file
systems (two loop-mounted ext4 images on the one disk, which then share its bandwidth; or one of
them backed by RAM, i.e. two independent drives; or both images in RAM, two drives faster than the
source disk; or two tmpfs) with `--also`, against each single-destination copy and against the two
copies in a row (targets: <= 1.25x the slower single copy, <= 0.65x the two in a row); the page
cache is dropped before every run, and the bytes the command read from storage (getrusage
ru_inblock of the child) show that the source is read once. "Two in a row" is timed twice: as
the commands run back to back (the second one finds the source in the page cache) and with the
cache dropped between them (untimed), as a card or a delivery bigger than memory is read.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vfxcopy.core.jobs import VerifyMode
from vfxcopy.core.samples import make_byte_sequence

SETTLE_S = 1.0


def make_tree(root: Path, frames: int = 781, frame_size: int = 800_000, others: int = 50) -> int:
    """The benchmark's tree; returns its bytes."""
    split = [frames * 51 // 100, frames * 26 // 100]
    split.append(frames - sum(split))
    folders = ["shot_010/plates/bg01", "shot_010/plates/fg01", "shot_020/comp/v003"]
    for (folder, count), seed in zip(zip(folders, split, strict=True), (1, 2, 3), strict=True):
        make_byte_sequence(root / folder, count=count, size=frame_size, seed=seed)
    extra = ["shot_010/ref", "shot_010/edl", "shot_020/ref", "shot_020/lut", "docs", "audio", "cdl"]
    rng = random.Random(7)
    for i in range(others):
        folder = root / extra[i % len(extra)]
        folder.mkdir(parents=True, exist_ok=True)
        ext = (".mov", ".wav", ".xml", ".edl", ".cdl", ".txt")[i % 6]
        size = rng.choice((1_000, 20_000, 300_000, 2_000_000))
        (folder / f"file_{i:02d}{ext}").write_bytes(rng.randbytes(size))
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run_cmd(args: list[str]) -> Callable[[Path, Path], None]:
    def run(src: Path, dest: Path) -> None:
        subprocess.run([part.replace("{SRC}", str(src)).replace("{DEST}", str(dest)) for part in args], check=True,
                       stdout=subprocess.DEVNULL)

    return run


def in_process(**copy: object) -> Callable[[Path, Path], None]:
    """The engine alone: the tree scanned and copied by run_pipeline, as the command's job is."""
    from vfxcopy.core.jobs import CancelToken, CopyOptions, JobState
    from vfxcopy.core.pipeline import run_pipeline
    from vfxcopy.core.tree import scan_tree, tree_job

    def run(src: Path, dest: Path) -> None:
        spec = tree_job(str(src), str(dest), scan_tree(str(src)), copy=CopyOptions(**copy))  # type: ignore[arg-type]
        result = run_pipeline(spec, CancelToken(), lambda event: None)
        if result.state is not JobState.COMPLETED:
            raise SystemExit(f"in process: {result.state.value}: {result.message}")
    return run


def cp_sync(src: Path, dest: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dest)], check=True)
    files = [str(p) for p in dest.rglob("*") if p.is_file()]
    subprocess.run(["sync", *files], check=True)


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def fanout(base: Path, src: Path, size: int, rounds: int, on: str) -> int:
    """Two destinations on two file systems (loop-mounted ext4 images on the same disk, or two tmpfs,
    i.e. two independent devices): --also against single copies and two in a row."""
    mounts = []
    try:
        for i in (1, 2):
            image, mnt = base / f"fs{i}.img", base / f"m{i}"
            if (on == "loop-ram" and i == 2) or on == "loop-ram2":  # an image in RAM: an independent device
                image = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-", dir="/dev/shm")) / f"fs{i}.img"
            mnt.mkdir()
            if on == "tmpfs":
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size * 2 + (256 << 20)}", "tmpfs", str(mnt)],
                               check=True)
            else:
                subprocess.run(["truncate", "-s", str(size * 2 + (256 << 20)), str(image)], check=True)
                subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
                subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
            mounts.append(mnt)
        m1, m2 = mounts
        def vfx(dest: Path, *more: str) -> list[str]:
            return [sys.executable, "-m", "vfxcopy", "copy", str(src), str(dest), "-q", "--no-journal", *more]

        runs: dict[str, list[list[str]]] = {
            "single -> fs1": [vfx(m1 / "d")],
            "single -> fs2": [vfx(m2 / "d")],
            "--also: fs1 + fs2": [vfx(m1 / "d", "--also", str(m2 / "d"))],
            "two in a row": [vfx(m1 / "d"), vfx(m2 / "d")],
            # The second copy reading the source from storage again, as a card or a delivery bigger
            # than memory is read: the cache is dropped between the two commands (untimed).
            "two in a row, cold": [vfx(m1 / "d"), vfx(m2 / "d")],
        }
        times: dict[str, list[float]] = {n: [] for n in runs}
        reads: dict[str, list[float]] = {n: [] for n in runs}
        names = list(runs)
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                drop_caches()
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_inblock
                elapsed = 0.0
                for n, cmd in enumerate(runs[name]):
                    if n and name.endswith("cold"):
                        drop_caches()
                    t0 = time.perf_counter()
                    subprocess.run(cmd, check=True)
                    elapsed += time.perf_counter() - t0
                times[name].append(elapsed)
                reads[name].append((resource.getrusage(resource.RUSAGE_CHILDREN).ru_inblock - before) * 512 / 1e6)
                for mnt in mounts:
                    shutil.rmtree(mnt / "d", ignore_errors=True)
                subprocess.run(["sync"], check=True)
                time.sleep(SETTLE_S)
            print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names), flush=True)
        med = {n: statistics.median(t) for n, t in times.items()}
        print(f"\nmedian wall time, and MB read from storage by the command(s) (tree {size / 1e6:.0f} MB, cold cache):")
        for n in names:
            print(f"  {n:<20} {med[n]:7.2f} s   read {statistics.median(reads[n]):6.0f} MB")
        slower = max(med["single -> fs1"], med["single -> fs2"])
        print(f"\n  --also vs the slower single copy: {med['--also: fs1 + fs2'] / slower:.2f}x  (target <= 1.25)")
        print(f"  --also vs two copies in a row:   {med['--also: fs1 + fs2'] / med['two in a row']:.2f}x  (target <= 0.65)")
        print(f"  --also vs two in a row, each reading the source from storage: "
              f"{med['--also: fs1 + fs2'] / med['two in a row, cold']:.2f}x  (target <= 0.65)")
        return 0
    finally:
        for mnt in mounts:
            subprocess.run(["umount", str(mnt)], check=False)
        for leftover in Path("/dev/shm").glob("vfxcopy-bench-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the frames, 3 rounds")
    parser.add_argument("--dir", help="work folder (default: a temporary folder in the current folder)")
    parser.add_argument("--fanout", choices=["loop", "loop-ram", "loop-ram2", "tmpfs"],
                        help="two destinations on two file systems: loop-mounted ext4 images on this disk, the second one in RAM (loop-ram), both in RAM (loop-ram2), or two tmpfs")
    args = parser.parse_args()
    frames, rounds = (78, 3) if args.quick else (781, args.rounds)
    base = Path(tempfile.mkdtemp(prefix="bench_tree_", dir=args.dir or "."))
    vfx = [sys.executable, "-m", "vfxcopy", "copy", "{SRC}", "{DEST}", "-q", "--no-journal"]
    contenders: dict[str, Callable[[Path, Path], None]] = {
        "vfxcopy --verify none --no-fsync": run_cmd([*vfx, "--verify", "none", "--no-fsync"]),
        "cp -r": run_cmd(["cp", "-r", "{SRC}", "{DEST}"]),
        "rsync -a": run_cmd(["rsync", "-a", "{SRC}/", "{DEST}/"]),
        "vfxcopy defaults (fsync, xxh3, manifest)": run_cmd(vfx),
        "cp -r + sync FILES": cp_sync,
        "in process --verify none --no-fsync": in_process(verify=VerifyMode.NONE, fsync=False),
        "in process defaults (fsync, xxh3)": in_process(),
    }
    try:
        src = base / "src"
        size = make_tree(src, frames)
        subprocess.run(["sync"], check=True)
        if args.fanout:
            return fanout(base, src, size, rounds, args.fanout)
        print(f"tree: {frames} frames x 800 KB + 50 files in 10 folders, {size / 1e6:.0f} MB; "
              f"{rounds} rounds, alternating order; fs {os.statvfs(base).f_bsize}-byte blocks", flush=True)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        checked: set[str] = set()
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                dest = base / f"dest_{r}_{names.index(name)}"
                t0 = time.perf_counter()
                contenders[name](src, dest)
                times[name].append(time.perf_counter() - t0)
                if name not in checked:
                    same = subprocess.run(["diff", "-r", "-x", "ascmhl", str(src), str(dest)], capture_output=True)
                    if same.returncode != 0:
                        print(f"{name}: the copy differs from the source!", file=sys.stderr)
                        return 1
                    checked.add(name)
                shutil.rmtree(dest)
                subprocess.run(["sync"], check=True)
                time.sleep(SETTLE_S)
            print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names), flush=True)
        med = {n: statistics.median(t) for n, t in times.items()}
        print("\nmedian wall time (MB/s):")
        for n in names:
            print(f"  {n:<42} {med[n]:7.2f} s  {size / med[n] / 1e6:7.0f} MB/s")
        print("\nratios (reference time / vfxcopy time; > 1: vfxcopy faster):")
        for ours, ref, target in (("vfxcopy --verify none --no-fsync", "cp -r", 0.95),
                                  ("vfxcopy --verify none --no-fsync", "rsync -a", 1.5),
                                  ("vfxcopy defaults (fsync, xxh3, manifest)", "cp -r + sync FILES", None),
                                  ("in process --verify none --no-fsync", "cp -r", None),
                                  ("in process defaults (fsync, xxh3)", "cp -r + sync FILES", None)):
            ratio = med[ref] / med[ours]
            met = "met" if target is not None and ratio >= target else "NOT met"
            verdict = "" if target is None else f"  target >= {target:.2f}: {met}"
            print(f"  {ours} vs {ref}: {ratio:.2f}x{verdict}")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
