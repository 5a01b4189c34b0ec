"""Farm overhead: one 200-frame conversion as one local job vs SLURM array tasks on a local one-node SLURM.

Contenders (same frames, same run, alternating, medians over --repeat runs):
  local         `vfxcopy convert SRC DEST ...` in one process (the engine's own frame threads)
  slurm-cN      `vfxcopy farm submit --backend slurm --chunk N` on a private SLURM (munge + slurmctld +
                slurmd started here, %CPUS tasks at once), timed from submit until the merge step
                has written the manifest

Per-task overhead is in slot-seconds: (wall time x concurrent slots - time spent inside the
engine, summed over the tasks' chunk results) / tasks. It covers the scheduler's dispatch,
process start and imports, result writing, and idle slots while one task finishes last.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge.
Usage: python benchmarks/bench_farm.py [--frames 200] [--chunks 10,25,50] [--repeat 3] [--size 256x144] [--json]
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
import time
from pathlib import Path

from vfxcopy.core.farm.plan import FarmJob, latest_results, plan_job
from vfxcopy.core.farm.slurm import Slurm
from vfxcopy.core.farm.slurm_local import LocalSlurm, missing_tools
from vfxcopy.core.jobs import ConvertOptions, JobSpec, Operation
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import find_sequence

CONVERT = ["--to", "jpg", "--to-space", "sRGB - Display", "--resize", "50%"]


def run_local(src: Path, dest: Path) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "vfxcopy", "convert", str(src), str(dest), *CONVERT, "--no-journal", "-q"],
                   check=True)
    return time.monotonic() - start


def run_slurm(src: Path, dest: Path, chunk: int, slurm: Slurm) -> dict[str, float]:
    seq = find_sequence(str(next(iter(sorted(src.iterdir())))))
    spec = JobSpec(seq, str(dest), Operation.CONVERT,
                   convert=ConvertOptions(to="jpg", to_space="sRGB - Display", resize="50%"))
    start = time.monotonic()
    submitted = time.time()
    job = plan_job([("main", spec, [])], chunk=chunk, backend="slurm")
    slurm.submit(job)
    merged = job.folder / "merged.json"
    while not merged.exists() or slurm.queue(job):
        time.sleep(0.05)
    wall = time.monotonic() - start
    job = FarmJob.load(job.folder)
    results = latest_results(job)
    engine = sum((r.finished or r.started) - r.started for r in results.values())
    tasks = len(results)
    merge = json.loads(merged.read_text())
    if merge["state"] != "completed":
        raise RuntimeError(f"farm job {job.job_id} ended {merge['state']}")
    first_start = min(r.started for r in results.values()) - submitted
    last_end = max((r.finished or r.started) for r in results.values())
    return {"wall": wall, "engine": engine, "tasks": tasks, "to_first_task": first_start,
            "last_task_to_merged": merge["merged_at"] - last_end}


def slurm_cancel_latency(src: Path, dest: Path, slurm: Slurm) -> dict[str, float]:
    """scancel of a task in the middle of its chunk -> the task's final record, and -> gone from squeue."""
    seq = find_sequence(str(next(iter(sorted(src.iterdir())))))
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to="exr", threads=1))
    job = plan_job([("main", spec, [])], chunk=len(seq.frames), backend="slurm")
    slurm.submit(job)
    log = job.folder / "logs" / "main-0.out"
    while not (log.exists() and "openjd_progress" in log.read_text()):
        time.sleep(0.01)
    sent = time.time()
    slurm.cancel(job)
    while slurm.queue(job):
        time.sleep(0.01)
    gone = time.time() - sent
    (record,) = latest_results(FarmJob.load(job.folder)).values()
    partial = [p.name for p in dest.iterdir() if p.name.endswith(".part")]
    if record.state.value != "cancelled" or partial:
        raise RuntimeError(f"cancel left {record.state.value}, partial {partial}")
    return {"to_record": (record.finished or sent) - sent, "to_queue_empty": gone}


