"""ThumbnailLoader decodes real frames off the GUI thread and caches them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage

from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.gui.thumbs import ThumbnailLoader


@pytest.fixture
def loader(qtbot) -> Iterator[ThumbnailLoader]:
    loader = ThumbnailLoader()
    yield loader
    assert loader.shutdown(10000)
    loader.deleteLater()


def test_ready_carries_a_thumbnail_of_the_right_size(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    frame = make_exr_sequence(tmp_path, count=1, width=320, height=180)[0]
    with qtbot.waitSignal(loader.ready, timeout=20000) as blocker:
        assert loader.request("shot", frame, 64) is None  # nothing cached yet: decoded later
    key, image = blocker.args
    assert key == "shot"
    assert isinstance(image, QImage) and not image.isNull()
    assert (image.width(), image.height()) == (64, 36)
    # The ramp runs left to right in red: a real decode, not a blank image.
    assert image.pixelColor(60, 18).red() > image.pixelColor(2, 18).red()


def test_decoding_happens_off_the_gui_thread(qtbot, loader: ThumbnailLoader, tmp_path: Path, monkeypatch) -> None:
    import vfxcopy.gui.thumbs as thumbs

    threads: list[int] = []
    real = thumbs.thumbnail_image

    def spy(path: str, max_size: int) -> QImage:
        threads.append(threading.get_ident())
        return real(path, max_size)

    monkeypatch.setattr(thumbs, "thumbnail_image", spy)
    frame = make_exr_sequence(tmp_path, count=1)[0]
    with qtbot.waitSignal(loader.ready, timeout=20000):
        loader.request("k", frame, 32)
    assert threads and threads[0] != threading.get_ident()


def test_cached_image_comes_back_at_once(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    frame = make_exr_sequence(tmp_path, count=1, width=64, height=64)[0]
    with qtbot.waitSignal(loader.ready, timeout=20000):
        loader.request("a", frame, 32)
    frame.unlink()  # a second decode would now fail: the answer must come from the cache
    with qtbot.waitSignal(loader.ready, timeout=1000) as blocker:
        cached = loader.request("a", frame, 32)
    assert cached is not None and cached.width() == 32
    assert blocker.args[0] == "a"
    assert loader.cached("a") is not None


def test_an_unreadable_frame_reports_failed_with_the_path(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    bad = tmp_path / "broken.1001.exr"
    bad.write_bytes(b"not an exr at all")
    with qtbot.waitSignal(loader.failed, timeout=20000) as blocker:
        loader.request("bad", bad, 64)
    key, message = blocker.args
    assert key == "bad"
    assert "broken.1001.exr" in message
    assert loader.cached("bad") is None
    assert loader.error("bad") == message


def test_a_new_size_for_the_same_key_wins(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    frame = make_exr_sequence(tmp_path, count=1, width=256, height=128)[0]
    sizes: list[int] = []
    loader.ready.connect(lambda key, image: sizes.append(image.width()))
    loader.request("k", frame, 32)
    loader.request("k", frame, 128)
    qtbot.waitUntil(lambda: 128 in sizes, timeout=20000)
    assert loader.wait_for_done(10000)
    QCoreApplication.sendPostedEvents()  # deliver the 32-pixel result too, so its dropping is checked
    assert sizes == [128]
    assert loader.cached("k").width() == 128
