"""NewJobDialog: the sequences a drop brought in, and what to do with them, as JobSpecs."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.jobs import (
    ConflictPolicy,
    ConvertOptions,
    CopyOptions,
    HashAlgo,
    JobSpec,
    Operation,
    VerifyMode,
)
from vfxcopy.core.naming import dest_names  # noqa: F401 - re-exported: the names the engine writes
from vfxcopy.core.presets import PresetOutput
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.tree import Tree
from vfxcopy.gui.dialogs.convert_options import ConvertGroup
from vfxcopy.gui.dialogs.job_options import (
    ERROR_COLOUR,
    RESIZE_RE,
    WARNING_COLOUR,
    convert_problem,
    sentence,
)
from vfxcopy.gui.dialogs.new_job_check import POLICY_KEY, CheckStep, policy_for
from vfxcopy.gui.dialogs.new_job_fields import JobFields
from vfxcopy.gui.dialogs.new_job_layout import FitsScreen
from vfxcopy.gui.dialogs.new_job_specs import (
    Choices,
    Planned,
    check_also,
    check_destination,
    fan_out,
    plan_jobs,
    plan_renditions,
    summarise,
)
from vfxcopy.gui.dialogs.sequence_list import COL_SEQUENCE, SequenceList  # noqa: F401 - re-exported
from vfxcopy.gui.farm_panel import RunOnChoice
from vfxcopy.gui.settings import AppSettings, parse_bwlimit
from vfxcopy.gui.thumbs import ThumbnailLoader
from vfxcopy.gui.trees import plan_trees

SIZE_KEY = "dialogs/new_job_size"


def choose_folder(parent: QWidget | None, start: str) -> str | None:
    """Ask for a destination folder; tests replace this function (call it through the module)."""
    path = QFileDialog.getExistingDirectory(parent, "Destination folder", start)
    return path or None


def ask_preset_name(parent: QWidget | None, suggestion: str) -> str | None:
    """Ask for a name for a new user preset; tests replace this function."""
    name, ok = QInputDialog.getText(parent, "Save preset", "Preset name:", text=suggestion)
    return (name.strip() or None) if ok else None


def _ask_preset_name(parent: QWidget, suggestion: str) -> str | None:
    from vfxcopy.gui.dialogs import new_job  # looked up at call time so that tests can replace it

    return new_job.ask_preset_name(parent, suggestion)


class NewJobDialog(FitsScreen, JobFields):
    """Lists dropped sequences with their ranges, gaps and sizes; `specs()` after accept."""

    def __init__(
        self,
        sequences: list[Sequence],
        settings: AppSettings,
        parent: QWidget | None = None,
        loader: ThumbnailLoader | None = None,
        trees: list[Tree] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newJobDialog")
        self.setWindowTitle("New job")
        self.setSizeGripEnabled(True)
        self._settings = settings
        self._sequences = list(sequences)
        self._owns_loader = loader is None
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._accepted_specs: list[JobSpec] = []

        self.sequence_list = SequenceList(self._sequences, self._loader, self)
        self.sequence_list.add_tree_rows(list(trees or []))
        self.sequence_list.itemChanged.connect(self._validate)
        # The Check step: a pre-flight of every sequence starts now, in the background; its word
        # shows in the list's Check column and its findings in the Check tab.
        self.sequence_tabs = QTabWidget()
        self.sequence_tabs.setObjectName("sequenceTabs")
        self.sequence_tabs.addTab(self.sequence_list, "Sequences")
        self.check = CheckStep(self._sequences, self.sequence_list, self.sequence_tabs, self)
        self.sequence_tabs.addTab(self.check.view, "Check")
        self.check.changed.connect(self._validate)
        self.convert_group = ConvertGroup(_ask_preset_name, self)
        self.convert_group.changed.connect(self._validate)
        self.convert_group.changed.connect(self._make_room)  # a rendition added: its row needs room
        options = QWidget()
        columns = QHBoxLayout(options)
        columns.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(self._build_operation_group())
        left.addWidget(self._build_destination_group())
        left.addWidget(self._build_frames_group())
        left.addStretch(1)
        columns.addLayout(left, 1)
        right = QVBoxLayout()
        right.addWidget(self.convert_group)
        right.addWidget(self._build_safety_group())
        right.addWidget(self._build_run_on_group())
        right.addStretch(1)
        columns.addLayout(right, 1)
        # The options scroll when the dialog is short; the splitter lets the list take the room.
        scroll = QScrollArea()
        scroll.setObjectName("optionsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(options)
        self._options = options
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("newJobSplitter")
        self.splitter.addWidget(self.sequence_tabs)
        self.splitter.addWidget(scroll)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summaryLabel")
        layout.addWidget(self.summary_label)
        self.warning_label = self._message_label("warningLabel", WARNING_COLOUR.name())
        layout.addWidget(self.warning_label)
        self.error_label = self._message_label("errorLabel", ERROR_COLOUR.name())
        layout.addWidget(self.error_label)

        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.button_box.setObjectName("buttonBox")
        self.ok_button = self.button_box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("okButton")
        self.ok_button.setText("Queue")
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)

        # The rename answer cannot run as farm tasks: the choice is checked with Run on.
        self.conflict_combo.currentIndexChanged.connect(self._validate)
        self._on_operation_changed()
        self._validate()
        self.check.start()
        self._fitted = False
        self.resize(980, 760)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fitted:
            # Sizes are known once the widgets are polished (hidden groups no longer count).
            self._fitted = True
            self._fit_to_screen(len(self._sequences))
            # Keyboard first: the one field every job needs.
            self.destination_edit.setFocus()

    def _message_label(self, name: str, colour: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {colour};")
        return label

    # -- reactions --
    @Slot()
    def _on_operation_changed(self) -> None:
        converting = self.operation() is Operation.CONVERT
        # Several destinations are a copy's; a conversion's several outputs are its renditions.
        self._destination_form.setRowVisible(self.also, not converting)
        self.convert_group.setEnabled(converting)
        # A copy has no conversion options: their room goes to the sequence list.
        self.convert_group.setVisible(converting)
        if converting:
            self._make_room()
        self._validate()

    @Slot()
    def _on_destinations_changed(self) -> None:
        self._validate()
        self._make_room()

    # -- state --
    def checked_sequences(self) -> list[Sequence]:
        return self.sequence_list.checked_sequences()

    def operation(self) -> Operation:
        # Qt hands str-based enums back from item data as plain strings.
        return Operation(self.operation_combo.currentData())

    def destination(self) -> str:
        text = self.destination_edit.text().strip()
        return os.path.normpath(os.path.expanduser(text)) if text else ""

    def also_destinations(self) -> list[str]:
        """The "Also copy to" folders of a copy ('' for an empty row); a conversion has none."""
        return self.also.paths() if self.operation() is Operation.COPY else []

    def _convert_options(self) -> ConvertOptions:
        return self.convert_outputs()[0].options

    def convert_outputs(self) -> list[PresetOutput]:
        """The conversion's outputs (renditions), each checked; ValueError naming the one that cannot run."""
        outputs = self.convert_group.outputs()
        for n, output in enumerate(outputs, start=1):
            convert = output.options
            which = f"Rendition {n} ({convert.to.upper()}): " if len(outputs) > 1 else ""
            if convert.resize and not RESIZE_RE.match(convert.resize):
                raise ValueError(f"{which}Resize {convert.resize!r}: use a percentage like 50% or a size like "
                                 "1920x1080.")
            problem = convert_problem(convert)
            if problem:
                raise ValueError(which + problem)
        return outputs

    def _choices(self) -> Choices:
        """The fields as plain data; ValueError for a field that cannot be read (bandwidth, conversion)."""
        try:
            bwlimit = parse_bwlimit(self.bwlimit_edit.text())
        except ValueError as exc:
            raise ValueError(sentence(str(exc)) + ".") from exc
        operation = self.operation()
        copy = CopyOptions(
            verify=VerifyMode(self.verify_combo.currentData()),
            hash_algo=HashAlgo(self.hash_combo.currentData()),
            on_conflict=ConflictPolicy(self.conflict_combo.currentData()),
            fsync=self.fsync_check.isChecked(),
            bwlimit=bwlimit,
        )
        return Choices(
            sequences=self.checked_sequences(), destination=self.destination(),
            frames_text=self.frames_edit.text(), rename_text=self.rename_edit.text(),
            numbering=self.numbering_combo.currentData(), number=self.number_spin.value(),
            operation=operation, copy=copy,
            convert=self._convert_options() if operation is Operation.CONVERT else None,
        )

    def preflight_policy(self) -> dict[str, str] | None:
        return policy_for(str(self.preflight_combo.currentData()))

    def _plan(self) -> Planned:
        choices = self._choices()
        trees = self.sequence_list.checked_trees()
        if trees:
            # A folder tree is one job; frames and names apply to the sequences dropped beside it.
            dest = check_destination(choices.destination, choices.sequences)
            tree_specs = plan_trees(trees, dest, choices.operation, choices.copy)
            planned = plan_jobs(choices) if choices.sequences else Planned([])
            planned.specs[:0] = tree_specs
            if choices.frames_text.strip() or choices.rename_text.strip():
                planned.notes.append("frames and a new head apply to sequences; a folder tree is copied whole")
        elif choices.operation is Operation.CONVERT:
            # One job per output and sequence; the outputs of one sequence share its decode.
            planned = plan_renditions(choices, self.convert_outputs())
        else:
            planned = plan_jobs(choices)
        also = self.also_destinations()
        if also:
            sources = [seq.directory or "." for seq in choices.sequences] + [tree.root for tree in trees]
            planned.specs = fan_out(planned.specs, check_also(choices.destination, also, sources))
        policy = self.preflight_policy()
        for spec in planned.specs:
            spec.preflight = dict(policy) if policy is not None else None
        return planned

    def _build_specs(self) -> list[JobSpec]:
        """Specs for the current choices; raises ValueError with the reason when they are not valid."""
        return self._plan().specs

    def validation_error(self) -> str:
        """Why Queue is disabled ('' when everything is valid)."""
        try:
            self._build_specs()
        except ValueError as exc:
            return str(exc)
        return ""

    @Slot()
    def _validate(self) -> None:
        if not hasattr(self, "ok_button"):
            return  # still building the widgets
        try:
            planned = self._plan()
            error = ""
        except ValueError as exc:
            planned, error = Planned([]), str(exc)
        if not error and hasattr(self, "run_on") and self.run_on.farm_options() is not None:
            if any(spec.tree is not None for spec in planned.specs):
                error = "A folder tree runs on this computer: choose “This computer” under Run on."
            elif any(spec.group is not None for spec in planned.specs):
                error = ("Several renditions are made from one decode on this computer: choose “This computer” "
                         "under Run on, or remove the other renditions." if self.operation() is Operation.CONVERT
                         else "Several destinations are copied from one read on this computer: choose “This "
                         "computer” under Run on, or remove the “Also copy to” folders.")
            elif ConflictPolicy(self.conflict_combo.currentData()) is ConflictPolicy.RENAME:
                error = ("Farm tasks cannot pick new versions each on their own: choose another answer for "
                         "“If a file exists”, or run on this computer.")
        if not error and hasattr(self, "check"):
            # The engine would refuse these before any byte moves: say so now, not after queueing.
            # Once per source: its copies to other destinations are refused for the same frames.
            error = "\n".join(dict.fromkeys(self.check.refusals(planned.specs)))
        self.error_label.setText(error)
        self.error_label.setVisible(bool(error))
        self.ok_button.setEnabled(not error)
        self.ok_button.setToolTip(error)
        self._update_summary(planned)
        self.warning_label.setVisible(bool(self.warning_label.text()))

    def _update_summary(self, planned: Planned) -> None:
        text, warnings = summarise(planned, self.sequence_list.sizes)
        self.summary_label.setText(text)
        self.warning_label.setText("\n".join(warnings))

    def _build_run_on_group(self) -> QWidget:
        from vfxcopy.gui.farm_settings import FarmSettings

        box = QGroupBox("Run on")
        box.setObjectName("runOnGroup")
        layout = QVBoxLayout(box)
        self.run_on = RunOnChoice(box)
        self._farm_settings = FarmSettings.load()
        self.run_on.set_defaults(self._farm_settings.chunk, self._farm_settings.partition)
        self.run_on.changed.connect(self._validate)
        self.run_on.changed.connect(self._make_room)
        layout.addWidget(self.run_on)
        return box

    def farm_options(self) -> dict[str, Any] | None:
        """None to run here in the window's queue; else the farm to send the jobs to, with its settings."""
        options = self.run_on.farm_options()
        if options is None:
            return None
        return {**options, "path_map": list(self._farm_settings.path_map)}

    def accept(self) -> None:
        try:
            specs = self._build_specs()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            self.ok_button.setEnabled(False)
            return
        refused = self.check.refusals(specs)
        if refused:
            self.error_label.setText("\n".join(refused))
            self.error_label.setVisible(True)
            self.ok_button.setEnabled(False)
            return
        # Files already at the destination are asked about by the window, once per job, after this.
        self._accepted_specs = specs
        self._settings.set_value(POLICY_KEY, self.preflight_combo.currentData())
        for dest in [*self.also_destinations(), self.destination()]:
            self._settings.add_recent_destination(dest)  # the main one last: first in the list
        super().accept()

    def specs(self) -> list[JobSpec]:
        """One JobSpec per ticked sequence, as accepted (or for the current choices before that)."""
        if self._accepted_specs:
            return list(self._accepted_specs)
        try:
            return self._build_specs()
        except ValueError:
            return []

    def done(self, result: int) -> None:
        self.check.view.cancel()  # the checks stop within a frame read; nobody waits for them
        if self._owns_loader:
            self._loader.shutdown(5000)
        super().done(result)
