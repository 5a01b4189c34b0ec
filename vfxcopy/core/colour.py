"""OCIO helpers shared by conversions and thumbnails: which config, which colour space a file is in."""

from __future__ import annotations

import functools
import os

import OpenImageIO as oiio

DEFAULT_CONFIG = "ocio://default"
_FLOAT_TYPES = ("half", "float", "double")


def config_name(ocio_config: str | None = None) -> str:
    """The config to use: the explicit one, else $OCIO, else OpenImageIO's built-in default."""
    return ocio_config or os.environ.get("OCIO") or DEFAULT_CONFIG


@functools.lru_cache(maxsize=8)
def _load(name: str) -> oiio.ColorConfig:
    return oiio.ColorConfig(name)


def color_config(ocio_config: str | None = None) -> oiio.ColorConfig:
    """A loaded (cached) ColorConfig; raises ValueError with OCIO's message if it does not load."""
    name = config_name(ocio_config)
    config = _load(name)
    if config.getNumColorSpaces() == 0:
        _load.cache_clear()
        raise ValueError(f"OCIO config {name!r} did not load: {config.geterror() or 'no colour spaces'}")
    return config


def resolve_space(name: str, config: oiio.ColorConfig) -> str | None:
    """The config's own name for `name` (aliases, roles, interop ids); None if unknown."""
    if not name:
        return None
    resolved = str(config.resolve(name))
    if resolved and config.getColorSpaceIndex(resolved) >= 0:
        return resolved
    role = config.getColorSpaceNameByRole(name)
    if role:
        return str(role)
    return None


def known_spaces(config: oiio.ColorConfig) -> list[str]:
    return [str(n) for n in config.getColorSpaceNames()]


def file_colorspace(spec: oiio.ImageSpec, config: oiio.ColorConfig) -> str:
    """The colour space a file is in: its own tag if the config knows it, else a guess by pixel type.

    Float and half files are taken as scene-linear (the config's scene_linear
    role), integer files as sRGB-encoded, which is what EXR and JPEG/PNG
    writers without colour tags mean in practice.
    """
    tag = str(spec.getattribute("oiio:ColorSpace") or "")
    resolved = resolve_space(tag, config)
    if resolved:
        return resolved
    if str(spec.format) in _FLOAT_TYPES:
        return resolve_space("scene_linear", config) or "scene_linear"
    for candidate in ("srgb_rec709_scene", "sRGB", "srgb_display", "color_picking"):
        found = resolve_space(candidate, config)
        if found:
            return found
    return tag or "sRGB"


def is_linear(spec: oiio.ImageSpec, space: str, config: oiio.ColorConfig) -> bool:
    if config.getColorSpaceIndex(space) >= 0:
        return bool(config.isColorSpaceLinear(space))
    return str(spec.format) in _FLOAT_TYPES


def display_and_view(config: oiio.ColorConfig) -> tuple[str, str]:
    """The config's default display and its default view (what a viewer would show)."""
    display = str(config.getDefaultDisplayName())
    return display, str(config.getDefaultViewName(display))


def display_space(config: oiio.ColorConfig) -> str:
    """The colour space of the default display: a display colour space (OCIO 2) or its default view's."""
    display, view = display_and_view(config)
    if config.getColorSpaceIndex(display) >= 0:
        return display
    return str(config.getDisplayViewColorSpaceName(display, view)) or display


def colorconvert(buf: oiio.ImageBuf, from_space: str, to_space: str, ocio_config: str | None = None) -> oiio.ImageBuf:
    """ImageBufAlgo.colorconvert with the chosen config.

    Naming a config per call makes OpenImageIO load it again (~20 ms), so the
    global one (already $OCIO or the built-in default) is used when it is the same.
    """
    name = config_name(ocio_config)
    if name == config_name(None):
        return oiio.ImageBufAlgo.colorconvert(buf, from_space, to_space)
    return oiio.ImageBufAlgo.colorconvert(buf, from_space, to_space, colorconfig=name)


def colorconvert_in_place(buf: oiio.ImageBuf, from_space: str, to_space: str, ocio_config: str | None = None) -> bool:
    """`colorconvert` writing into `buf` itself: no second full-size image (a 16k frame in float is 3 GB)."""
    name = config_name(ocio_config)
    if name == config_name(None):
        return bool(oiio.ImageBufAlgo.colorconvert(buf, buf, from_space, to_space))
    return bool(oiio.ImageBufAlgo.colorconvert(buf, buf, from_space, to_space, colorconfig=name))
