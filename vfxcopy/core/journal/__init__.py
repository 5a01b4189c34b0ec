"""SQLite journal of jobs and per-frame results: history, crash recovery and resume (see store.py)."""

from __future__ import annotations

from vfxcopy.core.journal.owner import (
    _HOST,
    _MACHINE,
    _OWN_START,
    data_dir,
    default_journal_path,
    process_alive,
    process_start_time,
    same_machine,
)
from vfxcopy.core.journal.recorder import FrameRecorder
from vfxcopy.core.journal.schema import (
    ACTIVE_STATES,
    FINISHED_STATES,
    JOURNAL_FILE,
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalError,
    migrate,
)
from vfxcopy.core.journal.store import Journal, open_journal, remove_temps

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.journal.rows import JournalFrame, JournalJob


def __getattr__(name: str) -> object:
    """JournalFrame and JournalJob (rows.py), made on first use: a copy writes rows and never reads them back."""
    if name in ("JournalFrame", "JournalJob"):
        from vfxcopy.core.journal import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVE_STATES", "FINISHED_STATES", "JOURNAL_FILE", "MIGRATIONS", "SCHEMA_VERSION", "_HOST", "_MACHINE",
    "_OWN_START", "FrameRecorder", "Journal", "JournalError", "JournalFrame", "JournalJob", "data_dir",
    "default_journal_path", "migrate", "open_journal", "process_alive", "process_start_time", "remove_temps",
    "same_machine",
]
