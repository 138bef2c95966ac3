"""The Zalo channel's state in the app's database, on SQLite and PostgreSQL, and the one-time move of a
former connectors SQLite file into it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connectors.db import Database
from connectors.zalo.store import ZaloStore

pytestmark = pytest.mark.integration


def test_a_message_is_claimed_once_across_replicas_and_its_text_dropped_when_answered(
    app_db: Database,
) -> None:
    first, second = ZaloStore(app_db), ZaloStore(Database(app_db.url))
    assert first.claim_message("m1", "u1", "lệ phí bao nhiêu")
    assert not second.claim_message("m1", "u1", "lệ phí bao nhiêu")  # Zalo's retry reached another replica
    assert first.claim_message("m2", "u2", "nộp ở đâu")
    first.save_answer("m1", [{"text": "Phần 1"}, {"text": "Phần 2"}])
    first.mark_parts_sent("m1", 1)
    pending = {message.msg_id: message for message in second.pending_messages(3600)}
    assert pending["m1"].parts == [{"text": "Phần 1"}, {"text": "Phần 2"}] and pending["m1"].parts_sent == 1
    assert pending["m2"].parts is None and pending["m2"].text == "nộp ở đâu"
    first.mark_answered("m1")
    second.mark_given_up("m2")
    assert first.pending_messages(3600) == []
    assert first.forget_messages_older_than(-1) == 2
    second.db.dispose()


def test_tokens_are_sealed_and_unreadable_with_another_key(app_db: Database) -> None:
    key = Fernet.generate_key().decode()
    sealed = ZaloStore(app_db, key)
    sealed.set_token("refresh_token", "refresh-1")
    sealed.set_token("refresh_token", "refresh-2", expires_at=time.time() + 60)
    value, expires = sealed.get_token("refresh_token")
    assert value == "refresh-2" and expires is not None
    assert ZaloStore(app_db, Fernet.generate_key().decode()).get_token("refresh_token") is None
    assert ZaloStore(app_db).get_token("refresh_token") is None
    sealed.delete_token("refresh_token")
    assert sealed.get_token("refresh_token") is None


OLD_SCHEMA = """
CREATE TABLE zalo_messages (msg_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, text TEXT,
    received_at REAL NOT NULL, answered_at REAL);
CREATE TABLE zalo_tokens (name TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL,
    updated_at REAL NOT NULL);
"""


def test_a_former_connectors_file_is_moved_in_once(app_db: Database, tmp_path: Path) -> None:
    legacy = tmp_path / "connectors.db"
    with sqlite3.connect(legacy) as connection:
        connection.executescript(OLD_SCHEMA)
        connection.execute("INSERT INTO zalo_tokens VALUES ('refresh_token', 'refresh-7', NULL, 1.0)")
        connection.execute(
            "INSERT INTO zalo_messages VALUES ('m9', 'u9', 'còn chờ', ?, NULL)", (time.time(),)
        )
        connection.execute(
            "INSERT INTO zalo_messages VALUES ('m8', 'u8', NULL, ?, ?)", (time.time(), time.time())
        )
    store = ZaloStore(app_db)
    assert store.import_legacy(legacy)
    assert store.get_token("refresh_token") == ("refresh-7", None)  # the one usable refresh token survives
    assert [(m.msg_id, m.text) for m in store.pending_messages(3600)] == [("m9", "còn chờ")]
    assert not store.claim_message("m8", "u8", "")  # a retry of an answered message is still a duplicate
    assert not legacy.exists() and (tmp_path / "connectors.db.imported").is_file()
    assert not store.import_legacy(legacy)
