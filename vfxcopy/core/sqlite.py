"""sqlite3 as the journal uses it, without the DB-API layer's import of datetime.

`import sqlite3` loads the package's dbapi2 module, which imports `datetime` to register
its (deprecated) date and timestamp adapters: 6 M instructions of every start that keeps
a journal, 4% of a copy of ten frames. vfxcopy binds no dates (times are floats), and
what it uses (connect, Connection, Error and its subclasses) are the C module's own
classes, the very objects `sqlite3` re-exports: `except sqlite3.Error` catches the same
errors whichever way a module imported it. Where the C module is not there (another
interpreter), the package is used.

    from vfxcopy.core.sqlite import sqlite3
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    import sqlite3
else:
    try:
        import _sqlite3 as sqlite3
    except ImportError:  # pragma: no cover - CPython has it
        import sqlite3

__all__ = ["sqlite3"]
