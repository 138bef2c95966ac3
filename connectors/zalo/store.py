"""Durable state of the Zalo channel in SQLite: received messages and the OAuth tokens.

A message is recorded when its webhook arrives and marked answered once the reply went out (or was
given up). Its text is kept only until then, so a crash in between loses nothing: the next start
answers what is still unanswered.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS zalo_messages (
    msg_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    text TEXT,
    received_at REAL NOT NULL,
    answered_at REAL
);
CREATE TABLE IF NOT EXISTS zalo_tokens (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL,
    updated_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class UnansweredMessage:
    msg_id: str
    user_id: str
    text: str


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

    def claim_message(self, msg_id: str, user_id: str, text: str) -> bool:
        """True the first time a message id is seen, False for every later delivery of it."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO zalo_messages (msg_id, user_id, text, received_at) "
                "VALUES (?, ?, ?, ?)",
                (msg_id, user_id, text, time.time()),
            )
            return cursor.rowcount == 1

    def mark_answered(self, msg_id: str) -> None:
        """The reply went out (or was given up): the citizen's text is no longer kept."""
        with self._lock:
            self._db.execute(
                "UPDATE zalo_messages SET answered_at = ?, text = NULL WHERE msg_id = ?",
                (time.time(), msg_id),
            )

    def unanswered_messages(self, max_age_seconds: float) -> list[UnansweredMessage]:
        """Messages received within ``max_age_seconds`` whose reply never went out, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, user_id, text FROM zalo_messages "
                "WHERE answered_at IS NULL AND received_at >= ? ORDER BY received_at",
                (time.time() - max_age_seconds,),
            ).fetchall()
        return [UnansweredMessage(msg_id, user_id, text or "") for msg_id, user_id, text in rows]

    def forget_messages_older_than(self, seconds: float) -> int:
        """Drop old message records (answered or not); Zalo stops retrying long before."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM zalo_messages WHERE received_at < ?", (time.time() - seconds,)
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
