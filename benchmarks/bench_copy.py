"""Copy throughput side by side with `cp -r` (and `cp -r` + `sync FILES`, `cp -r && sync`), and cancel latency.

    python benchmarks/bench_copy.py [--quick] [--cold] [--dir DIR] [--no-cancel] [--no-big] [--before TREE]
                                    [--loop-ext4 GIB]

Data sets: 781 frames x 800 KB, and one 500 MB file (random bytes); with `--exr N`, N real
2K EXR frames with grain (the defaults' job report decodes thumbnails of images, not of bytes). Every round
runs each contender once on a fresh destination folder, in alternating order.
Each run's copy is deleted right after it, then `sync` and a 1 s pause
(untimed) precede the next run. Measured here: without those deletes, every
further GB written in a row made the next run 2-3x slower (this ext4 is
mounted with `discard` on a virtual disk), which penalised whichever
contender ran last; with a delete after every run, all runs write into
freshly freed blocks and take the same time for the same work.

vfxcopy runs twice per round and option set: in process (run_pipeline: the
engine alone) and through the command line (`python -m vfxcopy copy -q`, end to
end as a user runs it: start-up, scan, pre-flight, journal in a data folder of the
benchmark's own, and with the defaults the ASC MHL manifest and the job report).

With `--loop-ext4 GIB` (root), everything runs on a fresh journaled ext4 of that size on a
direct-I/O loop device (diskrig.py): this machine's own ext4 has no journal, which makes file
creation after mass deletes scan for recently freed inodes.

With `--before TREE` (a checkout of an earlier commit), the two command-line contenders
also run from that tree (PYTHONPATH, same interpreter), alternating with the rest: an
A/B of a change in the same run.

CPU seconds (user + system, of vfxcopy's threads or of cp/sync) are shown
too: on a busy machine they say more than wall time. Throughput ratio =
reference time / vfxcopy time (>1: vfxcopy is faster).

Cancel latency: copies of the 500 MB file cancelled from another thread at a
random moment; times from `token.cancel()` to the last byte written, to the
engine noticing, to the temp's name being gone, to copy_sequence returning
(job reported cancelled) and to the blocks being freed (the unlinked temp is
closed off-thread).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from diskrig import journaled_ext4

from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState, VerifyMode
from vfxcopy.core.pipeline import Debug as CopyDebug
from vfxcopy.core.pipeline import run_pipeline as copy_sequence
from vfxcopy.core.samples import make_big_file, make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.sequence import Sequence

MiB = 1 << 20
SETTLE_S = 1.0


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def fs_type(path: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True, check=True).stdout
        return out.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "?"


def make_big(folder: Path, size: int) -> Path:
    return make_big_file(folder / "plate.mov", size, block_size=8 * MiB)


class Bench:
    def __init__(self, root: Path, cold: bool) -> None:
        self.root = root
        self.cold = cold
        self.counter = 0

    def fresh(self, tag: str) -> Path:
        self.counter += 1
        return self.root / f"dst-{tag}-{self.counter}"

    def timed(self, run: Callable[[Path], None], tag: str) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process and its children) of one run."""
        dest = self.fresh(tag)
        self.settle()
        if self.cold:
            drop_caches()
        cpu0 = cpu_seconds()
        start = time.perf_counter()
        run(dest)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds() - cpu0
        shutil.rmtree(dest)
        return elapsed, cpu

    def settle(self) -> None:
        """No dirty pages or pending discards from earlier runs may slow the next one."""
        subprocess.run(["sync"], check=True)
        time.sleep(SETTLE_S)



def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and of its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def cp_run(src_dir: Path, with_sync: bool) -> Callable[[Path], None]:
    def run(dest: Path) -> None:
        subprocess.run(["cp", "-r", str(src_dir), str(dest)], check=True)
        if with_sync:
            files = [str(p) for p in dest.iterdir()]
            subprocess.run(["sync", *files], check=True)

    return run


def vfx_run(seq: Sequence, opts: CopyOptions) -> Callable[[Path], None]:
    def run(dest: Path) -> None:
        result = copy_sequence(JobSpec(seq, str(dest), copy=opts), CancelToken(), lambda e: None)
        if result.state is not JobState.COMPLETED:
            raise SystemExit(f"vfxcopy run failed: {result.message}")

    return run


