"""AppSettings: the window's typed preferences: copy and job defaults in the shared settings file, the rest in QSettings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from vfxcopy.core import config
from vfxcopy.core.config import Config
from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, HashAlgo, VerifyMode
from vfxcopy.core.units import SIZE_UNITS, parse_size

ORGANIZATION = "vfxcopy"
APPLICATION = "vfxcopy"
SETTINGS_FILE = "vfxcopy.ini"
MAX_RECENT_DESTINATIONS = 10



def parse_bwlimit(text: str) -> int | None:
    """'50M' -> 52428800 bytes/s (rsync-like binary units); '' or '0' -> None (unlimited).

    Raises ValueError with a message the user can act on.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = parse_size(text)
    except ValueError:
        raise ValueError(f"bandwidth limit {text!r} not understood: use a number with K, M or G, e.g. 50M") from None
    return value if value >= 1 else None


def format_bwlimit(value: int | None) -> str:
    """The inverse of parse_bwlimit for display: 52428800 -> '50M', None -> ''."""
    if not value:
        return ""
    for unit in ("T", "G", "M", "K"):
        size = SIZE_UNITS[unit]
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def settings_path() -> Path | None:
    """The ini file under $VFXCOPY_CONFIG_DIR, or None for Qt's per-user default location."""
    env = os.environ.get("VFXCOPY_CONFIG_DIR")
    return Path(env) / SETTINGS_FILE if env else None


def _as_bool(value: Any, default: bool) -> bool:
    # The ini backend hands booleans back as the strings "true"/"false".
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        return default
    if isinstance(value, int):
        return bool(value)
    return default


def _as_int(value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class AppSettings:
    """Typed preferences; every setter writes through so another instance sees it at once.

    Jobs at once and the copy defaults live in the settings file that `vfxcopy copy` reads
    (core.config: vfxcopy.toml); window state, confirmations, recent destinations and watch
    rules stay in QSettings (vfxcopy.ini). The ini's old copy defaults are migrated once.
    """

    def __init__(self) -> None:
        config.load()  # migrates the old ini's defaults if there is no settings file yet
        path = settings_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
            )

    @property
    def file_name(self) -> str:
        return self._qs.fileName()

    # -- generic access (header state, window geometry, dialog sizes) --
    def value(self, key: str, default: Any = None) -> Any:
        value = self._qs.value(key)
        return default if value is None else value

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    def remove(self, key: str) -> None:
        self._qs.remove(key)
        self._qs.sync()

    def sync(self) -> None:
        self._qs.sync()

    def _enum(self, key: str, cls: Any, default: Any) -> Any:
        raw = self._qs.value(key)
        try:
            return cls(raw) if raw is not None else default
        except ValueError:
            # An ini edited by hand (or by a newer version) must not break the window.
            return default

    # -- jobs and copy defaults: the settings file the command line reads too (core.config) --
    def _config(self) -> Config:
        return config.load()

    def _set(self, name: str, value: config.Value) -> None:
        config.set_value(name, value)

    @property
    def config_file_name(self) -> str:
        return str(config.config_path())

    @property
    def jobs_at_once(self) -> int:
        return max(1, min(64, self._config().number("jobs.at_once")))

    @jobs_at_once.setter
    def jobs_at_once(self, value: int) -> None:
        self._set("jobs.at_once", max(1, min(64, int(value))))

    @property
    def default_verify(self) -> VerifyMode:
        return VerifyMode(self._config().text("copy.verify"))

    @default_verify.setter
    def default_verify(self, value: VerifyMode) -> None:
        self._set("copy.verify", VerifyMode(value).value)

    @property
    def default_hash(self) -> HashAlgo:
        return HashAlgo(self._config().text("copy.hash"))

    @default_hash.setter
    def default_hash(self, value: HashAlgo) -> None:
        self._set("copy.hash", HashAlgo(value).value)

    @property
    def default_conflict(self) -> ConflictPolicy:
        return ConflictPolicy(self._config().text("copy.on_conflict"))

    @default_conflict.setter
    def default_conflict(self, value: ConflictPolicy) -> None:
        self._set("copy.on_conflict", ConflictPolicy(value).value)

    @property
    def fsync(self) -> bool:
        return self._config().flag("copy.fsync")

    @fsync.setter
    def fsync(self, value: bool) -> None:
        self._set("copy.fsync", bool(value))

    @property
    def bwlimit(self) -> int | None:
        """Default bandwidth limit per job in bytes per second; None = unlimited."""
        return self._config().bwlimit()

    @bwlimit.setter
    def bwlimit(self, value: int | None) -> None:
        self._set("copy.bwlimit", format_bwlimit(int(value)) if value and value > 0 else "")

    def copy_options(self) -> CopyOptions:
        """Fresh CopyOptions carrying the defaults chosen here."""
        return self._config().copy_options(window=True)

    # -- confirmations --
    @property
    def confirm_cancel(self) -> bool:
        return _as_bool(self._qs.value("confirm_cancel"), True)

    @confirm_cancel.setter
    def confirm_cancel(self, value: bool) -> None:
        self.set_value("confirm_cancel", bool(value))

    @property
    def confirm_overwrite(self) -> bool:
        return _as_bool(self._qs.value("confirm_overwrite"), True)

    @confirm_overwrite.setter
    def confirm_overwrite(self, value: bool) -> None:
        self.set_value("confirm_overwrite", bool(value))

    # -- recent destinations --
    @property
    def recent_destinations(self) -> list[str]:
        """Most recent first, at most MAX_RECENT_DESTINATIONS."""
        raw = self._qs.value("recent/destinations")
        # Stored as JSON text: the ini backend turns a one-item list into a bare string.
        try:
            items = json.loads(raw) if isinstance(raw, str) else []
        except ValueError:
            items = []
        if not isinstance(items, list):
            return []
        return [str(p) for p in items if isinstance(p, str) and p][:MAX_RECENT_DESTINATIONS]

    @recent_destinations.setter
    def recent_destinations(self, paths: list[str]) -> None:
        unique: list[str] = []
        for path in paths:
            if path and path not in unique:
                unique.append(path)
        self.set_value("recent/destinations", json.dumps(unique[:MAX_RECENT_DESTINATIONS]))

    def add_recent_destination(self, path: str) -> None:
        path = os.path.normpath(str(path)) if path else ""
        if not path:
            return
        self.recent_destinations = [path, *[p for p in self.recent_destinations if p != path]]
