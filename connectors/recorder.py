"""The analytics recorder: every citizen turn of both channels, and what Rasa signalled about it.

``RecordingChat`` wraps the chat core (a ``ChatBackend`` itself). For each turn it stores a ``ChatTurn``
(the citizen's text masked, the channel, the outcome, procedure and confidence of the turn's ``answer``
record, the bot's answer), and applies the turn's ``feedback``, ``satisfaction`` and ``report`` records
to their tables; free texts are masked first. Records never reach the citizen: they are taken out of the
replies. Recording never costs a reply: a database error is logged (without any text) and the reply goes
out. Everything lives in the database, nothing in this process (replicas share it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectors.chat import BotMessage, ChatBackend
from connectors.console.queue import channel_of
from connectors.db import Database
from connectors.db.models import ChatTurn, ExtraPaperReport, Feedback, Satisfaction, utcnow
from connectors.privacy import mask, mask_optional

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX = "/"
MAX_FREE_TEXT = 2000


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AnswerRecord(_Record):
    kind: Literal["answer"]
    outcome: Literal["answered", "asked_back", "not_found", "not_understood", "out_of_scope"]
    procedure: str | None = None
    confidence: float | None = None


class FeedbackRecord(_Record):
    kind: Literal["feedback"]
    rating: Literal["up", "down"]
    procedure: str | None = None
    reason: Literal["wrong_procedure", "missing_info", "outdated", "other"] | None = None
    comment: str | None = None


class SatisfactionRecord(_Record):
    kind: Literal["satisfaction"]
    level: int = Field(ge=1, le=5)
    context: Literal["end", "handoff"] = "end"


class ReportRecord(_Record):
    kind: Literal["report"]
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=24)]
    procedure: str | None = None
    procedure_name: str | None = None
    province: str | None = None
    commune: str | None = None
    place_text: str | None = None
    asked: str | None = None


Record = Annotated[
    AnswerRecord | FeedbackRecord | SatisfactionRecord | ReportRecord, Field(discriminator="kind")
]
_RECORD = TypeAdapter(Record)


def parse_records(raw: list[dict[str, Any]]) -> list[Record]:
    """The records Rasa sent that make sense; the others are logged by kind and dropped."""
    parsed: list[Record] = []
    for item in raw:
        try:
            parsed.append(_RECORD.validate_python(item))
        except ValidationError as error:
            kind = item.get("kind") if isinstance(item.get("kind"), str) else "?"
            logger.warning("A %r record from Rasa was dropped: %d problem(s)", kind[:20], error.error_count())
    return parsed


def _short(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] if value else None


def _masked(value: str | None, limit: int = MAX_FREE_TEXT) -> str | None:
    return _short(mask_optional(value), limit)


# ---- the writes, in one transaction per turn ------------------------------------------------------


def rated_turn(
    session: Session, conversation_id: str, before_id: int, procedure: str | None
) -> ChatTurn | None:
    """The answer a rating is about: the latest answered turn (of the rated procedure when known)
    before ``before_id``; else the latest question typed (not a button) before it."""
    earlier = (
        select(ChatTurn)
        .where(ChatTurn.conversation_id == conversation_id, ChatTurn.id < before_id)
        .order_by(ChatTurn.id.desc())
        .limit(50)
    )
    turns = list(session.scalars(earlier))
    answered = [turn for turn in turns if turn.outcome != "other"]
    if procedure:
        for turn in answered:
            if turn.procedure_code == procedure:
                return turn
    if answered:
        return answered[0]
    return next((turn for turn in turns if not turn.text_masked.startswith(PAYLOAD_PREFIX)), None)


def apply_feedback(session: Session, turn: ChatTurn, record: FeedbackRecord) -> Feedback:
    conversation_id = turn.conversation_id
    comment = _masked(record.comment)
    if record.rating == "down" and (record.reason or comment):
        latest_down = (
            select(Feedback)
            .where(Feedback.conversation_id == conversation_id, Feedback.rating == "down")
            .order_by(Feedback.id.desc())
            .limit(1)
        )
        row = session.scalars(latest_down).first()
        fills_reason = row is not None and row.reason is None
        fills_comment = (
            row is not None and comment is not None and row.comment_masked is None
            and row.reason in (None, record.reason)
        )  # fmt: skip
        if row is not None and (fills_reason or fills_comment):
            row.reason = record.reason or row.reason
            row.comment_masked = comment or row.comment_masked
            if record.procedure and not row.procedure_code:
                row.procedure_code = _short(record.procedure, 64)
            return row
    rated = rated_turn(session, conversation_id, turn.id, record.procedure)
    row = Feedback(
        conversation_id=conversation_id,
        channel=turn.channel,
        at=turn.at,
        rating=record.rating,
        reason=record.reason,
        comment_masked=comment,
        procedure_code=_short(record.procedure, 64) or (rated.procedure_code if rated else None),
        answer_text=rated.answer_text if rated else None,
        question_masked=rated.text_masked if rated else None,
    )
    session.add(row)
    return row


def apply_report(session: Session, turn: ChatTurn, record: ReportRecord) -> ExtraPaperReport:
    values = {
        "conversation_id": turn.conversation_id,
        "channel": turn.channel,
        "at": turn.at,
        "procedure_code": _short(record.procedure, 64),
        "procedure_name": _short(record.procedure_name, 500),
        "province": _short(record.province, 120),
        "commune": _short(record.commune, 160),
        "place_text_masked": _masked(record.place_text),
        "asked_masked": _masked(record.asked) or "",
    }
    for attempt in range(1, 10):
        reference = record.reference if attempt == 1 else f"{record.reference}-{attempt}"
        row = ExtraPaperReport(reference=reference, **values)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            logger.warning("Report reference already taken; the report is kept under a suffixed one")
            continue
        return row
    raise RuntimeError("no free reference for a report")


def record_turn(
    session: Session,
    conversation_id: str,
    text: str,
    replies: list[BotMessage],
    records: list[Record],
    at: datetime | None = None,
) -> ChatTurn:
    """Store one turn and apply its records (see the module's docstring)."""
    answers = [record for record in records if isinstance(record, AnswerRecord)]
    answer = answers[-1] if answers else None
    answer_text = "\n\n".join(reply.text for reply in replies if reply.text)
    turn = ChatTurn(
        conversation_id=conversation_id,
        channel=channel_of(conversation_id),
        at=at or utcnow(),
        text_masked=mask(text),
        outcome=answer.outcome if answer else "other",
        procedure_code=_short(answer.procedure, 64) if answer else None,
        confidence=answer.confidence if answer else None,
        answer_text=mask(answer_text) if answer_text else None,
    )
    session.add(turn)
    session.flush()
    for record in records:
        if isinstance(record, FeedbackRecord):
            apply_feedback(session, turn, record)
        elif isinstance(record, SatisfactionRecord):
            session.add(
                Satisfaction(
                    conversation_id=conversation_id,
                    channel=turn.channel,
                    at=turn.at,
                    level=record.level,
                    context=record.context,
                )
            )
        elif isinstance(record, ReportRecord):
            apply_report(session, turn, record)
    return turn


def not_recorded(error: BaseException) -> None:
    """Log a recording that failed: its kind only, never a text (the turn's reply still goes out)."""
    logger.error("A turn was not recorded for the analytics (%s)", type(error).__name__)


class RecordingChat:
    """The chat core with the analytics recorder around it (a ``ChatBackend`` itself)."""

    def __init__(self, inner: ChatBackend, db: Database) -> None:
        self.inner = inner
        self.db = db

    def _store(self, recording: Callable[[Session], None]) -> None:
        with self.db.session() as session:
            recording(session)

    async def send_unrecorded(
        self, sender_id: str, text: str
    ) -> tuple[list[BotMessage], Callable[[Session], None]]:
        """The replies, and the turn's recording for the caller to run in a transaction of its own
        choosing (the desk runs it in the turn's one transaction); see ``not_recorded``."""
        messages = await self.inner.send(sender_id, text)
        raw = [message.record for message in messages if message.record is not None]
        replies = [message for message in messages if message.record is None]

        def recording(session: Session) -> None:
            record_turn(session, sender_id, text, replies, parse_records(raw))

        return replies, recording

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        replies, recording = await self.send_unrecorded(sender_id, text)
        try:
            await run_in_threadpool(self._store, recording)
        except Exception as error:
            not_recorded(error)
        return replies

    async def status(self) -> dict[str, Any]:
        return await self.inner.status()

    async def aclose(self) -> None:
        await self.inner.aclose()
