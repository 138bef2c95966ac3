"""Durable state of the Zalo channel in SQLite: handled message ids and the OAuth tokens."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS zalo_handled_messages (
    msg_id TEXT PRIMARY KEY,
    handled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS zalo_tokens (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL,
    updated_at REAL NOT NULL
);
"""


class ZaloStore:
    """Small synchronous store; each write is committed before the call returns."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def claim_message(self, msg_id: str) -> bool:
        """True the first time a message id is seen, False for every later delivery of it."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO zalo_handled_messages (msg_id, handled_at) VALUES (?, ?)",
                (msg_id, time.time()),
            )
            return cursor.rowcount == 1

    def forget_messages_older_than(self, seconds: float) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM zalo_handled_messages WHERE handled_at < ?", (time.time() - seconds,)
            )
            return cursor.rowcount

    def get_token(self, name: str) -> tuple[str, float | None] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, expires_at FROM zalo_tokens WHERE name = ?", (name,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def set_token(self, name: str, value: str, expires_at: float | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO zalo_tokens (name, value, expires_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (name, value, expires_at, time.time()),
            )

    def delete_token(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM zalo_tokens WHERE name = ?", (name,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
