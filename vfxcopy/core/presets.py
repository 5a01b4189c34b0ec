"""Conversion presets: the built-in ones and the user's, saved as JSON in the config folder."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from vfxcopy.core.jobs import ConvertOptions

PRESETS_FILE = "presets.json"

# Names are what the New job dialog and `--preset` show; keep them stable,
# scripts refer to them.
BUILTIN_PRESETS: dict[str, ConvertOptions] = {
    "EXR DWAA 45 for delivery": ConvertOptions(to="exr", compression="dwaa:45", data_format="half"),
    "Half-res sRGB JPEG proxies": ConvertOptions(
        to="jpg", quality=90, resize="50%", to_space="sRGB - Display"
    ),
    "DPX 10-bit log": ConvertOptions(to="dpx", data_format="uint10", to_space="ACEScct"),
    "PNG 8-bit sRGB": ConvertOptions(to="png", data_format="uint8", to_space="sRGB - Display"),
    "H.264 review movie (sRGB)": ConvertOptions(to="mp4", quality=18, to_space="sRGB - Display"),
}

_lock = threading.Lock()


def config_dir() -> Path:
    """$VFXCOPY_CONFIG_DIR, else the platform's per-user config folder + vfxcopy."""
    env = os.environ.get("VFXCOPY_CONFIG_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "vfxcopy"


def presets_path() -> Path:
    return config_dir() / PRESETS_FILE


def options_to_dict(opts: ConvertOptions) -> dict[str, Any]:
    return asdict(opts)


def options_from_dict(data: dict[str, Any]) -> ConvertOptions:
    """Unknown keys are ignored so that a newer file still loads in an older vfxcopy."""
    known = {f.name for f in fields(ConvertOptions)}
    return ConvertOptions(**{k: v for k, v in data.items() if k in known})


def _load_user() -> dict[str, ConvertOptions]:
    path = presets_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged presets file must not stop the app; the built-ins still work.
        return {}
    if not isinstance(raw, dict):
        return {}
    out: dict[str, ConvertOptions] = {}
    for name, data in raw.items():
        if isinstance(name, str) and isinstance(data, dict):
            try:
                out[name] = options_from_dict(data)
            except TypeError:
                continue
    return out


def _store_user(presets: dict[str, ConvertOptions]) -> None:
    path = presets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({n: options_to_dict(o) for n, o in sorted(presets.items())}, indent=2)
    # Write then rename, so a crash never leaves a half-written presets file.
    fd, tmp = tempfile.mkstemp(prefix=".presets-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def user_presets() -> dict[str, ConvertOptions]:
    with _lock:
        return _load_user()


def list_presets() -> dict[str, ConvertOptions]:
    """Built-in presets first (in their order), then the user's (sorted); copies."""
    result = {name: replace(opts, preset=name) for name, opts in BUILTIN_PRESETS.items()}
    for name, opts in sorted(user_presets().items()):
        if name not in BUILTIN_PRESETS:
            result[name] = replace(opts, preset=name)
    return result


def describe_options(opts: ConvertOptions) -> str:
    """A one-line summary for lists and tooltips: 'jpg, quality 90, resize 50%, to-space sRGB - Display'."""
    parts = [opts.to]
    for label, value in (("compression", opts.compression), ("data", opts.data_format), ("quality", opts.quality),
                         ("resize", opts.resize), ("filter", opts.filter), ("from", opts.from_space),
                         ("to-space", opts.to_space), ("view", opts.view),
                         ("channels", ",".join(opts.channels or []) or None)):
        if value not in (None, ""):
            parts.append(f"{label} {value}")
    return ", ".join(str(p) for p in parts)


def is_builtin(name: str) -> bool:
    return name in BUILTIN_PRESETS


def get_preset(name: str) -> ConvertOptions:
    """A copy of the named preset (its `preset` field set); KeyError lists the known names."""
    presets = list_presets()
    if name in presets:
        return presets[name]
    lowered = {n.lower(): n for n in presets}
    if name.lower() in lowered:
        return presets[lowered[name.lower()]]
    raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(presets)}")


def save_user_preset(name: str, opts: ConvertOptions) -> None:
    """Save (or replace) a user preset. Built-in names cannot be replaced."""
    name = name.strip()
    if not name:
        raise ValueError("a preset needs a name")
    if name in BUILTIN_PRESETS:
        raise ValueError(f"{name!r} is a built-in preset; save under another name")
    with _lock:
        presets = _load_user()
        presets[name] = replace(opts, preset=None)
        _store_user(presets)


def delete_user_preset(name: str) -> bool:
    """Remove a user preset; False if there was none of that name. Built-ins cannot be deleted."""
    if name in BUILTIN_PRESETS:
        raise ValueError(f"{name!r} is a built-in preset and cannot be deleted")
    with _lock:
        presets = _load_user()
        if name not in presets:
            return False
        del presets[name]
        _store_user(presets)
        return True
