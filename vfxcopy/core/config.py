"""One settings file for the window and the command line: vfxcopy.toml in the per-user config folder."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, HashAlgo, VerifyMode

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from types import ModuleType
    from typing import Any

    StrPath = str | os.PathLike[str]

CONFIG_FILE = "vfxcopy.toml"
# The window's settings before this file existed (QSettings in IniFormat): migrated once.
LEGACY_INI = "vfxcopy.ini"

Value = str | int | bool | list[str]


class ConfigError(ValueError):
    """A key that does not exist or a value it cannot take; the message says what it takes."""


class Key:
    """One setting: its dotted name (TOML table.key), type, default, allowed values and a help line.

    Read-only, as the frozen dataclass it was; a plain class because making that dataclass
    (six generated methods) cost about 1 ms of every start, and nothing compares or hashes keys.
    """

    __slots__ = ("name", "kind", "default", "help", "choices", "minimum", "maximum")
    name: str
    kind: type
    default: Value
    help: str
    choices: tuple[str, ...]
    minimum: int | None
    maximum: int | None

    def __init__(self, name: str, kind: type, default: Value, help: str, choices: tuple[str, ...] = (),
                 minimum: int | None = None, maximum: int | None = None) -> None:
        for attr, value in (("name", name), ("kind", kind), ("default", default), ("help", help),
                            ("choices", choices), ("minimum", minimum), ("maximum", maximum)):
            object.__setattr__(self, attr, value)

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {attr!r}: the settings keys are fixed")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"cannot delete field {attr!r}: the settings keys are fixed")

    def __repr__(self) -> str:
        return f"Key({', '.join(f'{a}={getattr(self, a)!r}' for a in self.__slots__)})"


KEYS: dict[str, Key] = {k.name: k for k in (
    Key("copy.verify", str, VerifyMode.TRANSFER.value,
        "none; transfer: hash what was read and written; full: also read back",
        tuple(m.value for m in VerifyMode)),
    Key("copy.hash", str, HashAlgo.XXH3.value, "hash for verification and manifests",
        tuple(h.value for h in HashAlgo)),
    Key("copy.on_conflict", str, ConflictPolicy.SKIP_IDENTICAL.value, "when a destination file exists",
        tuple(c.value for c in ConflictPolicy)),
    Key("copy.fsync", bool, True, "fsync frames before renaming them into place"),
    Key("copy.bwlimit", str, "", "bytes/s per job, K/M/G powers of 1024 (50M); empty: unlimited"),
    Key("report.pdf", str, "window",
        "the handover PDF after a verified copy (needs vfxcopy[report]): always, window (the window's jobs; "
        "the command line with --pdf), never", ("always", "window", "never")),
    Key("jobs.at_once", int, 2, "jobs that run at the same time in the window", minimum=1, maximum=64),
    Key("notify.desktop", bool, True, "a desktop (tray) message when a job finishes in the window"),
    Key("notify.urls", list, [], "apprise notification URLs (mailto://, slack://, json://...), told on every job end"),
    Key("notify.when", str, "always", "which job ends are notified through the URLs and the hook",
        ("always", "failed", "never")),
    Key("notify.on_complete", str, "",
        "a command run when a job ends, with the job's JSON on standard input (empty: none)"),
    Key("farm.backend", str, "openjd", "the farm to submit to", ("openjd", "slurm", "deadline", "deadline10", "opencue")),
    Key("farm.partition", str, "", "SLURM partition / Deadline 10 pool / OpenCue show (empty: the farm's default)"),
    Key("farm.chunk", int, 0, "frames per farm task (0: sized by the task time)", minimum=0),
    Key("farm.path_map", list, [], "FROM=TO path rules for farm tasks (where the workers mount the same storage)"),
)}

_lock = threading.Lock()


def _toml() -> ModuleType:
    """tomllib, imported when there is TOML to read: it compiles its regular expressions as it
    loads (2 ms), and most runs find no settings file at all."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 reads TOML with tomli (a base dependency there)
        import tomli as tomllib
    return tomllib


def _loads(text: str) -> dict[str, Any]:
    """The settings file's TOML: read by core/tomlsubset.py when it is as simple as the files we
    write (no tomllib to import: about 5 ms of a start), else by tomllib."""
    from vfxcopy.core.tomlsubset import loads

    data = loads(text)
    return data if data is not None else _toml().loads(text)


# Paths are plain strings here (os.path), as in the rest of what a copy runs: pathlib, with
# urllib.parse and ipaddress that it imports, was 16 M instructions of every command's start.

