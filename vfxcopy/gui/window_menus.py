"""The main window's menus, toolbar and context menu, built from the one action table (gui/actions.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QToolBar

from vfxcopy.gui.actions import CONTEXT_MENU, ActionId, applicable

if TYPE_CHECKING:
    from vfxcopy.gui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """File, Edit, Jobs and Help, from the one action table; `window.menus` names them for add-ons."""
    a = window.actions_by_id
    bar = window.menuBar()
    file_menu = window.menus["file"] = bar.addMenu("&File")
    file_menu.addAction(a[ActionId.ADD])
    file_menu.addAction(a[ActionId.ADD_FOLDER])
    file_menu.addSeparator()
    file_menu.addAction(a[ActionId.QUIT])
    edit_menu = window.menus["edit"] = bar.addMenu("&Edit")
    edit_menu.addAction(a[ActionId.SELECT_ALL])
    copy_menu = edit_menu.addMenu("&Copy Path")
    for action_id in (ActionId.COPY_PATH_NUKE, ActionId.COPY_PATH_HOUDINI, ActionId.COPY_PATH_PRINTF):
        copy_menu.addAction(a[action_id])
    edit_menu.addSeparator()
    edit_menu.addAction(a[ActionId.SETTINGS])
    jobs_menu = window.menus["jobs"] = bar.addMenu("&Jobs")
    for group in CONTEXT_MENU:
        for action_id in group:
            if action_id.name.startswith("COPY_PATH"):
                continue
            jobs_menu.addAction(a[action_id])
            if action_id is ActionId.CANCEL:
                jobs_menu.addAction(a[ActionId.CANCEL_ALL])
        jobs_menu.addSeparator()
    help_menu = window.menus["help"] = bar.addMenu("&Help")
    help_menu.addAction(a[ActionId.ABOUT])
    # Menu-bar actions are window-wide shortcuts; Delete must not steal keys from dialogs.
    a[ActionId.REMOVE].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    window.table.addAction(a[ActionId.REMOVE])


def build_toolbar(window: MainWindow) -> QToolBar:
    a = window.actions_by_id
    toolbar = window.addToolBar("Jobs")
    toolbar.setObjectName("mainToolBar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for action_id in (ActionId.ADD, ActionId.ADD_FOLDER, None, ActionId.CANCEL, ActionId.CANCEL_ALL,
                      ActionId.PAUSE, ActionId.RESUME, None, ActionId.RETRY, ActionId.REMOVE, None,
                      ActionId.SETTINGS):
        if action_id is None:
            toolbar.addSeparator()
        else:
            toolbar.addAction(a[action_id])
    return toolbar


def action_handlers(window: MainWindow) -> dict[ActionId, Callable[[], Any]]:
    """What each action of the table does in this window."""
    return {
        ActionId.ADD: window.add_from_file_dialog,
        ActionId.ADD_FOLDER: window.add_folder_from_dialog,
        ActionId.SETTINGS: window.open_settings,
        ActionId.QUIT: window.close,
        ActionId.ABOUT: window.show_about,
        ActionId.CANCEL: window.cancel_selected,
        ActionId.CANCEL_ALL: window.cancel_all,
        ActionId.STOP_AFTER_FRAME: lambda: window._for_selected(ActionId.STOP_AFTER_FRAME,
                                                              window.runner.stop_after_frame),
        ActionId.PAUSE: lambda: window._for_selected(ActionId.PAUSE, window.runner.pause),
        ActionId.RESUME: lambda: window._for_selected(ActionId.RESUME, window.runner.resume),
        ActionId.START_NEXT: window.start_next_selected,
        ActionId.RETRY: window.retry_selected,
        ActionId.RUN_AGAIN: window.run_again_selected,
        ActionId.REMOVE: window.remove_selected,
        ActionId.REVEAL_SOURCE: lambda: window.reveal_selected(source=True),
        ActionId.REVEAL_DEST: lambda: window.reveal_selected(source=False),
        ActionId.COPY_PATH_NUKE: lambda: window.copy_paths("nuke"),
        ActionId.COPY_PATH_HOUDINI: lambda: window.copy_paths("houdini"),
        ActionId.COPY_PATH_PRINTF: lambda: window.copy_paths("printf"),
        ActionId.SHOW_DETAILS: window.show_details,
        ActionId.SELECT_ALL: window.table.selectAll,
    }


def build_context_menu(window: MainWindow) -> QMenu:
    """The menu for the current selection: only the actions that apply to it."""
    window._update_actions()
    applies = applicable(window.selected_records())
    menu = QMenu(window.table)
    menu.setObjectName("jobContextMenu")
    for group in CONTEXT_MENU:
        shown = [a for a in group if a in applies]
        if not shown:
            continue
        if not menu.isEmpty():
            menu.addSeparator()
        if shown[0].name.startswith("COPY_PATH"):
            sub = menu.addMenu("&Copy Path")
            sub.setObjectName("copyPathMenu")
            for action_id in shown:
                sub.addAction(window.actions_by_id[action_id])
            continue
        for action_id in shown:
            menu.addAction(window.actions_by_id[action_id])
    return menu