def openjd_cancel_latency(src: Path, dest: Path) -> float:
    """OpenJD notify (SIGTERM) in the middle of a chunk -> the task process has ended (openjd-sessions)."""
    from vfxcopy.core.farm import openjd

    seq = find_sequence(str(next(iter(sorted(src.iterdir())))))
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to="exr", threads=1))
    job = plan_job([("main", spec, [])], chunk=len(seq.frames), backend="openjd")
    runner: openjd.LocalRunner

    def on_update(run: openjd.TaskRun) -> None:
        if run.progress and run.cancel_sent is None:
            runner.cancel(grace=30)

    runner = openjd.LocalRunner(openjd.job_template(job), openjd.job_parameters(job), on_update=on_update)
    (run,) = runner.run()
    if run.state != "canceled" or run.cancel_sent is None:
        raise RuntimeError(f"OpenJD cancel ended {run.state}")
    return run.ended - run.cancel_sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--chunks", default="10,25,50", help="chunk sizes to try (frames per task)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="256x144")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0 or missing_tools():
        print("bench_farm: needs root and SLURM (slurmctld slurmd slurm-client munge): skipped", file=sys.stderr)
        return 0
    width, height = (int(v) for v in args.size.split("x"))
    chunks = [int(c) for c in args.chunks.split(",")]
    slots = os.cpu_count() or 1
    root = Path(tempfile.mkdtemp(prefix="bench-farm-"))
    try:
        src = root / "src"
        make_exr_sequence(src, count=args.frames, width=width, height=height)
        cluster = LocalSlurm(root / "slurm", cpus=slots)
        t0 = time.monotonic()
        cluster.start()
        startup = time.monotonic() - t0
        slurm = Slurm(max_running=slots, env=cluster.env)
        big = root / "big"
        make_exr_sequence(big, count=30, width=1024, height=576, compression="piz")
        cancels: list[dict[str, float]] = []
        ojd: list[float] = []
        local: list[float] = []
        farm: dict[int, list[dict[str, float]]] = {c: [] for c in chunks}
        try:
            for r in range(args.repeat):
                out = root / f"local-{r}"
                local.append(run_local(src, out))
                shutil.rmtree(out)
                for c in chunks:
                    out = root / f"slurm-{c}-{r}"
                    farm[c].append(run_slurm(src, out, c, slurm))
                    shutil.rmtree(out)
                out = root / f"cancel-{r}"
                cancels.append(slurm_cancel_latency(big, out, slurm))
                shutil.rmtree(out)
                out = root / f"ojd-cancel-{r}"
                ojd.append(openjd_cancel_latency(big, out))
                shutil.rmtree(out)
        finally:
            cluster.stop()
        local_med = statistics.median(local)
        report: dict[str, object] = {
            "frames": args.frames, "size": args.size, "slots": slots, "repeat": args.repeat,
            "slurm_startup_s": round(startup, 2), "local_s": round(local_med, 2), "slurm": {}}
        print(f"{args.frames} frames {args.size} EXR -> half-res sRGB JPEG; {slots} slots; "
              f"SLURM came up in {startup:.1f} s; medians of {args.repeat}")
        print(f"  {'local (one job)':<22} {local_med:7.2f} s")
        for c, runs in farm.items():
            wall = statistics.median(x["wall"] for x in runs)
            tasks = int(runs[0]["tasks"])
            over = statistics.median((x["wall"] * slots - x["engine"]) / x["tasks"] for x in runs)
            first = statistics.median(x["to_first_task"] for x in runs)
            merge_lag = statistics.median(x["last_task_to_merged"] for x in runs)
            report["slurm"][c] = {"tasks": tasks, "wall_s": round(wall, 2),  # type: ignore[index]
                                  "overhead_per_task_s": round(over, 2), "ratio_to_local": round(wall / local_med, 2),
                                  "submit_to_first_task_s": round(first, 2), "last_task_to_merged_s": round(merge_lag, 2)}
            print(f"  {f'slurm chunk {c} ({tasks} tasks)':<22} {wall:7.2f} s  x{wall / local_med:.2f} of local; "
                  f"overhead {over:.2f} slot-s per task; submit->first task {first:.2f} s; "
                  f"last task->merged {merge_lag:.2f} s")
        to_record = statistics.median(x["to_record"] for x in cancels)
        to_gone = statistics.median(x["to_queue_empty"] for x in cancels)
        ojd_med = statistics.median(ojd)
        report["cancel"] = {"slurm_scancel_to_task_record_s": round(to_record, 3),
                            "slurm_scancel_to_queue_empty_s": round(to_gone, 3),
                            "openjd_notify_to_task_end_s": round(ojd_med, 3)}
        print("cancel in the middle of a chunk (1024x576 EXR frames), nothing partial left:")
        print(f"  SLURM scancel -> task's cancelled record written {to_record * 1000:6.0f} ms; "
              f"-> gone from squeue {to_gone * 1000:6.0f} ms")
        print(f"  OpenJD notify (SIGTERM) -> task ended         {ojd_med * 1000:6.0f} ms")
        if args.json:
            print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
