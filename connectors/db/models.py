"""The app's own tables: volunteers and their console sessions, the handoff queue and who holds each
conversation, the messages of handed-off conversations, the audit log, and the Zalo channel's state.

Changing a table means a new Alembic revision in ``connectors/db/migrations/versions``.

Every table declares, in its ``info`` (``treated(...)`` in ``__table_args__``), what the retention
(``connectors/retention.py``) and a citizen's export / erase (``connectors/personal_data.py``) do with
its rows; both modules read these declarations, and ``undeclared()`` lists a table that has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored and read back as aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# ---- how each table is treated by the retention and by a citizen's export / erase

RETENTION = "retention"
PERSONAL_DATA = "personal_data"


@dataclass(frozen=True)
class Kept:
    """Left alone (by the retention, or by a citizen's export / erase), for the reason given."""

    why: str


@dataclass(frozen=True)
class PurgedByAge:
    """Rows whose ``column`` is older than the retention are deleted (``epoch``: a float of epoch
    seconds rather than a UTC datetime)."""

    column: str
    epoch: bool = False


@dataclass(frozen=True)
class WithParent:
    """Rows follow the row ``foreign_key`` points at: purged, exported and erased with it."""

    foreign_key: str


@dataclass(frozen=True)
class ByConversation:
    """Rows of one conversation, found by ``column``: exported (ordered by ``order_by``) and, when
    the citizen asks, deleted (``erase="delete"``) or kept with the conversation blanked
    (``erase="blank"``). ``zalo``: the column holds the bare Zalo user id of ``zalo:<id>``
    conversations, and other conversations have none."""

    column: str
    erase: Literal["delete", "blank"] = "delete"
    zalo: bool = False
    order_by: str = "id"


Retention = Kept | PurgedByAge | WithParent
PersonalData = Kept | ByConversation | WithParent


def treated(retention: Retention, personal_data: PersonalData) -> dict[str, Any]:
    """The ``__table_args__`` entry declaring how a table is treated (see the module's docstring)."""
    return {"info": {RETENTION: retention, PERSONAL_DATA: personal_data}}


def parent_column(table: Any, policy: WithParent) -> Any:
    """The column of the parent table that ``policy``'s foreign key points at."""
    (key,) = table.c[policy.foreign_key].foreign_keys
    return key.column


def declared(key: str, kind: type) -> list[tuple[Any, Any]]:
    """The app's tables whose ``key`` declaration is a ``kind``, each with that declaration."""
    return [
        (table, table.info[key]) for table in Base.metadata.sorted_tables
        if isinstance(table.info.get(key), kind)
    ]  # fmt: skip


def child_tables(key: str) -> list[tuple[Any, Any, Any]]:
    """The tables whose rows go with their parent's under ``key``: each with its column pointing at the
    parent and the parent's column it points at."""
    return [
        (table, table.c[policy.foreign_key], parent_column(table, policy))
        for table, policy in declared(key, WithParent)
    ]


def undeclared(metadata: Any) -> list[str]:
    """The tables of ``metadata`` that do not say how the retention or the export / erase treat them,
    or whose declaration cannot be applied (a missing column, a parent treated otherwise)."""
    kinds = {RETENTION: (Kept, PurgedByAge, WithParent), PERSONAL_DATA: (Kept, ByConversation, WithParent)}
    # What a child's parent must be: found by age, or by conversation.
    parent_kinds = {RETENTION: PurgedByAge, PERSONAL_DATA: ByConversation}
    problems = []
    for table in metadata.sorted_tables:
        for key, allowed in kinds.items():
            policy = table.info.get(key)
            if not isinstance(policy, allowed):
                problems.append(f"{table.name}: no {key} declaration")
                continue
            names = [
                getattr(policy, name)
                for name in ("column", "foreign_key", "order_by")
                if hasattr(policy, name)
            ]
            missing = [name for name in names if name not in table.c]
            problems += [f"{table.name}: {key} names no column {name!r}" for name in missing]
            if missing or not isinstance(policy, WithParent):
                continue
            if len(table.c[policy.foreign_key].foreign_keys) != 1:
                problems.append(f"{table.name}: {key} column {policy.foreign_key!r} is not one foreign key")
            elif not isinstance(parent_column(table, policy).table.info.get(key), parent_kinds[key]):
                problems.append(f"{table.name}: {key} parent is not {parent_kinds[key].__name__}")
    return problems


class Volunteer(Base):
    __tablename__ = "volunteers"
    __table_args__ = treated(
        Kept("the volunteers' accounts"), Kept("a volunteer's account, not a citizen's data")
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="volunteer")
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


class ConsoleSession(Base):
    """A logged-in browser: only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "console_sessions"
    __table_args__ = treated(
        Kept("they expire on their own (expires_at)"), Kept("a volunteer's login, not a citizen's data")
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    volunteer: Mapped[Volunteer] = relationship(lazy="joined")


class Handoff(Base):
    """One conversation in the volunteers' queue: waiting, held by a volunteer, or done."""

    __tablename__ = "handoffs"
    __table_args__ = treated(PurgedByAge("updated_at"), ByConversation("conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)  # waiting | assigned | released | closed
    topic: Mapped[str | None] = mapped_column(String(64), nullable=True)
    in_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_citizen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), nullable=True)

    holder: Mapped[Volunteer | None] = relationship(lazy="joined")


class Assignment(Base):
    """Who held a conversation, from when to when, and how it ended."""

    __tablename__ = "assignments"
    __table_args__ = treated(WithParent("handoff_id"), WithParent("handoff_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # taken_over | released | closed


class ConversationMessage(Base):
    """A turn of a handed-off conversation. ``pushed`` ones reach the channel outside a chat reply
    (a volunteer's message, the bot's joined/hand-back notices): the widget streams those."""

    __tablename__ = "conversation_messages"
    __table_args__ = treated(PurgedByAge("created_at"), ByConversation("conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    role: Mapped[str] = mapped_column(String(16))  # citizen | bot | volunteer
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    # The buttons of a pushed bot message ({"title", "payload"} each), so the widget can show them.
    buttons: Mapped[list | None] = mapped_column(JSON, nullable=True)
    pushed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = treated(PurgedByAge("at"), ByConversation("conversation_id", erase="blank"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ZaloMessage(Base):
    """A Zalo message received, until its answer went out (connectors/zalo/store.py); epoch seconds."""

    __tablename__ = "zalo_messages"
    __table_args__ = treated(
        PurgedByAge("received_at", epoch=True), ByConversation("user_id", zalo=True, order_by="received_at")
    )

    msg_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[float] = mapped_column(Float, index=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    given_up_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The replica answering it, until when (it renews the lease while it works on the message).
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class ZaloToken(Base):
    """The Zalo OA tokens (sealed with Fernet when the app has a key)."""

    __tablename__ = "zalo_tokens"
    __table_args__ = treated(
        Kept("the channel's credentials"), Kept("the channel's credentials, not a citizen's data")
    )

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


# ---- what citizens asked and said of the answers (analytics; texts are masked before they are stored)


class ChatTurn(Base):
    """One citizen message and how the bot answered it (``outcome``), for the province's analytics."""

    __tablename__ = "chat_turns"
    # Covers the analytics' queries over a window (migration 0005): they never read the texts.
    __table_args__ = (
        Index(
            "ix_chat_turns_window",
            "at",
            "channel",
            "outcome",
            "conversation_id",
            "procedure_code",
            "confidence",
        ),
        treated(PurgedByAge("at"), ByConversation("conversation_id")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # web | zalo
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    text_masked: Mapped[str] = mapped_column(Text)
    # answered | asked_back | not_found | not_understood | out_of_scope | other
    outcome: Mapped[str] = mapped_column(String(20), default="other", index=True)
    procedure_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    answer_text: Mapped[str | None] = mapped_column(Text, nullable=True)


class Feedback(Base):
    """A rating of an answer: up ("Hữu ích") or down ("Chưa đúng"), a down one with what was wrong."""

    __tablename__ = "feedback"
    __table_args__ = treated(PurgedByAge("at"), ByConversation("conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    # wrong_procedure | missing_info | outdated | other
    reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    comment_masked: Mapped[str | None] = mapped_column(Text, nullable=True)
    procedure_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    answer_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    question_masked: Mapped[str | None] = mapped_column(Text, nullable=True)


class Satisfaction(Base):
    """One answer to the SIPAS question: 5 rất hài lòng, 4 hài lòng, 3 bình thường, 2 không hài lòng,
    1 rất không hài lòng."""

    __tablename__ = "satisfaction"
    __table_args__ = treated(PurgedByAge("at"), ByConversation("conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    level: Mapped[int] = mapped_column(Integer)
    context: Mapped[str] = mapped_column(String(16), default="end")  # end | handoff


class ExtraPaperReport(Base):
    """A citizen's report that an office asked for papers the rules do not list."""

    __tablename__ = "extra_paper_reports"
    __table_args__ = treated(PurgedByAge("at"), ByConversation("conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    procedure_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    procedure_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    province: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    commune: Mapped[str | None] = mapped_column(String(160), nullable=True)
    place_text_masked: Mapped[str | None] = mapped_column(Text, nullable=True)
    asked_masked: Mapped[str] = mapped_column(Text)
