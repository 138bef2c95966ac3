"""bot.tracker_store: the same rows as Rasa's SQL store, without a count query on each save.

A real SQLite file and Rasa's own tracker and events; the statements are those SQLAlchemy sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import SQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  topic:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "hi"}]
"""
)


@pytest.fixture
def store(tmp_path: Path) -> SQLTrackerStore:
    return SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"))


@pytest.fixture
def statements(store: SQLTrackerStore) -> Iterator[list[str]]:
    sent: list[str] = []
    listener = lambda conn, cursor, sql, *rest: sent.append(" ".join(sql.split()))  # noqa: E731
    sa.event.listen(store.engine, "before_cursor_execute", listener)
    yield sent
    sa.event.remove(store.engine, "before_cursor_execute", listener)


def turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(SlotSet("topic", text))
    tracker.update(ActionExecuted("action_listen"))


def rows(store: SQLTrackerStore, sender: str) -> list[dict]:
    with store.session_scope() as session:
        query = session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender)
        return [json.loads(row.data) for row in query.order_by(store.SQLEvent.id)]


def counts(sent: list[str]) -> list[str]:
    return [sql for sql in sent if "count(" in sql.lower()]


def test_turns_are_stored_once_each_without_a_count_query(
    store: SQLTrackerStore, statements: list[str]
) -> None:
    tracker = asyncio.run(store.get_or_create_tracker("a", append_action_listen=False))
    tracker.update(SessionStarted())
    turn(tracker, "first")
    asyncio.run(store.save(tracker))
    for text in ("second", "third"):
        tracker = asyncio.run(store.retrieve("a"))
        turn(tracker, text)
        asyncio.run(store.save(tracker))
        asyncio.run(store.save(tracker))  # a second save of the same tracker adds nothing
    assert counts(statements) == []
    stored = rows(store, "a")
    assert [e.get("text") for e in stored if e["event"] == "user"] == ["first", "second", "third"]
    assert stored == [event.as_dict() for event in asyncio.run(store.retrieve("a")).events]


def test_a_new_session_is_stored_after_the_old_one(store: SQLTrackerStore, statements: list[str]) -> None:
    tracker = asyncio.run(store.get_or_create_tracker("b", append_action_listen=False))
    turn(tracker, "old session")
    asyncio.run(store.save(tracker))
    tracker = asyncio.run(store.retrieve("b"))
    tracker.update(SessionStarted())
    turn(tracker, "new session")
    asyncio.run(store.save(tracker))
    turn(tracker, "again")
    asyncio.run(store.save(tracker))
    assert counts(statements) == []
    assert len(rows(store, "b")) == 4 + 1 + 4 + 4
    latest = asyncio.run(store.retrieve("b"))
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["new session", "again"]


def test_a_tracker_built_elsewhere_is_counted_as_rasa_does(
    store: SQLTrackerStore, statements: list[str]
) -> None:
    tracker = asyncio.run(store.get_or_create_tracker("c", append_action_listen=False))
    turn(tracker, "first")
    asyncio.run(store.save(tracker))
    rebuilt = DialogueStateTracker.from_dict("c", [e.as_dict() for e in tracker.events], DOMAIN.slots)
    turn(rebuilt, "second")
    asyncio.run(store.save(rebuilt))
    assert len(counts(statements)) == 1
    reference = RasaSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(store.engine.url.database))
    assert [e.get("text") for e in rows(reference, "c") if e["event"] == "user"] == ["first", "second"]


def test_a_row_rasa_cannot_read_back_does_not_hide_a_new_event(
    store: SQLTrackerStore, statements: list[str]
) -> None:
    tracker = asyncio.run(store.get_or_create_tracker("d", append_action_listen=False))
    turn(tracker, "first")
    asyncio.run(store.save(tracker))
    with store.session_scope() as session:  # a row without an event: Rasa skips it when reading
        session.add(store.SQLEvent(sender_id="d", type_name="x", timestamp=0.0, data=json.dumps({"x": 1})))
        session.commit()
    tracker = asyncio.run(store.retrieve("d"))
    assert len(tracker.events) == len(rows(store, "d")) - 1
    turn(tracker, "second")
    asyncio.run(store.save(tracker))
    assert counts(statements) == []
    # Rasa's count (5 rows) would skip the first new event, the message "second".
    assert [e.get("text") for e in rows(store, "d") if e.get("event") == "user"] == ["first", "second"]


def test_a_store_that_cannot_start_fails_rather_than_keeping_conversations_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rasa.core import tracker_store
    from rasa.utils.endpoints import EndpointConfig

    def missing_driver(self, *args, **kwargs) -> None:
        raise ImportError("No module named 'psycopg2'")

    store_type = "bot.tracker_store.SQLTrackerStore"
    config = EndpointConfig(type=store_type, dialect="sqlite", db=str(tmp_path / "t.db"))
    assert isinstance(tracker_store.create_tracker_store(config, DOMAIN), SQLTrackerStore)
    monkeypatch.setattr(RasaSQLTrackerStore, "__init__", missing_driver)
    with pytest.raises(RuntimeError, match="psycopg2"):
        tracker_store.create_tracker_store(config, DOMAIN)
