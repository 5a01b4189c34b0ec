"""Conversion speed: vfxcopy's engine against oiiotool (per frame and --parallel-frames), plus cancel latency.

Cases (same frames, same run, alternating contenders, medians and ratios):
  jpeg-proxy  1920x1080 EXR -> half-res sRGB JPEG (ACEScg -> "sRGB - Display", triangle filter, quality 90)
  dwaa        1920x1080 EXR zip -> EXR DWAA 45

Contenders:
  vfxcopy-1 / vfxcopy-N   convert_sequence with 1 and N frame threads (N = --threads, default: CPU count):
                          the engine in process
  vfxcopy-CLI-N           `vfxcopy convert` as users run it (a new process: start-up, scan, the job
                          journal in a data folder of the benchmark's own), N frame threads
  oiiotool-loop           one oiiotool process per frame, in turn (what a shell loop does)
  oiiotool-parallel       one oiiotool --frames A-B --parallel-frames over the whole range

Usage: python benchmarks/bench_convert.py [--quick] [--frames N] [--repeat R] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    Event,
    FrameResult,
    JobSpec,
    Operation,
)
from vfxcopy.core.pipeline import run_pipeline as convert_sequence
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.sequence import Sequence

OIIOTOOL = str(Path(sys.executable).parent / "oiiotool")
START = 1001

CASES: dict[str, tuple[ConvertOptions, list[str], str]] = {
    # name: (our options, the same work as oiiotool arguments, output extension)
    "jpeg-proxy": (
        ConvertOptions(to="jpg", quality=90, resize="50%", filter="triangle", from_space="ACEScg",
                       to_space="sRGB - Display"),
        ["--resize:filter=triangle", "50%", "--colorconvert", "ACEScg", "sRGB - Display", "-d", "uint8",
         "--compression", "jpeg:90"],
        "jpg",
    ),
    "dwaa": (
        ConvertOptions(to="exr", compression="dwaa:45", data_format="half"),
        ["-d", "half", "--compression", "dwaa:45"],
        "exr",
    ),
}


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_vfxcopy(seq: Sequence, out: Path, opts: ConvertOptions, threads: int) -> float:
    opts = ConvertOptions(**{**opts.__dict__, "threads": threads})
    spec = JobSpec(seq, str(fresh(out)), Operation.CONVERT, convert=opts)
    spec.copy.on_conflict = ConflictPolicy.OVERWRITE
    t0 = time.perf_counter()
    result = convert_sequence(spec, CancelToken(), lambda e: None)
    elapsed = time.perf_counter() - t0
    if result.exit_code != 0:
        raise SystemExit(f"vfxcopy failed: {result.message} {[f.error for f in result.failed][:2]}")
    return elapsed


def cli_args(opts: ConvertOptions) -> list[str]:
    """The `vfxcopy convert` flags for `opts` (the options CASES use)."""
    flags = [("--to", opts.to), ("--compression", opts.compression), ("--data-format", opts.data_format),
             ("--resize", opts.resize), ("--filter", opts.filter), ("--from", opts.from_space),
             ("--to-space", opts.to_space)]
    args = [arg for flag, value in flags if value for arg in (flag, str(value))]
    if opts.to == "jpg":
        args += ["--quality", str(opts.quality)]
    return args


def run_vfxcopy_cli(seq: Sequence, out: Path, opts: ConvertOptions, threads: int, data: Path) -> float:
    fresh(out)
    src = os.path.join(seq.directory, f"{seq.head}{'#' * seq.padding}{seq.tail}")
    env = {**os.environ, "VFXCOPY_DATA_DIR": str(data), "VFXCOPY_CONFIG_DIR": str(data / "config")}
    command = [sys.executable, "-m", "vfxcopy", "convert", "-q", *cli_args(opts), "--threads", str(threads),
               "--on-conflict", "overwrite", src, str(out)]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    elapsed = time.perf_counter() - t0
    if len([n for n in os.listdir(out) if not n.startswith(".")]) < len(seq.frames):
        raise SystemExit(f"vfxcopy convert wrote {len(os.listdir(out))} of {len(seq.frames)} frames")
    return elapsed


def run_oiiotool_loop(seq: Sequence, out: Path, args: list[str], ext: str) -> float:
    fresh(out)
    t0 = time.perf_counter()
    for frame in seq.frames:
        dest = out / f"{seq.head}{seq.format_frame(frame)}.{ext}"
        subprocess.run([OIIOTOOL, str(seq.path(frame)), *args, "-o", str(dest)], check=True)
    return time.perf_counter() - t0


def run_oiiotool_parallel(seq: Sequence, out: Path, args: list[str], ext: str) -> float:
    fresh(out)
    frames = f"{seq.frames[0]}-{seq.frames[-1]}"
    src = os.path.join(seq.directory, f"{seq.head}{'#'}{seq.tail}")
    dest = str(out / f"{seq.head}#.{ext}")
    t0 = time.perf_counter()
    subprocess.run([OIIOTOOL, "--frames", frames, "--parallel-frames", src, *args, "-o", dest], check=True)
    elapsed = time.perf_counter() - t0
    if len(os.listdir(out)) != len(seq.frames):
        raise SystemExit(f"oiiotool --parallel-frames wrote {len(os.listdir(out))} of {len(seq.frames)} frames")
    return elapsed


def cancel_latency(seq: Sequence, out: Path, opts: ConvertOptions, threads: int, after_frames: int) -> tuple[float, float]:
    """(seconds from cancel() to convert_sequence returning, median seconds one frame took)."""
    opts = ConvertOptions(**{**opts.__dict__, "threads": threads})
    spec = JobSpec(seq, str(fresh(out)), Operation.CONVERT, convert=opts)
    token = CancelToken()
    elapsed: list[float] = []

    def report(event: Event) -> None:
        if isinstance(event, FrameResult):
            elapsed.append(event.elapsed)
            if len(elapsed) == after_frames:
                # Cancel from another thread, as the window's Cancel button does.
                threading.Thread(target=token.cancel).start()

    convert_sequence(spec, token, report)
    returned = time.monotonic()
    assert token.cancelled_at is not None
    leftovers = [n for n in os.listdir(out) if n.startswith(".vfxcopy-")]
    if leftovers:
        raise SystemExit(f"cancel left temporary files: {leftovers}")
    return returned - token.cancelled_at, statistics.median(elapsed)


def gil_check(path: str, rounds: int = 6) -> float:
    """How fast a pure-Python thread runs while another thread reads and resizes with OIIO,
    relative to while that thread sleeps: about 0 if OIIO held the GIL, near 1 on an idle
    machine if it releases it (a busy machine lowers it by CPU contention only)."""
    import OpenImageIO as oiio

    roi = oiio.ROI(0, 960, 0, 540, 0, 1, 0, 3)

    def oiio_work() -> None:
        for _ in range(rounds):
            buf = oiio.ImageBuf(path)
            buf.read(0, 0, force=True, convert=oiio.FLOAT)
            oiio.ImageBufAlgo.resize(buf, filtername="triangle", roi=roi, nthreads=1)

    def spin_rate(work: Callable[[], object]) -> float:
        stop = threading.Event()
        count = [0]

        def spin() -> None:
            n = 0
            while not stop.is_set():
                n += 1
            count[0] = n

        spinner = threading.Thread(target=spin)
        spinner.start()
        t0 = time.perf_counter()
        work()
        elapsed = time.perf_counter() - t0
        stop.set()
        spinner.join()
        return count[0] / elapsed

    idle = spin_rate(lambda: time.sleep(0.5))
    busy = spin_rate(oiio_work)
    return busy / idle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="24 frames, 2 rounds")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--no-loop", action="store_true", help="leave out the one-process-per-frame oiiotool loop")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (kept) instead of a temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeat = min(args.frames, 24), min(args.repeat, 2)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-convert-"))
    try:
        src = work / "src"
        if not (src.exists() and len(list(src.glob("*.exr"))) == args.frames):
            fresh(src)
            t0 = time.perf_counter()
            make_exr_sequence(src, start=START, count=args.frames, width=1920, height=1080, compression="zip")
            print(f"made {args.frames} frames 1920x1080 EXR zip in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        seq = Sequence(str(src), "shot_010.", ".exr", 4, tuple(range(START, START + args.frames)))
        gil = gil_check(str(seq.path(START)))
        report: dict[str, object] = {"frames": args.frames, "repeat": args.repeat, "threads": args.threads,
                                     "cpus": os.cpu_count(), "gil_python_thread_speed_during_oiio": round(gil, 2),
                                     "load_average": os.getloadavg()[0], "cases": {}}
        from vfxcopy.core.thumbnail import make_thumbnail

        make_thumbnail(seq.path(START))  # the first call loads the OCIO config
        thumb_ms = []
        for frame in seq.frames[: min(20, len(seq.frames))]:
            t0 = time.perf_counter()
            make_thumbnail(seq.path(frame), max_size=256)
            thumb_ms.append((time.perf_counter() - t0) * 1000)
        report["thumbnail_ms_1080p_median"] = round(statistics.median(thumb_ms), 1)
        if not args.json:
            print(f"thumbnail 256 px from a 1920x1080 EXR: {statistics.median(thumb_ms):.1f} ms median "
                  f"over {len(thumb_ms)} frames")
            print(f"GIL check: a Python thread keeps {gil:.0%} of its speed while OIIO reads and resizes "
                  f"in another (0% would mean OIIO holds the GIL); load average {os.getloadavg()[0]:.1f}")
        for case in args.cases.split(","):
            opts, tool_args, ext = CASES[case]
            contenders: dict[str, Callable[[], float]] = {
                "vfxcopy-1": lambda o=opts: run_vfxcopy(seq, work / "out", o, 1),
                f"vfxcopy-{args.threads}": lambda o=opts: run_vfxcopy(seq, work / "out", o, args.threads),
                f"vfxcopy-CLI-{args.threads}": lambda o=opts: run_vfxcopy_cli(seq, work / "out", o, args.threads,
                                                                           work / "data"),
                "oiiotool-parallel": lambda a=tool_args, e=ext: run_oiiotool_parallel(seq, work / "out", a, e),
            }
            if not args.no_loop:
                contenders["oiiotool-loop"] = lambda a=tool_args, e=ext: run_oiiotool_loop(seq, work / "out", a, e)
            times: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            for rnd in range(args.repeat):
                # Rotate the order every round so that no contender always runs first (cold caches).
                order = names[rnd % len(names):] + names[: rnd % len(names)]
                for name in order:
                    times[name].append(contenders[name]())
            medians = {n: statistics.median(t) for n, t in times.items()}
            reference = medians["oiiotool-parallel"]
            rows = {
                n: {"median_s": round(m, 3), "fps": round(args.frames / m, 2), "runs": [round(t, 3) for t in times[n]],
                    "speed_vs_oiiotool_parallel": round(reference / m, 2)}
                for n, m in medians.items()
            }
            latency, frame_time = cancel_latency(seq, work / "out", opts, args.threads, after_frames=min(4, args.frames // 2))
            rows["cancel"] = {"latency_s": round(latency, 3), "median_frame_s": round(frame_time, 3),
                              "within_one_frame": latency <= frame_time * 1.5}
            speedup = medians["vfxcopy-1"] / medians[f"vfxcopy-{args.threads}"]
            rows["threads_speedup"] = {"vfxcopy-1_over_N": round(speedup, 2)}
            report["cases"][case] = rows  # type: ignore[index]
            if not args.json:
                print(f"\n== {case}: {args.frames} frames, median of {args.repeat}")
                for n in names:
                    r = rows[n]
                    print(f"  {n:<20} {r['median_s']:8.2f} s  {r['fps']:7.2f} fps  "
                          f"x{r['speed_vs_oiiotool_parallel']:.2f} vs oiiotool --parallel-frames  runs {r['runs']}")
                print(f"  threads speed-up (vfxcopy-1 / vfxcopy-{args.threads}): x{speedup:.2f}")
                print(f"  cancel latency {latency * 1000:.0f} ms; one frame takes {frame_time * 1000:.0f} ms (median)")
        if args.json:
            print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
