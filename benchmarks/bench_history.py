"""A copy into a folder with a long ASC MHL history, end to end, beside the same copy into a new folder.

    python benchmarks/bench_history.py [--generations 105] [--files 100] [--size 1000] [--reps 7]
                                       [--before TREE] [--no-ascmhl] [--dir DIR] [--sshfs [--sshfs-option OPT]]

A delivery folder that receives a sequence a day keeps one ASC MHL generation per job:
every verified copy into it reads the whole history (each generation's C4 id checked
against the chain, every recorded hash for the folder hashes). The benchmark builds
such a folder (--generations jobs of --files frames each, made by vfxcopy's engine),
then, in alternating order each round, times on a fresh copy of it (`cp -a`, then
`sync`, untimed):

- `vfxcopy copy` with the defaults (xxh3 verification, fsync, the manifest and the job
  report) of one more sequence of --files frames into it, as users run it (new process);
- the same copy into a new, empty folder: the difference is what the history costs;
- `cp -r` of that sequence into it (no verification, no manifest), for scale;
- `cp -r` then `ascmhl create -h xxh128` (the reference tool appending a generation: it
  hashes every file of the folder again), unless --no-ascmhl or it is not installed;
- with `--before TREE` (an earlier checkout: `git worktree add /tmp/before <commit>`),
  the first contender again from that tree (PYTHONPATH, same interpreter): an A/B.

In process, once per round: load_history of the folder with this process's memory of
what it read cleared (what a new process pays), and write_generation of the new
sequence's entries onto it.

With `--sshfs`, the folder copied into (and the new folder) are on a real network file system:
sshd on 127.0.0.1 with its own keys and port and an sshfs mount of it (sshfs_rig.py), started
here and stopped at the end; the history is put there with `cp -a` each round as well.
`--sshfs-option cache=no` turns sshfs's attribute cache off: every lookup is a round trip, as on
a NAS whose cache is cold (the first copy of the day) or that caches nothing.

Medians; "per recorded file" divides the history's extra time by the files it records.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sshfs_rig import SshfsRig, missing_tools

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import JobSpec, JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence

BIN = Path(sys.executable).parent
# The reference CLI asks GitHub for a newer version on start: point it at a closed port.
CLOSED_PROXY = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def build_history(work: Path, generations: int, files: int, size: int) -> tuple[Path, Path]:
    """The history folder and the source of the sequence each round copies into it."""
    history = work / "history"
    for number in range(generations + 1):
        paths = make_byte_sequence(work / "sources" / f"s{number:04d}", head=f"shot{number:04d}.", count=files,
                                   size=size, seed=number)
        if number == generations:
            return history, paths[0].parent
        result = run_job(JobSpec(source=find_sequence(paths[0]), dest_dir=str(history)))
        if result.state is not JobState.COMPLETED:
            raise SystemExit(f"building the history failed: {result.message}")
        if number % 20 == 19:
            print(f"  history: {number + 1} of {generations} generations", flush=True)
    raise AssertionError("unreachable")


def clear_memory() -> None:
    """Forget what this process read of histories (a new process starts so)."""
    from vfxcopy.core.verify import mhl_read

    for cache in (mhl_read._hash_lists, mhl_read._chains, mhl_read._digests):
        cache.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, default=105)
    ap.add_argument("--files", type=int, default=100, help="frames per generation and in the copied sequence")
    ap.add_argument("--size", type=int, default=1000, help="bytes per frame")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--before", default=None, metavar="TREE")
    ap.add_argument("--no-ascmhl", action="store_true")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--sshfs", action="store_true", help="copy into a folder on an sshfs mount of this machine")
    ap.add_argument("--sshfs-option", action="append", default=[], metavar="OPT",
                    help="an sshfs -o option for that mount, e.g. cache=no (repeatable)")
    args = ap.parse_args()
    if args.sshfs and missing_tools():
        raise SystemExit(f"--sshfs: {missing_tools()}")
    work = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-history-", dir=args.dir))
    env = {**os.environ, **CLOSED_PROXY, "VFXCOPY_DATA_DIR": str(work / "data"),
           "XDG_CONFIG_HOME": str(work / "data" / "config")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both trees run from compiled byte code, as installed
    ascmhl = BIN / "ascmhl"
    use_ascmhl = not args.no_ascmhl and ascmhl.exists()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)  # last, after the mount is gone
        print(f"building {args.generations} generations x {args.files} files of {args.size} B in {work}", flush=True)
        started = time.perf_counter()
        history, source = build_history(work, args.generations, args.files, args.size)
        print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
        if args.sshfs:
            rig = cleanup.enter_context(SshfsRig(work / "rig", tuple(args.sshfs_option)))
            cleanup.callback(shutil.rmtree, rig.mount / "target", ignore_errors=True)  # first, while mounted
        target = (rig.mount if args.sshfs else work) / "target"

        def fresh_target(with_history: bool) -> None:
            shutil.rmtree(target, ignore_errors=True)
            if with_history:
                subprocess.run(["cp", "-a", str(history), str(target)], check=True)
            subprocess.run(["sync"], check=True)

        def vfxcopy(tree: str | None) -> Callable[[], None]:
            run_env = env if tree is None else {**env, "PYTHONPATH": tree}

            def run() -> None:
                proc = subprocess.run([sys.executable, "-m", "vfxcopy", "copy", "-q", str(source), str(target)],
                                      env=run_env, capture_output=True, text=True, cwd=str(work))
                if proc.returncode != 0:
                    raise SystemExit(f"vfxcopy failed: {proc.stdout}{proc.stderr}")
            return run

        def cp() -> None:
            subprocess.run(["cp", "-r", str(source), str(target)], check=True)

        def cp_ascmhl() -> None:
            cp()
            proc = subprocess.run([str(ascmhl), "create", str(target), "-h", "xxh128"], env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"ascmhl create failed: {proc.stdout}{proc.stderr}")

        contenders: list[tuple[str, bool, Callable[[], None]]] = [
            ("vfxcopy copy, into the history", True, vfxcopy(None)),
            ("vfxcopy copy, into a new folder", False, vfxcopy(None)),
            ("cp -r, into the history", True, cp),
        ]
        if args.before:
            contenders.insert(1, (f"vfxcopy copy, into the history ({Path(args.before).name})", True,
                                  vfxcopy(args.before)))
        if use_ascmhl:
            contenders.append(("cp -r + ascmhl create, into the history", True, cp_ascmhl))
        times: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
        load: list[float] = []
        write: list[float] = []
        for _, with_history, run in contenders:  # warm-up: imports compiled, page cache filled
            fresh_target(with_history)
            run()
        for round_no in range(args.reps):
            order = contenders if round_no % 2 == 0 else list(reversed(contenders))
            line = []
            for name, with_history, run in order:
                fresh_target(with_history)
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
                line.append(f"{name} {times[name][-1]:.3f}s")
            load_s, write_s = in_process(history, source, target)
            load.append(load_s)
            write.append(write_s)
            print(f"  round {round_no + 1}/{args.reps}: " + ", ".join(line)
                  + f", load_history {load_s * 1e3:.0f} ms, write_generation {write_s * 1e3:.0f} ms", flush=True)
        report(args, times, load, write)



def in_process(history: Path, source: Path, target: Path) -> tuple[float, float]:
    """(load_history, write_generation of the sequence's entries) on a fresh copy of the history."""
    from vfxcopy.core.verify import ManifestEntry, hash_path, load_history, write_generation

    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["cp", "-a", str(history), str(target)], check=True)
    entries = []
    for path in sorted(source.iterdir()):
        copied = target / path.name
        shutil.copy2(path, copied)
        st = copied.stat()
        entries.append(ManifestEntry(path.name, st.st_size, st.st_mtime, "xxh128", hash_path(str(copied), "xxh128")))
    subprocess.run(["sync"], check=True)
    clear_memory()
    started = time.perf_counter()
    load_history(target)
    loaded = time.perf_counter() - started
    clear_memory()
    started = time.perf_counter()
    write_generation(target, entries)
    return loaded, time.perf_counter() - started


