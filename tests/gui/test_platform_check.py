"""First run: the Qt xcb libraries are checked before Qt starts, and the exact install command is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vfxcopy.gui import platform_check

REPO = Path(__file__).resolve().parents[2]


def test_missing_libraries_are_named_with_the_apt_line(capsys: pytest.CaptureFixture[str]) -> None:
    absent = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    code = platform_check.main({"QT_QPA_PLATFORM": "xcb"}, loads=lambda soname: soname not in absent)
    err = capsys.readouterr().err
    assert code == 3
    # Every missing one, not only the first (Qt names one, then dumps core).
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n" in err
    assert "Fedora" in err and "QT_QPA_PLATFORM=offscreen" in err


def test_nothing_is_checked_offscreen_or_when_all_is_there(capsys: pytest.CaptureFixture[str]) -> None:
    def fail(soname: str) -> bool:
        raise AssertionError("offscreen needs no xcb library")

    assert platform_check.main({"QT_QPA_PLATFORM": "offscreen"}, loads=fail) == 0
    assert platform_check.main({"QT_QPA_PLATFORM": "xcb"}, loads=lambda soname: True) == 0
    assert capsys.readouterr().err == ""
    assert platform_check.needs_xcb({}, platform="linux") and not platform_check.needs_xcb({}, platform="darwin")
    assert not platform_check.needs_xcb({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")


def test_the_check_runs_without_qt_and_the_dev_script_calls_it_before_the_demo() -> None:
    code = ("import sys, vfxcopy.gui.platform_check as p; "
            "assert not [m for m in sys.modules if m.startswith('PySide6')]; print(p.APT_LINE)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("sudo apt-get install -y libxcb-cursor0 ")
    dev = (REPO / "dev").read_text()
    demo = dev[dev.index("    demo)"):]
    assert demo.index("vfxcopy.gui.platform_check") < demo.index('"$VENV/bin/vfxcopy" demo')


def test_vfxcopy_gui_and_demo_print_the_install_line_instead_of_starting_qt() -> None:
    # A real `vfxcopy gui` run, in its own interpreter, with the library lookup answering
    # "missing" for two of them: the command must stop before any Qt module is imported.
    code = (
        "import sys, vfxcopy.gui.platform_check as p\n"
        "absent = {'libxcb-cursor.so.0', 'libxkbcommon-x11.so.0'}\n"
        "real = p.missing_packages\n"
        "p.missing_packages = lambda loads=None: real(lambda so: so not in absent)\n"
        "from vfxcopy.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'\n"
        "sys.exit(rc)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":99", "QT_QPA_PLATFORM": "xcb", "HOME": str(REPO)}
    for command in (["gui"], ["demo", "--quit-after", "1"]):
        done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=60)
        assert done.returncode == 3, done.stderr
        assert "sudo apt-get install -y libxcb-cursor0 libxkbcommon-x11-0\n" in done.stderr
        assert "Traceback" not in done.stderr
