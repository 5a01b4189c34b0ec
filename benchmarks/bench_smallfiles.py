"""Many small frames, through the command line and in process, side by side with `cp -r` (and `cp -r && sync`).

    python benchmarks/bench_smallfiles.py [--count 20000] [--size 200] [--reps 4] [--ext4-count 5000]
                                          [--before TREE] [--no-inproc] [--no-disk] [--no-tmpfs] [--no-loop]

Three file systems: a tmpfs of its own (mounted here when root, else /dev/shm), where
only per-file CPU work shows; the work folder's disk (ext4 here), where file
creation and fsync cost real time; and, when root, a journaled ext4 of its own on a
loop device (diskrig.py: this machine's disk has no journal, which makes file creation
after mass deletes scan for minutes-old inodes and its times vary 20x). Contenders,
alternating order each round, each onto a fresh destination that is deleted after it
(then `sync`, untimed):

- `cp -r SRC DEST`, and `cp -r SRC DEST && sync` (what the defaults are held to);
- `vfxcopy copy --verify none --no-fsync` and `vfxcopy copy` (defaults: xxh3 verification,
  fsync, ASC MHL manifest and job report), end to end as a user runs them, the journal
  in a data folder on the work disk (VFXCOPY_DATA_DIR);
- the same two options in process (run_pipeline: no interpreter start-up, scan, journal,
  manifest or report);
- the floor: the system calls vfxcopy makes for each small frame without hash or fsync (open,
  fstat, the temp created exclusively, copy_file_range, the source's time set, the source stat'ed
  again, fstat, two closes, renameat2(RENAME_NOREPLACE)) in a bare Python loop, in process: what
  any Python engine keeping the same rules pays at least. Beside the targets it shows how much
  time a target leaves for everything else.

With `--before TREE` (a checkout of an earlier commit, e.g. `git worktree add /tmp/before
<commit>`), the two CLI contenders also run from that tree (PYTHONPATH, same interpreter),
alternating with the others: an A/B of a change on the same machine in the same minutes.

Medians; ratio = reference time / vfxcopy time (>1: vfxcopy is faster); CPU seconds
(user + system of this process's threads or of the child processes) say more than wall
time on a loaded machine. Targets
(issue 12): tmpfs, CLI no hash/no fsync >= 0.5x cp -r, CLI defaults >= 0.3x cp -r;
ext4, CLI defaults >= 0.9x `cp -r && sync`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from diskrig import ext4_without_journal, journaled_ext4

from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState, VerifyMode
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.pipeline.place import renameat2_noreplace
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import scan

VFXCOPY = [sys.executable, "-m", "vfxcopy"]
FLOOR = "floor: the same system calls in a bare Python loop"


def fs_type(path: Path) -> str:
    out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True).stdout.splitlines()
    return out[1].split()[1] if len(out) > 1 else "?"


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and of its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def fresh_journal(env: dict[str, str]) -> None:
    """Each CLI run starts from an empty journal, as a new user's does (untimed): one journal kept
    for the whole benchmark grew by 20,000 rows a run, and the later runs paid for the earlier ones."""
    data = env.get("VFXCOPY_DATA_DIR")
    if data:
        for path in Path(data).glob("journal.sqlite3*"):
            path.unlink()


def contenders(src: Path, env: dict[str, str], before: str | None = None,
               inproc_too: bool = True) -> dict[str, Callable[[Path], None]]:
    seq = scan([str(src)])[0]

    def cp(sync: bool) -> Callable[[Path], None]:
        def run(dest: Path) -> None:
            subprocess.run(["cp", "-r", str(src), str(dest)], check=True)
            if sync:
                subprocess.run(["sync"], check=True)
        return run

    def cli(extra: list[str], tree: str | None = None) -> Callable[[Path], None]:
        run_env = env if tree is None else {**env, "PYTHONPATH": tree}
        cwd = tree  # `python -m vfxcopy` finds the package in the current folder first

        def run(dest: Path) -> None:
            subprocess.run([*VFXCOPY, "copy", "-q", *extra, str(src), str(dest)], check=True, env=run_env, cwd=cwd)
        return run

    def inproc(opts: CopyOptions) -> Callable[[Path], None]:
        def run(dest: Path) -> None:
            result = run_pipeline(JobSpec(seq, str(dest), copy=opts), CancelToken(), lambda e: None)
            if result.state is not JobState.COMPLETED:
                raise SystemExit(f"vfxcopy failed: {result.message}")
        return run

    def floor(dest: Path) -> None:
        """The system calls vfxcopy makes for a small frame without hash or fsync, in a bare Python
        loop: no plan, no journal, no counts, no cancel checks. What any engine written in Python
        that keeps the same rules (a temp, no clobber, the source's time, the source checked
        unchanged) pays at least; the gap to `cp -r` that no change to vfxcopy's own code removes."""
        os.mkdir(dest)
        dest_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            for path, name in zip(seq.path_strs(), (os.path.basename(p) for p in seq.path_strs()), strict=True):
                src_fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                st = os.fstat(src_fd)
                temp = f".{name}.part"
                fd = os.open(temp, flags, 0o644, dir_fd=dest_fd)
                os.copy_file_range(src_fd, fd, st.st_size)
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
                os.stat(path)  # unchanged while it was copied
                os.close(src_fd)
                os.fstat(fd)  # the size and time the journal would record
                os.close(fd)
                if not renameat2_noreplace(temp, name, dest_fd, dest_fd):
                    raise SystemExit("renameat2(RENAME_NOREPLACE) is not available here")
        finally:
            os.close(dest_fd)

    runs = {
        "cp -r": cp(False),
        "cp -r && sync": cp(True),
        "CLI --verify none --no-fsync": cli(["--verify", "none", "--no-fsync"]),
        "CLI defaults": cli([]),
    }
    if before is not None:
        runs["before: CLI --verify none --no-fsync"] = cli(["--verify", "none", "--no-fsync"], before)
        runs["before: CLI defaults"] = cli([], before)
    if inproc_too:
        runs["in process, no hash, no fsync"] = inproc(CopyOptions(verify=VerifyMode.NONE, fsync=False))
        runs["in process, defaults (no manifest)"] = inproc(CopyOptions())
        runs[FLOOR] = floor
    return runs


