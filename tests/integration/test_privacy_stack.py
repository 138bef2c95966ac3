"""Privacy through the whole product (the ``stack`` fixture: Rasa, the actions, the app under
supervisord): masking before anything is stored or logged, the retention purge, and a citizen's export
and erasure with `tthc data`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.db import Database
from connectors.db.models import ChatTurn, ExtraPaperReport, Feedback, Satisfaction, utcnow
from connectors.run import Stack
from connectors.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

PHONE = "0912345678"
CCCD = "001099012345"


def tracker_path(stack: Stack) -> Path:
    return stack.tracker_db or stack.state_dir / "rasa-tracker.db"


def tracker_events(stack: Stack, sender: str) -> list[tuple[str, str]]:
    with sqlite3.connect(tracker_path(stack)) as connection:
        query = "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id"
        return list(connection.execute(query, (sender,)))


def app_rows(stack: Stack, model: Any, sender: str) -> list[Any]:
    database = Database(stack.database_url)
    try:
        with database.session() as session:
            return list(session.scalars(sa.select(model).where(model.conversation_id == sender)))
    finally:
        database.dispose()


def tthc(stack: Stack, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TTHC_DATABASE_URL": stack.database_url,
        "TTHC_TRACKER_DB": str(tracker_path(stack)),
        "TTHC_VAR_DIR": str(tmp_path),
    }
    command = [str(Path(sys.executable).with_name("tthc")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def text_cells(database_url: str) -> list[str]:
    """Every text value of every table of the app's database."""
    database = Database(database_url)
    cells: list[str] = []
    try:
        inspector = sa.inspect(database.engine)
        with database.engine.connect() as connection:
            for table in inspector.get_table_names():
                columns = [column["name"] for column in inspector.get_columns(table)]
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                    cells += [str(value) for value in row if value is not None]
                assert columns
    finally:
        database.dispose()
    return cells


def test_a_phone_and_a_cccd_number_reach_no_table_and_no_log(stack: Stack, talk, sender_id: str) -> None:
    talk(sender_id, f"Tôi muốn đăng ký tạm trú, số điện thoại {PHONE}, căn cước {CCCD}")
    talk(sender_id, f"gọi lại cho tôi: {PHONE[:4]} {PHONE[4:7]} {PHONE[7:]}")
    [first, second] = app_rows(stack, ChatTurn, sender_id)
    assert "[SĐT]" in first.text_masked and "[SỐ CCCD]" in first.text_masked
    assert second.text_masked == "gọi lại cho tôi: [SĐT]"
    # The bot's answer is stored too, and it is that conversation's (not empty, masked as well).
    assert first.answer_text and first.channel == "web"

    for cell in text_cells(stack.database_url):
        assert PHONE not in cell.replace(" ", "") and CCCD not in cell
    database_file = Path(stack.database_url.removeprefix("sqlite:///"))
    for path in database_file.parent.glob(database_file.name + "*"):  # the file and its WAL
        raw = path.read_bytes()
        assert PHONE.encode() not in raw and CCCD.encode() not in raw, path
    logs = [path for path in stack.state_dir.rglob("*") if path.is_file() and ".log" in path.name]
    assert any(path.name == "app.log" for path in logs)
    for path in logs:
        raw = path.read_bytes()
        assert PHONE.encode() not in raw and CCCD.encode() not in raw, path


def _age(stack: Stack, sender: str, days: float) -> None:
    """Move a conversation ``days`` back in time, in the app's tables and in the tracker store."""
    past = utcnow() - timedelta(days=days)
    database = Database(stack.database_url)
    with database.session() as session:
        session.add(Feedback(conversation_id=sender, channel="web", at=past, rating="up"))
        session.add(Satisfaction(conversation_id=sender, channel="web", at=past, level=5))
        session.add(
            ExtraPaperReport(
                reference=f"PA-OLD-{uuid.uuid4().hex[:6]}", conversation_id=sender, channel="web", at=past,
                asked_masked="bản sao sổ hộ khẩu",
            )
        )  # fmt: skip
        session.execute(sa.update(ChatTurn).where(ChatTurn.conversation_id == sender).values(at=past))
    database.dispose()
    with sqlite3.connect(tracker_path(stack)) as connection:
        query = "UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?"
        connection.execute(query, (days * 86400, sender))


def test_purge_removes_what_is_older_than_the_retention_from_the_app_and_the_tracker(
    stack: Stack, talk, tmp_path: Path
) -> None:
    old, recent = f"test-old-{uuid.uuid4().hex[:8]}", f"test-new-{uuid.uuid4().hex[:8]}"
    talk(old, "đăng ký khai sinh cần gì")
    talk(recent, "đăng ký khai sinh cần gì")
    _age(stack, old, 200)
    assert tracker_events(stack, old) and app_rows(stack, ChatTurn, old)

    done = tthc(stack, tmp_path, "data", "purge")
    assert "Older than 180 days" in done.stdout

    assert tracker_events(stack, old) == []
    for model in (ChatTurn, Feedback, Satisfaction, ExtraPaperReport):
        assert app_rows(stack, model, old) == [], model.__tablename__
    assert tracker_events(stack, recent) and app_rows(stack, ChatTurn, recent)


def test_export_then_delete_one_conversation(stack: Stack, talk, tmp_path: Path) -> None:
    sender, other = f"test-me-{uuid.uuid4().hex[:8]}", f"test-other-{uuid.uuid4().hex[:8]}"
    talk(sender, "thủ tục đăng ký tạm trú")
    talk(other, "thủ tục đăng ký tạm trú")
    _age(stack, sender, 1)  # adds a rating, a satisfaction answer and a report (recent: kept by the purge)

    exported_file = tmp_path / "export.json"
    tthc(stack, tmp_path, "data", "export", sender, "--output", str(exported_file))
    assert exported_file.stat().st_mode & 0o777 == 0o600
    exported = json.loads(exported_file.read_text(encoding="utf-8"))
    assert exported["sender_id"] == sender
    app = exported["app"]
    assert [turn["text_masked"] for turn in app["chat_turns"]] == ["thủ tục đăng ký tạm trú"]
    assert len(app["feedback"]) == len(app["satisfaction"]) == len(app["extra_paper_reports"]) == 1
    user_events = [event for event in exported["tracker_events"] if event["type_name"] == "user"]
    assert [event["data"]["text"] for event in user_events] == ["thủ tục đăng ký tạm trú"]

    done = tthc(stack, tmp_path, "data", "delete", sender, "--yes")
    assert f"Erased {sender}" in done.stdout
    assert tracker_events(stack, sender) == []
    for model in (ChatTurn, Feedback, Satisfaction, ExtraPaperReport):
        assert app_rows(stack, model, sender) == []
    assert tracker_events(stack, other) and app_rows(stack, ChatTurn, other)
    after = json.loads(tthc(stack, tmp_path, "data", "export", sender).stdout)
    assert after["tracker_events"] == [] and not any(after["app"].values())
    # The conversation starts afresh.
    assert talk(sender, "xin chào")
