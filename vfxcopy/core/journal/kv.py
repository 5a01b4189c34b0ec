"""Small key/value records other modules keep in the journal (watch folders: the sequences they handled)."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager

from vfxcopy.core.journal.records import _fs, _unfs
from vfxcopy.core.sqlite import sqlite3

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any


class KeyValues:
    """The `kv` table (namespace, key, JSON value); mixed into Journal, which owns the connection."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def kv_set(self, namespace: str, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO kv (namespace, key, value, updated) VALUES (?, ?, ?, ?)
                   ON CONFLICT(namespace, key) DO UPDATE SET value=excluded.value, updated=excluded.updated""",
                (namespace, _fs(key), json.dumps(value, ensure_ascii=True), time.time()),
            )

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        row = self._conn().execute(
            "SELECT value FROM kv WHERE namespace=? AND key=?", (namespace, _fs(key))
        ).fetchone()
        return json.loads(row[0]) if row else default

    def kv_delete(self, namespace: str, key: str | None = None) -> int:
        """Delete one key, or the whole namespace when `key` is None."""
        with self._tx() as conn:
            if key is None:
                cur = conn.execute("DELETE FROM kv WHERE namespace=?", (namespace,))
            else:
                cur = conn.execute("DELETE FROM kv WHERE namespace=? AND key=?", (namespace, _fs(key)))
            return int(cur.rowcount)

    def kv_items(self, namespace: str) -> dict[str, Any]:
        rows = self._conn().execute("SELECT key, value FROM kv WHERE namespace=?", (namespace,)).fetchall()
        return {_unfs(k): json.loads(v) for k, v in rows}
