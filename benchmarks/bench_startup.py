"""Start-up as users run it: `vfxcopy --version`, `ls` and `copy` end to end, beside a bare Python start.

    python benchmarks/bench_startup.py [--repeat N] [--dir DIR] [--tree DIR ...] [--instructions] [--wheel]
                                       [--settings]

End to end: each command runs as a new process through the installed `vfxcopy`
script, beside the reference `python -c pass` (the same interpreter, the same
site-packages), in alternating order, `--repeat` rounds; medians, min, max and
the ratio to the bare start are shown. Targets (issue 12): --version <= 2x,
ls of a small folder <= 2.5x, copy of 10 small frames <= 3x: like for like
with cp (no hash, no fsync, no journal: "copy 10 fast"), and as users run it,
with the defaults (xxh3 verification, fsync, the journal, an ASC MHL generation
and the job report): "copy seq" (one sequence, one job) and "copy 10" (the
sequence and a text file: two jobs, the second continues the first's history).

`--wheel`: as installed from the wheel, not from this checkout's development (editable)
install, whose import finder loads pathlib, re and enum into every start, the bare one
included. The checkout's wheel is built (uv build), installed with its locked dependencies
in a fresh virtual environment of this interpreter (byte code compiled, as pip does), and
the benchmark runs again with that environment's Python.

`--settings`: every command also runs with a settings file, as `vfxcopy config set` writes it
(three settings): what a user who ever changed one pays to read it at every start.

A/B: `--tree DIR` (repeatable) runs every command once more per round with
PYTHONPATH=DIR (an earlier checkout, e.g. `git worktree add /tmp/before <commit>`),
in the same alternating rounds; each tree's rows are shown beside the current one.

Where the time goes: one more child per copy row reports, on the monotonic clock
the parent shares, when its own code starts (after the interpreter's start), when
the CLI is imported, when the command's module and parser are ready, and when main
returns; the parent adds when the process is gone (the end: the interpreter's exit).
The work column includes the engine's imports, which happen when the job starts.

`--instructions`: each command once more under valgrind (cachegrind, no cache
simulation): user-space instructions, a count that the other work on a shared
machine does not change (about 50x slower; needs valgrind).

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

TARGETS = {"--version": 2.0, "ls small": 2.5, "copy 10 fast": 3.0, "copy seq": 3.0, "copy 10": 3.0}

# A child that reports when its phases end (time.perf_counter: CLOCK_MONOTONIC, shared with the parent).
PHASES = """
import time
t_code = time.perf_counter()
import json, sys
from vfxcopy import cli
t_cli = time.perf_counter()
marks = {}
_build = cli.build_parser
def build(*a, **k):
    parser = _build(*a, **k)
    marks["parser"] = time.perf_counter()
    return parser
cli.build_parser = build
report, argv = sys.argv[1], sys.argv[2:]
sys.argv = [sys.argv[0], *argv]
code = cli.main()
t_main = time.perf_counter()
with open(report, "w") as f:
    json.dump({"code": t_code, "cli": t_cli, "parser": marks.get("parser", t_cli), "main": t_main}, f)
