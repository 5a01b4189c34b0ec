"""Every action of the window, made by one factory per ActionId, and which ones apply to a selection."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from vfxcopy.core.jobs import JobState
from vfxcopy.gui.records import JobRecord
from vfxcopy.gui.resources import icon


class ActionId(enum.Enum):
    """The value is the action's objectName (tests and automation find actions by it)."""

    ADD = "actionAdd"
    ADD_FOLDER = "actionAddFolder"
    SETTINGS = "actionSettings"
    QUIT = "actionQuit"
    ABOUT = "actionAbout"
    CANCEL = "actionCancel"
    CANCEL_ALL = "actionCancelAll"
    CANCEL_GROUP = "actionCancelGroup"
    STOP_AFTER_FRAME = "actionStopAfterFrame"
    PAUSE = "actionPause"
    RESUME = "actionResume"
    RETRY = "actionRetry"
    RUN_AGAIN = "actionRunAgain"
    REMOVE = "actionRemove"
    REVEAL_SOURCE = "actionRevealSource"
    REVEAL_DEST = "actionRevealDest"
    COPY_PATH_NUKE = "actionCopyPathNuke"
    COPY_PATH_HOUDINI = "actionCopyPathHoudini"
    COPY_PATH_PRINTF = "actionCopyPathPrintf"
    SHOW_DETAILS = "actionShowDetails"
    SELECT_ALL = "actionSelectAll"
    START_NEXT = "actionStartNext"


@dataclass(frozen=True)
class ActionDef:
    text: str
    tooltip: str
    icon: str = ""
    shortcut: QKeySequence.StandardKey | str | None = None
    enabled: bool = False  # selection actions start disabled until something is selected


_SK = QKeySequence.StandardKey

DEFINITIONS: dict[ActionId, ActionDef] = {
    ActionId.ADD: ActionDef("&Add Files…", "Add image sequences: pick a frame and its whole sequence comes along",
                            "add", _SK.Open, True),
    ActionId.ADD_FOLDER: ActionDef("Add &Folder…", "Add every sequence in a folder (and its sub-folders)",
                                   "add-folder", "Ctrl+Shift+O", True),
    ActionId.SETTINGS: ActionDef("&Settings…", "Jobs at once, verification, conflicts, confirmations",
                                 "settings", _SK.Preferences, True),
    ActionId.QUIT: ActionDef("&Quit", "Quit vfxcopy (asks first if jobs are running)", "quit", _SK.Quit, True),
    ActionId.ABOUT: ActionDef("&About vfxcopy", "Version and licence", "about", None, True),
    ActionId.CANCEL: ActionDef("&Cancel", "Cancel the selected jobs; frames already copied stay",
                               "cancel", "Ctrl+."),
    ActionId.CANCEL_ALL: ActionDef("Cancel &All", "Cancel every running and pending job",
                                   "cancel-all", "Ctrl+Shift+."),
    ActionId.CANCEL_GROUP: ActionDef("Cance&l All Destinations",
                                     "Cancel every destination (or rendition) that reads the same source as the "
                                     "selected jobs; Cancel stops only the selected one", "cancel-all"),
    ActionId.STOP_AFTER_FRAME: ActionDef("&Stop After Current Frame",
                                         "Finish the frame in flight, then stop the job", "stop-after-frame",
                                         "Ctrl+Shift+S"),
    ActionId.PAUSE: ActionDef("&Pause", "Pause the selected jobs (between chunks)", "pause", "Ctrl+P"),
    ActionId.RESUME: ActionDef("Res&ume", "Resume the selected paused jobs", "resume", "Ctrl+Shift+P"),
    ActionId.RETRY: ActionDef("&Retry Failed Frames", "Queue a new job with only the frames that failed",
                              "retry", "Ctrl+R"),
    ActionId.RUN_AGAIN: ActionDef("Run A&gain", "Queue the same job again with the same settings",
                                  "run-again", "Ctrl+Shift+R"),
    ActionId.REMOVE: ActionDef("Re&move from List", "Remove finished jobs from the list (files stay)",
                               "remove", _SK.Delete),
    ActionId.REVEAL_SOURCE: ActionDef("Reveal S&ource", "Open the source folder in the file manager",
                                      "reveal"),
    ActionId.REVEAL_DEST: ActionDef("Reveal Des&tination", "Open the destination folder in the file manager",
                                    "reveal"),
    ActionId.COPY_PATH_NUKE: ActionDef("Copy Path (&Nuke ####)", "Copy the destination as a Nuke path",
                                       "copy", "Ctrl+Shift+C"),
    ActionId.COPY_PATH_HOUDINI: ActionDef("Copy Path (&Houdini $F4)", "Copy the destination as a Houdini path",
                                          "copy"),
    ActionId.COPY_PATH_PRINTF: ActionDef("Copy Path (&printf %04d)", "Copy the destination as a printf path",
                                         "copy"),
    ActionId.SHOW_DETAILS: ActionDef("Show &Details", "Show frames, errors and the log of the selected job",
                                     "details", "Ctrl+I"),
    ActionId.SELECT_ALL: ActionDef("Select &All", "Select every job", "", _SK.SelectAll, True),
    ActionId.START_NEXT: ActionDef("Start &Next", "Move the selected pending jobs to the front of the queue",
                                   "resume", "Ctrl+Shift+N"),
}


