"""Who runs a job: this process, this machine, and whether a recorded owner is still alive."""

from __future__ import annotations

import os
import sys

# -- where it lives --------------------------------------------------------
from vfxcopy.core.journal.schema import JOURNAL_FILE
from vfxcopy.core.stamps import hostname


def data_dir() -> str:
    """The per-user application-data folder (VFXCOPY_DATA_DIR overrides it); a plain string, as
    every path of a copy's run is (no pathlib at start: see core/config.py). NoHomeError (an
    OSError: the journal is then unavailable, and a copy goes on without it) where there is none."""
    override = os.environ.get("VFXCOPY_DATA_DIR")
    if override:
        return override
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA")
        return os.path.join(base or os.path.join(os.path.expanduser("~"), "AppData", "Local"), "vfxcopy")
    from vfxcopy.core.homes import home

    if sys.platform == "darwin":
        return os.path.join(home(), "Library", "Application Support", "vfxcopy")
    xdg = os.environ.get("XDG_DATA_HOME", "")  # the XDG rule: a relative path is ignored
    return os.path.join(xdg if os.path.isabs(xdg) else os.path.join(home(), ".local", "share"), "vfxcopy")


def default_journal_path() -> str:
    return os.path.join(data_dir(), JOURNAL_FILE)


# -- process identity ------------------------------------------------------


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (Linux), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = data.rsplit(b")", 1)[-1].split()
    try:
        return int(rest[19])  # field 22, counted from field 3 (state)
    except (IndexError, ValueError):
        return None


def _linux_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            rest = fh.read().rsplit(b")", 1)[-1].split()
        return rest[0].decode("ascii", "replace") if rest else None
    except OSError:
        return None


def process_alive(pid: int | None, start_time: int | None) -> bool:
    """True if `pid` runs and is the same process as when `start_time` was taken."""
    if not pid or pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if os.path.isdir("/proc/self"):
        state = _linux_state(pid)
        if state is None or state in ("Z", "X"):
            return False  # gone, or a zombie waiting for its parent: it will do no more work
        if start_time is not None and process_start_time(pid) != start_time:
            return False  # the pid was reused by another process
    return True


def _windows_process_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows: ask the kernel instead.
    if sys.platform != "win32":
        return False
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


_OWN_START: int | None = process_start_time(os.getpid())
def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            continue
    return ""


# A job's owner: host name and machine id. The machine id tells this machine's jobs apart from
# another's even when the host name changed (DHCP, a laptop on another network) since the job ran.
_MACHINE = _machine_id()
_HOST = f"{hostname()}#{_MACHINE}" if _MACHINE else hostname()


def same_machine(host: str) -> bool:
    """Was a job recorded with `host` run on this machine? (pids are only meaningful here)."""
    if not host or host == _HOST:
        return True
    name, _, machine = host.partition("#")
    if machine and _MACHINE:
        return machine == _MACHINE
    return name == _HOST.partition("#")[0]
