"""The packaging inputs that need no PyInstaller build: version, icons, Windows version info, .desktop, install.sh."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from vfxcopy import __version__

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    """packaging/ is a folder of scripts, not a package: load its helpers by path, as the spec does."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pf = _load("vfxcopy_platform_files", ROOT / "packaging" / "platform_files.py")


def test_the_bundle_reads_the_packages_version() -> None:
    assert pf.read_version() == __version__
    proc = subprocess.run([sys.executable, "-m", "vfxcopy", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == f"vfxcopy {__version__}"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2.3.4", (1, 2, 3, 4)), ("2.0rc1", (2, 0, 0, 0)), ("1.10.0.dev3", (1, 10, 0, 0))],
)
def test_windows_file_version_numbers(version: str, expected: tuple[int, int, int, int]) -> None:
    assert pf.version_tuple(version) == expected


def test_windows_version_info_names_the_package_version(tmp_path: Path) -> None:
    out = pf.write_windows_version_file("3.4.5", tmp_path / "version_info.txt")
    # PyInstaller eval()s this file on Windows; here it must at least be one well-formed expression.
    tree = ast.parse(out.read_text(encoding="utf-8"), mode="eval")
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert isinstance(tree.body, ast.Call) and tree.body.func.id == "VSVersionInfo"  # type: ignore[attr-defined]
    fixed = {k.arg: ast.literal_eval(k.value) for k in calls["FixedFileInfo"].keywords}
    assert fixed["filevers"] == fixed["prodvers"] == (3, 4, 5, 0)
    strings = {
        ast.literal_eval(n.args[0]): ast.literal_eval(n.args[1])
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "StringStruct"
    }
    assert strings["FileVersion"] == strings["ProductVersion"] == "3.4.5"
    assert strings["OriginalFilename"] == "vfxcopy.exe"


def test_app_icons_open_at_every_size(qapp: object, tmp_path: Path) -> None:
    from PySide6.QtGui import QImageReader

    icons = pf.make_icons(tmp_path)

    def sizes(path: Path) -> list[tuple[int, int]]:
        reader = QImageReader(str(path))
        found = []
        for i in range(reader.imageCount()):
            assert reader.jumpToImage(i)
            image = reader.read()
            assert not image.isNull(), reader.errorString()
            found.append((image.width(), image.height()))
        return found

    assert sizes(icons["ico"]) == [(s, s) for s in pf.ICO_SIZES]
    assert sorted(set(sizes(icons["icns"]))) == [(s, s) for s in (16, 32, 64, 128, 256, 512, 1024)]
    reader = QImageReader(str(icons["png"]))
    image = reader.read()
    assert (image.width(), image.height()) == (256, 256)
    # The icon is drawn, not an empty transparent square.
    assert image.pixelColor(128, 128).alpha() == 255


def _desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_entry_launches_the_window_with_the_app_icon() -> None:
    entry = _desktop_entry(pf.DESKTOP_FILE)
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[:2] == ["vfxcopy", "gui"]
    assert entry["TryExec"] == "vfxcopy"
    assert entry["Terminal"] == "false"
    assert (ROOT / "vfxcopy" / "resources" / "icons" / f"{entry['Icon']}.svg").is_file()
    # The window calls setDesktopFileName("vfxcopy"); taskbars match the window to this entry.
    assert pf.DESKTOP_FILE.stem == entry["StartupWMClass"] == "vfxcopy"
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(pf.DESKTOP_FILE)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _unpacked_tarball(tmp_path: Path) -> Path:
    """The tarball's layout with a stand-in for the app folder (the real one is the bundle test's)."""
    unpacked = tmp_path / "vfxcopy-x-linux-x86_64"
    app = unpacked / "vfxcopy"
    (app / "_internal").mkdir(parents=True)
    exe = app / "vfxcopy"
    exe.write_text(f"#!/bin/sh\necho 'vfxcopy {__version__}'\n")
    exe.chmod(0o755)
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", unpacked / "install.sh")
    shutil.copy2(pf.DESKTOP_FILE, unpacked / "vfxcopy.desktop")
    shutil.copy2(pf.APP_ICON_SVG, unpacked / "vfxcopy.svg")
    return unpacked


def _run(cmd: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_install_sh_puts_the_app_in_the_launcher_and_removes_it(tmp_path: Path) -> None:
    unpacked = _unpacked_tarball(tmp_path)
    home = tmp_path / "home with space"
    home.mkdir()
    proc = _run(["sh", str(unpacked / "install.sh")], home)
    assert proc.returncode == 0, proc.stderr
    app = home / ".local" / "opt" / "vfxcopy"
    desktop = home / ".local" / "share" / "applications" / "vfxcopy.desktop"
    icon = home / ".local" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "vfxcopy.svg"
    link = home / ".local" / "bin" / "vfxcopy"
    assert (app / "vfxcopy").is_file() and (app / "_internal").is_dir()
    assert icon.read_bytes() == pf.APP_ICON_SVG.read_bytes()
    entry = _desktop_entry(desktop)
    # Quoted because of the space; desktop files do not expand ~ or $HOME.
    assert entry["Exec"] == f'"{app}/vfxcopy" gui %F'
    assert entry["TryExec"] == f"{app}/vfxcopy"
    assert os.readlink(link) == f"{app}/vfxcopy"
    assert _run([str(link), "--version"], home).stdout.strip() == f"vfxcopy {__version__}"
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True).returncode == 0

    # Installing again (an upgrade) replaces the app folder and keeps everything working.
    (app / "stale-file").write_text("from the old version")
    assert _run(["sh", str(unpacked / "install.sh")], home).returncode == 0
    assert not (app / "stale-file").exists() and (app / "vfxcopy").is_file()

    proc = _run([str(app / "uninstall.sh")], home)
    assert proc.returncode == 0, proc.stderr
    assert not app.exists() and not desktop.exists() and not icon.exists() and not link.is_symlink()


def test_install_sh_leaves_someone_elses_vfxcopy_command_alone(tmp_path: Path) -> None:
    unpacked = _unpacked_tarball(tmp_path)
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    theirs = home / ".local" / "bin" / "vfxcopy"
    theirs.write_text("#!/bin/sh\necho pip-installed\n")
    proc = _run(["sh", str(unpacked / "install.sh")], home)
    assert proc.returncode == 0, proc.stderr
    assert theirs.read_text() == "#!/bin/sh\necho pip-installed\n"
    assert "left alone" in proc.stdout
    assert _run(["sh", str(unpacked / "install.sh"), "--uninstall"], home).returncode == 0
    assert theirs.is_file()


def test_the_spec_sees_every_sub_command_the_cli_registers() -> None:
    from vfxcopy.cli import COMMAND_MODULES

    assert pf.command_modules() == COMMAND_MODULES


def test_macos_info_plist_carries_the_version_and_serialises() -> None:
    import plistlib

    keys = plistlib.loads(plistlib.dumps(pf.macos_info_plist(__version__)))
    assert keys["CFBundleShortVersionString"] == keys["CFBundleVersion"] == __version__
    # Without this the app would be hidden from the Dock (see the spec's console= comment).
    assert "LSBackgroundOnly" not in keys
    assert keys["NSHighResolutionCapable"] is True


def test_the_app_imports_only_the_qt_modules_the_bundle_ships() -> None:
    selection = _load("vfxcopy_qt_selection", ROOT / "packaging" / "hooks" / "qt_selection.py")
    used: dict[str, str] = {}
    for path in sorted((ROOT / "vfxcopy").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "PySide6" and len(parts) > 1 and parts[1].startswith("Qt"):
                    used.setdefault(parts[1], str(path.relative_to(ROOT)))
    # A module outside the list is missing from the bundle: add it to QT_MODULES in qt_selection.py.
    assert {m: f for m, f in used.items() if m not in selection.QT_MODULES} == {}
    assert {"QtCore", "QtGui", "QtWidgets"} <= set(used)
