"""Files the bundle needs per platform: version, icons (PNG, .ico, .icns) from the SVG, Windows version info."""

from __future__ import annotations

import ast
import os
import platform
import struct
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
APP_ICON_SVG = ROOT / "vfxcopy" / "resources" / "icons" / "vfxcopy.svg"
DESKTOP_FILE = ROOT / "resources" / "vfxcopy.desktop"
BUNDLE_ID = "org.vfxcopy.vfxcopy"

# .ico: Windows picks the nearest size per context (taskbar, Explorer, Alt-Tab).
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# .icns element types that hold PNG data, by pixel size (the @2x types share sizes).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"icp6", 64),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),
    (b"ic09", 512),
    (b"ic14", 512),
    (b"ic10", 1024),
)


def read_version(root: Path = ROOT) -> str:
    """vfxcopy.__version__, read from the source without importing the package (the one place it lives)."""
    tree = ast.parse((root / "vfxcopy" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise RuntimeError("vfxcopy/__init__.py has no __version__ string")


def command_modules(root: Path = ROOT) -> list[str]:
    """vfxcopy.cli.COMMAND_MODULES, read from the source: the sub-commands the CLI imports by name."""
    tree = ast.parse((root / "vfxcopy" / "cli" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "COMMAND_MODULES" for t in targets):
            return [str(m) for m in ast.literal_eval(value)]
    raise RuntimeError("vfxcopy/cli/__init__.py has no COMMAND_MODULES list")


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """Four integers for Windows' FILEVERSION ("1.2.3rc1" -> (1, 2, 3, 0)); non-numeric parts count as 0."""
    numbers: list[int] = []
    for part in version.split(".")[:4]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        numbers.append(int(digits) if digits else 0)
    while len(numbers) < 4:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2], numbers[3]


def platform_tag() -> str:
    """`linux-x86_64`, `macos-arm64`, `windows-amd64`: the suffix of archive names."""
    system = {"Darwin": "macos"}.get(platform.system(), platform.system().lower())
    return f"{system}-{platform.machine().lower()}"


def write_windows_version_file(version: str, out: Path) -> Path:
    """Fill packaging/windows/version_info.txt.in (PyInstaller's VSVersionInfo format) for this version."""
    template = (PACKAGING / "windows" / "version_info.txt.in").read_text(encoding="utf-8")
    text = template.format(
        filevers=version_tuple(version),
        version=version,
        year=date.today().year,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def render_pngs(svg: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """PNG bytes of the SVG at each size, rendered by QtSvg in a child process (no window system needed)."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt\n"
        "from PySide6.QtGui import QGuiApplication, QImage, QPainter\n"
        "from PySide6.QtSvg import QSvgRenderer\n"
        "app = QGuiApplication([])\n"
        "renderer = QSvgRenderer(sys.argv[1])\n"
        "if not renderer.isValid():\n"
        "    sys.exit('not a valid SVG: ' + sys.argv[1])\n"
        "for arg in sys.argv[3:]:\n"
        "    size = int(arg)\n"
        "    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)\n"
        "    image.fill(Qt.GlobalColor.transparent)\n"
        "    painter = QPainter(image)\n"
        "    renderer.render(painter)\n"
        "    painter.end()\n"
        "    image.save(f'{sys.argv[2]}/{size}.png', 'PNG')\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        # A child process keeps a QGuiApplication out of PyInstaller's own process.
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        subprocess.run(
            [sys.executable, "-c", code, str(svg), tmp, *map(str, sizes)],
            check=True,
            env=env,
        )
        return {size: (Path(tmp) / f"{size}.png").read_bytes() for size in sizes}


def write_ico(pngs: dict[int, bytes], out: Path) -> Path:
    """A Windows .ico whose entries are PNGs (supported since Vista; what Windows 10/11 expect for 256 px)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries = b""
    data = b""
    for size in sizes:
        png = pngs[size]
        # Width and height are one byte each; 0 means 256.
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(header + entries + data)
    return out


def write_icns(pngs: dict[int, bytes], out: Path) -> Path:
    """A macOS .icns made of PNG elements (what `iconutil` produces from an .iconset)."""
    body = b""
    for kind, size in ICNS_TYPES:
        png = pngs[size]
        body += kind + struct.pack(">I", 8 + len(png)) + png
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)
    return out


def make_icons(out_dir: Path, svg: Path = APP_ICON_SVG) -> dict[str, Path]:
    """vfxcopy.ico, vfxcopy.icns and vfxcopy-256.png in out_dir, all from the one SVG."""
    sizes = tuple(sorted(set(ICO_SIZES) | {s for _, s in ICNS_TYPES}))
    pngs = render_pngs(svg, sizes)
    out_dir.mkdir(parents=True, exist_ok=True)
    png256 = out_dir / "vfxcopy-256.png"
    png256.write_bytes(pngs[256])
    return {
        "ico": write_ico({s: pngs[s] for s in ICO_SIZES}, out_dir / "vfxcopy.ico"),
        "icns": write_icns(pngs, out_dir / "vfxcopy.icns"),
        "png": png256,
    }


def macos_info_plist(version: str) -> dict[str, object]:
    """Info.plist keys for vfxcopy.app (PyInstaller adds the executable, bundle name and icon keys)."""
    return {
        "CFBundleName": "vfxcopy",
        "CFBundleDisplayName": "vfxcopy",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHumanReadableCopyright": f"© {date.today().year} vfxcopy contributors, MIT licence",
        "LSApplicationCategoryType": "public.app-category.video",
        "LSMinimumSystemVersion": "11.0",
        # Retina rendering and dark mode follow the system instead of the legacy defaults.
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,
        # Copies often go to or from removable drives and network shares.
        "NSRemovableVolumesUsageDescription": "vfxcopy copies image sequences to and from removable drives.",
        "NSNetworkVolumesUsageDescription": "vfxcopy copies image sequences to and from network shares.",
    }