def config_dir() -> str:
    """$VFXCOPY_CONFIG_DIR, else the platform's per-user config folder (platformdirs) + vfxcopy.

    NoHomeError (an OSError) where there is no per-user folder (no HOME, no home in the password
    database: a farm task in a container): `load` then gives the defaults, with that problem."""
    env = os.environ.get("VFXCOPY_CONFIG_DIR")
    if env:
        return env
    from vfxcopy.core.homes import NoHomeError, home

    if sys.platform.startswith("linux"):
        # platformdirs' rule on Linux, spelled here: importing platformdirs took 14 ms of every start.
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        if os.path.isabs(xdg):
            return os.path.join(xdg, "vfxcopy")
        return os.path.join(home(), ".config", "vfxcopy")
    from platformdirs import user_config_dir

    try:
        # roaming on Windows: the same folder as presets.json (%APPDATA%\vfxcopy)
        return user_config_dir("vfxcopy", appauthor=False, roaming=True)
    except RuntimeError as exc:  # platformdirs: no home to expand
        raise NoHomeError(f"{exc}; or set VFXCOPY_CONFIG_DIR") from None


def config_path() -> str:
    return os.path.join(config_dir(), CONFIG_FILE)


def legacy_ini_paths() -> list[str]:
    """Where the window's QSettings ini may be: beside the TOML file, and Qt's Unix default on macOS."""
    paths = [os.path.join(config_dir(), LEGACY_INI)]
    if not os.environ.get("VFXCOPY_CONFIG_DIR") and sys.platform == "darwin":
        paths.append(os.path.join(os.path.expanduser("~"), ".config", "vfxcopy", LEGACY_INI))
    return paths


def key(name: str) -> Key:
    try:
        return KEYS[name]
    except KeyError:
        raise ConfigError(f"no setting {name!r}; the settings are: {', '.join(KEYS)}") from None


