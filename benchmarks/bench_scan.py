"""Scan a folder of 100,000 files: `vfxcopy ls` end to end beside `find` and `ls -l`, and in process beside fileseq and pyseq.

    python benchmarks/bench_scan.py [--dir DIR] [--repeat N] [--no-pyseq] [--sequences N]
                                    [--sshfs [--sshfs-option OPT]] [--before TREE]

End to end (what users run): `vfxcopy ls --json FOLDER` and `vfxcopy ls FOLDER`
(sizes included: one stat per file) as new processes, beside `find FOLDER -printf
'%s %p\\n'` and `ls -l FOLDER` (the same information: every name and size) and a
bare `python -c pass`, alternating order. Target (issue 12): ls --json <= 1.0 s.

In process: the work of `ls --json` (vfxcopy.core.sequence.resolve with sizes,
then the JSON text) and `scan()` without sizes, beside fileseq and pyseq (which
do not stat either). Target: <= 0.3 s. Wall and CPU seconds are shown: on a
busy machine the CPU time is the fairer figure.

`--sshfs`: the folder is read through an sshfs mount of this machine (sshd and sshfs
over loopback, started and stopped here: benchmarks/sshfs_rig.py), where each stat is a
round trip (`--sshfs-option cache=no`: every one, as on a NAS with a cold cache); the
end-to-end rows only. `--sequences N` makes a smaller folder (N x 990 frames + strays).
`--before TREE`: the command line of an earlier checkout too, in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vfxcopy.cli.ls_cmd import sequence_to_json
from vfxcopy.core.seqfind import find_sequence, resolve, scan

SEQUENCES = 100
FRAMES = 990  # 100 x 990 = 99,000 frames
STRAYS = 1000


def seq_head(s: int) -> str:
    return f"sh{s // 10:03d}_{s % 10:02d}0_comp_v{s % 7 + 1:03d}."


def make_folder(folder: Path, sequences: int = SEQUENCES) -> int:
    """`sequences` sequences of 990 frames (a few with gaps) plus 1,000 strays; returns the file count."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "COMPLETE"
    if marker.exists():
        return int(marker.read_text())
    names: list[str] = []
    for s in range(sequences):
        head = seq_head(s)
        ext = ("exr", "dpx", "tif", "png")[s % 4]
        for f in range(1001, 1001 + FRAMES):
            if s % 10 == 3 and f % 97 == 0:
                continue  # a few sequences with gaps
            names.append(f"{head}{f:04d}.{ext}")
    for i in range(STRAYS):
        names.append(("notes_{}.txt", "ref_v{:03d}.mov", "README_{}", "still_{:05d}.jpg")[i % 4].format(i))
    for name in names:
        os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY, 0o644))
    marker.write_text(str(len(names)))
    return len(names)


def run_ours(folder: str) -> int:
    return sum(1 for s in scan([folder]) if not s.is_single)


def run_ls_json_work(folder: str) -> int:
    """What `vfxcopy ls --json` does once started: one read with sizes, grouping, the JSON text."""
    seqs = resolve([folder], stat=True)
    return len(json.dumps([sequence_to_json(s) for s in seqs], indent=2))


def run_fileseq(folder: str) -> int:
    import fileseq

    return sum(1 for s in fileseq.findSequencesOnDisk(folder) if len(s) > 1)


def run_pyseq(folder: str) -> int:
    import pyseq

    return sum(1 for s in pyseq.get_sequences(folder) if len(s) > 1)


# A drop of one frame: the whole sequence from one path (only that folder is read).
DROPPED = f"{seq_head(56)}1500.exr"


def drop_ours(folder: str) -> int:
    return len(find_sequence(os.path.join(folder, DROPPED)).frames)


def drop_fileseq(folder: str) -> int:
    import fileseq

    return len(fileseq.findSequenceOnDisk(os.path.join(folder, f"{seq_head(56)}#.exr")))


