"""Pre-flight of 1,000 1080p EXR headers: `vfxcopy check` (command line and in process) vs `oiiotool --info`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vfxcopy.core.preflight import PreflightOptions, run_preflight
from vfxcopy.core.seqfind import scan

DEFAULT_DIR = Path("/tmp/vfxcopy-bench-preflight/exr1080")
WIDTH, HEIGHT = 1920, 1080
BIN = Path(sys.executable).parent


def _write_frame(path: Path, index: int) -> None:
    """A 1080p RGBA half zip frame: a per-frame constant and a 64x64 noise patch in the last rows.

    Constant rows compress to almost nothing (about 50 KB a frame, so 1,000 frames are
    quick to make and cache); the noise sits in the last chunk, which the check reads.
    """
    import numpy as np
    import OpenImageIO as oiio

    rng = np.random.default_rng(index)
    pixels = np.empty((HEIGHT, WIDTH, 4), np.float32)
    pixels[..., :3] = (index % 997) / 997.0
    pixels[..., 3] = 1.0
    pixels[HEIGHT - 64:, :64, :3] = rng.random((64, 64, 3), dtype=np.float32)
    spec = oiio.ImageSpec(WIDTH, HEIGHT, 4, "half")
    spec.attribute("compression", "zip")
    spec.attribute("oiio:ColorSpace", "ACEScg")
    tmp = path.with_name("." + path.name)
    out = oiio.ImageOutput.create(str(tmp))
    if out is None or not out.open(str(tmp), spec) or not out.write_image(pixels):
        raise OSError(f"could not write {path}: {oiio.geterror()}")
    out.close()
    tmp.rename(path)


def make_frames(folder: Path, count: int) -> list[Path]:
    """plate.1001.exr ... cached in `folder` (made once; about 0.1 s a frame on a free core)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"plate.{1001 + i}.exr" for i in range(count)]
    todo = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        print(f"writing {len(todo)} 1080p EXR frames to {folder} (cached for later runs)...", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda pi: _write_frame(*pi), todo))
    return paths


def drop_caches() -> bool:
    """Empty the page cache (root only) so that the next run reads from the disk."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of this process and of the commands it ran)."""
    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    start, cpu0 = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - start, cpu() - cpu0


def run_oiiotool(paths: list[Path]) -> None:
    proc = subprocess.run([str(BIN / "oiiotool"), "--info", *map(str, paths)], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if "1920 x 1080" in line]
    if proc.returncode != 0 or len(lines) != len(paths):
        raise RuntimeError(f"oiiotool --info: exit {proc.returncode}, {len(lines)} lines: {proc.stderr[-500:]}")


def run_cli(folder: Path, count: int, *extra: str) -> None:
    proc = subprocess.run([str(BIN / "python"), "-m", "vfxcopy", "check", "--json", "-q", *extra, str(folder)],
                          capture_output=True, text=True)
    try:
        checked = json.loads(proc.stdout)["frames_checked"]
    except (ValueError, KeyError):
        checked = -1
    if proc.returncode != 0 or checked != count:
        raise RuntimeError(f"vfxcopy check: exit {proc.returncode}: {proc.stderr[-500:]}")


def run_in_process(folder: Path, count: int, threads: int) -> None:
    [seq] = scan([folder])
    report = run_preflight(seq, options=PreflightOptions(threads=threads))
    if report.frames_checked != count or not report.ok:
        raise RuntimeError(f"in-process check: {report.summary()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="warm rounds (each runs every contender once)")
    parser.add_argument("--cold", type=int, default=3, help="cold rounds (page cache dropped before each run; root)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    folder = args.dir / str(args.frames)
    paths = make_frames(folder, args.frames)
    n = args.frames
    contenders: dict[str, Callable[[], None]] = {
        "oiiotool --info (command line)": lambda: run_oiiotool(paths),
        "vfxcopy check (command line)": lambda: run_cli(folder, n),
        "vfxcopy check (in process, default)": lambda: run_in_process(folder, n, 8),
        "vfxcopy check (in process, 1 thread)": lambda: run_in_process(folder, n, 1),
        # One frame each: the start-up cost, to tell it from the cost per frame.
        "oiiotool --info, 1 frame": lambda: run_oiiotool(paths[:1]),
        "vfxcopy check, 1 frame": lambda: run_cli(folder, 1, "--frames", "1001"),
    }
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{n} frames of {WIDTH}x{HEIGHT} RGBA half zip in {folder}", file=sys.stderr)
    for fn in contenders.values():
        fn()  # warm up: page cache, imports, OpenImageIO plugins
    # results[name][mode] = [(wall, cpu), ...] in round order (mode: warm or cold)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {name: {"warm": [], "cold": []} for name in contenders}
    names = list(contenders)
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]  # alternate so that drift hits everyone alike
        for name in order:
            results[name]["warm"].append(timed(contenders[name]))
    for r in range(args.cold):
        order = names if r % 2 == 0 else names[::-1]
        if not drop_caches():
            print("cold runs skipped: dropping the page cache needs root", file=sys.stderr)
            break
        for name in order:
            drop_caches()
            results[name]["cold"].append(timed(contenders[name]))
    ref = names[0]
    print(f"\n{'':40} {'mode':>5} {'wall median':>12} {'ms/frame':>9} {'vs oiiotool':>12} {'paired':>8}"
          f" {'CPU median':>11} {'vs oiiotool':>12}")
    one = "oiiotool --info, 1 frame"
    for mode in ("warm", "cold"):
        if not results[ref][mode]:
            continue
        for name in names:
            # The one-frame runs are compared with oiiotool's one-frame run.
            base, frames = (one, 1) if name.endswith("1 frame") else (ref, n)
            runs, base_runs = results[name][mode], results[base][mode]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            base_wall = statistics.median(w for w, _ in base_runs)
            base_cpu = statistics.median(c for _, c in base_runs)
            # Each round ran every contender back to back: the ratio within a round shares its load.
            paired = statistics.median(bw / w for (bw, _), (w, _) in zip(base_runs, runs, strict=True))
            print(f"{name:40} {mode:>5} {wall:11.3f}s {wall / frames * 1000:9.3f} {base_wall / wall:11.2f}x "
                  f"{paired:7.2f}x {cpu:10.3f}s {base_cpu / cpu:11.2f}x")
    for mode in ("warm", "cold"):
        if not results[ref][mode]:
            continue
        med = {name: statistics.median(w for w, _ in results[name][mode]) for name in names}
        theirs = (med[ref] - med[one]) / (n - 1) * 1000
        ours = (med[names[1]] - med["vfxcopy check, 1 frame"]) / (n - 1) * 1000
        print(f"{mode}: start-up oiiotool {med[one] * 1000:.0f} ms, vfxcopy check "
              f"{med['vfxcopy check, 1 frame'] * 1000:.0f} ms; per further frame oiiotool {theirs:.3f} ms, "
              f"vfxcopy check {ours:.3f} ms ({theirs / ours if ours > 0 else float('inf'):.1f}x)")
    print(f"\n(medians of {args.repeats} warm and {len(results[ref]['cold'])} cold alternated rounds; "
          "'vs oiiotool' = oiiotool's median / this median, 'paired' = median of the same ratio within each "
          "round; above 1 is faster. CPU = user + system time, the machine's load does not inflate it.)")
    print(json.dumps({name: {m: [[round(w, 4), round(c, 4)] for w, c in v] for m, v in modes.items()}
                      for name, modes in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
