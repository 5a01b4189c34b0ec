"""A reader of the OpenEXR header (the first few hundred bytes of a file) for the pre-flight.

OpenImageIO's ImageInput.open reads the same bytes but sets up a whole decoder: 125-170 us
a 1080p frame on the (loaded) test machine, against about 30 us to read the attributes
the pre-flight compares. Anything this reader does not expect raises Unknown and the
frame goes through OpenImageIO instead, so an odd file is never judged by this code alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EXR_MAGIC = 20000630
EXR_EXTENSIONS = frozenset({"exr", "sxr", "mxr"})
TILED, LONG_NAMES, NONIMAGE, MULTIPART = 0x200, 0x400, 0x800, 0x1000

# OpenEXR compression ids -> (OpenImageIO's name, scanlines per chunk).
COMPRESSIONS: dict[int, tuple[str, int]] = {
    0: ("none", 1), 1: ("rle", 1), 2: ("zips", 1), 3: ("zip", 16), 4: ("piz", 32), 5: ("pxr24", 16),
    6: ("b44", 32), 7: ("b44a", 32), 8: ("dwaa", 32), 9: ("dwab", 256), 10: ("htj2k256", 256),
    11: ("htj2k32", 32),
}
PIXEL_TYPES = {0: "uint", 1: "half", 2: "float"}
_RGBA = {"R": 0, "G": 1, "B": 2, "A": 3}


class Unknown(Exception):
    """A header this reader does not handle (not EXR, longer than read, unknown compression...)."""


class Short(Unknown):
    """The header goes on past the bytes given: read more and try again."""


@dataclass
class ExrHeader:
    """The attributes of a single-part OpenEXR header the pre-flight uses."""

    end: int  # byte offset just after the header: the chunk offset table starts here
    flags: int
    channels: list[tuple[str, int]] = field(default_factory=list)  # (name, pixel type id) in file order
    compression: int = -1
    dwa_level: float | None = None
    data_window: tuple[int, int, int, int] = (0, 0, -1, -1)  # xmin, ymin, xmax, ymax (inclusive)
    display_window: tuple[int, int, int, int] = (0, 0, -1, -1)
    line_order: int = 0  # 0 increasing y, 1 decreasing y, 2 random
    strings: dict[str, str] = field(default_factory=dict)
    chromaticities: tuple[float, ...] | None = None

    @property
    def tiled(self) -> bool:
        return bool(self.flags & TILED)

    @property
    def chunk_count(self) -> int:
        """Chunks of a scanline image (the length of the offset table)."""
        lines = COMPRESSIONS[self.compression][1]
        height = self.data_window[3] - self.data_window[1] + 1
        return -(-height // lines)

    def channel_names(self) -> tuple[str, ...]:
        """R, G, B, A first within each layer, as OpenImageIO orders them (the file stores them sorted)."""
        def key(item: tuple[int, tuple[str, int]]) -> tuple[str, int, int]:
            index, (name, _) = item
            layer, _, last = name.rpartition(".")
            return (layer, _RGBA.get(last, 4), index)

        return tuple(name for _, (name, _) in sorted(enumerate(self.channels), key=key))

    def pixel_type(self) -> str:
        types = {name: PIXEL_TYPES.get(t, f"type{t}") for name, t in self.channels}
        ordered = [types[n] for n in self.channel_names()]
        if len(set(ordered)) > 1:
            return ",".join(f"{n}:{types[n]}" for n in self.channel_names())
        return ordered[0] if ordered else ""

    def compression_name(self) -> str:
        name = COMPRESSIONS[self.compression][0]
        if self.dwa_level is not None and name.startswith("dwa"):
            name += f":{self.dwa_level:g}"
        return name

    def colorspace(self) -> str:
        """What the file says about its colour space: OpenImageIO's attribute, the interop id, or chromaticities."""
        for key in ("oiio:ColorSpace", "colorInteropID"):
            if self.strings.get(key):
                return self.strings[key]
        if self.chromaticities is not None:
            return "chromaticities " + ",".join(f"{v:.4g}" for v in self.chromaticities)
        return ""


def _chlist(data: bytes) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\0", pos)
        if end < 0:
            raise Unknown("bad channel list")
        if end == pos:
            return out
        name = data[pos:end].decode("utf-8", "replace")
        if end + 17 > len(data):
            raise Unknown("bad channel list")
        out.append((name, struct.unpack_from("<i", data, end + 1)[0]))
        pos = end + 17  # pixel type, pLinear + 3 reserved, x and y sampling
    raise Unknown("bad channel list")


def parse_header(head: bytes) -> ExrHeader:
    """The header of a single-part, non-deep EXR from its first bytes; raises Unknown otherwise."""
    if len(head) < 8 or struct.unpack_from("<i", head, 0)[0] != EXR_MAGIC:
        raise Unknown("not an OpenEXR file")
    flags = struct.unpack_from("<i", head, 4)[0] & ~0xFF
    if flags & (NONIMAGE | MULTIPART):
        raise Unknown("deep or multi-part OpenEXR")
    hdr = ExrHeader(end=0, flags=flags)
    pos = 8
    seen: set[str] = set()
    while True:
        end = head.find(b"\0", pos)
        if end < 0:
            raise Short("header longer than the bytes read")
        raw = head[pos:end]
        pos = end + 1
        if not raw:
            break
        end = head.find(b"\0", pos)
        if end < 0 or end + 5 > len(head):
            raise Short("header longer than the bytes read")
        kind = head[pos:end]
        size = struct.unpack_from("<i", head, end + 1)[0]
        start = end + 5
        if size < 0 or start + size > len(head):
            raise Short("header longer than the bytes read")
        value = head[start:start + size]
        pos = start + size
        name = raw.decode("utf-8", "replace")
        seen.add(name)
        if name == "channels" and kind == b"chlist":
            hdr.channels = _chlist(value)
        elif name == "compression" and size == 1:
            hdr.compression = value[0]
        elif name == "dataWindow" and size == 16:
            hdr.data_window = struct.unpack("<4i", value)
        elif name == "displayWindow" and size == 16:
            hdr.display_window = struct.unpack("<4i", value)
        elif name == "lineOrder" and size == 1:
            hdr.line_order = value[0]
        elif name == "dwaCompressionLevel" and size == 4:
            hdr.dwa_level = struct.unpack("<f", value)[0]
        elif name == "chromaticities" and size == 32:
            hdr.chromaticities = struct.unpack("<8f", value)
        elif kind == b"string" and name in ("oiio:ColorSpace", "colorInteropID"):
            hdr.strings[name] = value.decode("utf-8", "replace")
    if not {"channels", "compression", "dataWindow", "displayWindow"} <= seen or not hdr.channels:
        raise Unknown("a required attribute is missing")
    if hdr.compression not in COMPRESSIONS or hdr.data_window[3] < hdr.data_window[1]:
        raise Unknown("unknown compression or empty data window")
    hdr.end = pos
    return hdr