def measure(
    tools: dict[str, Callable[[str], int]], folder: str, repeat: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, cpu) seconds of each tool, once per round; the order alternates so that
    neither tool always runs on a warmer system. CPU time is the fairer figure on a
    busy machine: other processes inflate the wall time but not our own CPU time."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
    for r in range(repeat):
        order = list(tools.items())
        if r % 2:
            order.reverse()
        for name, fn in order:
            c0, t0 = time.process_time(), time.perf_counter()
            fn(folder)
            times[name].append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def show(title: str, times: dict[str, list[tuple[float, float]]], ours_name: str) -> float:
    ours_wall = statistics.median(t[0] for t in times[ours_name])
    ours_cpu = statistics.median(t[1] for t in times[ours_name])
    print(f"\n{title}")
    print(f"{'tool':24} {'wall median s':>14} {'min':>7} {'max':>7} {'x ours':>7} {'cpu median s':>13} {'x ours':>7}")
    for name, values in times.items():
        wall = [t[0] for t in values]
        cpu = statistics.median(t[1] for t in values)
        med = statistics.median(wall)
        print(f"{name:24} {med:14.3f} {min(wall):7.3f} {max(wall):7.3f} {med / ours_wall:7.1f} "
              f"{cpu:13.3f} {cpu / ours_cpu:7.1f}")
    return ours_wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", help="folder to fill (kept for reuse); default: a temporary folder")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; every tool runs once per round")
    parser.add_argument("--no-pyseq", action="store_true", help="skip pyseq (about 3 s a run)")
    parser.add_argument("--sequences", type=int, default=SEQUENCES, help="sequences of 990 frames in the folder")
    parser.add_argument("--sshfs", action="store_true", help="read the folder through an sshfs mount")
    parser.add_argument("--sshfs-option", action="append", default=[], metavar="OPT", help="an sshfs -o option")
    parser.add_argument("--before", metavar="TREE", help="also time the command line of this checkout")
    args = parser.parse_args()

    if args.sshfs:
        return over_sshfs(args)
    tmp = None
    if args.dir:
        folder = Path(args.dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="vfxcopy-bench-scan-")
        folder = Path(tmp.name) / "scan100k"
    count = make_folder(folder, args.sequences)
    tools: dict[str, Callable[[str], int]] = {"vfxcopy": run_ours, "fileseq": run_fileseq}
    if not args.no_pyseq:
        tools["pyseq"] = run_pyseq

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  "
          f"{platform.processor() or platform.machine()}  {os.cpu_count()} cpus  Python {platform.python_version()}"
          f"  load {load:.1f}")
    print(f"# folder {folder}: {count} files (warm cache: one untimed run of each tool first)")
    print("# the CPU may be shared with other work: compare within one run (ratios), CPU beside wall")

    cli = end_to_end(str(folder), args.repeat, args.before)
    in_process = {"vfxcopy ls --json work": run_ls_json_work}
    run_ls_json_work(str(folder))
    work = show("in process: the work of `vfxcopy ls --json` (read once with sizes, group, JSON text)",
                measure(in_process, str(folder), args.repeat), "vfxcopy ls --json work")

    found = {name: fn(str(folder)) for name, fn in tools.items()}  # warm-up, also checks the answers
    print("\n# multi-frame sequences found: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    ours = show(f"in process: scan a folder of {count} files without sizes, beside fileseq and pyseq",
                measure(tools, str(folder), args.repeat), "vfxcopy")
    drops = {"vfxcopy": drop_ours, "fileseq": drop_fileseq}
    print("# frames found from one dropped frame: " + ", ".join(f"{k} {f(str(folder))}" for k, f in drops.items()))
    show("the whole sequence from one dropped frame (same folder)", measure(drops, str(folder), args.repeat), "vfxcopy")
    if tmp is not None:
        tmp.cleanup()
    print(f"\n# targets: ls --json end to end {cli:.3f} s (<= 1.0), in process {work:.3f} s wall (<= 0.3), "
          f"scan without sizes {ours:.3f} s")
    return 0 if cli <= 1.0 and ours < 0.3 else 1


def over_sshfs(args: argparse.Namespace) -> int:
    """The end-to-end rows, the folder read through an sshfs mount."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sshfs_rig import SshfsRig, missing_tools

    why = missing_tools()
    if why:
        print(f"--sshfs: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vfxcopy-bench-scan-") as tmp:
        with SshfsRig(Path(tmp) / "rig", tuple(args.sshfs_option)) as rig:
            count = make_folder(rig.remote / "scan", args.sequences)
            options = ", ".join(args.sshfs_option) or "default options"
            print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {count} files read through an sshfs "
                  f"mount of this machine ({options})")
            end_to_end(str(rig.mount / "scan"), args.repeat, args.before)
    return 0


def end_to_end(folder: str, repeat: int, before: str | None = None) -> float:
    """`vfxcopy ls` as a new process beside find, ls -l and a bare Python start; returns ls --json's median."""
    py = sys.executable
    script = shutil.which("vfxcopy", path=os.path.dirname(py))
    vfx = [script] if script else [py, "-m", "vfxcopy"]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' installs have .pyc files; the warm-up writes ours
    commands = {
        "vfxcopy ls --json": [*vfx, "ls", "--json", folder],
        "vfxcopy ls": [*vfx, "ls", folder],
        "find -printf '%s %p'": ["find", folder, "-printf", "%s %p\n"],
        "ls -l": ["ls", "-l", folder],
        "python -c pass": [py, "-c", "pass"],
    }
    envs = {name: env for name in commands}
    if before:
        for name in ("vfxcopy ls --json", "vfxcopy ls"):
            commands[f"before: {name}"] = commands[name]
            envs[f"before: {name}"] = {**env, "PYTHONPATH": os.path.abspath(before)}
    for name, argv in commands.items():
        subprocess.run(argv, env=envs[name], stdout=subprocess.DEVNULL, check=True, cwd=tempfile.gettempdir())
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for r in range(repeat):
        order = list(commands.items())
        if r % 2:
            order.reverse()
        for name, argv in order:
            before = os.times()
            t0 = time.perf_counter()
            subprocess.run(argv, env=envs[name], stdout=subprocess.DEVNULL, check=True, cwd=tempfile.gettempdir())
            wall = time.perf_counter() - t0
            after = os.times()
            cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
            times[name].append((wall, cpu))
    show("end to end: new process, output to /dev/null (x = multiple of vfxcopy ls --json)", times,
         "vfxcopy ls --json")
    return statistics.median(t[0] for t in times["vfxcopy ls --json"])


if __name__ == "__main__":
    sys.exit(main())
