"""Shared fixtures: sample sequences, a settings folder, a data folder per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own journal/settings folder; nothing touches the user's."""
    data = tmp_path_factory.mktemp("vfxcopy-data")
    monkeypatch.setenv("VFXCOPY_DATA_DIR", str(data))
    monkeypatch.setenv("VFXCOPY_CONFIG_DIR", str(data / "config"))
    return data


@pytest.fixture
def byte_seq(tmp_path: Path) -> list[Path]:
    """Ten 64 KiB frames plate.1001.exr … plate.1010.exr of distinct bytes."""
    return make_byte_sequence(tmp_path / "src", count=10, size=64 * 1024)


@pytest.fixture(scope="session")
def exr_seq_session(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve real 128×72 EXR frames (read-only: copy before changing)."""
    return make_exr_sequence(tmp_path_factory.mktemp("exr") / "src", count=12)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


requires_root = pytest.mark.skipif(not is_root(), reason="needs root (tmpfs mount, user switch)")


@pytest.fixture
def tmpfs_mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """mount(size) -> a fresh tmpfs of that size ("1m"), unmounted after the test; skips when not root."""
    import subprocess

    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if not is_root():
            pytest.skip("needs root to mount a small tmpfs")
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