def measure(label: str, work: Path, count: int, size: int, reps: int, env: dict[str, str],
            targets: list[tuple[str, str, float]], before: str | None = None, inproc_too: bool = True) -> None:
    src = work / "src"
    make_byte_sequence(src, head="shot_010.", count=count, size=size)
    runs = contenders(src, env, before, inproc_too)
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    order = list(runs)
    n = 0
    for rep in range(reps):
        for key in order if rep % 2 == 0 else list(reversed(order)):
            n += 1
            dest = work / f"dst-{n}"
            fresh_journal(env)
            subprocess.run(["sync"], check=True)
            time.sleep(0.3)
            c0 = cpu_seconds()
            t0 = time.perf_counter()
            runs[key](dest)
            times[key].append(time.perf_counter() - t0)
            cpus[key].append(cpu_seconds() - c0)
            shutil.rmtree(dest)
        print(f"  {label} round {rep + 1}/{reps} (load {load()}): "
              + ", ".join(f"{k} {times[k][-1]:.2f}s" for k in order), file=sys.stderr)
    shutil.rmtree(src)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print(f"#### {label}: {count} x {size} B ({fs_type(work)})\n")
    print("| contender | median s | min s | per frame µs | CPU s (user+sys) |")
    print("|---|---|---|---|---|")
    for key in order:
        print(f"| {key} | {med[key]:.3f} | {min(times[key]):.3f} | {med[key] / count * 1e6:.0f} | {cpu[key]:.2f} |")
    print("\n| vfxcopy | reference | ratio (reference / vfxcopy) | target |")
    print("|---|---|---|---|")
    for ours, ref, target in targets:
        ratio = med[ref] / med[ours]
        print(f"| {ours} | {ref} | **{ratio:.2f}x** | >= {target}x {'ok' if ratio >= target else 'MISSED'} |")
    for ours, ref, _target in targets:
        old = f"before: {ours}"
        if old in med:
            print(f"| {old} | {ref} | {med[ref] / med[old]:.2f}x | (the earlier tree) |")
    for ours, ref in (("in process, no hash, no fsync", "cp -r"), ("in process, defaults (no manifest)", "cp -r && sync"),
                      (FLOOR, "cp -r")):
        if ours in med:
            print(f"| {ours} | {ref} | {med[ref] / med[ours]:.2f}x | (in process) |")
    if FLOOR in med:
        # What a target through the command line leaves for vfxcopy's own work, above the floor.
        for ours, ref, target in targets:
            room = med[ref] / target - med[FLOOR]
            print(f"| {ours} at its target | {ref} | {med[ref] / target:.3f} s | the floor leaves {room:.3f} s "
                  f"for start-up, plan, journal and the engine's own work ({med[ours] - med[FLOOR]:.3f} s now) |")
    if before is not None:
        print("\n| CLI | before: median s / CPU s | now: median s / CPU s | now / before (wall, CPU) |")
        print("|---|---|---|---|")
        for key in ("CLI --verify none --no-fsync", "CLI defaults"):
            old = f"before: {key}"
            print(f"| {key} | {med[old]:.3f} / {cpu[old]:.2f} | {med[key]:.3f} / {cpu[key]:.2f} | "
                  f"{med[key] / med[old]:.2f}, {cpu[key] / cpu[old]:.2f} |")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--ext4-count", type=int, default=5000, help="frames on the disk (creation there is slow)")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--dir", default=None, help="work folder on the disk (default: a temp folder in /tmp)")
    ap.add_argument("--no-disk", action="store_true")
    ap.add_argument("--no-tmpfs", action="store_true")
    ap.add_argument("--no-loop", action="store_true",
                    help="not on a journaled ext4 of its own (made on a loop device when root; see diskrig.py)")
    ap.add_argument("--before", default=None, metavar="TREE",
                    help="also run the CLI from this checkout (an earlier commit), alternating: A/B")
    ap.add_argument("--no-inproc", action="store_true", help="only the command line and cp")
    args = ap.parse_args()
    before = str(Path(args.before).resolve()) if args.before else None
    inproc_too = not args.no_inproc
    root = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-small-", dir=args.dir))
    data = root / "vfxcopy-data"
    data.mkdir()
    # As users run it: byte code cached (this environment sets PYTHONDONTWRITEBYTECODE, which made
    # every CLI start compile vfxcopy's modules), the settings folder found (empty) as theirs is.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "VFXCOPY_CONFIG_DIR")}
    env.update(VFXCOPY_DATA_DIR=str(data), XDG_CONFIG_HOME=str(data / "config"))
    warm = data / "warm"
    make_byte_sequence(warm / "src", count=2, size=10)
    for tree in ([None] if before is None else [None, before]):
        tree_env = env if tree is None else {**env, "PYTHONPATH": tree}
        for n, extra in enumerate(([], ["--verify", "none", "--no-fsync"])):  # writes the .pyc files (untimed)
            out = warm / f"dst{n}-{'before' if tree else 'now'}"
            subprocess.run([*VFXCOPY, "copy", "-q", *extra, str(warm / "src"), str(out)], env=tree_env, check=True,
                           cwd=tree)
    print(f"\n### vfxcopy, many small frames ({datetime.date.today().isoformat()})\n")
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start, kernel {platform.release()}, Python "
          f"{platform.python_version()}; the CLI's journal on {fs_type(root)}. {args.reps} alternating rounds, "
          "medians.\n")
    mounted = False
    try:
        if not args.no_tmpfs:
            tmpfs = root / "tmpfs"
            tmpfs.mkdir()
            if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g", "tmpfs", str(tmpfs)],
                                                    capture_output=True).returncode == 0:
                mounted = True
                work = tmpfs
            else:
                work = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-small-", dir="/dev/shm"))
            measure("tmpfs", work, args.count, args.size, args.reps, env, [
                ("CLI --verify none --no-fsync", "cp -r", 0.5), ("CLI defaults", "cp -r", 0.3)], before, inproc_too)
            if not mounted:
                shutil.rmtree(work, ignore_errors=True)
        disk_targets = [("CLI --verify none --no-fsync", "cp -r", 0.5), ("CLI defaults", "cp -r && sync", 0.9)]
        if not args.no_disk:
            disk = root / "disk"
            disk.mkdir()
            if ext4_without_journal(disk):
                print("The work disk is ext4 without a journal: creating files there right after deleting "
                      "thousands scans past every inode freed in the last minutes (diskrig.py), whoever "
                      "runs; its times vary 20x from run to run.\n")
            measure("disk", disk, args.ext4_count, args.size, args.reps, env, disk_targets, before, inproc_too)
        if not args.no_loop:
            with journaled_ext4(root / "loop", 4) as mnt:
                if mnt is None:
                    print("(no journaled ext4 of its own: not root, or no mkfs.ext4 or loop device)\n")
                else:
                    measure("journaled ext4 (loop)", mnt, args.ext4_count, args.size, args.reps, env, disk_targets,
                            before, inproc_too)
        print(f"Load average at the end: {load()}.")
    finally:
        if mounted:
            subprocess.run(["umount", str(root / "tmpfs")], check=False)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
