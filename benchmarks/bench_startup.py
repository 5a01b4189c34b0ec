"""Start-up as users run it: `vfxcopy --version`, `ls` and `copy` end to end, beside a bare Python start.

    python benchmarks/bench_startup.py [--repeat N] [--dir DIR]

End to end: each command runs as a new process through the installed `vfxcopy`
script, beside the reference `python -c pass` (the same interpreter, the same
site-packages), in alternating order, `--repeat` rounds; medians, min, max and
the ratio to the bare start are shown. Targets (issue 12): --version <= 2x,
ls of a small folder <= 2.5x, copy of 10 small frames <= 3x.

In process: one child interpreter per command runs `vfxcopy.cli.main(argv)`
once (the command's own imports plus its work) and then `--repeat` more times
(the work alone), so the table shows where the end-to-end time goes: bare
start + the command's imports + its work.

Byte-code caches: this environment sets PYTHONDONTWRITEBYTECODE=1, which makes
every start compile vfxcopy's modules from source (pip-installed packages have
their .pyc files). The benchmark drops that variable for its children and runs
every command once untimed, so the .pyc files exist as they would for a user.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vfxcopy.core.samples import make_byte_sequence

TARGETS = {"--version": 2.0, "ls small": 2.5, "copy 10": 3.0}

# A child that times vfxcopy.cli.main in process: first call, then repeats.
IN_PROCESS = """
import contextlib, io, json, os, shutil, sys, time
t0 = time.perf_counter()
from vfxcopy.cli import main
t_cli = time.perf_counter() - t0
argv, dest, repeat = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
times = []
for i in range(repeat + 1):
    if dest:
        shutil.rmtree(dest, ignore_errors=True)
    sink = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            main(argv)
        except SystemExit:
            pass
    times.append(time.perf_counter() - t)
print(json.dumps({"cli_import": t_cli, "first": times[0], "again": times[1:]}))
"""


def child_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["VFXCOPY_DATA_DIR"] = str(data_dir)  # a journal of its own, not the user's
    # The settings folder found as users' is (VFXCOPY_CONFIG_DIR would skip finding it), but empty.
    env.pop("VFXCOPY_CONFIG_DIR", None)
    env["XDG_CONFIG_HOME"] = str(data_dir / "config")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="rounds; every command runs once per round")
    parser.add_argument("--dir", help="work folder (default: a temporary folder)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="vfxcopy-bench-startup-") if not args.dir else None
    work = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    small = work / "small"
    if not small.exists():
        make_byte_sequence(small, count=10, size=20_000)
        (small / "notes.txt").write_text("notes\n")
    dest = work / "dest"
    env = child_env(work / "data")
    py = sys.executable
    script = shutil.which("vfxcopy", path=os.path.dirname(py)) or ""
    vfx = [script] if script else [py, "-m", "vfxcopy"]

    commands: dict[str, tuple[list[str], bool]] = {  # name -> (argv, needs a fresh dest)
        "python -c pass": ([py, "-c", "pass"], False),
        "--version": ([*vfx, "--version"], False),
        "--help": ([*vfx, "--help"], False),
        "ls small": ([*vfx, "ls", str(small)], False),
        "ls --json small": ([*vfx, "ls", "--json", str(small)], False),
        "copy 10": ([*vfx, "copy", str(small), str(dest), "-q"], True),
        "copy 10 --no-journal": ([*vfx, "copy", str(small), str(dest), "-q", "--no-journal"], True),
        "copy 10 fast": ([*vfx, "copy", str(small), str(dest), "-q", "--no-journal", "--verify", "none",
                          "--no-fsync"], True),
        "cp -r (reference)": (["cp", "-r", str(small), str(dest)], True),
    }

    cpus: dict[str, list[float]] = {name: [] for name in commands}

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def run(argv: list[str], fresh: bool, name: str = "") -> float:
        if fresh:
            shutil.rmtree(dest, ignore_errors=True)
        c = children_cpu()
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if name:
            cpus[name].append(children_cpu() - c)
        return time.perf_counter() - t

    for argv, fresh in commands.values():  # warm-up: .pyc files, page cache
        run(argv, fresh)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for r in range(args.repeat):
        order = list(commands.items())
        if r % 2:
            order.reverse()
        for name, (argv, fresh) in order:
            times[name].append(run(argv, fresh, name))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  {os.cpu_count()} cpus  "
          f"Python {platform.python_version()}  load {load:.1f}")
    print(f"# entry point: {' '.join(vfx)}; {args.repeat} rounds, alternating order, medians")
    print("# the CPU is shared with other work right now: wall times are noisy, ratios less so; CPU time"
          " (user + system of the process) is the steadier figure on a busy machine")
    bare = statistics.median(times["python -c pass"])
    bare_cpu = statistics.median(cpus["python -c pass"])
    print(f"\nend to end (new process each run){'':14} {'median ms':>9} {'min':>7} {'max':>7} {'x bare':>7} {'target':>7}"
          f" {'CPU ms':>7} {'x bare':>7}")
    verdict = 0
    for name, values in times.items():
        med = statistics.median(values)
        ratio = med / bare
        target = TARGETS.get(name)
        mark = ""
        if target is not None:
            mark = f"{'<=' if ratio <= target else '> '}{target:.1f}"
            verdict |= ratio > target
        cpu = statistics.median(cpus[name])
        print(f"  {name:44} {med * 1000:9.1f} {min(values) * 1000:7.1f} {max(values) * 1000:7.1f} "
              f"{ratio:7.2f} {mark:>7} {cpu * 1000:7.1f} {cpu / bare_cpu if bare_cpu else 0:7.2f}")

    print(f"\nin process (one child each: main(argv) once, then again){'':2} {'first ms':>8} {'again ms':>8}")
    for name, (argv, fresh) in commands.items():
        if argv[0] != vfx[0] or name == "python -c pass":
            continue
        cli_argv = argv[len(vfx):]
        out = subprocess.run(
            [py, "-c", IN_PROCESS, json.dumps(cli_argv), str(dest) if fresh else "", str(max(3, args.repeat // 3))],
            env=env, capture_output=True, text=True, check=True,
        )
        data = json.loads(out.stdout)
        print(f"  {name:54} {data['first'] * 1000:8.1f} {statistics.median(data['again']) * 1000:8.1f}")
    print("  (first = the command's own imports + its work; again = its work alone)")
    if tmp is not None:
        tmp.cleanup()
    return int(verdict)


if __name__ == "__main__":
    sys.exit(main())