def make_action(action_id: ActionId, parent: QObject) -> QAction:
    """One action with its objectName, text, icon, shortcut, tooltip and starting enabled state."""
    definition = DEFINITIONS[action_id]
    action = QAction(definition.text, parent)
    action.setObjectName(action_id.value)
    action.setToolTip(definition.tooltip)
    action.setStatusTip(definition.tooltip)
    if definition.icon:
        action.setIcon(icon(definition.icon))
    if definition.shortcut is not None:
        action.setShortcut(QKeySequence(definition.shortcut))
    action.setEnabled(definition.enabled)
    return action


def build_actions(parent: QObject) -> dict[ActionId, QAction]:
    return {action_id: make_action(action_id, parent) for action_id in ActionId}


# -- which actions apply to which jobs --
def _active(r: JobRecord) -> bool:
    return not r.state.finished and not r.cancelling


APPLIES: dict[ActionId, Callable[[JobRecord], bool]] = {
    ActionId.CANCEL: _active,
    ActionId.CANCEL_GROUP: lambda r: r.spec.group is not None and r.farm is None and _active(r),
    # A farm's tasks are cancelled or requeued through the scheduler; they cannot pause here.
    ActionId.STOP_AFTER_FRAME: lambda r: r.farm is None and r.shown_state in (JobState.RUNNING, JobState.PAUSED)
    and not (r.cancelling or r.stopping),
    ActionId.PAUSE: lambda r: r.farm is None and r.shown_state is JobState.RUNNING and not r.cancelling,
    ActionId.RESUME: lambda r: r.farm is None and r.shown_state is JobState.PAUSED and not r.cancelling,
    ActionId.START_NEXT: lambda r: r.farm is None and r.shown_state is JobState.PENDING and not r.cancelling,
    ActionId.RETRY: lambda r: r.state.finished and (bool(r.failed_frames) if r.farm is None else r.farm.retryable),
    ActionId.RUN_AGAIN: lambda r: r.state.finished and r.farm is None,  # a farm job: Retry on its farm
    ActionId.REMOVE: lambda r: r.state.finished,
    ActionId.REVEAL_SOURCE: lambda r: True,
    ActionId.REVEAL_DEST: lambda r: True,
    ActionId.COPY_PATH_NUKE: lambda r: True,
    ActionId.COPY_PATH_HOUDINI: lambda r: True,
    ActionId.COPY_PATH_PRINTF: lambda r: True,
    ActionId.SHOW_DETAILS: lambda r: True,
}

# The context menu's layout: groups separated by lines, only applicable actions shown.
CONTEXT_MENU: list[list[ActionId]] = [
    [ActionId.CANCEL, ActionId.CANCEL_GROUP, ActionId.STOP_AFTER_FRAME, ActionId.PAUSE, ActionId.RESUME, ActionId.START_NEXT],
    [ActionId.RETRY, ActionId.RUN_AGAIN, ActionId.REMOVE],
    [ActionId.REVEAL_SOURCE, ActionId.REVEAL_DEST],
    [ActionId.COPY_PATH_NUKE, ActionId.COPY_PATH_HOUDINI, ActionId.COPY_PATH_PRINTF],
    [ActionId.SHOW_DETAILS],
]


def applicable(records: Iterable[JobRecord]) -> set[ActionId]:
    """The selection actions that apply to at least one of `records`."""
    found: set[ActionId] = set()
    for record in records:
        for action_id, test in APPLIES.items():
            if action_id not in found and test(record):
                found.add(action_id)
    return found


def records_for(action_id: ActionId, records: Iterable[JobRecord]) -> list[JobRecord]:
    """The subset of `records` an action acts on (e.g. Remove skips running jobs)."""
    test = APPLIES.get(action_id)
    return [r for r in records if test is None or test(r)]
