"""The window's settings of vfxcopy 0.1 (a QSettings ini), written once into the settings file.

config.load calls `migrate_legacy_ini` when there is no settings file yet and an old ini is
found (config.legacy_ini_paths): the only run that needs this module.
"""

from __future__ import annotations

import os

from vfxcopy.core.config import (
    ConfigError,
    Value,
    _dump,
    _file_lock,
    _write_file,
    config_path,
    legacy_ini_paths,
    parse_text,
)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.config import StrPath

# ini key (section/key as QSettings writes it) -> setting
_LEGACY_KEYS = {
    "jobs/at_once": "jobs.at_once",
    "copy/verify": "copy.verify",
    "copy/hash": "copy.hash",
    "copy/conflict": "copy.on_conflict",
    "copy/fsync": "copy.fsync",
    "copy/bwlimit": "copy.bwlimit",
}


def legacy_values(ini: StrPath) -> dict[str, Value]:
    """The settings found in a QSettings ini (read as plain INI: no Qt needed); bad values left out."""
    import configparser  # only for the window's settings of vfxcopy 0.1

    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case, as Qt does
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return {}
    found: dict[str, Value] = {}
    for legacy, name in _LEGACY_KEYS.items():
        section, _, option = legacy.partition("/")
        if not parser.has_option(section, option):
            continue
        raw = parser.get(section, option).strip().strip('"')
        try:
            if name == "copy.bwlimit":
                found[name] = _bwlimit_text(int(raw)) if raw else ""
            else:
                found[name] = parse_text(name, raw)
        except (ConfigError, ValueError):
            continue
    return found


def _bwlimit_text(value: int) -> str:
    """52428800 -> '50M' (bytes/s as the window stored them -> the file's text)."""
    if value <= 0:
        return ""
    for unit, size in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def migrate_legacy_ini(path: StrPath | None = None) -> bool:
    """Once: when there is no settings file yet, write one from the window's old ini. True if it did."""
    path = os.fspath(path) if path else config_path()
    with _file_lock(path):
        if os.path.exists(path):
            return False
        for ini in legacy_ini_paths():
            if os.path.isfile(ini):
                values = legacy_values(ini)
                _write_file(path, _dump(values, {"migrated_from": str(ini)}))
                return True
    return False
