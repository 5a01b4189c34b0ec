"""Three renditions from one decode: one `vfxcopy convert … --output … --output …` against the alternatives.

The work (same frames, same run, alternating contenders, medians and ratios):
  master   EXR DWAA 45 (half)
  proxy    half-res sRGB JPEG (ACEScg -> "sRGB - Display", triangle filter, quality 90)
  review   H.264 movie in sRGB (libx264 -preset fast -crf 18, yuv420p, bt709), as vfxcopy encodes it

Contenders (each a fresh process, as a user runs them):
  vfxcopy-one-run     vfxcopy convert SRC master/ … --output proxy/ … --output review/ …  (one decode a frame)
  vfxcopy-three-runs  three vfxcopy convert commands, one per rendition, in turn
  oiiotool+ffmpeg     three oiiotool --frames A-B --parallel-frames passes (master, proxy, sRGB TIFF frames
                      for the movie, uncompressed and in /dev/shm: the cheapest to write and read back)
                      and ffmpeg encoding those TIFFs with the same codec settings

Also reported: each contender's CPU seconds (user+sys of its processes) and the one run's peak RSS,
and the load average before and after each round (the machine may be shared).

`--proxy-scale 100` makes the proxies full-res sRGB JPEGs: they then convert to sRGB exactly as the
review movie does, and the one run converts each frame once for both (shared_decode's colour sharing);
at the default 50% the proxy shrinks before it converts and converts its own (as its own job would).

Usage: python benchmarks/bench_renditions.py [--quick] [--frames N] [--size WxH] [--grain G] [--repeat R]
       [--proxy-scale PCT] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vfxcopy.core.samples import make_exr_sequence

OIIOTOOL = str(Path(sys.executable).parent / "oiiotool")
START = 1001
HEAD = "shot_010."
SRGB = "sRGB - Display"

# The same work for both tools.
MASTER = ["--to", "exr", "--compression", "dwaa:45", "--data-format", "half"]
PROXY = ["--to", "jpg", "--quality", "90", "--resize", "50%", "--filter", "triangle", "--from", "ACEScg",
         "--to-space", SRGB]
REVIEW = ["--to", "mp4", "--quality", "18", "--from", "ACEScg", "--to-space", SRGB]
OIIO_MASTER = ["-d", "half", "--compression", "dwaa:45"]
OIIO_PROXY = ["--resize:filter=triangle", "50%", "--colorconvert", "ACEScg", SRGB, "-d", "uint8",
              "--compression", "jpeg:90"]
OIIO_REVIEW_FRAMES = ["--colorconvert", "ACEScg", SRGB, "-d", "uint8", "--compression", "none"]


class Timed:
    """Wall time, CPU seconds and peak RSS of the processes a contender ran."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.peak_rss_mb = 0.0
        self.steps: list[tuple[str, float, float]] = []  # (program, wall, CPU) of each process

    def run(self, cmd: list[str]) -> None:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall, cpu = time.perf_counter() - t0, usage.ru_utime + usage.ru_stime
        self.wall += wall
        self.cpu += cpu
        self.steps.append((Path(cmd[0]).name if "vfxcopy" not in cmd else "vfxcopy", wall, cpu))
        self.peak_rss_mb = max(self.peak_rss_mb, usage.ru_maxrss / 1024)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")


def vfxcopy(*args: str) -> list[str]:
    return [sys.executable, "-m", "vfxcopy", "convert", *args, "--no-journal", "-q"]


def proxy_args(scale: int) -> tuple[list[str], list[str]]:
    """The proxy's vfxcopy and oiiotool arguments at `scale` percent (100: no resize at all)."""
    if scale == 100:
        return ([a for a in PROXY if a not in ("--resize", "50%", "--filter", "triangle")],
                OIIO_PROXY[2:])
    return ([f"{scale}%" if a == "50%" else a for a in PROXY],
            [f"{scale}%" if a == "50%" else a for a in OIIO_PROXY])


def fresh(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def check_outputs(out: Path, frames: int) -> None:
    from vfxcopy.core.writers.movie import count_frames

    for name, ext in (("master", ".exr"), ("proxy", ".jpg")):
        got = [n for n in os.listdir(out / name) if n.endswith(ext)]
        if len(got) != frames:
            raise SystemExit(f"{name}: {len(got)} of {frames} frames written")
    movie = out / "review" / f"{HEAD.rstrip('.')}.mp4"
    if count_frames(str(movie)) != frames:
        raise SystemExit(f"{movie}: not {frames} frames")


def one_run(src: Path, out: Path, proxy: list[str] = PROXY) -> Timed:
    t = Timed()
    t.run(vfxcopy(str(src), str(out / "master"), *MASTER, "--output", str(out / "proxy"), *proxy,
                  "--output", str(out / "review"), *REVIEW))
    return t


def three_runs(src: Path, out: Path, proxy: list[str] = PROXY) -> Timed:
    t = Timed()
    for name, opts in (("master", MASTER), ("proxy", proxy), ("review", REVIEW)):
        t.run(vfxcopy(str(src), str(out / name), *opts))
    return t


def oiiotool_ffmpeg(src: Path, out: Path, frames: int, fps: float = 24.0,
                    oiio_proxy: list[str] = OIIO_PROXY) -> Timed:
    from vfxcopy.core.jobs import ConvertOptions
    from vfxcopy.core.writers.movie import ffmpeg_exe, movie_format

    t = Timed()
    span = f"{START}-{START + frames - 1}"
    pattern = str(src / f"{HEAD}#.exr")
    # The intermediate frames go to RAM when there is a /dev/shm (the cheapest place for them: no disk
    # writes for the reference to wait on); they are removed after the run, untimed.
    shm = Path("/dev/shm")
    tiffs = Path(tempfile.mkdtemp(prefix="bench-renditions-frames-", dir=shm if shm.is_dir() else out.parent))
    for folder in ("master", "proxy", "review"):
        (out / folder).mkdir(parents=True)
    try:
        _oiio_passes(t, pattern, span, out, tiffs, oiio_proxy)
        fmt = movie_format(ConvertOptions(to="mp4", quality=18))
        t.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-framerate", f"{fps:g}",
               "-start_number", str(START), "-i", str(tiffs / f"{HEAD}%04d.tif"), "-an", *fmt.codec_args,
               "-f", fmt.container, str(out / "review" / f"{HEAD.rstrip('.')}.mp4")])
    finally:
        shutil.rmtree(tiffs, ignore_errors=True)
    return t


