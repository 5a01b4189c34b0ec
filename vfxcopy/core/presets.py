"""Conversion presets: the built-in ones and the user's, saved as JSON in the config folder.

A preset is one set of ConvertOptions, or several outputs (renditions of one source, each
decoded once for all: writers/shared_decode.py), each with its options and its folder:

    presets.json: {"My TIFFs": {...ConvertOptions...},
                   "My ingest": {"outputs": [{"folder": "master", "options": {...}}, ...]}}

`list_presets`/`get_preset` see the single-output presets only (as before);
`list_output_presets`/`get_outputs` see every preset as a list of outputs.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, fields, replace
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



@dataclass
class PresetOutput:
    """One output of a preset: its options, and where it goes.

    `folder` is relative to the destination the user gives ("" = that folder itself,
    "proxy/jpg" = a sub-folder of it), or an absolute folder.
    """

    options: ConvertOptions
    folder: str = ""

    def dest_dir(self, dest: str) -> str:
        """The output's folder for the destination `dest` the user gave."""
        return os.path.normpath(os.path.join(dest, self.folder)) if self.folder else dest


# Presets of several outputs: each source frame is read and decoded once for all of them.
BUILTIN_OUTPUT_PRESETS: dict[str, list[PresetOutput]] = {
    "Plate ingest: DWAA master + JPEG proxies + H.264 review": [
        PresetOutput(replace(BUILTIN_PRESETS["EXR DWAA 45 for delivery"]), "master"),
        PresetOutput(replace(BUILTIN_PRESETS["Half-res sRGB JPEG proxies"]), "proxy"),
        PresetOutput(replace(BUILTIN_PRESETS["H.264 review movie (sRGB)"]), "review"),
    ],
}

# Short names for the command line (`--preset plate-ingest`).
PRESET_ALIASES = {"plate-ingest": "Plate ingest: DWAA master + JPEG proxies + H.264 review"}

_lock = threading.Lock()


def config_dir() -> Path:
    """The settings file's folder (core/config.py): $VFXCOPY_CONFIG_DIR, else the per-user config
    folder + vfxcopy. NoHomeError (an OSError) where there is none: the built-in presets still work."""
    from vfxcopy.core.config import config_dir as settings_dir

    return Path(settings_dir())


def presets_path() -> Path:
    return config_dir() / PRESETS_FILE


def options_to_dict(opts: ConvertOptions) -> dict[str, Any]:
    return asdict(opts)


def options_from_dict(data: dict[str, Any]) -> ConvertOptions:
    """Unknown keys are ignored so that a newer file still loads in an older vfxcopy."""
    known = {f.name for f in fields(ConvertOptions)}
    return ConvertOptions(**{k: v for k, v in data.items() if k in known})


def _load_user() -> dict[str, ConvertOptions]:
    return {n: o[0].options for n, o in _load_user_outputs().items() if len(o) == 1 and not o[0].folder}


def _outputs_from_dict(data: dict[str, Any]) -> list[PresetOutput]:
    """A stored preset: ConvertOptions fields, or {"outputs": [{"folder", "options"}...]}; TypeError if damaged."""
    outputs = data.get("outputs")
    if outputs is None:
        return [PresetOutput(options_from_dict(data))]
    if not isinstance(outputs, list) or not outputs:
        raise TypeError("outputs must be a non-empty list")
    result = []
    for out in outputs:
        if not isinstance(out, dict) or not isinstance(out.get("options"), dict):
            raise TypeError("each output needs its options")
        folder = out.get("folder") or ""
        if not isinstance(folder, str):
            raise TypeError("an output's folder is a string")
        result.append(PresetOutput(options_from_dict(out["options"]), folder))
    return result


def _outputs_to_dict(outputs: list[PresetOutput]) -> dict[str, Any]:
    if len(outputs) == 1 and not outputs[0].folder:
        return options_to_dict(outputs[0].options)
    return {"outputs": [{"folder": o.folder, "options": options_to_dict(o.options)} for o in outputs]}


