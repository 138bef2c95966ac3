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


def all_rows(store: SQLTrackerStore) -> list[tuple]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text("SELECT * FROM events ORDER BY id"))]


def stamped_turn(tracker: DialogueStateTracker, text: str) -> None:
    """A turn whose events carry timestamps of their own (after the tracker's), not the clock's."""
    start = tracker.events[-1].timestamp + 1 if tracker.events else 1_700_000_000.0
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=start))
    tracker.update(ActionExecuted("utter_greet", timestamp=start + 0.25))
    tracker.update(SlotSet("topic", text, timestamp=start + 0.5))
    tracker.update(ActionExecuted("action_listen", timestamp=start + 0.75))


def conversation(store: RasaSQLTrackerStore, sender: str) -> None:
    """Two sessions of turns, saved after each turn, read back before each."""
    tracker = asyncio.run(store.get_or_create_tracker(sender, append_action_listen=False))
    tracker.update(SessionStarted(timestamp=1_600_000_000.0))
    stamped_turn(tracker, "first")
    asyncio.run(store.save(tracker))
    tracker = asyncio.run(store.retrieve(sender))
    stamped_turn(tracker, "second")
    tracker.update(SessionStarted(timestamp=tracker.events[-1].timestamp + 1))
    stamped_turn(tracker, "new session")
    asyncio.run(store.save(tracker))


def test_the_rows_are_rasas_own_in_one_insert_a_save(tmp_path: Path) -> None:
    ours = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db"))
    sent: list[str] = []
    sa.event.listen(ours.engine, "before_cursor_execute", lambda _c, _k, sql, *rest: sent.append(sql))
    conversation(ours, "e")
    rasas = RasaSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    conversation(rasas, "e")
    assert len(all_rows(ours)) == 1 + 4 + 4 + 1 + 4
    assert all_rows(ours) == all_rows(rasas)  # ids, senders, types, timestamps, intents, actions, data
    # The ORM inserts row by row on SQLite (it reads each id back): 14 rows in 14 statements.
    assert [sql.split()[0] for sql in sent if sql.startswith("INSERT")] == ["INSERT", "INSERT"]


def test_a_conversation_reads_back_as_rasa_reads_it(tmp_path: Path) -> None:
    store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "read.db"))
    sent: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda _c, _k, sql, *rest: sent.append(sql))
    conversation(store, "f")
    conversation(store, "g")
    rasas = RasaSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "read.db"))
    for sender in ("f", "g", "nobody"):
        for method in ("retrieve", "retrieve_full_tracker"):
            ours, theirs = (asyncio.run(getattr(s, method)(sender)) for s in (store, rasas))
            assert (ours and ours.current_state()) == (theirs and theirs.current_state())
            assert (ours and [e.as_dict() for e in ours.events]) == (
                theirs and [e.as_dict() for e in theirs.events]
            )
    full, latest = asyncio.run(store.retrieve_full_tracker("f")), asyncio.run(store.retrieve("f"))
    assert len(full.events) > len(latest.events)  # both queries were tried
    selects = [" ".join(sql.split()) for sql in sent if sql.lstrip().startswith("SELECT")]
    assert selects and all(sql.startswith("SELECT events.data FROM") for sql in selects)
