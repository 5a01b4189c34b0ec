"""Copies to and from a real network file system (sshfs over loopback) side by side with `cp -r` and `rsync -a`.

    python benchmarks/bench_network.py [--frames 200] [--size 200000] [--reps 6] [--workers 1,4] [--max-conns 4]
                                       [--before TREE] [--no-rsync]

Starts its own sshd (own config, host and user keys, a free port on 127.0.0.1),
mounts its folder with sshfs, and unmounts and stops everything at the end
(benchmarks/sshfs_rig.py). Both directions: local -> sshfs ("up") and
sshfs -> local ("down"). Contenders, in alternating order each round, each on a
fresh destination folder: `cp -r`, `rsync -a`, `vfxcopy copy` through the CLI
(no hash + --no-fsync, and the defaults), and the same two in process
(run_pipeline, no interpreter start-up). Medians; ratio = cp time / our time
(>1: vfxcopy is faster). Also the CPU seconds of ssh, sshd and sshfs per run:
on two shared cores the SFTP processing, not the network, sets the pace.
`--workers` repeats the in-process runs with other numbers of items in flight.

With `--before TREE` (a checkout of an earlier commit), the CLI and in-process
contenders also run from that tree in the same rounds ("before: ..."): an A/B that
shares every round's load with cp. In-process runs of TREE go through a fresh
interpreter that imports the engine first and times run_pipeline alone.

Where a CLI run's time goes (after the rounds, `--phases N` more runs of each CLI
contender, medians): the interpreter's start and exit plus the imports before main
(wall minus main), the command before its job (scan, plan, free space, journal
setup), the engine (run_pipeline), the ASC MHL manifest and job report, and what
the journal adds after the engine (run_job minus the other two: its last commits
and states). The journal's recorder writes each frame's row (with a stat of its
source and destination) from a thread of its own while the engine runs: that
share is inside the engine column (compare with --no-journal).

SFTP requests per run (at the end; `--no-requests` leaves it out): each contender once more,
for one frame and for all of them, into a new folder on a mount of its own on which sshfs
logs every request (-o sshfs_debug). Each request is a round trip to the server, so the
count, unlike a time, is the same on a busy machine and says what a slower network costs.
"""

from __future__ import annotations

import argparse
import collections
import datetime
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sshfs_rig import SshfsRig, missing_tools

from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState, VerifyMode
from vfxcopy.core.pipeline import prepare as pipeline_prepare
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import scan

VFXCOPY = [sys.executable, "-m", "vfxcopy"]

# `vfxcopy ARGV` with the time of main, run_job, the engine and finish_outputs written to a JSON file.
PHASES = """
import json, sys, time
import vfxcopy.core.engine as engine
spent = {"engine": 0.0, "outputs": 0.0, "job": 0.0}
def timed(name, fn):
    def run(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[name] += time.perf_counter() - t
    return run
engine.run_spec = timed("engine", engine.run_spec)
engine.finish_outputs = timed("outputs", engine.finish_outputs)
engine.run_job = timed("job", engine.run_job)
import vfxcopy.cli.queue_run as queue_run
queue_run.run_job = engine.run_job
from vfxcopy.cli import main
report, argv = sys.argv[1], sys.argv[2:]
sys.argv = [sys.argv[0], *argv]
t = time.perf_counter()
code = main()
spent["main"] = time.perf_counter() - t
json.dump(spent, open(report, "w"))
sys.exit(code)
"""
# run_pipeline of one copy, timed alone, in an interpreter whose PYTHONPATH is another tree (--before).
INPROC = """
import sys, time
from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState, VerifyMode
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.pipeline import runner, steps  # noqa: F401 - imported before the clock starts
from vfxcopy.core.seqfind import scan
from vfxcopy.core.writers import copy  # noqa: F401
src, dest, mode, report = sys.argv[1:5]
opts = CopyOptions(verify=VerifyMode.NONE, fsync=False) if mode == "fast" else CopyOptions()
seq = scan([src])[0]
t = time.perf_counter()
result = run_pipeline(JobSpec(seq, dest, copy=opts), CancelToken(), lambda e: None)
spent = time.perf_counter() - t
if result.state is not JobState.COMPLETED:
    sys.exit("vfxcopy failed: " + result.message)
open(report, "w").write(repr(spent))
"""
SSH_PROCESSES = {"sshd", "sshfs", "ssh"}