def check_value(name: str, value: object) -> Value:
    """`value` as setting `name` stores it; ConfigError naming what it takes."""
    k = key(name)
    if k.kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} takes true or false, not {value!r}")
    if k.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} takes a whole number, not {value!r}")
        if (k.minimum is not None and value < k.minimum) or (k.maximum is not None and value > k.maximum):
            raise ConfigError(f"{name} takes a number from {k.minimum} to {k.maximum if k.maximum is not None else 'any'}")
        return value
    if k.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} takes a list of strings, not {value!r}")
        return list(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name} takes text, not {value!r}")
    if k.choices and value not in k.choices:
        raise ConfigError(f"{name} takes one of {', '.join(k.choices)}, not {value!r}")
    if name == "copy.bwlimit" and value.strip():
        from vfxcopy.core.units import parse_size

        try:
            parse_size(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    return value


def parse_text(name: str, text: str) -> Value:
    """A value typed on the command line (`vfxcopy config set KEY TEXT`) -> the setting's type."""
    k = key(name)
    if k.kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{name} takes true or false, not {text!r}")
    if k.kind is int:
        try:
            return check_value(name, int(text.strip()))
        except ValueError as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{name} takes a whole number, not {text!r}") from None
    if k.kind is list:
        stripped = text.strip()
        if stripped.startswith("["):  # a TOML array: ["mailto://...", "json://..."]
            tomllib = _toml()
            try:
                parsed = tomllib.loads(f"v = {stripped}")["v"]
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{name}: not a TOML list ({exc})") from None
            return check_value(name, parsed)
        return [stripped] if stripped else []
    return check_value(name, text)


class Config:
    """The settings as read: every key with its value (the default where the file has none).

    A plain class (nothing compares or copies one): one dataclass fewer made at every start.
    """

    __slots__ = ("values", "path", "problems")

    def __init__(self, values: dict[str, Value] | None = None, path: str | None = None,
                 problems: list[str] | None = None) -> None:
        self.values: dict[str, Value] = values if values is not None else {}
        self.path = path
        # Keys in the file with a value they cannot take: ignored (the default applies), told once.
        self.problems: list[str] = problems if problems is not None else []

    def __repr__(self) -> str:
        return f"Config(values={self.values!r}, path={self.path!r}, problems={self.problems!r})"

    def get(self, name: str) -> Value:
        k = key(name)
        value = self.values.get(name, k.default)
        return list(value) if isinstance(value, list) else value

    def is_set(self, name: str) -> bool:
        return name in self.values

    def items(self) -> Iterator[tuple[str, Value]]:
        for name in KEYS:
            yield name, self.get(name)

    # -- typed views --
    def text(self, name: str) -> str:
        return str(self.get(name))

    def flag(self, name: str) -> bool:
        return bool(self.get(name))

    def number(self, name: str) -> int:
        value = self.get(name)
        return value if isinstance(value, int) else int(str(value))

    def strings(self, name: str) -> list[str]:
        value = self.get(name)
        return [str(v) for v in value] if isinstance(value, list) else []

    def bwlimit(self) -> int | None:
        from vfxcopy.core.units import parse_size

        text = self.text("copy.bwlimit").strip()
        return (parse_size(text) or None) if text else None

    def copy_options(self, *, window: bool = False) -> CopyOptions:
        """CopyOptions carrying these defaults (the window's new jobs and `vfxcopy copy` start from them)."""
        return CopyOptions(
            verify=VerifyMode(self.text("copy.verify")),
            hash_algo=HashAlgo(self.text("copy.hash")),
            on_conflict=ConflictPolicy(self.text("copy.on_conflict")),
            fsync=self.flag("copy.fsync"),
            bwlimit=self.bwlimit(),
            # Importing fpdf2 takes about 0.6 s: a handover for the window's jobs by default,
            # not for every command-line or farm copy.
            pdf_report=self.text("report.pdf") == "always" or (window and self.text("report.pdf") == "window"),
        )


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _nest(values: Mapping[str, Value]) -> dict[str, dict[str, Value]]:
    tables: dict[str, dict[str, Value]] = {}
    for name, value in values.items():
        table, _, leaf = name.partition(".")
        tables.setdefault(table, {})[leaf] = value
    return tables


def _read_file(path: str) -> tuple[dict[str, Value], list[str]]:
    """The valid settings of the file and what was wrong with the rest; {} when it does not exist."""
    from vfxcopy.core.readfile import read_regular_file

    try:
        raw = read_regular_file(path)
    except FileNotFoundError:
        return {}, []
    except OSError as exc:  # unreadable (permissions, a folder by that name): the tool still runs
        return {}, [f"{path}: cannot be read ({exc.strerror}); the defaults apply"]
    try:
        data = _loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        return {}, [f"{path}: not a valid TOML file ({exc}); the defaults apply"]
    values: dict[str, Value] = {}
    problems: list[str] = []
    for name, value in _flatten(data).items():
        if name.startswith("meta."):
            continue
        try:
            values[name] = check_value(name, value)
        except ConfigError as exc:
            # A file edited by hand, or by a newer vfxcopy, must not stop the tool: the default applies.
            problems.append(f"{path}: {exc}; the default applies")
    return values, problems


def _present(path: str) -> bool:
    """Whether `path` is there; True when it cannot be told (an unreadable folder): nothing is migrated over it."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def load(path: StrPath | None = None, *, migrate: bool = True) -> Config:
    """The settings of `path` (default: config_path()); the window's old ini is migrated first if there is no file yet."""
    try:
        default = config_path()
    except OSError as exc:  # no per-user folder (NoHomeError): nothing to read
        if not path:
            return Config({}, None, [f"{exc}; no settings file is read, the defaults apply"])
        default = ""
    path = os.fspath(path) if path else default
    # The migration takes the settings lock (creating the folder and a lock file): only when
    # there is an old ini to migrate, not on every start of every command without a settings file.
    if migrate and path == default and not _present(path) and any(_present(i) for i in legacy_ini_paths()):
        from vfxcopy.core.config_legacy import migrate_legacy_ini

        try:
            migrate_legacy_ini()
        except OSError:
            pass
    values, problems = _read_file(path)
    return Config(values, path, problems)


def _dump(values: Mapping[str, Value], meta: Mapping[str, Value]) -> str:
    import tomli_w

    ordered = {name: values[name] for name in KEYS if name in values}
    document: dict[str, Any] = {}
    if meta:
        document["meta"] = dict(meta)
    document.update(_nest(ordered))
    header = ("# vfxcopy settings, shared by the window and the command line.\n"
              "# Edit with `vfxcopy config set KEY VALUE` or Edit > Settings; `vfxcopy config list` shows every key.\n")
    return header + tomli_w.dumps(document)


def _write_file(path: str, text: str) -> None:
    """All or nothing (core/outfile.py); private to the user: it may hold notification passwords."""
    from vfxcopy.core.outfile import replace_file

    replace_file(path, text.encode("utf-8"), mode=0o600, make_folder=True)


def _file_lock(path: str) -> AbstractContextManager[None]:
    """The window and a command may set values at the same moment: one writer at a time."""
    from contextlib import contextmanager  # here: reading the settings (every start) needs no lock

    @contextmanager
    def held() -> Iterator[None]:
        folder, name = os.path.split(path)
        os.makedirs(folder or ".", exist_ok=True)
        with _lock, open(os.path.join(folder, f".{name}.lock"), "a+b") as f:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows: the in-process lock only
                yield
                return
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    return held()


def _meta(path: str) -> dict[str, Value]:
    from vfxcopy.core.readfile import read_regular_file

    try:
        data = _loads(read_regular_file(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):  # TOMLDecodeError is a ValueError
        return {}
    meta = data.get("meta")
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, bool))} if isinstance(meta, dict) else {}


def update(changes: Mapping[str, Value | None], path: StrPath | None = None) -> Config:
    """Set (or with None, remove) settings and write the file; returns the new settings.

    Every value is checked first: nothing is written if one is wrong (ConfigError).
    """
    path = os.fspath(path) if path else config_path()
    checked = {name: (None if value is None else check_value(name, value)) for name, value in changes.items()}
    with _file_lock(path):
        values, _ = _read_file(path)
        for name, value in checked.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        _write_file(path, _dump(values, _meta(path)))
    return Config(values, path, [])


def set_value(name: str, value: Value, path: StrPath | None = None) -> Config:
    return update({name: value}, path)


def unset(name: str, path: StrPath | None = None) -> Config:
    key(name)
    return update({name: None}, path)
