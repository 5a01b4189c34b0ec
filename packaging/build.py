"""Build the one-folder vfxcopy app for this platform with PyInstaller and report where it is and how big."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# A sibling file, not an installed package: found through the sys.path entry above.
import platform_files as pf

ROOT = pf.ROOT
SPEC = ROOT / "packaging" / "vfxcopy.spec"
LINUX_DIR = ROOT / "packaging" / "linux"
DEFAULT_DIST = ROOT / "dist"
DEFAULT_WORK = ROOT / "build"
# Everything that changes what ends up in the bundle; a build is reused only if none changed.
FINGERPRINT_INPUTS = ("vfxcopy", "packaging", "resources", "requirements.lock", "pyproject.toml")


def project_python() -> Path:
    """The interpreter that has vfxcopy's dependencies: the active venv, else the project's .venv."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.executable)
    venv = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return venv if venv.exists() else Path(sys.executable)


def locked_requirements(names: tuple[str, ...]) -> list[str]:
    """`name==version` lines from requirements.lock, so a fresh install matches what CI tested."""
    lock = ROOT / "requirements.lock"
    pins = []
    if lock.exists():
        for line in lock.read_text(encoding="utf-8").splitlines():
            name = line.split("==")[0].strip().lower()
            if "==" in line and name in names:
                pins.append(line.strip())
    return pins or list(names)


def ensure_pyinstaller(python: Path) -> None:
    """Install PyInstaller (the `package` extra) into the project's environment if it is not there."""
    probe = subprocess.run([str(python), "-c", "import PyInstaller"], capture_output=True)
    if probe.returncode == 0:
        return
    reqs = locked_requirements(("pyinstaller", "pyinstaller-hooks-contrib"))
    print(f"PyInstaller is missing from {python}; installing {' '.join(reqs)}", flush=True)
    uv = shutil.which("uv")
    if uv:
        cmd = [uv, "pip", "install", "--quiet", "--python", str(python), *reqs]
    else:
        cmd = [str(python), "-m", "pip", "install", "--quiet", *reqs]
    subprocess.run(cmd, check=True)


