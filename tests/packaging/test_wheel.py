"""Installed as users do: the wheel in fresh virtual environments, the headless base and the [gui] extra."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vfxcopy import __version__
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    # ./dev installs uv with the system's pip when it is missing: `python3 -m uv`.
    for python in dict.fromkeys([sys.executable, shutil.which("python3") or sys.executable]):
        if subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed (./dev installs it)")


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project's files (the work tree's build/ is left alone)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "tests", "benchmarks", "docs"))
    proc = run([*uv(), "build", "--wheel", "--out-dir", str(tmp / "dist"), str(source)])
    assert proc.returncode == 0, proc.stderr
    (built,) = (tmp / "dist").glob("vfxcopy-*.whl")
    return built


def install(wheel: Path, venv: Path, extras: str = "") -> Path:
    """A fresh venv with the wheel (and extras) at the locked versions; offline from uv's cache when it can."""
    proc = run([*uv(), "venv", "--quiet", "--python", sys.executable, str(venv)])
    assert proc.returncode == 0, proc.stderr
    target = f"vfxcopy{extras} @ {wheel.as_uri()}"
    base = [*uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
            "-c", str(ROOT / "requirements.lock"), target]
    proc = run([*base, "--offline"])
    if proc.returncode != 0:  # a package not in the cache yet: from the index
        proc = run(base)
    assert proc.returncode == 0, proc.stderr
    return venv / "bin" / "vfxcopy"


def installed(venv: Path) -> set[str]:
    proc = run([*uv(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "freeze"])
    return {line.split("==")[0].lower() for line in proc.stdout.splitlines()}


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(VFXCOPY_DATA_DIR=str(tmp / "data"), VFXCOPY_CONFIG_DIR=str(tmp / "config"), **extra)
    return env


def test_the_base_install_is_the_headless_tool(wheel: Path, tmp_path: Path) -> None:
    vfxcopy = install(wheel, tmp_path / "venv")
    packages = installed(tmp_path / "venv")
    assert {"vfxcopy", "xxhash", "watchdog", "ascmhl", "platformdirs"} <= packages
    assert not {"pyside6-essentials", "openimageio", "numpy", "imageio-ffmpeg", "apprise", "fpdf2"} & packages
    env = clean_env(tmp_path)
    assert run([str(vfxcopy), "--version"], env=env).stdout.strip() == f"vfxcopy {__version__}"
    src = make_byte_sequence(tmp_path / "src", count=4, size=3000)[0].parent
    copied = run([str(vfxcopy), "copy", str(src), str(tmp_path / "dest")], env=env)
    assert copied.returncode == 0, copied.stderr
    assert sorted(p.name for p in (tmp_path / "dest").glob("plate.*.exr")) == [
        f"plate.{f}.exr" for f in range(1001, 1005)]
    verified = run([str(vfxcopy), "verify", str(tmp_path / "dest")], env=env)  # ascmhl reads the history
    assert verified.returncode == 0 and "4 files match" in verified.stdout + verified.stderr
    # What needs an extra says which one, in one line, exit 2.
    for argv, extra in ((["convert", str(src), str(tmp_path / "png"), "--to", "png"], "convert"),
                        (["gui"], "gui"),
                        (["copy", str(src), str(tmp_path / "d2"), "--notify", "json://127.0.0.1:9/x"], "notify")):
        proc = run([str(vfxcopy), *argv], env={**env, "QT_QPA_PLATFORM": "offscreen"})
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"pip install 'vfxcopy[{extra}]'" in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert not (tmp_path / "png").exists() and not (tmp_path / "d2").exists()
    no_display = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    bare = run([str(vfxcopy)], env=no_display)  # no command: the window, which this install lacks
    assert bare.returncode == 2 and "pip install 'vfxcopy[gui]'" in bare.stderr, bare.stderr


def test_the_gui_extra_converts_and_opens_the_window(wheel: Path, tmp_path: Path) -> None:
    vfxcopy = install(wheel, tmp_path / "venv", "[gui]")
    packages = installed(tmp_path / "venv")
    assert {"pyside6-essentials", "openimageio", "numpy", "imageio-ffmpeg", "apprise", "fpdf2"} <= packages
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    assert run([str(vfxcopy), "--version"], env=env).returncode == 0
    src = make_exr_sequence(tmp_path / "src", count=2)[0].parent
    converted = run([str(vfxcopy), "convert", str(src), str(tmp_path / "png"), "--to", "png"], env=env)
    assert converted.returncode == 0, converted.stderr
    assert len(list((tmp_path / "png").glob("*.png"))) == 2
    window = run([str(vfxcopy), "gui", "--quit-after", "0.5"], env=env)
    assert window.returncode == 0, window.stderr
