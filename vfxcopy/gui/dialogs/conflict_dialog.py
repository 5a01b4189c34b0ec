"""ConflictDialog: files a job would meet at its destination, and what to do with them (asked once per job).

The answer is written into the job's spec for the pipeline's one conflict policy:
`spec.copy.on_conflict` for every file, `spec.conflict_choices[name]` for files
answered one by one. Nothing here copies, compares or renames.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.jobs import ConflictPolicy, JobSpec
from vfxcopy.core.units import format_size, plural
from vfxcopy.gui.conflicts import Conflict
from vfxcopy.gui.thumbs import ThumbnailLoader

# The four answers, in the order they are offered; the values are the engine's policies.
CHOICES: dict[ConflictPolicy, str] = {
    ConflictPolicy.OVERWRITE: "Overwrite",
    ConflictPolicy.SKIP: "Skip",
    ConflictPolicy.RENAME: "Keep both",
    ConflictPolicy.SKIP_IDENTICAL: "Compare by hash",
}
CHOICE_TIPS: dict[ConflictPolicy, str] = {
    ConflictPolicy.OVERWRITE: "Replace the existing file with the new one",
    ConflictPolicy.SKIP: "Leave the existing file as it is; the new one is not written",
    ConflictPolicy.RENAME: "Keep the existing files and write the whole job under a new version (v002…)",
    ConflictPolicy.SKIP_IDENTICAL: "Skip files whose contents are the same; a file that differs fails its frame",
}
MNEMONICS: dict[ConflictPolicy, str] = {
    ConflictPolicy.OVERWRITE: "&Overwrite",
    ConflictPolicy.SKIP: "&Skip",
    ConflictPolicy.RENAME: "&Keep Both",
    ConflictPolicy.SKIP_IDENTICAL: "Compare by &Hash",
}
# Keep both is an answer for the whole job: the pipeline writes every frame under one new
# version so that the sequence stays one sequence (a v002 for some frames only would split it).
PER_FILE = (ConflictPolicy.OVERWRITE, ConflictPolicy.SKIP, ConflictPolicy.SKIP_IDENTICAL)
COL_NAME, COL_EXISTING, COL_NEW, COL_CHOICE = range(4)
THUMB = 160
POLICY_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass
class ConflictAnswer:
    """What the user chose: a policy for every file, and per-file exceptions."""

    policy: ConflictPolicy
    choices: dict[str, ConflictPolicy] = field(default_factory=dict)
    for_other_jobs: bool = False


def apply_answer(spec: JobSpec, answer: ConflictAnswer, conflicts: list[Conflict] | None = None) -> JobSpec:
    """A copy of `spec` that carries the answer for the pipeline (the spec passed in is not changed)."""
    known = {c.name for c in conflicts} if conflicts is not None else None
    choices = {name: policy.value for name, policy in answer.choices.items()
               if policy is not answer.policy and (known is None or name in known)}
    return dataclasses.replace(
        spec,
        copy=dataclasses.replace(spec.copy, on_conflict=answer.policy),
        conflict_choices=choices or None,
    )


def _when(mtime: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime)) if mtime is not None else "—"


def _default_policy(spec: JobSpec) -> ConflictPolicy:
    policy = spec.copy.on_conflict
    return policy if policy in CHOICES else ConflictPolicy.SKIP_IDENTICAL


class ConflictDialog(QDialog):
    """Lists the existing files with both sizes and dates, previews the current one, collects an answer."""

    def __init__(self, spec: JobSpec, conflicts: list[Conflict], other_jobs: int = 0,
                 parent: QWidget | None = None, loader: ThumbnailLoader | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle("Files already exist")
        self.setSizeGripEnabled(True)
        self._spec = spec
        self._conflicts = conflicts
        self._loader = loader if loader is not None else ThumbnailLoader(self, max_threads=1)
        self._owns_loader = loader is None
        self._loader.ready.connect(self._on_thumbnail)
        self._loader.failed.connect(self._on_thumbnail_failed)
        self._thumb_keys: dict[str, QLabel] = {}

        layout = QVBoxLayout(self)
        count = len(conflicts)
        head = QLabel(f"<b>{plural(count, 'file')} of {spec.display_name()} already "
                      f"{'exists' if count == 1 else 'exist'} in {spec.dest_dir}</b><br>"
                      "Choose what to do with them; files you do not choose for follow "
                      "“Everything else”.")
        head.setObjectName("conflictHeadline")
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(head)

        self.list = QTreeWidget()
        self.list.setObjectName("conflictList")
        self.list.setHeaderLabels(["Name", "Existing", "New", "Action"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.header().setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.list.header().setStretchLastSection(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self._items: list[QTreeWidgetItem] = []
        for conflict in conflicts:
            item = QTreeWidgetItem()
            self._items.append(item)
            item.setText(COL_NAME, conflict.name)
            item.setToolTip(COL_NAME, f"Existing: {conflict.dest}\nNew: {conflict.source or spec.source.pattern()}")
            item.setText(COL_EXISTING, f"{format_size(conflict.dest_size)}, {_when(conflict.dest_mtime)}")
            new_size = format_size(conflict.source_size) if conflict.source_size is not None else "—"
            item.setText(COL_NEW, f"{new_size}, {_when(conflict.source_mtime)}")
            item.setText(COL_CHOICE, "")
            self.list.addTopLevelItem(item)
        for col in (COL_EXISTING, COL_NEW):
            self.list.resizeColumnToContents(col)
        self.list.setColumnWidth(COL_CHOICE, self.fontMetrics().horizontalAdvance("Compare by hash") + 24)
        self.list.currentItemChanged.connect(self._on_current)
        layout.addWidget(self.list, 1)

        layout.addLayout(self._build_preview())
        layout.addLayout(self._build_choice_rows(other_jobs))

        self.buttons = QDialogButtonBox()
        self.queue_button = self.buttons.addButton("&Queue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.queue_button.setObjectName("conflictQueueButton")
        self.queue_button.setDefault(True)
        self.skip_job_button = self.buttons.addButton("Do&n't Queue", QDialogButtonBox.ButtonRole.RejectRole)
        self.skip_job_button.setObjectName("conflictDontQueueButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        if conflicts:
            self.list.setCurrentItem(self._items[0])
        self._refresh_choices()
        self.resize(820, 560)

    # -- building --
    def _build_preview(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.existing_thumb = self._thumb_label("conflictExistingThumb")
        self.new_thumb = self._thumb_label("conflictNewThumb")
        for title, label in (("Existing", self.existing_thumb), ("New", self.new_thumb)):
            column = QVBoxLayout()
            caption = QLabel(title)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(caption)
            column.addWidget(label)
            row.addLayout(column)
        row.addStretch(1)
        return row

    def _thumb_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setFixedSize(QSize(THUMB, THUMB * 9 // 16))
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("background: #15181c; color: #9aa4ad; border: 1px solid #30363d;")
        return label

    def _build_choice_rows(self, other_jobs: int) -> QVBoxLayout:
        rows = QVBoxLayout()
        selected = QHBoxLayout()
        selected.addWidget(QLabel("Selected files:"))
        self.choice_buttons: dict[ConflictPolicy, QPushButton] = {}
        for policy in PER_FILE:
            button = QPushButton(MNEMONICS[policy])
            button.setObjectName(f"conflictChoose_{policy.value}")
            button.setToolTip(CHOICE_TIPS[policy])
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, p=policy: self.choose_selected(p))
            self.choice_buttons[policy] = button
            selected.addWidget(button)
        selected.addStretch(1)
        rows.addLayout(selected)

        rest = QHBoxLayout()
        label = QLabel("&Everything else:")
        label.setToolTip("Keep both is for the whole job: every frame is written under a new version")
        self.default_combo = QComboBox()
        self.default_combo.setObjectName("conflictDefaultCombo")
        for policy, text in CHOICES.items():
            self.default_combo.addItem(text, policy.value)
            self.default_combo.setItemData(self.default_combo.count() - 1, CHOICE_TIPS[policy],
                                           Qt.ItemDataRole.ToolTipRole)
        self.default_combo.setCurrentIndex(self.default_combo.findData(_default_policy(self._spec).value))
        self.default_combo.currentIndexChanged.connect(self._refresh_choices)
        label.setBuddy(self.default_combo)
        rest.addWidget(label)
        rest.addWidget(self.default_combo)
        rest.addStretch(1)
        rows.addLayout(rest)

        self.other_jobs_check = QCheckBox(
            f"Use the same answer for the {plural(other_jobs, 'other job')} with existing files")
        self.other_jobs_check.setObjectName("conflictOtherJobsCheck")
        self.other_jobs_check.setVisible(other_jobs > 0)
        rows.addWidget(self.other_jobs_check)
        return rows

    # -- choosing --
    def default_policy(self) -> ConflictPolicy:
        return ConflictPolicy(self.default_combo.currentData())

    def choose_selected(self, policy: ConflictPolicy) -> None:
        """Answer the selected files (all of them when none is selected)."""
        items = self.list.selectedItems() or self._items
        for item in items:
            item.setData(COL_CHOICE, POLICY_ROLE, policy.value)
        self._refresh_choices()

    def select_names(self, names: list[str]) -> None:
        """Select rows by file name (tests, automation)."""
        wanted = set(names)
        self.list.clearSelection()
        for item in self._items:
            if item.text(COL_NAME) in wanted:
                item.setSelected(True)

    @Slot()
    def _refresh_choices(self) -> None:
        default = self.default_policy()
        whole_job = default is ConflictPolicy.RENAME
        for button in self.choice_buttons.values():
            button.setEnabled(not whole_job)
        for item in self._items:
            chosen = None if whole_job else item.data(COL_CHOICE, POLICY_ROLE)
            if chosen:
                item.setText(COL_CHOICE, CHOICES[ConflictPolicy(chosen)])
                font = item.font(COL_CHOICE)
                font.setBold(True)
                item.setFont(COL_CHOICE, font)
            else:
                item.setText(COL_CHOICE, CHOICES[default])
                item.setFont(COL_CHOICE, self.list.font())

    def answer(self) -> ConflictAnswer:
        choices: dict[str, ConflictPolicy] = {}
        if self.default_policy() is ConflictPolicy.RENAME:
            # The whole job goes under a new version: no existing file is touched, no exceptions.
            return ConflictAnswer(ConflictPolicy.RENAME, {}, for_other_jobs=self._for_other_jobs())
        for item in self._items:
            chosen = item.data(COL_CHOICE, POLICY_ROLE)
            if chosen:
                choices[item.text(COL_NAME)] = ConflictPolicy(chosen)
        return ConflictAnswer(self.default_policy(), choices, for_other_jobs=self._for_other_jobs())

    def _for_other_jobs(self) -> bool:
        return self.other_jobs_check.isVisible() and self.other_jobs_check.isChecked()

    # -- preview (thumbnails of the current row only: cheap at any list length) --
    @Slot()
    def _on_current(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        if current is None:
            return
        conflict = self._conflicts[self.list.indexOfTopLevelItem(current)]
        self._thumb_keys.clear()
        for label, path in ((self.existing_thumb, conflict.dest), (self.new_thumb, conflict.source)):
            label.clear()
            if path is None:
                label.setText("movie")
                continue
            label.setText("Loading…")
            label.setToolTip(path)
            self._thumb_keys[path] = label
            self._loader.request(path, path, THUMB)

    @Slot(str, QImage)
    def _on_thumbnail(self, key: str, image: QImage) -> None:
        label = self._thumb_keys.get(key)
        if label is None or image.isNull():
            return
        label.setPixmap(QPixmap.fromImage(image).scaled(
            label.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    @Slot(str, str)
    def _on_thumbnail_failed(self, key: str, _message: str) -> None:
        label = self._thumb_keys.get(key)
        if label is not None:
            label.setText("No preview")

    def done(self, result: int) -> None:
        if self._owns_loader:
            self._loader.shutdown(2000)
        super().done(result)


def ask_conflicts(parent: QWidget | None, spec: JobSpec, conflicts: list[Conflict],
                  other_jobs: int = 0) -> ConflictAnswer | None:
    """Ask about one job's existing files; None when the user chose not to queue it.

    Tests replace this function (call it through the module).
    """
    dialog = ConflictDialog(spec, conflicts, other_jobs, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.answer()
    finally:
        dialog.deleteLater()
