"""WatchService: runs a FolderWatcher per enabled rule and submits landed sequences to the window."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import CopyOptions, FrameStatus, JobResult, JobSpec, JobState
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.watch import (
    DEFAULT_RESCAN_INTERVAL,
    Clock,
    FolderWatcher,
    HandledStore,
    WatchError,
    WatchRule,
    make_spec,
    release_frames,
)

log = logging.getLogger(__name__)

RULES_KEY = "watch/rules"  # a JSON list of WatchRule.to_dict() in the settings file


@dataclass
class Activity:
    """What a rule did last, for the dialog's "Last activity" column."""

    text: str
    time: float  # time.time()


def load_rules(settings: Any) -> list[WatchRule]:
    """The rules saved in `settings` (AppSettings); a damaged entry is skipped, not fatal."""
    raw = settings.value(RULES_KEY, "")
    if not raw:
        return []
    try:
        items = json.loads(str(raw))
    except ValueError:
        log.warning("watch rules in the settings are not valid JSON; ignoring them")
        return []
    rules: list[WatchRule] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            rules.append(WatchRule.from_dict(item))
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("skipping a damaged watch rule %r: %s", item, exc)
    return rules


def save_rules(settings: Any, rules: Iterable[WatchRule]) -> None:
    settings.set_value(RULES_KEY, json.dumps([r.to_dict() for r in rules]))


