"""Shared fixtures: sample sequences, a settings folder, a data folder per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Runs the real command line in a fresh interpreter, then reports what it imported.
# (json is imported after the run: whether the run itself loaded it is seen too.)
_CLI_IMPORTS = """
import sys
from vfxcopy.cli import main
report, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as stop:
    code = stop.code
modules = sorted(sys.modules)
import json
with open(report, "w") as f:
    json.dump({"code": code, "modules": modules}, f)
"""

CliImports = Callable[..., tuple[int, set[str]]]


@pytest.fixture
def cli_imports(tmp_path: Path) -> CliImports:
    """`cli_imports(*argv, env=None)`: exit code and imported modules of `vfxcopy ARGV...` in a fresh interpreter."""

    def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
        report = tmp_path / "imports.json"
        proc = subprocess.run([sys.executable, "-c", _CLI_IMPORTS, str(report), *argv],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(report.read_text())
        return int(data["code"] or 0), set(data["modules"])

    return run


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


def make_delivery_tree(root: Path, frame_size: int = 20_000) -> Path:
    """A vendor delivery as users get them: nested sequences, a .mov and a .wav, sidecars, empty
    folders, links inside and out of the tree, unicode names, a name with a newline, OS litter."""
    make_byte_sequence(root / "shot_010" / "plates" / "bg01", count=6, size=frame_size, seed=1)
    make_byte_sequence(root / "shot_010" / "plates" / "fg01", head="fg01_", count=4, size=frame_size, seed=2)
    make_byte_sequence(root / "shot_020" / "comp" / "v003", head="shot_020_comp_v003.", count=5, size=frame_size, seed=3)
    (root / "shot_010" / "ref").mkdir(parents=True)
    (root / "shot_010" / "ref" / "edit_ref.mov").write_bytes(os.urandom(frame_size * 2))
    (root / "shot_010" / "ref" / "sync.wav").write_bytes(os.urandom(frame_size))
    (root / "shot_010" / "plates" / "bg01" / "bg01.cdl").write_text("<ColorDecisionList/>\n")
    (root / "shot_010" / "plates" / "bg01" / "metadata.xml").write_text("<clip/>\n")
    (root / "shot_020" / "édition_Ω").mkdir()
    (root / "shot_020" / "édition_Ω" / "naïve notes ☃.txt").write_text("unicode\n")
    (root / "shot_020" / "odd\nname.txt").write_text("a name with a newline\n")
    (root / "empty" / "nested_empty").mkdir(parents=True)
    (root / "delivery.edl").write_text("TITLE: delivery\n")
    (root / ".vendor_settings").write_text("hidden but wanted\n")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "shot_010" / "._edit_ref.mov").write_bytes(b"\0\5\26\7")
    os.symlink("plates/bg01/bg01.cdl", root / "shot_010" / "current.cdl")  # a link inside the tree
    os.symlink("../shot_010/plates", root / "shot_020" / "plates_link")  # a link to a folder inside
    return root


@pytest.fixture
def delivery_tree(tmp_path: Path) -> Path:
    """make_delivery_tree in tmp_path/delivery (links inside only; tests add links out themselves)."""
    return make_delivery_tree(tmp_path / "delivery")


def _counted(monkeypatch: pytest.MonkeyPatch, module: object, hook: str) -> Counter[str]:
    """Every call of the hook `module.hook(path)`, from any thread, counted by file name."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(path: str) -> None:
        with lock:
            counts[os.path.basename(path)] += 1

    monkeypatch.setattr(module, hook, count)
    return counts


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every decode a conversion writer makes (writers/shared_decode.on_decode), by file name."""
    from vfxcopy.core.writers import shared_decode

    return _counted(monkeypatch, shared_decode, "on_decode")


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every colour conversion a conversion writer makes (convert.on_colour), by file name."""
    from vfxcopy.core import convert

    return _counted(monkeypatch, convert, "on_colour")


@pytest.fixture
def verify_hashing_threads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names (without their number) of the threads `vfxcopy verify` hashes files on."""
    from vfxcopy.core.verify import destination

    names: set[str] = set()
    real = destination.hash_path

    def watched(*args: object, **kwargs: object) -> str:
        names.add(threading.current_thread().name.rsplit("_", 1)[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(destination, "hash_path", watched)
    return names
