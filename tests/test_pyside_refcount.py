"""Regression guard: PySide6 6.12.0 on Python 3.11 dropped a reference to True on each emit."""

from __future__ import annotations

import sys

import pytest

QtCore = pytest.importorskip("PySide6.QtCore")


class _Emitter(QtCore.QObject):
    flag = QtCore.Signal(bool)
    pair = QtCore.Signal(str, int)


def test_signal_emit_keeps_refcount_of_true(qapp: object) -> None:
    emitter = _Emitter()
    received = [0]

    def on_flag(value: bool) -> None:
        received[0] += 1  # count only: storing the values would hold references to True

    emitter.flag.connect(on_flag)
    before = sys.getrefcount(True)
    for _ in range(10_000):
        emitter.flag.emit(True)
        emitter.pair.emit("x", 1)
    after = sys.getrefcount(True)
    assert received[0] == 10_000
    # A broken binding loses one reference per emit; allow a little noise.
    assert abs(after - before) < 100, f"refcount of True moved from {before} to {after}"


def test_installed_pyside_is_not_the_broken_release() -> None:
    import PySide6

    if sys.version_info[:2] == (3, 11):
        assert PySide6.__version__ != "6.12.0"
