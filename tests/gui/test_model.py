"""JobTableModel under qtmodeltester, its roles and signals, raw-number sorting and the progress delegate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableView

from vfxcopy.core.jobs import (
    CancelToken,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
)
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui.delegates import FRAME_COLOURS, ProgressDelegate, frame_segments
from vfxcopy.gui.job_model import (
    CANCELLED_GREY,
    COLUMN_INDEX,
    COLUMNS,
    DimmedRole,
    FrameStatesRole,
    JobSortProxy,
    JobTableModel,
    ProgressInfo,
    ProgressRole,
    RecordRole,
)


def make_spec(n: int = 10, head: str = "plate.") -> JobSpec:
    seq = Sequence("/shows/abc/src", head, ".exr", 4, tuple(range(1001, 1001 + n)))
    return JobSpec(seq, "/shows/abc/dst")


def frame(spec: JobSpec, index: int, status: FrameStatus, error: str | None = None) -> FrameResult:
    number = spec.selected_frames()[index]
    return FrameResult(spec.job_id, index, number, f"src/{number}", f"dst/{number}", status,
                       size=1000, error=error)


def progress(spec: JobSpec, done: int, total: int, current: int | None = None) -> Progress:
    return Progress(spec.job_id, JobState.RUNNING, total, frames_done=done, bytes_total=total * 1000,
                    bytes_done=done * 1000, current_frame=current, bytes_per_s=5e6, eta_s=12.0)


def populated_model() -> tuple[JobTableModel, list[JobSpec]]:
    model = JobTableModel()
    specs = [make_spec(10, h) for h in ("a.", "b.", "c.", "d.")]
    tokens = {spec.job_id: CancelToken() for spec in specs}
    for spec in specs:
        model.add_spec(spec, token=tokens[spec.job_id])
    a, b, c, d = specs
    model.mark_started(a.job_id)
    model.apply_events(a.job_id, [frame(a, 0, FrameStatus.DONE), progress(a, 1, 10, current=1002)])
    model.mark_started(b.job_id)
    model.apply_events(b.job_id, [frame(b, i, FrameStatus.DONE) for i in range(9)]
                       + [frame(b, 9, FrameStatus.FAILED, "dst/1010: disk full")])
    model.finish(JobResult(b.job_id, JobState.FAILED, message="1 frame failed"))
    tokens[c.job_id].cancel()
    model.token_changed(c.job_id)
    model.finish(JobResult(c.job_id, JobState.CANCELLED))
    return model, specs


def test_model_passes_qtmodeltester_with_rows(qtmodeltester: Any) -> None:
    model, specs = populated_model()
    qtmodeltester.check(model, force_py=True)
    proxy = JobSortProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_INDEX["progress"], Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy, force_py=True)


def test_updates_emit_row_inserts_and_one_row_data_changes_never_resets() -> None:
    model = JobTableModel()
    inserted: list[tuple[int, int]] = []
    changed: list[tuple[int, int, list[int]]] = []
    resets: list[bool] = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.dataChanged.connect(lambda tl, br, roles: changed.append((tl.row(), br.row(), list(roles))))
    model.modelReset.connect(lambda: resets.append(True))
    a, b = make_spec(), make_spec()
    model.add_spec(a)
    model.add_spec(b)
    assert inserted == [(0, 0), (1, 1)]
    model.apply_events(b.job_id, [frame(b, 0, FrameStatus.DONE), progress(b, 1, 10, current=1002)])
    assert len(changed) == 1
    top, bottom, roles = changed[0]
    assert top == bottom == 1
    assert ProgressRole in roles and FrameStatesRole in roles and Qt.ItemDataRole.DisplayRole in roles
    assert resets == []
    assert model.remove_job(a.job_id)
    assert model.row_of(b.job_id) == 0 and model.rowCount() == 1


def test_rows_show_frames_progress_status_and_raw_roles() -> None:
    model, (a, b, c, d) = populated_model()

    def text(spec: JobSpec, column: str) -> str:
        return str(model.index(model.row_of(spec.job_id), COLUMN_INDEX[column]).data())

    assert text(a, "sequence") == "a.####.exr 1001-1010"
    assert text(a, "operation") == "Copy"
    assert text(a, "frames") == "1/10"
    assert text(a, "status") == "Running"
    # One progress event is no measurement: no speed and no ETA rather than a wrong one.
    assert text(a, "speed") == "" and text(a, "eta") == ""
    states = model.index(0, 0).data(FrameStatesRole)
    # Qt hands str-based enums back as their values; they compare equal.
    assert states[:3] == [FrameStatus.DONE, FrameStatus.RUNNING, FrameStatus.PENDING]
    info = model.index(0, COLUMN_INDEX["progress"]).data(ProgressRole)
    assert isinstance(info, ProgressInfo) and info.done == 1 and info.total == 10
    assert abs(info.fraction - 0.1) < 1e-9

    assert text(b, "frames") == "9/10"  # the failure is in the Status column: "Failed (1 frame)"
    assert text(b, "status") == "Failed (1 frame)"
    assert "Failed: 1010" in model.index(1, COLUMN_INDEX["frames"]).data(Qt.ItemDataRole.ToolTipRole)
    assert text(d, "status") == "Pending"
    assert model.index(3, 0).data(RecordRole).job_id == d.job_id


def test_speed_and_eta_come_from_a_sliding_window_once_a_second_was_measured() -> None:
    now = [100.0]
    model = JobTableModel(clock=lambda: now[0])
    spec = make_spec(100)
    model.add_spec(spec)
    model.mark_started(spec.job_id)
    mib = 1 << 20

    def send(done_mib: int) -> None:
        # The engine's own figure is wildly optimistic at the start (page cache): never shown.
        model.apply_events(spec.job_id, [Progress(spec.job_id, JobState.RUNNING, 100, bytes_total=100 * mib,
                                                  bytes_done=done_mib * mib, bytes_per_s=9e9, eta_s=0.1)])

    send(0)
    now[0] += 0.5
    send(20)  # 20 MiB in half a second looks like 40 MiB/s: too short to say
    speed, eta = COLUMN_INDEX["speed"], COLUMN_INDEX["eta"]
    assert model.index(0, speed).data() == "" and model.index(0, eta).data() == ""
    for _ in range(4):
        now[0] += 0.5
        send(20 + int((now[0] - 100.5) * 10))  # then a steady 10 MiB/s
    assert model.index(0, speed).data() == "16.0 MiB/s"  # 40 MiB over the 2.5 s measured
    for _ in range(10):
        now[0] += 0.5
        send(20 + int((now[0] - 100.5) * 10))
    # After the window (5 s) has slid past the start: the steady rate, and the ETA from it.
    assert model.index(0, speed).data() == "10.0 MiB/s"
    assert model.index(0, eta).data() == "0:01"  # 90 of 100 MiB done at 10 MiB/s
    assert model.totals().bytes_per_s == 10 * mib


def test_cancelling_then_cancelled_rows_are_grey_and_dimmed() -> None:
    model = JobTableModel()
    spec = make_spec()
    token = CancelToken()
    model.add_spec(spec, token=token)
    model.mark_started(spec.job_id)
    status = model.index(0, COLUMN_INDEX["status"])
    running_colour = status.data(Qt.ItemDataRole.ForegroundRole).color()
    token.cancel()  # the window cancels the token; the row reads it from there
    model.token_changed(spec.job_id)
    assert status.data() == "Cancelling…"
    model.finish(JobResult(spec.job_id, JobState.CANCELLED))
    assert status.data() == "Cancelled"
    for column in range(len(COLUMNS)):
        index = model.index(0, column)
        assert index.data(Qt.ItemDataRole.ForegroundRole).color() == QColor(CANCELLED_GREY)
        assert index.data(DimmedRole) is True
    assert running_colour != QColor(CANCELLED_GREY)


def test_a_row_ends_with_its_result_not_with_its_last_progress_event() -> None:
    """The engine's last progress event already says "completed"; the window handles the job's end
    (notices, hooks) when its result comes: a row shown completed has that result."""
    model = JobTableModel()
    spec = make_spec(2)
    model.add_spec(spec, token=CancelToken())
    model.mark_started(spec.job_id)
    last = Progress(spec.job_id, JobState.COMPLETED, 2, frames_done=2, bytes_total=2000, bytes_done=2000)
    model.apply_events(spec.job_id, [frame(spec, 0, FrameStatus.DONE), frame(spec, 1, FrameStatus.DONE), last])
    record = model.record_for(spec.job_id)
    assert record is not None and record.state is JobState.RUNNING and record.result is None
    assert model.index(0, COLUMN_INDEX["status"]).data() == "Running"
    assert model.totals().running == 1
    model.finish(JobResult(spec.job_id, JobState.COMPLETED))
    assert record.state is JobState.COMPLETED and record.result is not None
    assert model.index(0, COLUMN_INDEX["status"]).data() == "Completed"
    assert model.totals().running == 0


def test_paused_state_comes_from_the_token_and_survives_a_late_progress_update() -> None:
    model = JobTableModel()
    spec = make_spec()
    token = CancelToken()
    model.add_spec(spec, token=token)
    model.mark_started(spec.job_id)
    token.pause()
    model.token_changed(spec.job_id)
    model.apply_events(spec.job_id, [progress(spec, 2, 10)])  # sent before the pause took effect
    assert model.index(0, COLUMN_INDEX["status"]).data() == "Paused"
    totals = model.totals()
    assert (totals.running, totals.paused, totals.pending) == (0, 1, 0)  # a paused job is not running
    token.resume()
    model.token_changed(spec.job_id)
    assert model.index(0, COLUMN_INDEX["status"]).data() == "Running"
    token.stop_after_frame()
    model.token_changed(spec.job_id)
    assert model.index(0, COLUMN_INDEX["status"]).data() == "Stopping after frame…"


def test_log_messages_and_history_records_are_kept() -> None:
    model = JobTableModel()
    spec = make_spec()
    model.add_spec(spec)
    model.apply_events(spec.job_id, [LogMessage(spec.job_id, "warning", "slow disk")])
    assert model.record_at(0).log[0].text == "slow disk"
    from vfxcopy.gui.records import JobRecord

    old = JobRecord(make_spec(), state=JobState.COMPLETED,
                    frame_states=[FrameStatus.DONE] * 10)
    model.add_records([old])
    assert model.index(1, COLUMN_INDEX["status"]).data() == "Completed"
    assert model.index(1, COLUMN_INDEX["progress"]).data() == "100%"


def test_proxy_sorts_progress_by_number_not_text() -> None:
    model = JobTableModel()
    fractions = {}
    for done in (5, 50, 10):  # as text "10%" < "5%" < "50%"; as numbers 5 < 10 < 50
        spec = make_spec(100)
        model.add_spec(spec)
        model.mark_started(spec.job_id)
        model.apply_events(spec.job_id, [progress(spec, done, 100)])
        fractions[spec.job_id] = done
    proxy = JobSortProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMN_INDEX["progress"], Qt.SortOrder.AscendingOrder)
    order = [proxy.index(r, COLUMN_INDEX["progress"]).data() for r in range(3)]
    assert order == ["5%", "10%", "50%"]


def test_frame_segments_bucket_frames_and_keep_a_single_failure_visible() -> None:
    states = [FrameStatus.DONE] * 781
    states[400] = FrameStatus.FAILED
    states[700:] = [FrameStatus.PENDING] * 81
    runs = frame_segments(states, 100)
    assert runs[0][0] == 0 and runs[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:], strict=False))  # contiguous, no gaps
    assert [r[2] for r in runs] == [FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.DONE, FrameStatus.PENDING]
    failed = runs[1]
    assert failed[1] - failed[0] == 1  # one bucket of about eight frames
    # Fewer frames than pixels: one bucket per frame.
    few = frame_segments([FrameStatus.DONE, FrameStatus.SKIPPED, FrameStatus.RUNNING], 300)
    assert few == [(0, 1, FrameStatus.DONE), (1, 2, FrameStatus.SKIPPED), (2, 3, FrameStatus.RUNNING)]
    assert frame_segments([], 100) == []


def test_delegate_paints_frame_states_from_roles(qtbot: Any) -> None:
    model = JobTableModel()
    spec = make_spec(4)
    model.add_spec(spec)
    model.mark_started(spec.job_id)
    model.apply_events(spec.job_id, [frame(spec, 0, FrameStatus.DONE), frame(spec, 1, FrameStatus.FAILED),
                                     progress(spec, 1, 4, current=1003)])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(COLUMN_INDEX["progress"], ProgressDelegate(view))
    column = COLUMN_INDEX["progress"]
    view.setColumnWidth(column, 408)
    view.resize(1600, 200)
    view.show()
    rect = view.visualRect(model.index(0, column))
    image = view.viewport().grab().toImage()
    y = rect.center().y() + 6  # below the percentage text
    quarter = (rect.width() - 8) / 4

    def colour_at(k: int) -> QColor:
        return image.pixelColor(int(rect.x() + 4 + quarter * (k + 0.5)), y)

    assert colour_at(0) == FRAME_COLOURS[FrameStatus.DONE]
    assert colour_at(1) == FRAME_COLOURS[FrameStatus.FAILED]
    assert colour_at(2) == FRAME_COLOURS[FrameStatus.RUNNING]
    assert colour_at(3) == FRAME_COLOURS[FrameStatus.PENDING]
    assert model.index(0, column).data(Qt.ItemDataRole.DisplayRole) == "25%"
    assert not model.index(0, 0).parent().isValid() and model.rowCount(QModelIndex()) == 1
