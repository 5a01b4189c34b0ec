"""Built-in and user conversion presets, stored as JSON in the config folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vfxcopy.core import presets
from vfxcopy.core.jobs import ConvertOptions


def test_builtin_presets_are_listed_with_their_options() -> None:
    listed = presets.list_presets()
    for name in ("EXR DWAA 45 for delivery", "Half-res sRGB JPEG proxies", "DPX 10-bit log",
                 "PNG 8-bit sRGB", "H.264 review movie (sRGB)"):
        assert name in listed
        assert listed[name].preset == name
    assert listed["EXR DWAA 45 for delivery"].compression == "dwaa:45"
    assert listed["Half-res sRGB JPEG proxies"].resize == "50%"
    assert listed["Half-res sRGB JPEG proxies"].to == "jpg"
    assert listed["DPX 10-bit log"].data_format == "uint10"
    assert listed["H.264 review movie (sRGB)"].to == "mp4"


def test_get_preset_returns_a_copy_that_callers_may_change() -> None:
    opts = presets.get_preset("exr dwaa 45 for delivery")  # case-insensitive
    opts.threads = 7
    assert presets.get_preset("EXR DWAA 45 for delivery").threads != 7


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="PNG 8-bit sRGB"):
        presets.get_preset("nope")


def test_user_preset_round_trips_through_the_config_folder() -> None:
    opts = ConvertOptions(to="tif", data_format="uint16", compression="zip", resize="1920x1080", channels=["R", "G", "B"])
    presets.save_user_preset("My TIFFs", opts)
    path = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "presets.json"
    assert path.exists()
    assert json.loads(path.read_text())["My TIFFs"]["to"] == "tif"
    got = presets.get_preset("My TIFFs")
    assert (got.to, got.data_format, got.compression, got.resize, got.channels) == (
        "tif", "uint16", "zip", "1920x1080", ["R", "G", "B"])
    assert got.preset == "My TIFFs"
    assert list(presets.list_presets())[-1] == "My TIFFs"  # user presets after the built-ins
    assert presets.delete_user_preset("My TIFFs") is True
    assert "My TIFFs" not in presets.list_presets()
    assert presets.delete_user_preset("My TIFFs") is False


def test_builtins_cannot_be_replaced_or_deleted() -> None:
    with pytest.raises(ValueError):
        presets.save_user_preset("PNG 8-bit sRGB", ConvertOptions(to="jpg"))
    with pytest.raises(ValueError):
        presets.delete_user_preset("PNG 8-bit sRGB")
    with pytest.raises(ValueError):
        presets.save_user_preset("  ", ConvertOptions())


def test_a_damaged_presets_file_leaves_the_builtins_working() -> None:
    path = presets.presets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert "PNG 8-bit sRGB" in presets.list_presets()
    # Saving replaces the damaged file with a valid one.
    presets.save_user_preset("Fixed", ConvertOptions(to="png"))
    assert json.loads(path.read_text())["Fixed"]["to"] == "png"


def test_unknown_keys_from_a_newer_version_are_ignored() -> None:
    path = presets.presets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Future": {"to": "exr", "compression": "zip", "hologram": True}}))
    assert presets.get_preset("Future").compression == "zip"


def test_describe_options_names_what_is_set() -> None:
    text = presets.describe_options(presets.get_preset("Half-res sRGB JPEG proxies"))
    assert text == "jpg, quality 90, resize 50%, to-space sRGB - Display"