def cp_sync_all(src_dir: Path) -> Callable[[Path], None]:
    """`cp -r SRC DEST && sync`, as the issue states the reference for the defaults."""
    def run(dest: Path) -> None:
        subprocess.run(["cp", "-r", str(src_dir), str(dest)], check=True)
        subprocess.run(["sync"], check=True)

    return run


def cli_run(src_dir: Path, extra: list[str], env: dict[str, str], tree: str | None = None) -> Callable[[Path], None]:
    """`vfxcopy copy` end to end, as a user runs it (interpreter start-up, scan, journal, manifest, report);
    from the checkout `tree` when given (PYTHONPATH, and its folder first for `python -m`)."""
    def run(dest: Path) -> None:
        run_env = env if tree is None else {**env, "PYTHONPATH": tree}
        subprocess.run([sys.executable, "-m", "vfxcopy", "copy", "-q", *extra, str(src_dir), str(dest)],
                       check=True, env=run_env, cwd=tree)

    return run


BEFORE: str | None = None  # --before TREE


# As users run it: byte code cached (this environment sets PYTHONDONTWRITEBYTECODE, which made
# every CLI start compile vfxcopy's modules), the settings folder found (empty) as theirs is.
CLI_ENV: dict[str, str] = {k: v for k, v in os.environ.items()
                           if k not in ("PYTHONDONTWRITEBYTECODE", "VFXCOPY_CONFIG_DIR")}


