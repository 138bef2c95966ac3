"""The handoff queue in the database: requests, who holds them, their messages, the audit log.

Plain functions over a SQLAlchemy session; ``connectors.console.desk`` calls them in a thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.db.models import Assignment, AuditEntry, ConversationMessage, Handoff, Volunteer, utcnow

OPEN_STATUSES = ("waiting", "assigned")
ZALO_PREFIX = "zalo:"
LAST_MESSAGES = 3


class ConsoleActionError(Exception):
    """A console action that cannot be done now, with the message the volunteer sees."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def channel_of(conversation_id: str) -> str:
    return "zalo" if conversation_id.startswith(ZALO_PREFIX) else "web"


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    query = (
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
        .order_by(Handoff.id.desc())
    )
    return session.scalars(query).first()


def latest_handoff(session: Session, conversation_id: str) -> Handoff | None:
    query = select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc())
    return session.scalars(query).first()


def record(
    session: Session,
    conversation_id: str,
    role: str,
    text: str,
    author: str | None = None,
    pushed: bool = False,
    buttons: list[dict[str, str]] | None = None,
) -> ConversationMessage:
    message = ConversationMessage(
        conversation_id=conversation_id, role=role, text=text, author=author, pushed=pushed, buttons=buttons
    )
    session.add(message)
    session.flush()
    return message


def audit(
    session: Session,
    volunteer: Volunteer | None,
    action: str,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            volunteer_id=volunteer.id if volunteer else None,
            actor=volunteer.username if volunteer else "system",
            action=action,
            conversation_id=conversation_id,
            detail=detail,
        )
    )


def enqueue(session: Session, conversation_id: str, topic: str | None, in_hours: bool) -> Handoff:
    """The open request for this conversation, created if there is none."""
    now = utcnow()
    handoff = open_handoff(session, conversation_id)
    if handoff is None:
        handoff = Handoff(
            conversation_id=conversation_id,
            channel=channel_of(conversation_id),
            status="waiting",
            requested_at=now,
        )
        session.add(handoff)
    handoff.topic = topic or handoff.topic
    handoff.in_hours = in_hours
    handoff.updated_at = handoff.last_citizen_at = now
    session.flush()
    return handoff


def touch(handoff: Handoff, citizen: bool = False) -> None:
    handoff.updated_at = utcnow()
    if citizen:
        handoff.last_citizen_at = handoff.updated_at


def _end_assignment(session: Session, handoff: Handoff, how: str) -> None:
    current = session.scalars(
        select(Assignment).where(Assignment.handoff_id == handoff.id, Assignment.ended_at.is_(None))
    ).all()
    for assignment in current:
        assignment.ended_at, assignment.ended_by = utcnow(), how


def check_may_act(handoff: Handoff | None, volunteer: Volunteer, needs_holder: bool = True) -> Handoff:
    """Only the holder acts on a held conversation; coordinators may act on any."""
    if handoff is None:
        raise ConsoleActionError(404, "Cuộc trò chuyện này không có trong hàng chờ.")
    if handoff.status == "assigned" and handoff.assigned_to != volunteer.id and not volunteer.is_coordinator:
        holder = handoff.holder.name if handoff.holder else "người khác"
        raise ConsoleActionError(
            403, f"{holder} đang giữ cuộc trò chuyện này. Hãy bấm “Tiếp quản” nếu cần nhận lại."
        )
    if needs_holder and handoff.status != "assigned":
        raise ConsoleActionError(409, "Hãy nhận cuộc trò chuyện trước: khi đó trợ lý tạm dừng trả lời.")
    return handoff


def take(
    session: Session, handoff: Handoff | None, volunteer: Volunteer, take_over: bool
) -> tuple[Handoff, str]:
    """Assign the conversation to ``volunteer``; the audit action is ``take`` or ``take_over``."""
    if handoff is None:
        raise ConsoleActionError(404, "Cuộc trò chuyện này không có trong hàng chờ.")
    action = "take"
    if handoff.status == "assigned":
        if handoff.assigned_to == volunteer.id:
            return handoff, "take"
        if not take_over:
            holder = handoff.holder.name if handoff.holder else "người khác"
            raise ConsoleActionError(409, f"{holder} đang giữ cuộc trò chuyện này; xác nhận tiếp quản.")
        action = "take_over"
        _end_assignment(session, handoff, "taken_over")
    handoff.status, handoff.assigned_to = "assigned", volunteer.id
    touch(handoff)
    session.add(Assignment(handoff_id=handoff.id, volunteer_id=volunteer.id))
    session.flush()
    session.refresh(handoff)
    return handoff, action


def undo_take(session: Session, conversation_id: str, status: str, holder: int | None) -> None:
    """Put back who held the conversation when taking it could not be completed."""
    handoff = open_handoff(session, conversation_id)
    if handoff is not None:
        _end_assignment(session, handoff, "failed")
        handoff.status, handoff.assigned_to = status, holder


def finish(session: Session, handoff: Handoff, status: str) -> None:
    """Hand back to the bot (``released``) or close (``closed``)."""
    _end_assignment(session, handoff, status)
    handoff.status, handoff.assigned_to = status, None
    touch(handoff)


def past_reply_window(handoff: Handoff, window_hours: float, now: datetime | None = None) -> bool:
    if handoff.channel != "zalo" or handoff.last_citizen_at is None:
        return False
    return (now or utcnow()) - handoff.last_citizen_at > timedelta(hours=window_hours)


def _last_messages(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id.desc())
        .limit(LAST_MESSAGES)
    ).all()
    return [message_json(row) for row in reversed(rows)]


def message_json(message: ConversationMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "author": message.author,
        "text": message.text,
        "buttons": message.buttons or [],
        "at": message.created_at.isoformat(),
    }


def handoff_json(session: Session, handoff: Handoff, window_hours: float) -> dict[str, Any]:
    last = _last_messages(session, handoff.conversation_id)
    citizen = [m for m in last if m["role"] == "citizen"]
    return {
        "conversation_id": handoff.conversation_id,
        "channel": handoff.channel,
        "status": handoff.status,
        "waiting_since": handoff.requested_at.isoformat(),
        "topic": handoff.topic,
        "last_message": citizen[-1]["text"] if citizen else (last[-1]["text"] if last else ""),
        "last_messages": last,
        "holder": {"username": handoff.holder.username, "name": handoff.holder.name}
        if handoff.holder
        else None,
        "in_hours": handoff.in_hours,
        "past_reply_window": past_reply_window(handoff, window_hours),
        "updated_at": handoff.updated_at.isoformat(),
    }


def queue(session: Session, window_hours: float) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Handoff).where(Handoff.status.in_(OPEN_STATUSES)).order_by(Handoff.requested_at)
    ).all()
    return [handoff_json(session, row, window_hours) for row in rows]


def last_message_id(session: Session) -> int:
    return int(session.scalar(select(func.max(ConversationMessage.id))) or 0)


def pushed_after(session: Session, conversation_id: str, after: int) -> list[ConversationMessage]:
    return list(
        session.scalars(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == conversation_id,
                ConversationMessage.pushed.is_(True),
                ConversationMessage.id > after,
            )
            .order_by(ConversationMessage.id)
        )
    )


def audit_log(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [
        {
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "conversation_id": row.conversation_id,
            "detail": row.detail,
        }
        for row in rows
    ]