def _load_user_outputs() -> dict[str, list[PresetOutput]]:
    from vfxcopy.core.readfile import read_regular_file

    try:
        raw = json.loads(read_regular_file(presets_path()).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged presets file must not stop the app; the built-ins still work.
        return {}
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[PresetOutput]] = {}
    for name, data in raw.items():
        if isinstance(name, str) and isinstance(data, dict):
            try:
                out[name] = _outputs_from_dict(data)
            except TypeError:
                continue
    return out


def _store_user(presets: dict[str, list[PresetOutput]]) -> None:
    from vfxcopy.core.outfile import replace_file

    text = json.dumps({n: _outputs_to_dict(o) for n, o in sorted(presets.items())}, indent=2)
    # All or nothing: a crash never leaves a half-written presets file.
    replace_file(presets_path(), (text + "\n").encode("utf-8"), mode=0o600, make_folder=True)


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
    return name in BUILTIN_PRESETS or name in BUILTIN_OUTPUT_PRESETS


def list_output_presets() -> dict[str, list[PresetOutput]]:
    """Every preset as its outputs (one for the single-output ones): built-ins first, then the user's; copies."""
    result = {name: [PresetOutput(replace(opts, preset=name))] for name, opts in BUILTIN_PRESETS.items()}
    for name, outputs in BUILTIN_OUTPUT_PRESETS.items():
        result[name] = [PresetOutput(replace(o.options, preset=name), o.folder) for o in outputs]
    with _lock:
        user = _load_user_outputs()
    for name, outputs in sorted(user.items()):
        if name not in result:
            result[name] = [PresetOutput(replace(o.options, preset=name), o.folder) for o in outputs]
    return result


def get_outputs(name: str) -> list[PresetOutput]:
    """The outputs of the named preset (case-insensitive, or a short alias such as plate-ingest).

    Copies (each output's `options.preset` set); KeyError lists the known names.
    """
    presets = list_output_presets()
    name = PRESET_ALIASES.get(name.lower(), name)
    if name in presets:
        return presets[name]
    lowered = {n.lower(): n for n in presets}
    if name.lower() in lowered:
        return presets[lowered[name.lower()]]
    known = [*presets, *PRESET_ALIASES]
    raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(known)}")


def save_user_outputs(name: str, outputs: list[PresetOutput]) -> None:
    """Save (or replace) a user preset of one or several outputs. Built-in names cannot be replaced."""
    name = name.strip()
    if not name:
        raise ValueError("a preset needs a name")
    if is_builtin(name) or name.lower() in PRESET_ALIASES:
        raise ValueError(f"{name!r} is a built-in preset; save under another name")
    if not outputs:
        raise ValueError("a preset needs at least one output")
    with _lock:
        presets = _load_user_outputs()
        presets[name] = [PresetOutput(replace(o.options, preset=None), o.folder) for o in outputs]
        _store_user(presets)


def get_preset(name: str) -> ConvertOptions:
    """A copy of the named preset (its `preset` field set); KeyError lists the known names."""
    presets = list_presets()
    if name in presets:
        return presets[name]
    lowered = {n.lower(): n for n in presets}
    if name.lower() in lowered:
        return presets[lowered[name.lower()]]
    try:
        outputs = get_outputs(name)
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(presets)}") from None
    raise KeyError(f"preset {name!r} has {len(outputs)} outputs ({', '.join(o.options.to for o in outputs)}): "
                   "one conversion writes all of them only with vfxcopy convert (or the New job dialog)")


def save_user_preset(name: str, opts: ConvertOptions) -> None:
    """Save (or replace) a user preset. Built-in names cannot be replaced."""
    save_user_outputs(name, [PresetOutput(opts)])


def delete_user_preset(name: str) -> bool:
    """Remove a user preset; False if there was none of that name. Built-ins cannot be deleted."""
    if is_builtin(name):
        raise ValueError(f"{name!r} is a built-in preset and cannot be deleted")
    with _lock:
        presets = _load_user_outputs()
        if name not in presets:
            return False
        del presets[name]
        _store_user(presets)
        return True