def throughput(bench: Bench, name: str, src_dir: Path, seq: Sequence, size: int, reps: int) -> list[list[str]]:
    fast = CopyOptions(verify=VerifyMode.NONE, fsync=False)
    defaults = CopyOptions()
    contenders: dict[str, Callable[[Path], None]] = {
        "cp -r": cp_run(src_dir, False),
        "vfxcopy no-hash --no-fsync": vfx_run(seq, fast),
        "vfxcopy CLI --verify none --no-fsync": cli_run(src_dir, ["--verify", "none", "--no-fsync"], CLI_ENV),
        "cp -r + sync FILES": cp_run(src_dir, True),
        "cp -r && sync": cp_sync_all(src_dir),
        "vfxcopy defaults (fsync, transfer, xxh3)": vfx_run(seq, defaults),
        "vfxcopy CLI defaults": cli_run(src_dir, [], CLI_ENV),
    }
    if BEFORE is not None:
        contenders["before: CLI --verify none --no-fsync"] = cli_run(
            src_dir, ["--verify", "none", "--no-fsync"], CLI_ENV, BEFORE)
        contenders["before: CLI defaults"] = cli_run(src_dir, [], CLI_ENV, BEFORE)
    times: dict[str, list[float]] = {k: [] for k in contenders}
    cpus: dict[str, list[float]] = {k: [] for k in contenders}
    order = list(contenders)
    for rep in range(reps):
        for key in order if rep % 2 == 0 else reversed(order):
            wall, cpu = bench.timed(contenders[key], "cp" if key.startswith("cp") else "vfx")
            times[key].append(wall)
            cpus[key].append(cpu)
        print(f"  {name} round {rep + 1}/{reps}: " + ", ".join(f"{k} {times[k][-1]:.3f}s" for k in order), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    rows = []
    pairs = [
        ("vfxcopy no-hash --no-fsync", "cp -r", 0.95),
        ("vfxcopy defaults (fsync, transfer, xxh3)", "cp -r + sync FILES", 0.9),
        ("vfxcopy CLI --verify none --no-fsync", "cp -r", 0.95),
        ("vfxcopy CLI defaults", "cp -r && sync", 1.2),
    ]
    if BEFORE is not None:
        pairs += [("before: CLI --verify none --no-fsync", "cp -r", 0.95), ("before: CLI defaults", "cp -r && sync", 1.2)]
    for ours, ref, target in pairs:
        ratio = med[ref] / med[ours]
        rows.append(
            [
                name,
                ours,
                f"{med[ours]:.3f}",
                f"{size / med[ours] / 1e6:.0f}",
                f"{cpu_med[ours]:.2f}",
                ref,
                f"{med[ref]:.3f}",
                f"{size / med[ref] / 1e6:.0f}",
                f"{cpu_med[ref]:.2f}",
                f"**{ratio:.2f}x**",
                f">= {target}x {'ok' if ratio >= target else 'MISSED'}",
            ]
        )
    return rows


def cancel_latency(root: Path, big: Path, count: int, opts: CopyOptions, label: str) -> list[str]:
    seq = Sequence(str(big.parent), big.name, "", 0, ())
    # How long a whole copy takes, to pick cancel moments inside it.
    durations = []
    for k in range(3):
        dest = root / f"cancel-whole-{k}"
        start = time.monotonic()
        copy_sequence(JobSpec(seq, str(dest), copy=opts), CancelToken(), lambda e: None)
        durations.append(time.monotonic() - start)
        shutil.rmtree(dest)
    whole = min(durations)
    rng = random.Random(1)
    last_write: list[float] = []
    gone: list[float] = []
    returned: list[float] = []
    freed: list[float] = []
    detect: list[float] = []
    finished = 0
    for i in range(count * 3):
        if len(returned) >= count:
            break
        dest = root / f"cancel-{i}"
        token = CancelToken()
        debug = CopyDebug()
        at = rng.uniform(0.02, 0.95) * whole
        # Let the previous run's freed blocks be discarded first (this ext4 mounts with
        # `discard`): otherwise a write may stall on it and the figure measures the disk.
        subprocess.run(["sync"], check=True)
        time.sleep(0.3)
        timer = threading.Timer(at, token.cancel)
        timer.start()
        result = copy_sequence(JobSpec(seq, str(dest), copy=opts), token, lambda e: None, debug=debug)
        timer.join()
        t0 = token.cancelled_at
        if result.state is not JobState.CANCELLED or t0 is None:
            finished += 1  # the copy ended before the timer fired (a busy machine): try again
            shutil.rmtree(dest, ignore_errors=True)
            continue
        assert not any(n.startswith(".vfxcopy-") for n in os.listdir(dest)), "temp left behind"
        debug.temp_closed.wait(2)
        last_write.append(max(0.0, (debug.last_write_end or t0) - t0) * 1000)
        detect.append(((debug.cancel_seen or t0) - t0) * 1000)
        gone.append(((debug.temp_unlinked or t0) - t0) * 1000)
        returned.append(((debug.returned or t0) - t0) * 1000)
        freed.append(((debug.temp_closed_at or t0) - t0) * 1000)
        shutil.rmtree(dest)
    n = len(returned)

    def stats(values: list[float]) -> str:
        if not values:
            return "-"
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
        return f"{statistics.median(ordered):.2f} / {p99:.2f} / {ordered[-1]:.2f}"

    late = sum(1 for v in last_write if v > 10)
    return [label, f"{n} (+{finished} finished first)", f"{late}", stats(last_write), stats(detect), stats(gone), stats(returned), stats(freed)]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and cancels (a smoke run)")
    ap.add_argument("--cold", action="store_true", help="drop the page cache before every timed run (root)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder in /tmp)")
    ap.add_argument("--reps", type=int, default=None, help="rounds (default 6, --quick 4; keep it even)")
    ap.add_argument("--cancels", type=int, default=None)
    ap.add_argument("--frames", type=int, default=781, help="byte frames in the frames set (0: no such set)")
    ap.add_argument("--exr", type=int, default=0, metavar="FRAMES",
                    help="also a set of real 2K EXR frames with grain, like a plate: the CLI's job report decodes "
                         "thumbnails of them (of byte frames it does not)")
    ap.add_argument("--frame-size", type=int, default=800_000)
    ap.add_argument("--big-size", type=int, default=500_000_000)
    ap.add_argument("--no-cancel", action="store_true")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-big", action="store_true", help="frames only (no 500 MB file)")
    ap.add_argument("--before", default=None, metavar="TREE",
                    help="also run the CLI from this checkout (an earlier commit), alternating: A/B")
    ap.add_argument("--loop-ext4", type=int, default=0, metavar="GIB",
                    help="work on a fresh journaled ext4 of this size, on a loop device (root; see diskrig.py)")
    args = ap.parse_args()
    if args.loop_ext4:
        rig = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-loop-", dir=args.dir))
        try:
            with journaled_ext4(rig, args.loop_ext4) as mnt:
                if mnt is None:
                    print("cannot make a journaled ext4 (needs root, mkfs.ext4 and a loop device)", file=sys.stderr)
                    return 2
                args.dir = str(mnt)
                return run(args)
        finally:
            shutil.rmtree(rig, ignore_errors=True)
    return run(args)


def run(args: argparse.Namespace) -> int:
    global BEFORE
    BEFORE = str(Path(args.before).resolve()) if args.before else None
    reps = args.reps or (4 if args.quick else 6)  # even: each contender runs first and last equally
    cancels = args.cancels or (20 if args.quick else 50)
    root = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-", dir=args.dir))
    cold = args.cold and drop_caches()
    if args.cold and not cold:
        print("cannot drop caches (needs root and a writable /proc/sys/vm/drop_caches): warm runs", file=sys.stderr)
    try:
        frames_dir = root / "src-frames"
        print(f"making {args.frames} x {args.frame_size} B frames and a {args.big_size} B file in {root}", file=sys.stderr)
        make_byte_sequence(frames_dir, head="shot_010.", count=args.frames, size=args.frame_size)
        frames = Sequence(str(frames_dir), "shot_010.", ".exr", 4, tuple(range(1001, 1001 + args.frames)))
        big = make_big(root / "src-big", args.big_size if not (args.no_big and args.no_cancel) else 1)
        big_seq = Sequence(str(big.parent), big.name, "", 0, ())
        data_dir = root / "vfxcopy-data"
        data_dir.mkdir()
        CLI_ENV["VFXCOPY_DATA_DIR"] = str(data_dir)
        CLI_ENV["XDG_CONFIG_HOME"] = str(data_dir / "config")
        warm = data_dir / "warm"
        make_byte_sequence(warm / "src", count=2, size=10)
        for tree in ([None] if BEFORE is None else [None, BEFORE]):
            for n, extra in enumerate(([], ["--verify", "none", "--no-fsync"])):  # writes the .pyc files (untimed)
                cli_run(warm / "src", extra, CLI_ENV, tree)(warm / f"dst{n}-{'before' if tree else 'now'}")
        bench = Bench(root, cold)
        cache = "cold (page cache dropped before each run)" if cold else "warm (sources in the page cache)"
        print(f"\n### vfxcopy copy benchmark ({datetime.date.today().isoformat()})\n")
        try:
            load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
        except OSError:
            load = "load average ?"
        print(
            f"Machine: {load} at the start; {os.cpu_count()} CPUs (nproc {os.sched_getaffinity(0).__len__()}), "
            f"kernel {platform.release()}, file system {fs_type(root)}, Python {platform.python_version()}, "
            f"{'cp ' + subprocess.run(['cp', '--version'], capture_output=True, text=True).stdout.split(chr(10))[0]}. "
            f"Cache: {cache}. {reps} alternating rounds, medians.\n"
        )
        if not args.no_throughput:
            rows = []
            if args.frames:
                rows += throughput(bench, f"{args.frames} x {args.frame_size / 1e3:.0f} KB", frames_dir, frames,
                                   args.frames * args.frame_size, reps)
            if args.exr:
                exr_dir = root / "src-exr"
                paths = make_exr_sequence(exr_dir, head="plate.", count=args.exr, width=2048, height=1080, grain=0.02)
                size = sum(p.stat().st_size for p in paths)
                rows += throughput(bench, f"{args.exr} x 2K EXR ({size / len(paths) / 1e6:.1f} MB)", exr_dir,
                                   find_sequence(paths[0]), size, reps)
            if not args.no_big:
                rows += throughput(bench, f"1 x {args.big_size / 1e6:.0f} MB", big.parent, big_seq, args.big_size, reps)
            print(
                table(
                    ["data", "vfxcopy", "s", "MB/s", "CPU s", "reference", "s", "MB/s", "CPU s", "throughput ratio", "target"],
                    rows,
                )
            )
            print()
        if not args.no_cancel:
            rows = [
                cancel_latency(root, big, cancels, CopyOptions(), "defaults (transfer, xxh3, fsync)"),
                cancel_latency(root, big, cancels, CopyOptions(verify=VerifyMode.NONE, fsync=False), "no-hash, --no-fsync"),
            ]
            print(f"Cancel latency, {args.big_size / 1e6:.0f} MB file, cancelled at random moments (ms, median / p99 / max):\n")
            print(
                table(
                    ["options", "cancels", "writes > 10 ms after", "to last byte written", "to engine noticing", "to temp name gone", "to job reported cancelled", "to blocks freed"],
                    rows,
                )
            )
            print("\nTargets: last byte written <= 10 ms p99; temp gone and job reported cancelled <= 50 ms p99.")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
