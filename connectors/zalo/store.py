"""Durable state of the Zalo channel in the app's database: received messages with their answers, and
the OAuth tokens (tables ``zalo_messages`` and ``zalo_tokens``, see ``connectors.db.models``).

A message goes through these states, each committed before the next step starts:

1. received (``claim_message``): the webhook arrived; the citizen's text is kept;
2. answer known (``save_answer``): Rasa answered; the Zalo messages to send are kept, in order;
3. part sent (``mark_parts_sent``): after each Zalo message that went out, how many went out;
4. answered (``mark_answered``): every part went out; text and answer are no longer kept.
   Or given up (``mark_given_up``): it will never be answered (rate limited, refused by Zalo, held
   longer than the resume window); text and answer are dropped too.

A crash anywhere leaves the message pending: the next start asks Rasa again only when no answer was
saved yet, and sends only the parts not yet sent. An outage notice is never saved as an answer.
Replicas share the database, so a message id is claimed once across all of them; the replica that
answers a message holds a lease on it, renewed while it works, and another replica takes a pending
message over only once its lease ran out.

Tokens are encrypted with Fernet when a key is given (``TTHC_SECRET_KEY``). ``import_legacy`` moves
the state of the channel's former SQLite file (``TTHC_CONNECTORS_DB``) into the database once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from connectors.db import Database
from connectors.db.models import ZaloMessage, ZaloToken

logger = logging.getLogger(__name__)

_ENCRYPTED_PREFIX = "fernet:"


def private_file(path: Path) -> None:
    """Create ``path`` (and SQLite's companions when they exist) readable by the owner only."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(candidate, 0o600)


@dataclass(frozen=True)
class PendingMessage:
    """A message not answered yet; ``parts`` is None until Rasa's answer was saved."""

    msg_id: str
    user_id: str
    text: str
    parts: list[dict[str, Any]] | None = None
    parts_sent: int = 0


class ZaloStore:
    """Small synchronous store; each write is committed before the call returns."""

    def __init__(self, database: Database, secret_key: str = "") -> None:
        self.db = database
        self._fernet = Fernet(secret_key.encode()) if secret_key else None

    # ---- messages ---------------------------------------------------------------------------

    def claim_message(
        self, msg_id: str, user_id: str, text: str, owner: str | None = None, lease_seconds: float = 0.0
    ) -> bool:
        """True the first time a message id is seen, False for every later delivery of it (the
        primary key decides, across replicas). ``owner`` holds the message's lease from now on."""
        now = time.time()
        lease_until = now + lease_seconds if owner else None
        row = ZaloMessage(
            msg_id=msg_id, user_id=user_id, text=text, received_at=now,
            lease_owner=owner, lease_until=lease_until,
        )  # fmt: skip
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            return False
        return True

    def take_over(self, max_age_seconds: float, owner: str, lease_seconds: float) -> list[PendingMessage]:
        """Pending messages whose lease ran out (their replica died or stopped), now leased to
        ``owner``: each is taken by one replica only, whichever updates it first."""
        now = time.time()
        taken = []
        for message in self.pending_messages(max_age_seconds, leased_before=now):
            with self.db.session() as session:
                result = session.execute(
                    update(ZaloMessage)
                    .where(
                        ZaloMessage.msg_id == message.msg_id,
                        ZaloMessage.answered_at.is_(None),
                        ZaloMessage.given_up_at.is_(None),
                        or_(ZaloMessage.lease_until.is_(None), ZaloMessage.lease_until < now),
                    )
                    .values(lease_owner=owner, lease_until=now + lease_seconds)
                )
            if result.rowcount == 1:
                taken.append(message)
        return taken

    def renew_leases(self, msg_ids: list[str], owner: str, lease_seconds: float) -> None:
        self._set_leases(msg_ids, owner, lease_until=time.time() + lease_seconds)

    def release_leases(self, msg_ids: list[str], owner: str) -> None:
        """At a stop: what is left can be taken at once by a replica (or the next start)."""
        self._set_leases(msg_ids, owner, lease_owner=None, lease_until=None)

    def _set_leases(self, msg_ids: list[str], owner: str, **values: Any) -> None:
        """Change the leases ``owner`` still holds on ``msg_ids`` (not those taken over since)."""
        if not msg_ids:
            return
        with self.db.session() as session:
            session.execute(
                update(ZaloMessage)
                .where(ZaloMessage.msg_id.in_(msg_ids), ZaloMessage.lease_owner == owner)
                .values(**values)
            )

    def _update(self, msg_id: str, **values: Any) -> None:
        with self.db.session() as session:
            session.execute(update(ZaloMessage).where(ZaloMessage.msg_id == msg_id).values(**values))

    def save_answer(self, msg_id: str, parts: list[dict[str, Any]]) -> None:
        """The Zalo messages that make up the real answer, before the first of them is sent."""
        self._update(msg_id, answer=json.dumps(parts, ensure_ascii=False), parts_sent=0)

    def mark_parts_sent(self, msg_id: str, count: int) -> None:
        """``count`` parts of the saved answer went out."""
        self._update(msg_id, parts_sent=count)

    def mark_answered(self, msg_id: str) -> None:
        """Every part of the real answer went out: the citizen's text is no longer kept."""
        self._update(msg_id, answered_at=time.time(), text=None, answer=None)

    def mark_given_up(self, msg_id: str) -> None:
        """The message will not be answered; it is not retried and its text is dropped."""
        self._update(msg_id, given_up_at=time.time(), text=None, answer=None)

    def pending_messages(
        self, max_age_seconds: float, leased_before: float | None = None
    ) -> list[PendingMessage]:
        """Messages received within ``max_age_seconds`` that are neither answered nor given up (and
        with ``leased_before``, whose lease ran out before then)."""
        conditions = [
            ZaloMessage.answered_at.is_(None),
            ZaloMessage.given_up_at.is_(None),
            ZaloMessage.received_at >= time.time() - max_age_seconds,
        ]
        if leased_before is not None:
            conditions.append(or_(ZaloMessage.lease_until.is_(None), ZaloMessage.lease_until < leased_before))
        with self.db.session() as session:
            rows = session.scalars(
                select(ZaloMessage).where(*conditions).order_by(ZaloMessage.received_at)
            ).all()
            return [
                PendingMessage(
                    row.msg_id,
                    row.user_id,
                    row.text or "",
                    json.loads(row.answer) if row.answer else None,
                    row.parts_sent,
                )
                for row in rows
            ]

    def forget_messages_older_than(self, seconds: float) -> int:
        """Drop old message records (answered or not); Zalo stops retrying long before."""
        with self.db.session() as session:
            result = session.execute(
                delete(ZaloMessage).where(ZaloMessage.received_at < time.time() - seconds)
            )
            return int(result.rowcount or 0)

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
        with self.db.session() as session:
            row = session.get(ZaloToken, name)
            stored = (row.value, row.expires_at) if row else None
        value = self._open(stored[0]) if stored else None
        return (value, stored[1]) if stored and value is not None else None

    def set_token(self, name: str, value: str, expires_at: float | None = None) -> None:
        self._store_token(name, self._seal(value), expires_at)

    def _store_token(self, name: str, stored: str, expires_at: float | None) -> None:
        with self.db.session() as session:
            row = session.get(ZaloToken, name)
            if row is None:
                session.add(ZaloToken(name=name, value=stored, expires_at=expires_at, updated_at=time.time()))
            else:
                row.value, row.expires_at, row.updated_at = stored, expires_at, time.time()

    def delete_token(self, name: str) -> None:
        with self.db.session() as session:
            session.execute(delete(ZaloToken).where(ZaloToken.name == name))

    def close(self) -> None:
        """Nothing to close: the app owns the database."""

    # ---- the former SQLite file -------------------------------------------------------------

    def import_legacy(self, path: Path) -> bool:
        """Move the tokens and unfinished messages of the channel's former SQLite file into the
        database, once: the file is renamed ``*.imported`` afterwards. The refresh token works once,
        so losing the stored one would cut the channel off."""
        if not path.is_file() or _same_file(path, self.db):
            return False
        with sqlite3.connect(path) as legacy:
            tokens = legacy.execute("SELECT name, value, expires_at FROM zalo_tokens").fetchall()
            columns = {row[1] for row in legacy.execute("PRAGMA table_info(zalo_messages)")}
            wanted = [c for c in ("answer", "parts_sent", "given_up_at") if c in columns]
            messages = legacy.execute(
                "SELECT msg_id, user_id, text, received_at, answered_at"
                + "".join(f", {column}" for column in wanted)
                + " FROM zalo_messages"
            ).fetchall()
        for name, value, expires_at in tokens:
            self._store_token(name, value, expires_at)  # stored as it was: sealed or not
        with self.db.session() as session:
            known = set(session.scalars(select(ZaloMessage.msg_id)))
            for row in messages:
                if row[0] in known:
                    continue
                extra = dict(zip(wanted, row[5:], strict=True))
                session.add(
                    ZaloMessage(
                        msg_id=row[0], user_id=row[1], text=row[2], received_at=row[3], answered_at=row[4],
                        answer=extra.get("answer"), parts_sent=extra.get("parts_sent") or 0,
                        given_up_at=extra.get("given_up_at"),
                    )
                )  # fmt: skip
        path.rename(path.with_name(path.name + ".imported"))
        logger.info("Zalo state moved from %s into the app's database", path.name)
        return True


def _same_file(path: Path, database: Database) -> bool:
    name = database.engine.url.database if database.dialect == "sqlite" else None
    return bool(name) and Path(name).expanduser().resolve() == path.expanduser().resolve()