class WatchService(QObject):
    """Owns the watchers; everything it emits arrives in the GUI thread.

    Watchers call back from their own threads; those callbacks only emit the
    private signals below (queued), and the slots, in the GUI thread, build the
    JobSpec and hand it to `submit` (the window's submit_specs).
    """

    rules_changed = Signal()
    activity_changed = Signal(str)  # rule name

    _landed = Signal(object)  # (rule, sequence, frames) from a watcher thread
    _activity = Signal(object, str)  # the watcher's own rule, text, from a watcher thread

    def __init__(
        self,
        settings: Any,
        submit: Callable[[list[JobSpec]], object],
        parent: QObject | None = None,
        *,
        store: HandledStore | None = None,
        clock: Clock | None = None,
        rescan_interval: float = DEFAULT_RESCAN_INTERVAL,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.submit = submit
        self.rescan_interval = rescan_interval
        self.clock = clock
        self._store = store
        self._journal: Any = None
        self._rules: list[WatchRule] = load_rules(settings)
        self._watchers: dict[str, FolderWatcher] = {}
        self.activity: dict[str, Activity] = {}
        # Jobs this service queued that have not finished yet: released at shutdown so
        # that closing the window mid-job does not mark them handled for good.
        self._unfinished: dict[str, tuple[str, JobSpec]] = {}
        self._stopped: dict[str, FolderWatcher] = {}
        self._closing = False
        self.errors: dict[str, str] = {}
        self._landed.connect(self._on_landed, Qt.ConnectionType.QueuedConnection)
        self._activity.connect(self._on_activity, Qt.ConnectionType.QueuedConnection)

    # -- rules --
    @property
    def rules(self) -> list[WatchRule]:
        return list(self._rules)

    def rule(self, name: str) -> WatchRule | None:
        return next((r for r in self._rules if r.name == name), None)

    def set_rules(self, rules: Iterable[WatchRule]) -> None:
        """Replace every rule, save them, and restart the watchers that changed."""
        self._rules = list(rules)
        save_rules(self.settings, self._rules)
        self._sync_watchers()
        self.rules_changed.emit()

    def add_rule(self, rule: WatchRule) -> None:
        if self.rule(rule.name) is not None:
            raise WatchError(f"a rule named {rule.name!r} exists already")
        self.set_rules([*self._rules, rule])

    def replace_rule(self, old_name: str, rule: WatchRule) -> None:
        if rule.name != old_name and self.rule(rule.name) is not None:
            raise WatchError(f"a rule named {rule.name!r} exists already")
        self.set_rules([rule if r.name == old_name else r for r in self._rules])
        if rule.name != old_name:
            self.activity.pop(old_name, None)

    def remove_rule(self, name: str) -> None:
        self.set_rules([r for r in self._rules if r.name != name])
        self.activity.pop(name, None)
        self.errors.pop(name, None)

    def set_enabled(self, name: str, enabled: bool) -> None:
        rule = self.rule(name)
        if rule is None or rule.enabled == enabled:
            return
        rule.enabled = enabled
        self.set_rules(self._rules)
        self._note(name, "enabled" if enabled else "disabled")

    # -- watchers --
    def start(self) -> None:
        """Start watching every enabled rule (the window calls this once it is built)."""
        self._closing = False
        self._sync_watchers()

    def is_watching(self, name: str) -> bool:
        watcher = self._watchers.get(name)
        return watcher is not None and watcher.running

    def watcher(self, name: str) -> FolderWatcher | None:
        return self._watchers.get(name)

    def _store_for_watchers(self) -> HandledStore:
        if self._store is None:
            from vfxcopy.core.journal import open_journal
            from vfxcopy.core.watch import default_store

            self._journal = open_journal()
            self._store = default_store(self._journal)
        return self._store

    def _sync_watchers(self) -> None:
        wanted = {r.name: r for r in self._rules if r.enabled}
        for name in list(self._watchers):
            watcher = self._watchers[name]
            rule = wanted.get(name)
            if rule is None or rule.to_dict() != watcher.rule.to_dict():
                watcher.stop()
                del self._watchers[name]
        for name, rule in wanted.items():
            if name in self._watchers:
                continue
            problems = rule.problems()
            if problems:
                self.errors[name] = "; ".join(problems)
                self._note(name, "not watching: " + self.errors[name])
                continue
            try:
                store = self._store_for_watchers()
                watcher = FolderWatcher(
                    WatchRule.from_dict(rule.to_dict()),  # the watcher's own copy: edits never race it
                    self._from_thread_landed,
                    store=store,
                    clock=self.clock,
                    rescan_interval=self.rescan_interval,
                    on_activity=self._from_thread_activity,
                )
                watcher.start()
            except (OSError, WatchError) as exc:
                self.errors[name] = str(exc)
                self._note(name, f"not watching: {exc}")
                continue
            self.errors.pop(name, None)
            self._watchers[name] = watcher

    @Slot(object)
    def on_job_finished(self, result: JobResult) -> None:
        """Connected to the runner's job_finished.

        A job the user cancelled stays handled (they did not want it); one the
        window's shutdown cancelled is released, so the next start queues the
        frames it did not finish.
        """
        entry = self._unfinished.pop(result.job_id, None)
        if entry is None or not self._closing:
            return
        if result.state not in (JobState.CANCELLED, JobState.INTERRUPTED):
            return
        rule_name, spec = entry
        finished = {r.frame for r in result.frames if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED)}
        frames = [f for f in spec.selected_frames() if f not in finished]
        owner = self._stopped.get(rule_name)
        try:
            if owner is not None:
                owner.release(spec.source, frames)
            elif self._store is not None:
                release_frames(self._store, rule_name, spec.source, frames)
        except (OSError, VfxCopyError, sqlite3.Error) as exc:
            log.warning("watch %s: cannot re-queue %s for next time: %s", rule_name, spec.display_name(), exc)

    def shutdown(self) -> None:
        """Stop every watcher (the window calls this first when it closes).

        Sequences still settling, and jobs the closing window cancels (see
        on_job_finished), are queued again at the next start.
        """
        self._closing = True
        for name, watcher in self._watchers.items():
            watcher.stop()
            self._stopped[name] = watcher
        self._watchers.clear()
        # The runner reports the jobs it cancels right after this; close the journal after that.
        QTimer.singleShot(0, self, self._close_store)

    def _close_store(self) -> None:
        if self._journal is not None and not self._watchers:
            self._journal.close()
            self._journal = None
            self._store = None

    # -- callbacks from watcher threads: emit only --
    def _from_thread_landed(self, rule: WatchRule, sequence: Sequence, frames: list[int] | None) -> None:
        self._landed.emit((rule, sequence, frames))

    def _from_thread_activity(self, rule: WatchRule, text: str) -> None:
        self._activity.emit(rule, text)

    # -- GUI thread --
    @Slot(object)
    def _on_landed(self, item: tuple[WatchRule, Sequence, list[int] | None]) -> None:
        rule, sequence, frames = item
        if self.rule(rule.name) is None:
            return  # removed while the sequence was on its way
        try:
            spec = make_spec(rule, sequence, frames, copy=self._copy_options())
        except (WatchError, KeyError) as exc:
            self._note(rule.name, f"cannot queue {sequence.display()}: {exc}")
            return
        self._unfinished[spec.job_id] = (rule.name, spec)
        self.submit([spec])
        count = len(spec.selected_frames())
        what = f"{count} new frames" if frames is not None else f"{count} frames"
        self._note(rule.name, f"queued {sequence.display()} ({what})")

    @Slot(object, str)
    def _on_activity(self, rule: WatchRule, text: str) -> None:
        if text.startswith("landed "):
            return  # the "queued" note from _on_landed says more
        watcher = self._watchers.get(rule.name)
        if watcher is None or watcher.rule is not rule:
            # Said by a watcher stopped since (disabled, edited, removed), delivered late: it must
            # not overwrite what the stop said ("disabled"), nor speak for a newer watcher.
            return
        self._note(rule.name, text)

    def _note(self, name: str, text: str) -> None:
        self.activity[name] = Activity(text, time.time())
        self.activity_changed.emit(name)

    def _copy_options(self) -> CopyOptions:
        copy_options = getattr(self.settings, "copy_options", None)
        if callable(copy_options):
            options = copy_options()
            if isinstance(options, CopyOptions):
                return options
        return CopyOptions()
