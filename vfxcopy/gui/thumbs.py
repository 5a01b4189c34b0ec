"""ThumbnailLoader: decodes frames to QImages on a small thread pool and caches them."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

CACHE_SIZE = 200


def thumbnail_image(path: str, max_size: int) -> QImage:
    """Decode `path` to a QImage no larger than max_size (any thread; QImage is not a widget).

    Raises OSError (with the path and the reason) when the frame cannot be decoded.
    """
    from vfxcopy.core.thumbnail import make_thumbnail

    thumb = make_thumbnail(path, max_size=max_size)
    fmt = QImage.Format.Format_RGBA8888 if thumb.channels == 4 else QImage.Format.Format_RGB888
    image = QImage(thumb.data, thumb.width, thumb.height, thumb.width * thumb.channels, fmt)
    # QImage borrows the Python buffer; copy() owns its pixels so they outlive `thumb`.
    return image.copy()


class _Task(QRunnable):
    def __init__(self, loader: ThumbnailLoader, key: str, path: str, max_size: int, generation: int) -> None:
        super().__init__()
        self._loader = loader
        self._key = key
        self._path = path
        self._max_size = max_size
        self._generation = generation

    def run(self) -> None:
        image = QImage()
        error = ""
        try:
            image = thumbnail_image(self._path, self._max_size)
        except ImportError as exc:
            error = f"thumbnails are not available ({exc})"
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:
            error = str(exc) or f"{self._path}: cannot decode"
        try:
            # Emitted from the pool thread: the connection to the loader's slot is queued.
            self._loader._finished.emit(self._key, self._generation, self._max_size, image, error)
        except RuntimeError:
            pass  # the loader was deleted while this frame decoded; nobody is waiting
        finally:
            self._loader._task_done(self)


class ThumbnailLoader(QObject):
    """Request thumbnails by key; `ready(key, image)` (or `failed(key, message)`) arrives later.

    Decoding happens on this loader's own QThreadPool so that waiting for it at
    shutdown never waits for copy jobs. Results are cached (LRU) by key.
    """

    ready = Signal(str, QImage)
    failed = Signal(str, str)
    _finished = Signal(str, int, int, QImage, str)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, max_threads))
        self._cache: OrderedDict[str, tuple[int, QImage]] = OrderedDict()
        self._errors: dict[str, str] = {}
        self._pending: dict[str, int] = {}  # key -> max_size in flight
        self._wanted: dict[str, int] = {}  # key -> max_size of the latest request
        self._generation = 0
        self._tasks: set[_Task] = set()
        self._tasks_lock = threading.Lock()
        self._finished.connect(self._on_finished)

    def cached(self, key: str) -> QImage | None:
        entry = self._cache.get(key)
        return entry[1] if entry is not None else None

    def error(self, key: str) -> str | None:
        return self._errors.get(key)

    def request(self, key: str, path: str | os.PathLike[str], max_size: int = 256) -> QImage | None:
        """Start decoding `path` unless cached; returns the cached image at once when there is one.

        A cached image is also emitted through `ready` so callers can handle both cases in one slot.
        """
        self._wanted[key] = max_size
        entry = self._cache.get(key)
        if entry is not None and entry[0] == max_size:
            self._cache.move_to_end(key)
            self.ready.emit(key, entry[1])
            return entry[1]
        if key in self._errors:
            self.failed.emit(key, self._errors[key])
            return None
        if self._pending.get(key) == max_size:
            return None
        self._pending[key] = max_size
        task = _Task(self, key, os.fspath(path), max_size, self._generation)
        # Keep the Python wrapper alive until run() has finished.
        with self._tasks_lock:
            self._tasks.add(task)
        task.setAutoDelete(False)
        self._pool.start(task)
        return None

    def clear(self) -> None:
        """Forget the cache and drop queued work; results of frames in flight are ignored."""
        self._generation += 1
        self._pool.clear()
        with self._tasks_lock:
            self._tasks = {t for t in self._tasks if t._generation == self._generation}
        self._cache.clear()
        self._errors.clear()
        self._pending.clear()
        self._wanted.clear()

    def wait_for_done(self, msecs: int = 30000) -> bool:
        """Block until every requested decode has finished (tests); True if they did."""
        return bool(self._pool.waitForDone(msecs))

    def shutdown(self, msecs: int = 30000) -> bool:
        """Drop queued work and wait for the decodes in flight (window close)."""
        self.clear()
        return bool(self._pool.waitForDone(msecs))

    def _task_done(self, task: _Task) -> None:
        with self._tasks_lock:
            self._tasks.discard(task)

    @Slot(str, int, int, QImage, str)
    def _on_finished(self, key: str, generation: int, max_size: int, image: QImage, error: str) -> None:
        if generation != self._generation:
            return
        if self._wanted.get(key) != max_size:
            return  # the key was asked for again at another size since; that answer counts
        if self._pending.get(key) == max_size:
            del self._pending[key]
        if error or image.isNull():
            message = error or f"{key}: cannot decode"
            self._errors[key] = message
            self.failed.emit(key, message)
            return
        self._cache[key] = (max_size, image)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        self.ready.emit(key, image)
