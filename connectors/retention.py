"""Retention: conversations and reports are kept ``TTHC_RETENTION_DAYS`` days (180 by default).

``purge`` deletes what is older than that from the app's database (the analytics tables: turns,
feedback, satisfaction, reports; the handoffs with their assignments and messages; the audit log; the
Zalo channel's message records) and from Rasa's SQL tracker store (SQLite by default, PostgreSQL with
``TTHC_TRACKER_STORE_URL``). The app runs it at start and then every ``TTHC_RETENTION_INTERVAL_HOURS``;
``tthc data purge`` runs it by hand. Each delete is ``WHERE time < cutoff``: replicas running it at the
same time do no harm.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from connectors.db import Database
from connectors.db.models import RETENTION, PurgedByAge, child_tables, declared
from connectors.settings import AppSettings

logger = logging.getLogger(__name__)

DAY = 24 * 3600.0
# The app's tables purged by age, with their declaration (``connectors/db/models.py``): a time column
# (aware UTC datetimes, or epoch seconds).
TIMED_TABLES: list[tuple[sa.Table, PurgedByAge]] = declared(RETENTION, PurgedByAge)
# The tables whose rows go with their parent's (purged first, since they point at it): each with its
# column pointing at the parent and the parent's column it points at.
CHILD_TABLES: list[tuple[sa.Table, sa.Column[Any], sa.Column[Any]]] = child_tables(RETENTION)


def tracker_database_url(settings: AppSettings) -> str:
    """Rasa's tracker store as an SQLAlchemy URL (the same place ``bot.rasa_server`` points Rasa at)."""
    if settings.tracker_store_url:
        parts = urlsplit(settings.tracker_store_url)
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    path = settings.tracker_db or settings.var_dir / "rasa-tracker.db"
    return f"sqlite:///{path.expanduser().resolve()}"


def tracker_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url)


def tracker_ready(connection: sa.Connection) -> bool:
    """Whether Rasa has created its ``events`` table yet (it does on its first start)."""
    return sa.inspect(connection).has_table("events")


def purge_tracker(url: str, max_age_seconds: float) -> int:
    """Delete the tracker events older than ``max_age_seconds``; the number of events deleted."""
    engine = tracker_engine(url)
    try:
        with engine.begin() as connection:
            if not tracker_ready(connection):
                return 0
            result = connection.execute(
                sa.text("DELETE FROM events WHERE timestamp < :cutoff"),
                {"cutoff": time.time() - max_age_seconds},
            )
            return result.rowcount or 0
    finally:
        engine.dispose()


def purge_app(database: Database, max_age_seconds: float) -> dict[str, int]:
    """Delete the app's rows older than ``max_age_seconds``; the number deleted per table."""
    now = time.time()
    cutoff = datetime.fromtimestamp(now - max_age_seconds, UTC)
    old = {table.name: _older(table, policy, now - max_age_seconds, cutoff) for table, policy in TIMED_TABLES}
    deleted: dict[str, int] = {}
    with database.session() as session:
        for table, column, parent in CHILD_TABLES:
            old_parents = sa.select(parent).where(old[parent.table.name])
            result = session.execute(sa.delete(table).where(column.in_(old_parents)))
            deleted[table.name] = result.rowcount or 0
        for table, _ in TIMED_TABLES:
            result = session.execute(sa.delete(table).where(old[table.name]))
            deleted[table.name] = result.rowcount or 0
    return deleted


def _older(table: sa.Table, policy: PurgedByAge, epoch_cutoff: float, cutoff: datetime) -> Any:
    """The condition on ``table``'s rows older than the cutoff."""
    column = table.c[policy.column]
    return column < (epoch_cutoff if policy.epoch else cutoff)


def purge(settings: AppSettings, database: Database | None = None) -> dict[str, int]:
    """Apply the retention to the app's database and the tracker store; failures are logged, never
    raised. The number of rows deleted per table (``events`` for the tracker store)."""
    max_age = settings.retention_days * DAY
    deleted: dict[str, int] = {}
    own = database is None
    try:
        database = database or Database(settings.database_url)
        deleted.update(purge_app(database, max_age))
    except Exception as error:
        logger.warning("Retention: the app's database could not be purged (%s)", type(error).__name__)
    finally:
        if own and database is not None:
            database.dispose()
    try:
        deleted["events"] = purge_tracker(tracker_database_url(settings), max_age)
    except Exception as error:
        logger.warning("Retention: the tracker store could not be purged (%s)", type(error).__name__)
    total = sum(deleted.values())
    if total:
        summary = ", ".join(f"{table} {count}" for table, count in deleted.items() if count)
        logger.info("Retention: rows older than %g days deleted (%s)", settings.retention_days, summary)
    return deleted
