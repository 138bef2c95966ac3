"""The app's database on SQLite and PostgreSQL: migrations, accounts, lock-out, sessions, the queue."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from connectors.console import auth, queue
from connectors.console.queue import ConsoleActionError
from connectors.db import Database
from connectors.db.models import AuditEntry, ConsoleSession, Handoff, Volunteer, utcnow
from connectors.settings import PROJECT_ROOT, ConsoleSettings

pytestmark = pytest.mark.integration

PASSWORD = "mat-khau-dai-du-10"
SETTINGS = ConsoleSettings(max_failed_logins=3, lock_minutes=10)


def test_migrations_create_every_table_and_run_twice(app_db: Database) -> None:
    app_db.upgrade()
    assert app_db.revision() == "0003_zalo_leases"
    tables = set(inspect(app_db.engine).get_table_names())
    expected = {"volunteers", "console_sessions", "handoffs", "assignments", "conversation_messages"}
    assert expected | {"audit_log", "zalo_messages", "zalo_tokens", "alembic_version"} <= tables


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tthc.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def add(app_db: Database, username: str = "lan", role: str = "volunteer") -> Volunteer:
    with app_db.session() as session:
        return auth.add_volunteer(session, username, f"Tên {username}", role, PASSWORD)


def test_password_is_hashed_with_argon2_and_accounts_are_checked(app_db: Database) -> None:
    volunteer = add(app_db)
    assert volunteer.password_hash.startswith("$argon2id$")
    assert PASSWORD not in volunteer.password_hash
    with pytest.raises(auth.AccountError, match="đã có"):
        add(app_db)
    with app_db.session() as session, pytest.raises(auth.AccountError, match="10 ký tự"):
        auth.add_volunteer(session, "minh", "Minh", "volunteer", "ngan")
    with app_db.session() as session, pytest.raises(auth.AccountError, match="Vai trò"):
        auth.add_volunteer(session, "minh", "Minh", "admin", PASSWORD)


def login(app_db: Database, password: str, username: str = "lan") -> Volunteer:
    with app_db.session() as session:
        try:
            return auth.authenticate(session, username, password, SETTINGS)
        except auth.LoginRefusedError as refused:
            refused_error = refused
    raise refused_error  # outside the transaction, which committed the failed-login count


def test_wrong_password_then_lock_out_then_disabled(app_db: Database) -> None:
    add(app_db)
    assert login(app_db, PASSWORD).username == "lan"
    with pytest.raises(auth.LoginRefusedError) as unknown:
        login(app_db, PASSWORD, username="nobody")
    assert unknown.value.status == 401
    for _ in range(SETTINGS.max_failed_logins - 1):
        with pytest.raises(auth.LoginRefusedError) as wrong:
            login(app_db, "sai-mat-khau")
        assert wrong.value.status == 401 and wrong.value.message == auth.WRONG_CREDENTIALS
    with pytest.raises(auth.LoginRefusedError) as locked:
        login(app_db, "sai-mat-khau")
    assert locked.value.status == 423 and "tạm khóa" in locked.value.message
    with pytest.raises(auth.LoginRefusedError) as still_locked:
        login(app_db, PASSWORD)  # the right password does not open a locked account
    assert still_locked.value.status == 423
    with app_db.session() as session:
        session.scalar(select(Volunteer)).locked_until = utcnow() - timedelta(seconds=1)
    assert login(app_db, PASSWORD).failed_logins == 0
    with app_db.session() as session:
        auth.disable_volunteer(session, "lan")
    with pytest.raises(auth.LoginRefusedError) as disabled:
        login(app_db, PASSWORD)
    assert disabled.value.status == 403


def test_sessions_store_only_a_hash_and_expire(app_db: Database) -> None:
    volunteer = add(app_db)
    with app_db.session() as session:
        opened = auth.open_session(session, volunteer, SETTINGS)
    with app_db.session() as session:
        stored = session.scalars(select(ConsoleSession)).all()
        assert [row.token_hash for row in stored] == [auth.token_hash(opened.token)]
        assert auth.find_session(session, opened.token).volunteer.username == "lan"
        assert auth.find_session(session, "forged") is None
        stored[0].expires_at = utcnow() - timedelta(seconds=1)
    with app_db.session() as session:
        assert auth.find_session(session, opened.token) is None


def test_queue_take_take_over_and_hand_back(app_db: Database) -> None:
    lan, minh, boss = add(app_db, "lan"), add(app_db, "minh"), add(app_db, "boss", role="coordinator")
    with app_db.session() as session:
        queue.record(session, "zalo:42", "citizen", "Cho tôi gặp người thật")
        queue.enqueue(session, "zalo:42", "1.001193", in_hours=True)
        assert queue.enqueue(session, "zalo:42", None, in_hours=True).topic == "1.001193"  # one request
    with app_db.session() as session:
        [item] = queue.queue(session, 48)
        assert item["channel"] == "zalo" and item["topic"] == "1.001193"
        assert item["last_message"] == "Cho tôi gặp người thật" and item["status"] == "waiting"
        with pytest.raises(ConsoleActionError) as not_taken:
            queue.check_may_act(queue.open_handoff(session, "zalo:42"), lan)
        assert not_taken.value.status == 409
        queue.take(session, queue.open_handoff(session, "zalo:42"), lan, take_over=False)
    with app_db.session() as session:
        handoff = queue.open_handoff(session, "zalo:42")
        with pytest.raises(ConsoleActionError) as other:
            queue.check_may_act(handoff, minh)
        assert other.value.status == 403
        assert queue.check_may_act(handoff, boss) is handoff  # coordinators may act
        with pytest.raises(ConsoleActionError) as implicit:
            queue.take(session, handoff, minh, take_over=False)
        assert implicit.value.status == 409
        _, action = queue.take(session, handoff, minh, take_over=True)
        assert action == "take_over" and handoff.holder.username == "minh"
        queue.audit(session, minh, action, "zalo:42")
    with app_db.session() as session:
        handoff = queue.open_handoff(session, "zalo:42")
        handoff.last_citizen_at = utcnow() - timedelta(hours=49)
        assert queue.handoff_json(session, handoff, 48)["past_reply_window"]
        queue.finish(session, handoff, "released")
    with app_db.session() as session:
        assert queue.queue(session, 48) == []
        assert session.scalar(select(Handoff)).status == "released"
        assert [entry.action for entry in session.scalars(select(AuditEntry))] == ["take_over"]


def tthc(*args: str, database_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTHC_DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "knowledge.cli", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120,
    )  # fmt: skip


def test_volunteer_cli_add_list_disable(database_url: str) -> None:
    added = tthc("volunteer", "add", "Lan", "--name", "Nguyễn Thị Lan", "--role", "coordinator",
                 database_url=database_url, stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    short = tthc("volunteer", "add", "minh", "--name", "Minh", database_url=database_url, stdin="ngan\n")
    assert short.returncode == 2 and "10 ký tự" in short.stderr
    listed = tthc("volunteer", "list", database_url=database_url)
    assert "lan" in listed.stdout and "coordinator" in listed.stdout and "active" in listed.stdout
    assert tthc("volunteer", "disable", "lan", database_url=database_url).returncode == 0
    assert "disabled" in tthc("volunteer", "list", database_url=database_url).stdout
    assert tthc("volunteer", "disable", "khong-co", database_url=database_url).returncode == 1
