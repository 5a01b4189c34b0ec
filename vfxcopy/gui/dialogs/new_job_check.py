"""The New job dialog's Check step: a pre-flight of the dropped sequences in the background, and the job's policy."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QComboBox, QTabWidget, QWidget

from vfxcopy.core.jobs import JobSpec
from vfxcopy.core.preflight import BROKEN_KINDS, REFUSE, PreflightOptions, Report, action_for, parse_policy
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui.dialogs.sequence_list import COL_CHECK, SequenceList
from vfxcopy.gui.preflight_view import BROKEN_COLOUR, OK_COLOUR, WARN_COLOUR, PreflightView
from vfxcopy.gui.settings import AppSettings

POLICY_KEY = "new_job/preflight"
# (key, label, the policy text core parses). Duplicates are left out: finding them hashes
# every frame of equal size, a full read that a header check avoids.
POLICIES = (
    ("off", "Off: the job does no pre-flight", ""),
    ("warn", "Warn about findings, copy everything", "all=warn,duplicate=ignore"),
    ("refuse", "Refuse broken frames, warn about the rest", "all=warn,duplicate=ignore,broken=refuse"),
)
CHECK_TAB = 1


def policy_combo(settings: AppSettings) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName("preflightCombo")
    for key, label, _text in POLICIES:
        combo.addItem(label, key)
    saved = settings.value(POLICY_KEY, "off")
    combo.setCurrentIndex(max(0, combo.findData(saved)))
    combo.setToolTip("What a queued job does with the frames the check finds, before any byte moves.")
    return combo


def policy_for(key: str) -> dict[str, str] | None:
    """The `JobSpec.preflight` of a policy choice (None: off)."""
    text = dict((k, t) for k, _label, t in POLICIES).get(key, "")
    return parse_policy(text) if text else None


def _key(seq: Sequence) -> tuple[str, str, str, int]:
    return (seq.directory, seq.head, seq.tail, seq.padding)


def _for_spec(spec: JobSpec, report: Report) -> Report:
    """The report cut to the frames the job copies (a broken frame left out by the range does not count)."""
    frames = set(spec.selected_frames())
    if spec.source.is_single or not frames:
        return report
    kept = [f for f in report.findings if f.frame is None or f.frame in frames]
    return dataclasses.replace(report, findings=kept)


class CheckStep(QObject):
    """Runs the PreflightView on the dialog's sequences and puts its word in the list's Check column."""

    changed = Signal()

    def __init__(self, sequences: list[Sequence], sequence_list: SequenceList, tabs: QTabWidget,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._sequences = list(sequences)
        self._list = sequence_list
        self._tabs = tabs
        # Header reads only: a few milliseconds a frame even on network storage.
        self.view = PreflightView(parent, PreflightOptions())
        self.view.sequence_checked.connect(self._on_checked)
        self.view.all_checked.connect(self._on_all_checked)
        self._by_key = {_key(seq): row for row, seq in enumerate(self._sequences)}

    def start(self) -> None:
        self._tabs.setTabText(CHECK_TAB, "Check (running…)")
        self.view.set_sequences(self._sequences)

    def report_for(self, seq: Sequence) -> Report | None:
        row = self._by_key.get(_key(seq))
        return None if row is None else self.view.report(row)

    def refusals(self, specs: list[JobSpec]) -> list[str]:
        """One sentence per job the pre-flight policy would refuse, from the checks finished so far."""
        out = []
        for spec in specs:
            report = self.report_for(spec.source)
            if report is None or spec.preflight is None or report.cancelled:
                continue
            refused: dict[str, int] = {}
            for finding in _for_spec(spec, report).findings:
                if action_for(spec.preflight, finding.kind) == REFUSE:
                    refused[finding.kind.value] = refused.get(finding.kind.value, 0) + 1
            if refused:
                what = ", ".join(f"{n} {kind}" for kind, n in sorted(refused.items()))
                out.append(f"The pre-flight refuses {spec.source.nuke_name()} ({what} — see the Check tab): "
                           "untick it, replace those frames, or choose “Warn about findings”.")
        return out

    def pending(self) -> int:
        return sum(1 for row in range(len(self._sequences)) if self.view.report(row) is None)

    @Slot(int, object)
    def _on_checked(self, row: int, report: Report) -> None:
        if report.cancelled:
            self._list.set_check(row, "not checked")
        elif report.ok:
            self._list.set_check(row, "OK", OK_COLOUR, f"{report.frames_checked} frames checked: no findings")
        else:
            broken = sum(1 for f in report.findings if f.kind in BROKEN_KINDS)
            other = len(report.findings) - broken
            # Short in the column (the kinds are in the tooltip and the Check tab).
            words = [f"{broken} broken"] if broken else []
            if other:
                words.append(f"{other} other" if broken else f"{other} finding{'s' if other != 1 else ''}")
            tip = report.summary() + "\n" + "\n".join(f.text() for f in report.findings[:12])
            self._list.set_check(row, ", ".join(words), BROKEN_COLOUR if broken else WARN_COLOUR, tip)
        self._list.resizeColumnToContents(COL_CHECK)
        self.changed.emit()

    @Slot()
    def _on_all_checked(self) -> None:
        found = self.view.findings_total()
        self._tabs.setTabText(CHECK_TAB, f"Check ({found} finding{'s' if found != 1 else ''})" if found
                              else "Check (OK)")
        self.changed.emit()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        return self.view.shutdown(timeout_ms)