def _oiio_passes(t: Timed, pattern: str, span: str, out: Path, tiffs: Path, oiio_proxy: list[str]) -> None:
    for args, dest in ((OIIO_MASTER, out / "master" / f"{HEAD}#.exr"),
                       (oiio_proxy, out / "proxy" / f"{HEAD}#.jpg"),
                       (OIIO_REVIEW_FRAMES, tiffs / f"{HEAD}#.tif")):
        t.run([OIIOTOOL, "--frames", span, "--parallel-frames", pattern, *args, "-o", str(dest)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each runs every contender once)")
    parser.add_argument("--quick", action="store_true", help="40 frames, one round")
    parser.add_argument("--grain", type=float, default=0.0,
                        help="per-pixel noise like a real plate's grain (0.02: 7.8 MB a 1080p frame instead of 90 KB)")
    parser.add_argument("--proxy-scale", type=int, default=50, metavar="PCT",
                        help="the proxies' size in percent (100: full-res, converted once with the movie's)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep the frames (re-used when they match)")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.repeat = 40, 1
    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-renditions-"))
    src = work / "src"
    try:
        stamp = work / "frames.json"
        made = {"frames": args.frames, "size": [width, height], "grain": args.grain}
        if not src.exists() or not stamp.exists() or json.loads(stamp.read_text()) != made:
            fresh(src)
            print(f"making {args.frames} {width}x{height} EXR frames in {src} ...", file=sys.stderr)
            make_exr_sequence(src, start=START, count=args.frames, width=width, height=height, grain=args.grain)
            stamp.write_text(json.dumps(made))
        out = work / "out"
        proxy, oiio_proxy = proxy_args(args.proxy_scale)
        contenders: dict[str, Callable[[], Timed]] = {
            "vfxcopy-one-run": lambda: one_run(src, out, proxy),
            "vfxcopy-three-runs": lambda: three_runs(src, out, proxy),
            "oiiotool+ffmpeg": lambda: oiiotool_ffmpeg(src, out, args.frames, oiio_proxy=oiio_proxy),
        }
        runs: dict[str, list[Timed]] = {name: [] for name in contenders}
        loads: list[tuple[float, float]] = []
        for round_no in range(args.repeat):
            order = list(contenders)
            if round_no % 2:
                order.reverse()  # alternate, so that no contender always runs on a warmer machine
            before = os.getloadavg()[0]
            for name in order:
                fresh(out)
                timed = contenders[name]()
                check_outputs(out, args.frames)
                runs[name].append(timed)
                steps = ", ".join(f"{prog} {w:.1f}s/{c:.1f}cpu" for prog, w, c in timed.steps)
                print(f"round {round_no + 1}: {name:<19} {timed.wall:7.1f} s wall  {timed.cpu:7.1f} s CPU  "
                      f"peak {timed.peak_rss_mb:6.0f} MB  ({steps})", file=sys.stderr)
            loads.append((before, os.getloadavg()[0]))
        fresh(out)
        medians = {name: statistics.median(t.wall for t in timed) for name, timed in runs.items()}
        report = {
            "frames": args.frames, "size": f"{width}x{height}", "grain": args.grain, "proxy_scale": args.proxy_scale,
            "frame_bytes": os.path.getsize(next(src.iterdir())), "rounds": args.repeat, "cores": os.cpu_count(),
            "load_before_after": loads,
            "results": {
                name: {
                    "median_s": round(medians[name], 2),
                    "fps": round(args.frames / medians[name], 2),
                    "cpu_s": round(statistics.median(t.cpu for t in runs[name]), 1),
                    "peak_rss_mb": round(max(t.peak_rss_mb for t in runs[name])),
                    "runs_s": [round(t.wall, 2) for t in runs[name]],
                }
                for name in contenders
            },
            "one_run_faster_than_three_runs": round(medians["vfxcopy-three-runs"] / medians["vfxcopy-one-run"], 2),
            "one_run_faster_than_oiiotool_ffmpeg": round(medians["oiiotool+ffmpeg"] / medians["vfxcopy-one-run"], 2),
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"{args.frames} frames {width}x{height} ({report['frame_bytes']} bytes each), "
                  f"proxies at {args.proxy_scale}%, "
                  f"{args.repeat} round(s), {os.cpu_count()} cores, "
                  f"load {', '.join(f'{a:.1f}->{b:.1f}' for a, b in loads)}")
            for name, r in report["results"].items():  # type: ignore[attr-defined]
                print(f"  {name:<19} {r['median_s']:7.1f} s  {r['fps']:5.2f} fps  CPU {r['cpu_s']:6.1f} s  "
                      f"peak {r['peak_rss_mb']} MB  runs {r['runs_s']}")
            print(f"  one run vs three runs of vfxcopy: x{report['one_run_faster_than_three_runs']:.2f}")
            print(f"  one run vs oiiotool --parallel-frames x3 + ffmpeg: "
                  f"x{report['one_run_faster_than_oiiotool_ffmpeg']:.2f} (target >= 1.8)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    raise SystemExit(main())
