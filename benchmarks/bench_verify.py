"""`vfxcopy verify` against `ascmhl-debug verify` on the same delivery (sealed by `ascmhl create`), alternating runs.

Both read every file from the page cache (a warm-up run of each first), so the
figure is the cost of hashing plus each tool's own overhead (start-up, history
parsing, traversal). `vfxcopy verify` runs as users run it (a new process) and,
beside it, in process (verify_destination: no start-up). Also times one
manifest write of a job of that size.

`--sshfs`: the delivery is read through an sshfs mount of this machine (sshd and sshfs
over loopback, started and stopped here: benchmarks/sshfs_rig.py), where each open and
read is a round trip; `xxhsum` over the same files (one process, one file at a time)
is timed beside. `--before TREE`: the command line of an earlier checkout too, in the
same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
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


def timed(argv: list[str], env: dict[str, str] | None = None, shell: bool = False) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv if not shell else " ".join(argv), capture_output=True, text=True, env=env or ENV,
                          shell=shell, cwd=tempfile.gettempdir())
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
    parser.add_argument("--sshfs", action="store_true", help="read the delivery through an sshfs mount")
    parser.add_argument("--before", metavar="TREE", help="also time the command line of this checkout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        made = Path(tmp) / "delivery"
        root = made
        if args.sshfs:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from sshfs_rig import SshfsRig, missing_tools

            why = missing_tools()
            if why:
                raise SystemExit(f"--sshfs: {why}")
            rig = stack.enter_context(SshfsRig(Path(tmp) / "rig"))
            made, root = rig.remote / "delivery", rig.mount / "delivery"
        paths = make_byte_sequence(made / "plates", count=args.frames, size=args.size)
        subprocess.run([str(BIN / "ascmhl"), "create", str(made), "-h", args.hash], check=True, env=ENV,
                       capture_output=True)
        runs: dict[str, tuple[list[str], dict[str, str] | None, bool]] = {
            "vfxcopy verify (command line)": ([sys.executable, "-m", "vfxcopy", "verify", str(root), "-q"], None, False),
            "ascmhl-debug verify (command line)": ([str(BIN / "ascmhl-debug"), "verify", str(root)], None, False),
        }
        if args.before:
            runs["before: vfxcopy verify (command line)"] = (
                [sys.executable, "-m", "vfxcopy", "verify", str(root), "-q"],
                {**ENV, "PYTHONPATH": os.path.abspath(args.before)}, False)
        tool = {"xxh128": "xxhsum -H2", "xxh64": "xxhsum -H1", "md5": "md5sum"}[args.hash]
        if shutil.which(tool.split()[0]):
            runs[f"find | xargs {tool} (one file at a time)"] = (
                [f"cd {shlex.quote(str(root))} && find plates -type f -print0 | xargs -0 {tool} > /dev/null"], None, True)
        times: dict[str, list[float]] = {name: [] for name in [*runs, "verify_destination (in process)"]}
        for argv, env, shell in runs.values():  # warm the page cache (and sshfs's) and the imports
            timed(argv, env, shell)
        timed_in_process(root)
        for r in range(args.repeat):
            order = list(runs.items()) if r % 2 == 0 else list(runs.items())[::-1]
            for name, (argv, env, shell) in order:
                times[name].append(timed(argv, env, shell))
            times["verify_destination (in process)"].append(timed_in_process(root))
        total = args.frames * args.size
        where = "through an sshfs mount" if args.sshfs else "on the local disk"
        print(f"{args.frames} files x {args.size >> 10} KiB ({total / 2**30:.2f} GiB), {args.hash}, {where}, "
              f"median of {args.repeat}, alternating:")
        ours = statistics.median(times["vfxcopy verify (command line)"])
        for name, values in times.items():
            m = statistics.median(values)
            print(f"  {name:44} {m:7.2f} s  {total / m / 2**20:7.0f} MiB/s  {m / ours:5.2f}x the time of vfxcopy verify")

        # One generation for a job of that size, from hashes the copy already has (no reading).
        entries = [ManifestEntry(f"plates/{p.name}", args.size, p.stat().st_mtime, args.hash,
                                 hash_path(str(p), args.hash)) for p in paths]
        started = time.perf_counter()
        write_generation(root, entries)
        print(f"  write_generation of {len(entries)} entries onto that history: "
              f"{time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
