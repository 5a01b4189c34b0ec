"""Thumbnails: small 8-bit sRGB pixels of one frame, colour-managed for linear EXRs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from vfxcopy.core.thumbnail import ThumbnailError, make_thumbnail, thumbnail_size


def test_exr_thumbnail_is_8bit_rgb_within_max_size(exr_seq_session: list[Path]) -> None:
    thumb = make_thumbnail(exr_seq_session[0], max_size=64)
    assert (thumb.width, thumb.height, thumb.channels) == (64, 36, 3)
    assert (thumb.source_width, thumb.source_height) == (128, 72)
    assert len(thumb.data) == thumb.bytes_per_line * thumb.height == 64 * 36 * 3
    assert thumb.colorspace == "ACEScg"
    assert thumb.display  # a linear file went through a display conversion


def test_linear_exr_thumbnail_matches_the_ocio_display_conversion(exr_seq_session: list[Path], tmp_path: Path) -> None:
    # The thumbnail must look like the sRGB proxies: the same OCIO conversion.
    thumb = make_thumbnail(exr_seq_session[0], max_size=128)  # no resize at 128x72
    src = oiio.ImageBuf(str(exr_seq_session[0]))
    ref = oiio.ImageBufAlgo.colorconvert(src, "ACEScg", thumb.display).get_pixels(oiio.UINT8)
    got = np.frombuffer(thumb.data, dtype=np.uint8).reshape(72, 128, 3)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    # And not just the raw linear values quantised: sRGB lifts the mid-tones.
    raw = src.get_pixels(oiio.UINT8)
    assert np.abs(got.astype(int) - raw.astype(int)).max() > 20


def test_srgb_png_is_only_quantised(tmp_path: Path) -> None:
    pixels = np.zeros((40, 300, 4), dtype=np.uint8)
    pixels[..., 0] = 255
    pixels[..., 3] = 128
    buf = oiio.ImageBuf(oiio.ImageSpec(300, 40, 4, "uint8"))
    buf.set_pixels(oiio.ROI(), pixels)
    path = tmp_path / "card.png"
    assert buf.write(str(path))
    thumb = make_thumbnail(path, max_size=150)
    assert (thumb.width, thumb.height, thumb.channels) == (150, 20, 4)
    got = np.frombuffer(thumb.data, dtype=np.uint8).reshape(20, 150, 4)
    # Unassociated alpha, as QImage.Format_RGBA8888 expects: the colour stays 255 under alpha 128.
    assert int(got[..., 0].min()) == 255 and int(got[..., 3].max()) == 128
    assert int(got[..., 1].max()) == 0
    assert thumb.display == ""


def test_srgb_jpeg_keeps_its_values(tmp_path: Path) -> None:
    buf = oiio.ImageBuf(oiio.ImageSpec(64, 32, 3, "uint8"))
    oiio.ImageBufAlgo.fill(buf, (0.2, 0.5, 0.8))
    path = tmp_path / "flat.jpg"
    assert buf.write(str(path))
    thumb = make_thumbnail(path)
    got = np.frombuffer(thumb.data, dtype=np.uint8).reshape(32, 64, 3)
    assert np.abs(got[16, 32].astype(int) - [51, 128, 204]).max() <= 2


def test_unreadable_file_raises_with_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "broken.exr"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ThumbnailError, match="broken.exr"):
        make_thumbnail(bad)


def test_thumbnail_size_keeps_aspect_and_never_upscales() -> None:
    assert thumbnail_size(1920, 1080, 256) == (256, 144)
    assert thumbnail_size(1080, 1920, 256) == (144, 256)
    assert thumbnail_size(100, 50, 256) == (100, 50)


def test_a_strip_read_from_the_sources_names_the_delivered_frames_and_falls_back_to_them(
    exr_seq_session: list[Path], tmp_path: Path
) -> None:
    """The job report's strip of an upload reads each copied frame's source (see
    report.shown_frames); captions name the delivered file, and a source gone since is
    replaced by the delivered file."""
    import shutil

    from vfxcopy.core.report import thumbnail_strip

    sources = []
    for p in exr_seq_session[:3]:
        sources.append(tmp_path / "src" / p.name)
        sources[-1].parent.mkdir(exist_ok=True)
        shutil.copy(p, sources[-1])
    delivered = [tmp_path / "out" / f"plate_v002.{1001 + i}.exr" for i in range(3)]
    delivered[0].parent.mkdir()
    for s, d in zip(sources, delivered, strict=True):
        shutil.copy(s, d)
    sources[1].unlink()
    notes: list[str] = []
    strip = thumbnail_strip([str(d) for d in delivered], count=3, notes=notes, read_from=[str(s) for s in sources])
    assert [label for label, _ in strip] == [d.name for d in delivered] and notes == []
