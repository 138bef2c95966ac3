"""Retention: conversations are kept ``TTHC_RETENTION_DAYS`` days, in Rasa's tracker store too.

The app runs ``purge`` at start and then every ``TTHC_RETENTION_INTERVAL_HOURS``: Rasa's events older
than the cutoff are deleted from its SQL tracker store (SQLite by default, PostgreSQL with
``TTHC_TRACKER_STORE_URL``), and so are the Zalo channel's message records.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from connectors.settings import AppSettings

logger = logging.getLogger(__name__)

DAY = 24 * 3600.0


def tracker_database_url(settings: AppSettings) -> str:
    """Rasa's tracker store as an SQLAlchemy URL (the same place ``bot.rasa_server`` points Rasa at)."""
    if settings.tracker_store_url:
        parts = urlsplit(settings.tracker_store_url)
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    path = settings.tracker_db or settings.var_dir / "rasa-tracker.db"
    return f"sqlite:///{path.expanduser().resolve()}"


def purge_tracker(url: str, max_age_seconds: float) -> int:
    """Delete the tracker events older than ``max_age_seconds``; the number of events deleted."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            if not sa.inspect(connection).has_table("events"):
                return 0
            result = connection.execute(
                sa.text("DELETE FROM events WHERE timestamp < :cutoff"),
                {"cutoff": time.time() - max_age_seconds},
            )
            return result.rowcount or 0
    finally:
        engine.dispose()


def purge(settings: AppSettings) -> int:
    """Apply the retention to the tracker store; failures are logged, never raised."""
    try:
        deleted = purge_tracker(tracker_database_url(settings), settings.retention_days * DAY)
    except Exception as error:
        logger.warning("Retention: the tracker store could not be purged (%s)", type(error).__name__)
        return 0
    if deleted:
        days = settings.retention_days
        logger.info("Retention: %d tracker events older than %g days deleted", deleted, days)
    return deleted
