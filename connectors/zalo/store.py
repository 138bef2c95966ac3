"""Durable state of the Zalo channel in SQLite: received messages with their answers, and the OAuth tokens.

A message goes through these states, each committed before the next step starts:

1. received (``claim_message``): the webhook arrived; the citizen's text is kept;
2. answer known (``save_answer``): Rasa answered; the Zalo messages to send are kept, in order;
3. part sent (``mark_parts_sent``): after each Zalo message that went out, how many went out;
4. answered (``mark_answered``): every part went out; text and answer are no longer kept.
   Or given up (``mark_given_up``): it will never be answered (rate limited, refused by Zalo, held
   longer than the resume window); text and answer are dropped too.

A crash anywhere leaves the message pending: the next start asks Rasa again only when no answer was
saved yet, and sends only the parts not yet sent. An outage notice is never saved as an answer.

Tokens are encrypted with Fernet when a key is given (``TTHC_SECRET_KEY``); the file is 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

SCHEMA = """
CREATE TABLE IF NOT EXISTS zalo_messages (
    msg_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    text TEXT,
    received_at REAL NOT NULL,
    answer TEXT,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    answered_at REAL,
    given_up_at REAL
);
CREATE TABLE IF NOT EXISTS zalo_tokens (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL,
    updated_at REAL NOT NULL
);
"""
# Columns added after the first release, for databases created before them.
_ADDED_COLUMNS = {
    "answer": "TEXT",
    "parts_sent": "INTEGER NOT NULL DEFAULT 0",
    "given_up_at": "REAL",
}
_ENCRYPTED_PREFIX = "fernet:"


@dataclass(frozen=True)
class PendingMessage:
    """A message not answered yet; ``parts`` is None until Rasa's answer was saved."""

    msg_id: str
    user_id: str
    text: str
    parts: list[dict[str, Any]] | None = None
    parts_sent: int = 0


def private_file(path: Path) -> None:
    """Create ``path`` (and SQLite's companions when they exist) readable by the owner only."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(candidate, 0o600)


class ZaloStore:
    """Small synchronous store; each write is committed before the call returns."""

    def __init__(self, path: Path | str, secret_key: str = "") -> None:
        self.path = Path(path)
        self._fernet = Fernet(secret_key.encode()) if secret_key else None
        in_memory = str(path) == ":memory:"
        if not in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        existing = {row[1] for row in self._db.execute("PRAGMA table_info(zalo_messages)")}
        for column, definition in _ADDED_COLUMNS.items():
            if column not in existing:
                self._db.execute(f"ALTER TABLE zalo_messages ADD COLUMN {column} {definition}")
        if not in_memory:
            private_file(self.path)

    # ---- messages ---------------------------------------------------------------------------

    def claim_message(self, msg_id: str, user_id: str, text: str) -> bool:
        """True the first time a message id is seen, False for every later delivery of it."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO zalo_messages (msg_id, user_id, text, received_at) "
                "VALUES (?, ?, ?, ?)",
                (msg_id, user_id, text, time.time()),
            )
            return cursor.rowcount == 1

    def save_answer(self, msg_id: str, parts: list[dict[str, Any]]) -> None:
        """The Zalo messages that make up the real answer, before the first of them is sent."""
        with self._lock:
            self._db.execute(
                "UPDATE zalo_messages SET answer = ?, parts_sent = 0 WHERE msg_id = ?",
                (json.dumps(parts, ensure_ascii=False), msg_id),
            )

    def mark_parts_sent(self, msg_id: str, count: int) -> None:
        """``count`` parts of the saved answer went out."""
        with self._lock:
            self._db.execute("UPDATE zalo_messages SET parts_sent = ? WHERE msg_id = ?", (count, msg_id))

    def mark_answered(self, msg_id: str) -> None:
        """Every part of the real answer went out: the citizen's text is no longer kept."""
        self._finish(msg_id, "answered_at")

    def mark_given_up(self, msg_id: str) -> None:
        """The message will not be answered; it is not retried and its text is dropped."""
        self._finish(msg_id, "given_up_at")

    def _finish(self, msg_id: str, column: str) -> None:
        with self._lock:
            self._db.execute(
                f"UPDATE zalo_messages SET {column} = ?, text = NULL, answer = NULL WHERE msg_id = ?",
                (time.time(), msg_id),
            )

    def pending_messages(self, max_age_seconds: float) -> list[PendingMessage]:
        """Messages received within ``max_age_seconds`` that are neither answered nor given up."""
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, user_id, text, answer, parts_sent FROM zalo_messages "
                "WHERE answered_at IS NULL AND given_up_at IS NULL AND received_at >= ? "
                "ORDER BY received_at",
                (time.time() - max_age_seconds,),
            ).fetchall()
        return [
            PendingMessage(msg_id, user_id, text or "", json.loads(answer) if answer else None, parts_sent)
            for msg_id, user_id, text, answer, parts_sent in rows
        ]

    def forget_messages_older_than(self, seconds: float) -> int:
        """Drop old message records (answered or not); Zalo stops retrying long before."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM zalo_messages WHERE received_at < ?", (time.time() - seconds,)
            )
            return cursor.rowcount

    # ---- tokens -----------------------------------------------------------------------------

    def _seal(self, value: str) -> str:
        if self._fernet is None:
            return value
        return _ENCRYPTED_PREFIX + self._fernet.encrypt(value.encode()).decode()

    def _open(self, stored: str) -> str | None:
        if not stored.startswith(_ENCRYPTED_PREFIX):
            return stored
        if self._fernet is None:
            return None
        try:
            return self._fernet.decrypt(stored[len(_ENCRYPTED_PREFIX) :].encode()).decode()
        except InvalidToken:
            return None

    def get_token(self, name: str) -> tuple[str, float | None] | None:
        """The token and its expiry; None when absent or sealed with another key."""
        with self._lock:
            row = self._db.execute(
                "SELECT value, expires_at FROM zalo_tokens WHERE name = ?", (name,)
            ).fetchone()
        value = self._open(row[0]) if row else None
        return (value, row[1]) if value is not None else None

    def set_token(self, name: str, value: str, expires_at: float | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO zalo_tokens (name, value, expires_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (name, self._seal(value), expires_at, time.time()),
            )

    def delete_token(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM zalo_tokens WHERE name = ?", (name,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
