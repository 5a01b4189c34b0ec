"""Farm fixtures: sample sequences, farm jobs on disk, and a private one-node SLURM on localhost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from vfxcopy.core.farm.plan import FarmJob, plan_job
from vfxcopy.core.jobs import ConvertOptions, CopyOptions, JobSpec, Operation
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import find_sequence

VENV_BIN = Path(sys.executable).parent


def convert_spec(src: Path, dest: Path, to: str = "jpg", threads: int = 1) -> JobSpec:
    seq = find_sequence(str(next(iter(sorted(src.iterdir())))))
    return JobSpec(seq, str(dest), Operation.CONVERT, copy=CopyOptions(),
                   convert=ConvertOptions(to=to, to_space="sRGB - Display" if to == "jpg" else None,
                                          threads=threads))


def farm_job(spec: JobSpec, chunk: int, steps: list[tuple[str, JobSpec, list[str]]] | None = None) -> FarmJob:
    return plan_job(steps or [("main", spec, [])], chunk=chunk)


def partials(folder: Path) -> list[str]:
    """Every temporary a task could have left: vfxcopy .part files and OpenImageIO's own temporaries."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or ".tmp" in p.name)


def ascmhl_verify(folder: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("ascmhl-debug", path=str(VENV_BIN)) or "ascmhl-debug"
    return subprocess.run([tool, "verify", str(folder)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def small_exrs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve 128×72 EXR frames 1001-1012 (read-only)."""
    folder = tmp_path_factory.mktemp("farm-exr") / "src"
    make_exr_sequence(folder, count=12)
    return folder


@pytest.fixture(scope="session")
def big_exrs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Thirty 1024×576 EXR frames: a chunk of them takes long enough to be cancelled in the middle."""
    folder = tmp_path_factory.mktemp("farm-big") / "src"
    make_exr_sequence(folder, count=30, width=1024, height=576, compression="piz")
    return folder


@pytest.fixture(scope="session")
def frames_200(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 tiny (32×18) EXR frames for the SLURM array tests."""
    folder = tmp_path_factory.mktemp("farm-200") / "src"
    make_exr_sequence(folder, count=200, width=32, height=18)
    return folder


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """munge + slurmctld + slurmd on localhost with a config written here; skipped where it cannot run."""
    from vfxcopy.core.farm.slurm import SlurmError
    from vfxcopy.core.farm.slurm_local import LocalSlurm, missing_tools

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a local SLURM needs root (slurmd runs jobs as their user)")
    missing = missing_tools()
    if missing:
        pytest.skip("SLURM not installed (apt-get install slurmctld slurmd slurm-client munge): missing "
                    + ", ".join(missing))
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"), kill_wait=5)
    try:
        cluster.start()
    except SlurmError as exc:
        pytest.skip(f"cannot start a local SLURM here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def farm() -> SimpleNamespace:
    """The helpers above, for the test modules (they cannot import this conftest)."""
    return SimpleNamespace(convert_spec=convert_spec, farm_job=farm_job, partials=partials,
                           ascmhl_verify=ascmhl_verify)