def ssh_cpu() -> float:
    """CPU seconds used so far by every ssh, sshd and sshfs process (the SFTP work)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if st[st.index("(") + 1: st.rindex(")")] in SSH_PROCESSES:
            fields = st[st.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def sshfs_version() -> str:
    done = subprocess.run(["sshfs", "--version"], capture_output=True, text=True)
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("SSHFS version"):
            return line.split()[-1]
    return "?"


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def home(run_env: dict[str, str]) -> str | None:
    """Where a child of `run_env` runs: in the --before tree for that tree's runs (`python -m` and `-c`
    put the working folder first on sys.path, before PYTHONPATH: run from a checkout, they would
    import that checkout instead), else here."""
    return run_env.get("PYTHONPATH") if run_env.get("VFXCOPY_BENCH_TREE") else None


def print_requests(root: Path, args: argparse.Namespace, env: dict[str, str], env_before: dict[str, str] | None) -> None:
    """SFTP requests per run, counted by sshfs itself (-o sshfs_debug, on a mount of its own): each is a
    round trip to the server, so unlike a time this count is the same on a busy machine, and it says
    what a slower network would cost (requests x its round-trip time, less what runs in parallel)."""
    rig_root = root / "requests"
    with SshfsRig(rig_root / "rig", debug_log=rig_root / "sshfs.log") as rig:
        rows: list[tuple[str, list[str], dict[str, str]]] = [
            ("cp -r", ["cp", "-r"], env), ("rsync -a", ["rsync", "-a"], env),
            ("vfxcopy CLI --verify none --no-fsync", [*VFXCOPY, "copy", "-q", "--verify", "none", "--no-fsync"], env),
            ("vfxcopy CLI defaults (xxh3, fsync)", [*VFXCOPY, "copy", "-q"], env)]
        if env_before is not None:
            rows += [("before: CLI --verify none --no-fsync",
                      [*VFXCOPY, "copy", "-q", "--verify", "none", "--no-fsync"], env_before),
                     ("before: CLI defaults (xxh3, fsync)", [*VFXCOPY, "copy", "-q"], env_before)]
        if args.no_rsync:
            rows = [r for r in rows if r[0] != "rsync -a"]
        print("#### SFTP requests per run (sshfs_debug), local -> sshfs, into a new folder\n")
        print("| contender | 1 frame | " + f"{args.frames} frames | per frame | most frequent ({args.frames} frames) |")
        print("|---|---|---|---|---|")
        sources = {}
        for count in (1, args.frames):
            sources[count] = rig_root / f"src-{count}"
            make_byte_sequence(sources[count], head="shot_010.", count=count, size=args.size)
        for key, command, run_env in rows:
            totals, kinds = {}, collections.Counter()
            for count, src in sources.items():
                dest = rig.mount / f"{len(key)}-{count}-{time.monotonic_ns()}"
                _, start = rig.requests()
                subprocess.run([*command, f"{src}/" if command[0] == "rsync" else str(src), str(dest)], check=True,
                               env=run_env, cwd=home(run_env))
                time.sleep(0.3)  # sshfs logs a reply after the client has it
                found, _ = rig.requests(start)
                totals[count], kinds = sum(found.values()), found
                shutil.rmtree(dest)
            per = (totals[args.frames] - totals[1]) / max(1, args.frames - 1)
            top = ", ".join(f"{k} {n}" for k, n in kinds.most_common(5))
            print(f"| {key} | {totals[1]} | {totals[args.frames]} | {per:.1f} | {top} |")
        print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=6, help="rounds (even: each contender runs first and last equally)")
    ap.add_argument("--workers", default="", help="also in process with these items-in-flight counts, e.g. 1,8")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--phases", type=int, default=3, help="instrumented runs of each CLI contender (0: none)")
    ap.add_argument("--before", default=None, metavar="TREE",
                    help="also run the CLI and in-process contenders from this checkout (an earlier commit)")
    ap.add_argument("--no-rsync", action="store_true", help="leave rsync -a out (shorter rounds)")
    ap.add_argument("--no-requests", dest="requests", action="store_false",
                    help="leave out the count of SFTP requests per run (a mount of its own with sshfs_debug)")
    ap.add_argument("--max-conns", type=int, default=0,
                    help="mount with sshfs -o max_conns=N: N SSH connections, so N server processes (OpenSSH's "
                         "sftp server handles one request at a time: with one connection, every fsync waits in line)")
    args = ap.parse_args()
    why = missing_tools()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="vfxcopy-bench-net-", dir=args.dir))
    data_dir = root / "vfxcopy-data"  # the CLI's journal, as a user would have it (on this disk)
    data_dir.mkdir()
    # As users run it: byte code cached (this environment sets PYTHONDONTWRITEBYTECODE, which made
    # every run compile each module changed since the last run that could write its .pyc: 5 ms of
    # set-up), and the default settings.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "VFXCOPY_CONFIG_DIR")}
    env["VFXCOPY_DATA_DIR"] = str(data_dir)
    before = str(Path(args.before).resolve()) if args.before else None
    env_before = dict(env, PYTHONPATH=before, VFXCOPY_BENCH_TREE="1") if before else env
    warm = root / "warm-src"
    make_byte_sequence(warm, count=2, size=1000)
    for run_env in (env, env_before) if before else (env,):  # writes each tree's .pyc files
        subprocess.run([*VFXCOPY, "copy", "-q", str(warm), str(root / "warm-dst")], check=True, env=run_env,
                       cwd=home(run_env))
        shutil.rmtree(root / "warm-dst")
    fast = CopyOptions(verify=VerifyMode.NONE, fsync=False)
    defaults = CopyOptions()
    try:
        mount_options = (f"max_conns={args.max_conns}",) if args.max_conns else ()
        with SshfsRig(root / "rig", mount_options) as rig:
            local_src = root / "local-src"
            make_byte_sequence(local_src, head="shot_010.", count=args.frames, size=args.size)
            remote_src = rig.mount / "remote-src"
            subprocess.run(["cp", "-r", str(local_src), str(remote_src)], check=True)
            counter = [0]

            def fresh(base: Path) -> Path:
                counter[0] += 1
                return base / f"dst-{counter[0]}"

            def cli(src: Path, extra: list[str], run_env: dict[str, str] = env) -> Callable[[Path], None]:
                def run(dest: Path) -> None:
                    subprocess.run([*VFXCOPY, "copy", "-q", *extra, str(src), str(dest)], check=True, env=run_env,
                                   cwd=home(run_env))
                return run

            def phases(src: Path, extra: list[str], dest: Path, run_env: dict[str, str] = env) -> list[float]:
                """One instrumented CLI run: [start+exit, before the job, engine, manifest+report, journal, total]."""
                report = root / "phases.json"
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", PHASES, str(report), "copy", "-q", *extra, str(src), str(dest)],
                               check=True, env=run_env, cwd=home(run_env))
                wall = time.perf_counter() - t0
                p = json.loads(report.read_text())
                return [wall - p["main"], p["main"] - p["job"], p["engine"], p["outputs"],
                        p["job"] - p["engine"] - p["outputs"], wall]

            def inproc(src: Path, opts: CopyOptions, workers: int | None = None) -> Callable[[Path], None]:
                seq = scan([str(src)])[0]

                def run(dest: Path) -> None:
                    saved = pipeline_prepare.SHARED_FS_COPY_WORKERS
                    if workers is not None:
                        pipeline_prepare.SHARED_FS_COPY_WORKERS = workers
                    try:
                        result = run_pipeline(JobSpec(seq, str(dest), copy=opts), CancelToken(), lambda e: None)
                    finally:
                        pipeline_prepare.SHARED_FS_COPY_WORKERS = saved
                    if result.state is not JobState.COMPLETED:
                        raise SystemExit(f"vfxcopy failed: {result.message}")
                return run

            def inproc_before(src: Path, mode: str) -> Callable[[Path], float]:
                """In process from the --before tree: returns the time of run_pipeline alone."""
                def run(dest: Path) -> float:
                    report = root / "inproc.txt"
                    subprocess.run([sys.executable, "-c", INPROC, str(src), str(dest), mode, str(report)],
                                   check=True, env=env_before, cwd=before)
                    return float(report.read_text())
                return run

            def tool(cmd: list[str], src: Path) -> Callable[[Path], None]:
                def run(dest: Path) -> None:
                    subprocess.run([*cmd, f"{src}/" if cmd[0] == "rsync" else str(src), str(dest)], check=True)
                return run

            print(f"\n### vfxcopy on sshfs over loopback ({datetime.date.today().isoformat()})\n")
            print(f"{args.frames} x {args.size / 1e3:.0f} KB frames; kernel {platform.release()}, "
                  f"{os.cpu_count()} CPUs, load average {load()} at the start; sshfs "
                  f"{sshfs_version()} "
                  f"with {', '.join(mount_options) or 'default options'}, OpenSSH internal-sftp. {args.reps} alternating rounds, medians; "
                  "ratio = cp -r time / this time (>1: faster than cp -r).\n")
            for direction, src, dest_base in (("up: local -> sshfs", local_src, rig.mount),
                                              ("down: sshfs -> local", remote_src, root)):
                contenders: dict[str, Callable[[Path], float | None]] = {
                    "cp -r": tool(["cp", "-r"], src),
                    "rsync -a": tool(["rsync", "-a"], src),
                    "vfxcopy CLI --verify none --no-fsync": cli(src, ["--verify", "none", "--no-fsync"]),
                    "vfxcopy CLI defaults (xxh3, fsync)": cli(src, []),
                    "in process, no hash, no fsync": inproc(src, fast),
                    "in process, defaults": inproc(src, defaults),
                }
                if args.no_rsync:
                    del contenders["rsync -a"]
                if before:
                    contenders["before: CLI --verify none --no-fsync"] = cli(
                        src, ["--verify", "none", "--no-fsync"], env_before)
                    contenders["before: CLI defaults (xxh3, fsync)"] = cli(src, [], env_before)
                    contenders["before: in process, no hash, no fsync"] = inproc_before(src, "fast")
                    contenders["before: in process, defaults"] = inproc_before(src, "defaults")
                for w in [int(x) for x in args.workers.split(",") if x.strip()]:
                    contenders[f"in process, no hash, no fsync, {w} in flight"] = inproc(src, fast, w)
                    contenders[f"in process, defaults, {w} in flight"] = inproc(src, defaults, w)
                times: dict[str, list[float]] = {k: [] for k in contenders}
                cpus: dict[str, list[float]] = {k: [] for k in contenders}
                order = list(contenders)
                for rep in range(args.reps):
                    for key in order if rep % 2 == 0 else list(reversed(order)):
                        dest = fresh(dest_base)
                        subprocess.run(["sync"], check=True)
                        c0 = ssh_cpu()
                        t0 = time.perf_counter()
                        spent = contenders[key](dest)  # a time of its own: run_pipeline alone, in another process
                        times[key].append(time.perf_counter() - t0 if spent is None else spent)
                        cpus[key].append(ssh_cpu() - c0)
                        shutil.rmtree(dest)
                    print(f"  {direction} round {rep + 1}/{args.reps} (load {load()})", file=sys.stderr)
                cp = statistics.median(times["cp -r"])
                print(f"#### {direction}\n")
                print("| contender | median s | min s | ssh+sshd+sshfs CPU s | ratio to cp -r |")
                print("|---|---|---|---|---|")
                for key in order:
                    med = statistics.median(times[key])
                    print(f"| {key} | {med:.3f} | {min(times[key]):.3f} | {statistics.median(cpus[key]):.2f} | "
                          f"{cp / med:.2f}x |")
                print()
                if args.phases:
                    print(f"CLI, where the time goes (ms, medians of {args.phases} more runs):\n")
                    print("| contender | start+exit | before the job | engine | manifest+report | journal after | total |")
                    print("|---|---|---|---|---|---|---|")
                    rows: list[tuple[str, list[str], dict[str, str]]] = [
                        ("vfxcopy CLI --verify none --no-fsync", ["--verify", "none", "--no-fsync"], env),
                        ("vfxcopy CLI defaults (xxh3, fsync)", [], env)]
                    if before:
                        rows += [("before: CLI --verify none --no-fsync", ["--verify", "none", "--no-fsync"], env_before),
                                 ("before: CLI defaults (xxh3, fsync)", [], env_before)]
                    for key, extra, run_env in rows:
                        runs = []
                        for _ in range(args.phases):
                            dest = fresh(dest_base)
                            runs.append(phases(src, extra, dest, run_env))
                            shutil.rmtree(dest)
                        spans = [statistics.median(r[i] for r in runs) * 1000 for i in range(6)]
                        print(f"| {key} | " + " | ".join(f"{m:.0f}" for m in spans) + " |")
                    print()
            print(f"Load average at the end: {load()}.")
        if args.requests:
            print_requests(root, args, env, env_before if before else None)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
