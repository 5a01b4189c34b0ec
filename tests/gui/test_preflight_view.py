"""PreflightView with real defective EXR/DPX sequences: per-sequence lines, findings, background work, cancel on close."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog, QVBoxLayout

from vfxcopy.core.preflight import Kind, PreflightOptions
from vfxcopy.core.preflight.samples import (
    DPX_DEFECTS,
    EXR_DEFECTS,
    make_defective_dpx_sequence,
    make_defective_exr_sequence,
)
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import scan
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui.preflight_view import PreflightView

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sequence]:
    root = tmp_path_factory.mktemp("pfview")
    make_defective_exr_sequence(root / "exr")
    make_defective_dpx_sequence(root / "dpx")
    make_exr_sequence(root / "clean", count=5, width=64, height=32)
    return {name: scan([root / name])[0] for name in ("exr", "dpx", "clean")}


@pytest.fixture
def slow_seq(tmp_path: Path) -> Sequence:
    """One 1024x1024 frame hard-linked 300 times: a deep check takes many seconds."""
    [frame] = make_exr_sequence(tmp_path / "one", count=1, width=1024, height=1024)
    src = tmp_path / "slow"
    src.mkdir()
    for i in range(300):
        os.link(frame, src / f"big.{1001 + i}.exr")
    return scan([src])[0]


@pytest.fixture
def view(qtbot) -> PreflightView:  # type: ignore[no-untyped-def]
    widget = PreflightView(options=PreflightOptions(duplicates=True))
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown(WAIT_MS)


def test_one_line_per_sequence_with_expandable_findings(qtbot, view: PreflightView,  # type: ignore[no-untyped-def]
                                                        plates: dict[str, Sequence]) -> None:
    with qtbot.waitSignal(view.all_checked, timeout=WAIT_MS):
        view.set_sequences([plates["exr"], plates["dpx"], plates["clean"]])
    tree = view.tree()
    assert tree.topLevelItemCount() == 3
    exr, dpx, clean = (tree.topLevelItem(i) for i in range(3))
    assert exr.text(0) == "plate.####.exr 1001-1016"
    assert exr.text(1).startswith("12 findings: ")
    assert dpx.text(1).startswith("7 findings: ")
    assert (clean.text(1), clean.childCount()) == ("OK", 0)
    # Expanding a line lists its findings: frame and kind, then what is wrong.
    tree.expandItem(exr)
    rows = {exr.child(i).text(0): exr.child(i).text(1) for i in range(exr.childCount())}
    for frame, kind in EXR_DEFECTS.items():
        assert f"{frame}  {kind}" in rows, (frame, kind, sorted(rows))
    assert rows["1007  channels"] == "channel A missing (expected R,G,B,A, found R,G,B)"
    dpx_rows = {dpx.child(i).text(0) for i in range(dpx.childCount())}
    assert {f"{f}  {k}" for f, k in DPX_DEFECTS.items()} <= dpx_rows
    # The reports are core Reports, for policy_verdict when the job is queued.
    report = view.report(0)
    assert report is not None and report.of_kind(Kind.TRUNCATED)[0].frame == 1003
    assert view.report(2) is not None and view.report(2).ok  # type: ignore[union-attr]
    assert view.findings_total() == 19 and not view.is_busy()


def test_checks_run_in_the_background_with_progress(qtbot, slow_seq: Sequence) -> None:  # type: ignore[no-untyped-def]
    view = PreflightView(options=PreflightOptions(deep=True, threads=1))
    qtbot.addWidget(view)
    view.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    texts: set[str] = set()
    view.set_sequences([slow_seq])
    item = view.tree().topLevelItem(0)

    def progressed() -> bool:
        texts.add(item.text(1))
        return len({t for t in texts if t.startswith("checking ")}) >= 2  # the count moves on

    qtbot.waitUntil(progressed, timeout=WAIT_MS)
    qtbot.wait(300)
    timer.stop()
    assert view.is_busy()
    # The GUI thread kept running its timers while frames were decoded on the pool thread.
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) >= 10 and max(gaps) < 0.5
    assert view.shutdown(WAIT_MS)


def test_closing_the_view_cancels_its_checks(qtbot, slow_seq: Sequence) -> None:  # type: ignore[no-untyped-def]
    view = PreflightView(options=PreflightOptions(deep=True, threads=1))
    qtbot.addWidget(view)
    view.show()
    view.set_sequences([slow_seq])
    item = view.tree().topLevelItem(0)
    qtbot.waitUntil(lambda: item.text(1).startswith("checking"), timeout=WAIT_MS)
    started = time.monotonic()
    view.close()
    assert time.monotonic() - started < 3.0
    assert not view.is_busy()


def test_closing_the_dialog_it_sits_in_cancels_its_checks(qtbot, slow_seq: Sequence) -> None:  # type: ignore[no-untyped-def]
    dialog = QDialog()
    qtbot.addWidget(dialog)
    view = PreflightView(dialog, options=PreflightOptions(deep=True, threads=1))
    QVBoxLayout(dialog).addWidget(view)
    dialog.show()
    reports: list[object] = []
    view.sequence_checked.connect(lambda row, report: reports.append(report))
    view.set_sequences([slow_seq])
    qtbot.waitUntil(lambda: view.tree().topLevelItem(0).text(1).startswith("checking"), timeout=WAIT_MS)
    dialog.reject()
    qtbot.waitUntil(lambda: bool(reports), timeout=3000)  # far less than the whole check
    assert reports[0].cancelled and not view.is_busy()  # type: ignore[attr-defined]


def test_new_sequences_replace_a_running_check(qtbot, slow_seq: Sequence,  # type: ignore[no-untyped-def]
                                               plates: dict[str, Sequence]) -> None:
    view = PreflightView(options=PreflightOptions(deep=True, threads=1))
    qtbot.addWidget(view)
    view.set_sequences([slow_seq])
    qtbot.waitUntil(lambda: view.tree().topLevelItem(0).text(1).startswith("checking"), timeout=WAIT_MS)
    checked: list[int] = []
    view.sequence_checked.connect(lambda row, report: checked.append(row))
    with qtbot.waitSignal(view.all_checked, timeout=WAIT_MS):
        view.set_sequences([plates["clean"]])
    assert view.tree().topLevelItemCount() == 1
    assert view.tree().topLevelItem(0).text(1) == "OK" and checked == [0]
    assert view.shutdown(WAIT_MS)


def test_no_sequences_is_checked_at_once(qtbot, view: PreflightView) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(view.all_checked, timeout=1000):
        view.set_sequences([])
    assert view.tree().topLevelItemCount() == 0
