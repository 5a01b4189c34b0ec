"""The benchmarks' hooks still find what they time: a function they patch may move (bench_network's
phase timer named engine._run for a round after it was renamed run_spec, and the benchmark stopped
half-way). That every benchmark imports: tests/test_tools.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_the_network_benchmarks_phase_timer_times_a_real_copy(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_network
    finally:
        sys.path.remove(str(BENCH))
    src = tmp_path / "src"
    src.mkdir()
    for i in range(1, 4):
        (src / f"p.{i:04d}.exr").write_bytes(os.urandom(1000))
    report = tmp_path / "phases.json"
    env = {**os.environ, "VFXCOPY_DATA_DIR": str(tmp_path / "data"), "VFXCOPY_CONFIG_DIR": str(tmp_path / "conf")}
    done = subprocess.run([sys.executable, "-c", bench_network.PHASES, str(report), "copy", "-q", str(src),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    spent = json.loads(report.read_text())
    assert 0 < spent["engine"] <= spent["job"] <= spent["main"] and spent["outputs"] > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".exr") == [
        "p.0001.exr", "p.0002.exr", "p.0003.exr"]


def test_the_history_benchmark_measures_a_cold_read(tmp_path: Path) -> None:
    """bench_history clears what this process remembers of histories before it times load_history:
    if those caches moved, it would time a warm read and report a gain that is not there."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_history
    finally:
        sys.path.remove(str(BENCH))
    from vfxcopy.core.verify import mhl_read

    history, source = bench_history.build_history(tmp_path, 2, 3, 100)
    mhl_read.load_history(history)
    assert mhl_read._hash_lists and mhl_read._digests and mhl_read._chains
    bench_history.clear_memory()
    assert not (mhl_read._hash_lists or mhl_read._digests or mhl_read._chains)
    loaded, written = bench_history.in_process(history, source, tmp_path / "target")
    assert loaded > 0 and written > 0 and len(list((tmp_path / "target" / "ascmhl").glob("*.mhl"))) == 3
