"""The New job dialog's size: room for its options and a dozen rows of its list, within the screen."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QSplitter, QWidget

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.gui.dialogs.sequence_list import SequenceList


class FitsScreen(QDialog):
    """Mixed into NewJobDialog: the list above (`sequence_list`), the options below (`_options`, in
    a scroll area), a vertical `splitter` between them."""

    sequence_list: SequenceList
    splitter: QSplitter
    _options: QWidget

    def _fit_to_screen(self, rows: int) -> None:
        """Room for every option and up to a dozen rows of the list; never taller than the screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        row_height = max(self.sequence_list.sizeHintForRow(0) if rows else 30, 24)
        list_height = min(max(rows, 3), 12) * row_height + self.sequence_list.header().sizeHint().height() + 6
        options_height = self._options.sizeHint().height() + 4
        chrome = 150  # summary, messages, buttons, margins, the window frame
        height, width = list_height + options_height + chrome, 980
        if avail is not None:
            height = min(height, avail.height() - 40)
            width = min(width, avail.width() - 40)
        # The options first (they scroll when even they do not fit), the list gets the rest.
        options_height = min(options_height, max(160, height - chrome - 4 * row_height))
        self.resize(width, height)
        self.splitter.setSizes([max(3 * row_height, height - chrome - options_height), options_height])

    def _make_room(self) -> None:
        """Options appeared (conversion, a farm's fields): grow the dialog within the screen, then take from the list."""
        if not hasattr(self, "_options") or not getattr(self, "_fitted", False):
            return
        sizes = self.splitter.sizes()
        need = self._options.sizeHint().height() + 4
        if len(sizes) != 2 or sizes[1] >= need:
            return
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry().height() - 40 - self.height()
            grow = max(0, min(room, need - sizes[1]))
            if grow:
                self.resize(self.width(), self.height() + grow)
                sizes = [sizes[0], sizes[1] + grow]
                # Grown downwards: keep the title bar and the buttons on the screen.
                avail, frame = screen.availableGeometry(), self.frameGeometry()
                over = frame.bottom() - avail.bottom()
                if over > 0 and self.isVisible():
                    self.move(frame.left(), max(avail.top(), frame.top() - over))
        total = sum(sizes)
        if sizes[1] < need:
            self.splitter.setSizes([max(120, total - need), min(need, total - 120)])
        else:
            self.splitter.setSizes(sizes)