def installed_packages(python: Path) -> list[str]:
    """name==version of everything in the build environment (a dependency upgrade means a rebuild)."""
    code = (
        "import importlib.metadata as m, sys\n"
        "print(sys.version)\n"
        "print('\\n'.join(sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def fingerprint(python: Path) -> str:
    digest = hashlib.sha256()
    for entry in FINGERPRINT_INPUTS:
        base = ROOT / entry
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(path.read_bytes())
    digest.update("\n".join(installed_packages(python)).encode())
    return digest.hexdigest()


def folder_stats(folder: Path) -> tuple[int, int]:
    """(bytes, files) of a folder, not following symlinks (PyInstaller links duplicate libraries)."""
    total = count = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            total += st.st_size
            count += 1
    return total, count


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run_pyinstaller(python: Path, dist: Path, work: Path, clean: bool) -> list[str]:
    """Run PyInstaller on the spec; returns the warnings worth showing. Full log in <work>/pyinstaller.log."""
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "pyinstaller.log"
    cmd = [
        str(python), "-m", "PyInstaller", "--noconfirm",
        "--distpath", str(dist), "--workpath", str(work / "pyinstaller"), str(SPEC),
    ]
    if clean:
        cmd.insert(3, "--clean")
    env = dict(os.environ, VFXCOPY_PLATFORM_FILES=str(work / "platform"))
    with log_path.open("w", encoding="utf-8") as log:
        result = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    if result.returncode != 0:
        sys.stderr.write(text[-6000:])
        raise SystemExit(f"PyInstaller failed (exit {result.returncode}); full log: {log_path}")
    missing = sorted(set(re.findall(r"could not resolve '([^']+)'", text)))
    notes = []
    if missing:
        # Not on this build machine, so not in the bundle: the target machine must have them.
        notes.append("system libraries not found on this machine, not bundled: " + ", ".join(missing))
    return notes


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """No build machine user or group in the archive: files belong to whoever unpacks it."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def make_linux_archive(app: Path, dist: Path, version: str) -> Path:
    """dist/vfxcopy-<version>-linux-<arch>.tar.gz: the app folder, install.sh, the .desktop file and the icon."""
    stem = f"vfxcopy-{version}-{pf.platform_tag()}"
    archive = dist / f"{stem}.tar.gz"
    partial = archive.with_name(archive.name + ".partial")
    extras = [
        (LINUX_DIR / "install.sh", "install.sh"),
        (pf.DESKTOP_FILE, "vfxcopy.desktop"),
        (pf.APP_ICON_SVG, "vfxcopy.svg"),
        (LINUX_DIR / "README.txt", "README.txt"),
    ]
    try:
        # Level 6 is most of gzip's gain at a fraction of level 9's time (the ffmpeg binary dominates).
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(app, arcname=f"{stem}/vfxcopy", filter=_anonymous)
            for src, name in extras:
                info = _anonymous(tar.gettarinfo(str(src), arcname=f"{stem}/{name}"))
                info.mode = 0o755 if name.endswith(".sh") else 0o644
                with src.open("rb") as fh:
                    tar.addfile(info, fh)
        # Only a complete archive ever carries the final name.
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work folder (default: build/)")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--if-stale", action="store_true", help="skip the build if nothing changed since the last one")
    parser.add_argument("--no-archive", action="store_true", help="Linux: do not make the .tar.gz")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    args = parser.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()

    python = project_python()
    ensure_pyinstaller(python)
    version = pf.read_version()
    app = dist / "vfxcopy"
    exe = app / ("vfxcopy.exe" if os.name == "nt" else "vfxcopy")
    want_archive = sys.platform.startswith("linux") and not args.no_archive
    archive = dist / f"vfxcopy-{version}-{pf.platform_tag()}.tar.gz" if want_archive else None
    stamp = work / "vfxcopy-bundle.json"

    print(f"vfxcopy {version}: fingerprinting the sources and {python}", flush=True)
    current = fingerprint(python)
    previous = json.loads(stamp.read_text()) if stamp.exists() else {}
    outputs_there = exe.exists() and (archive is None or archive.exists())
    started = time.monotonic()
    notes: list[str] = []
    if args.if_stale and previous.get("fingerprint") == current and outputs_there:
        print("up to date: nothing changed since the last build", flush=True)
        built = False
        seconds = float(previous.get("seconds", 0.0))
    else:
        stamp.unlink(missing_ok=True)
        print(f"building with PyInstaller ({SPEC.relative_to(ROOT)}) ...", flush=True)
        notes = run_pyinstaller(python, dist, work, args.clean)
        pyinstaller_seconds = time.monotonic() - started
        if archive is not None:
            print(f"packing {archive.name} ...", flush=True)
            make_linux_archive(app, dist, version)
        built = True
        seconds = time.monotonic() - started
        notes.append(f"PyInstaller {pyinstaller_seconds:.0f} s, archive {seconds - pyinstaller_seconds:.0f} s")

    size, files = folder_stats(app)
    result = {
        "version": version,
        "app": str(app),
        "executable": str(exe),
        "macos_app": str(dist / "vfxcopy.app") if sys.platform == "darwin" else None,
        "archive": str(archive) if archive else None,
        "archive_bytes": archive.stat().st_size if archive else None,
        "bytes": size,
        "files": files,
        "seconds": round(seconds, 1),
        "built": built,
    }
    if built:
        work.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"fingerprint": current, **result}, indent=2))

    for note in notes:
        print(f"note: {note}")
    print(f"app:        {app}  ({mb(size)}, {files} files)")
    print(f"executable: {exe}")
    if result["macos_app"]:
        print(f"macOS app:  {result['macos_app']}")
    if archive:
        print(f"archive:    {archive}  ({mb(archive.stat().st_size)})")
    print(f"build time: {seconds:.0f} s" + ("" if built else " (last build)"))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