def report(args: argparse.Namespace, times: dict[str, list[float]], load: list[float], write: list[float]) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    recorded = args.generations * args.files
    print(f"\n### A copy into a folder with a long ASC MHL history ({time.strftime('%Y-%m-%d')})\n")
    where = "the local disk"
    if args.sshfs:
        where = "an sshfs mount of this machine" + (f" (-o {','.join(args.sshfs_option)})" if args.sshfs_option else "")
    print(f"Onto {where}. {args.generations} generations x {args.files} files ({recorded} recorded files); "
          f"each round copies "
          f"{args.files} frames of {args.size} B. {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
          f"{args.reps} alternating rounds, medians.\n")
    print("| contender | median s | min s |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {medians[name]:.3f} | {min(values):.3f} |")
    print(f"| load_history, in process (new process's memory) | {statistics.median(load):.3f} | {min(load):.3f} |")
    print(f"| write_generation, in process | {statistics.median(write):.3f} | {min(write):.3f} |")
    extra = medians["vfxcopy copy, into the history"] - medians["vfxcopy copy, into a new folder"]
    print(f"\nThe history's cost to a copy: {extra * 1e3:.0f} ms, {extra / recorded * 1e6:.1f} us per recorded file.")
    for name in medians:
        if name.startswith("vfxcopy copy, into the history ("):
            before = medians[name] - medians["vfxcopy copy, into a new folder"]
            print(f"Before ({name}): {medians[name]:.3f} s, the history's cost {before * 1e3:.0f} ms; "
                  f"now / before: {medians['vfxcopy copy, into the history'] / medians[name]:.2f}x end to end, "
                  f"{extra / before:.2f}x of the history's cost" if before > 0 else "")
    reference = "cp -r + ascmhl create, into the history"
    if reference in medians:
        print(f"ascmhl create (hashing the folder again) / vfxcopy copy: "
              f"{medians[reference] / medians['vfxcopy copy, into the history']:.1f}x")


if __name__ == "__main__":
    main()