sys.exit(code)
"""

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


def wheel_python(work: Path) -> Path:
    """A fresh virtual environment in `work` with this checkout's wheel and its locked dependencies
    (the base install: no extras), byte code compiled; its Python."""
    root = Path(__file__).resolve().parent.parent
    uv = shutil.which("uv")
    uv_cmd = [uv] if uv else [sys.executable, "-m", "uv"]
    source, dist, venv = work / "wheel-src", work / "wheel-dist", work / "wheel-venv"
    for folder in (source, dist, venv):
        shutil.rmtree(folder, ignore_errors=True)
    # A copy of the project's files: building in the work tree would leave build/ behind.
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "tests", "benchmarks", "docs"))
    subprocess.run([*uv_cmd, "build", "--quiet", "--wheel", "--out-dir", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("vfxcopy-*.whl")
    subprocess.run([*uv_cmd, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*uv_cmd, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
                    "-c", str(root / "requirements.lock"), f"vfxcopy @ {wheel.as_uri()}"], check=True)
    shutil.rmtree(source, ignore_errors=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="rounds; every command runs once per round")
    parser.add_argument("--dir", help="work folder (default: a temporary folder)")
    parser.add_argument("--tree", action="append", default=[], metavar="DIR",
                        help="also run every command with PYTHONPATH=DIR (another checkout), alternating (repeatable)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each command's user-space instructions once under valgrind")
    parser.add_argument("--settings", action="store_true",
                        help="also run every command with a settings file (as `vfxcopy config set` writes it)")
    parser.add_argument("--wheel", action="store_true",
                        help="run as installed from this checkout's wheel (a fresh virtual environment)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="vfxcopy-bench-startup-") if not args.dir else None
    work = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    small = work / "small"
    if not small.exists():
        make_byte_sequence(small, count=10, size=20_000)
        (small / "notes.txt").write_text("notes\n")
    seq = work / "seq"
    if not seq.exists():
        make_byte_sequence(seq, count=10, size=20_000)
    dest = work / "dest"
    env = child_env(work / "data")
    if args.wheel and os.environ.get("VFXCOPY_BENCH_WHEEL") is None:
        python = wheel_python(work)
        argv = [str(python), os.path.abspath(__file__), *sys.argv[1:], "--dir", str(work)]
        # The benchmark itself runs in that environment (its vfxcopy from the wheel, not this checkout).
        child = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"VFXCOPY_BENCH_WHEEL": "1"}
        return subprocess.run(argv, env=child, cwd=work).returncode
    py = sys.executable
    script = shutil.which("vfxcopy", path=os.path.dirname(py)) or ""
    vfx = [script] if script else [py, "-m", "vfxcopy"]

    commands: dict[str, tuple[list[str], bool]] = {  # name -> (argv, needs a fresh dest)
        "python -c pass": ([py, "-c", "pass"], False),
        "--version": ([*vfx, "--version"], False),
        "--help": ([*vfx, "--help"], False),
        "ls small": ([*vfx, "ls", str(small)], False),
        "ls --json small": ([*vfx, "ls", "--json", str(small)], False),
        "copy seq": ([*vfx, "copy", str(seq), str(dest), "-q"], True),
        "copy 10": ([*vfx, "copy", str(small), str(dest), "-q"], True),
        "copy 10 --no-journal": ([*vfx, "copy", str(small), str(dest), "-q", "--no-journal"], True),
        "copy 10 --no-fsync": ([*vfx, "copy", str(small), str(dest), "-q", "--no-fsync"], True),
        "copy 10 fast": ([*vfx, "copy", str(small), str(dest), "-q", "--no-journal", "--verify", "none",
                          "--no-fsync"], True),
        "cp -r (reference)": (["cp", "-r", str(small), str(dest)], True),
    }
    # The current checkout ("") and each --tree; the bare start and cp run once per round.
    variants: dict[str, dict[str, str]] = {"": env}
    for tree in args.tree:
        variants[f" [{os.path.basename(os.path.normpath(tree))}]"] = {**env, "PYTHONPATH": os.path.abspath(tree)}
    if args.settings:  # a user who ever changed a setting (in the window or with `config set`) has this file
        with_file = {**env, "XDG_CONFIG_HOME": str(work / "data" / "config-set")}
        # Settings that change nothing a command does here (notification URLs would send at every job end).
        for setting in (["jobs.at_once", "3"], ["farm.partition", "gpu"], ["farm.path_map", '["/mnt/a=/net/a"]']):
            subprocess.run([*vfx, "config", "set", *setting], env=with_file, check=True, capture_output=True)
        for name, variant_env in list(variants.items()):
            variants[f"{name} [settings]"] = {**variant_env, "XDG_CONFIG_HOME": with_file["XDG_CONFIG_HOME"]}
    rows: list[tuple[str, str, list[str], bool]] = []  # (row name, variant, argv, fresh)
    for name, (argv, fresh) in commands.items():
        for variant in variants if argv[0] == vfx[0] else [""]:
            rows.append((name + variant, variant, argv, fresh))

    cpus: dict[str, list[float]] = {row[0]: [] for row in rows}

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def run(argv: list[str], fresh: bool, variant: str, name: str = "") -> float:
        if fresh:
            shutil.rmtree(dest, ignore_errors=True)
        c = children_cpu()
        t = time.perf_counter()
        subprocess.run(argv, env=variants[variant], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if name:
            cpus[name].append(children_cpu() - c)
        return time.perf_counter() - t

    for _, variant, argv, fresh in rows:  # warm-up: .pyc files, page cache
        run(argv, fresh, variant)
    times: dict[str, list[float]] = {row[0]: [] for row in rows}
    for r in range(args.repeat):
        order = list(rows)
        if r % 2:
            order.reverse()
        for name, variant, argv, fresh in order:
            times[name].append(run(argv, fresh, variant, name))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  {os.cpu_count()} cpus  "
          f"Python {platform.python_version()}  load {load:.1f}")
    print(f"# entry point: {' '.join(vfx)}{' (installed from the wheel)' if args.wheel else ''}; {args.repeat} rounds, alternating order, medians"
          + "".join(f"; [{os.path.basename(os.path.normpath(t))}] = PYTHONPATH={t}" for t in args.tree))
    print("# the CPU is shared with other work right now: wall times are noisy, ratios less so; CPU time"
          " (user + system of the process) is the steadier figure on a busy machine")
    bare = statistics.median(times["python -c pass"])
    bare_cpu = statistics.median(cpus["python -c pass"])
    print(f"\nend to end (new process each run){'':14} {'median ms':>9} {'min':>7} {'max':>7} {'x bare':>7} {'target':>7}"
          f" {'CPU ms':>7} {'x bare':>7}")
    verdict = 0
    for name, variant, _, _ in rows:
        values = times[name]
        med = statistics.median(values)
        ratio = med / bare
        target = TARGETS.get(name[: len(name) - len(variant)])
        mark = ""
        if target is not None:
            mark = f"{'<=' if ratio <= target else '> '}{target:.1f}"
            if not variant:
                verdict |= ratio > target
        cpu = statistics.median(cpus[name])
        print(f"  {name:44} {med * 1000:9.1f} {min(values) * 1000:7.1f} {max(values) * 1000:7.1f} "
              f"{ratio:7.2f} {mark:>7} {cpu * 1000:7.1f} {cpu / bare_cpu if bare_cpu else 0:7.2f}")

    phases_table(rows, variants, vfx, dest, work, max(5, args.repeat // 2))

    print(f"\nin process (one child each: main(argv) once, then again){'':2} {'first ms':>8} {'again ms':>8}")
    for name, variant, argv, fresh in rows:
        if argv[0] != vfx[0]:
            continue
        cli_argv = argv[len(vfx):]
        out = subprocess.run(
            [py, "-c", IN_PROCESS, json.dumps(cli_argv), str(dest) if fresh else "", str(max(3, args.repeat // 3))],
            env=variants[variant], capture_output=True, text=True, check=True,
        )
        data = json.loads(out.stdout)
        print(f"  {name:54} {data['first'] * 1000:8.1f} {statistics.median(data['again']) * 1000:8.1f}")
    print("  (first = the command's own imports + its work; again = its work alone)")

    if args.instructions:
        instructions_table(rows, variants, dest)
    if tmp is not None:
        tmp.cleanup()
    return int(verdict)


def phases_table(rows: list[tuple[str, str, list[str], bool]], variants: dict[str, dict[str, str]], vfx: list[str],
                 dest: Path, work: Path, repeat: int) -> None:
    """Medians of each copy row's phases: interpreter start, CLI import, command + parser, work, exit."""
    py = sys.executable
    report = work / "phases.json"
    picked = [row for row in rows if row[2][0] == vfx[0] and row[2][len(vfx)] == "copy"]
    spans: dict[str, list[list[float]]] = {row[0]: [] for row in picked}
    for r in range(repeat):
        for name, variant, argv, _ in picked if r % 2 else picked[::-1]:
            shutil.rmtree(dest, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([py, "-c", PHASES, str(report), *argv[len(vfx):]], env=variants[variant],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            t_end = time.perf_counter()
            m = json.loads(report.read_text())
            spans[name].append([m["code"] - t0, m["cli"] - m["code"], m["parser"] - m["cli"], m["main"] - m["parser"],
                                t_end - m["main"]])
    print(f"\nwhere the time goes (wall ms, medians of {repeat}){'':7} {'start':>7} {'CLI':>7} {'parser':>7} "
          f"{'work':>7} {'end':>7} {'total':>7}")
    for name, values in spans.items():
        med = [statistics.median(v[i] for v in values) * 1000 for i in range(5)]
        print(f"  {name:44} " + " ".join(f"{x:7.1f}" for x in med) + f" {sum(med):7.1f}")
    print("  (start: the interpreter until our first line; CLI: importing vfxcopy.cli; parser: the command's module"
          " and parser; work: parsing, the job and its imports, manifest, report, journal; end: the interpreter's exit)")


def instructions_table(rows: list[tuple[str, str, list[str], bool]], variants: dict[str, dict[str, str]],
                       dest: Path) -> None:
    """User-space instructions of one run of each row (valgrind cachegrind, no cache simulation)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("\ninstructions: valgrind not found, skipped")
        return
    counts: dict[str, int] = {}
    for name, variant, argv, fresh in rows:
        if fresh:
            shutil.rmtree(dest, ignore_errors=True)
        out = subprocess.run([valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv],
                             env=variants[variant], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             check=True)
        found = [line for line in out.stderr.splitlines() if "I   refs:" in line or "I refs:" in line]
        if found:
            counts[name] = int(found[-1].rsplit(":", 1)[1].replace(",", "").strip())
    bare = counts.get("python -c pass")
    print(f"\ninstructions (user space, one run each){'':9} {'millions':>9} {'x bare':>7} {'target':>7}")
    for name, variant, _, _ in rows:
        if name not in counts:
            continue
        ratio = counts[name] / bare if bare else 0
        target = TARGETS.get(name[: len(name) - len(variant)])
        mark = f"{'<=' if ratio <= target else '> '}{target:.1f}" if target is not None else ""
        print(f"  {name:44} {counts[name] / 1e6:9.1f} {ratio:7.2f} {mark:>7}")


if __name__ == "__main__":
    sys.exit(main())
