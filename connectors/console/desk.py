"""The handoff desk: what happens between the citizen's channel, Rasa and the volunteers' queue.

``HandoffChat`` wraps the chat core both channels use: it puts a conversation in the queue when
``action_request_human`` signals it, and records the turns of queued conversations (the citizen's
masked; the console shows the full history from Rasa's tracker). ``Desk`` carries out the console's
actions: taking a conversation pauses the bot through Rasa's HTTP API, a volunteer's
message goes into the tracker as a bot-side turn and out on the citizen's channel (the widget's live
stream, or the Zalo OA message API within its reply window), and handing back resumes the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectors.chat import BotMessage, ChatBackend
from connectors.console import queue
from connectors.console.queue import ConsoleActionError
from connectors.console.rasa_api import RasaApiError, RasaConversations
from connectors.db import Database
from connectors.db.models import Volunteer
from connectors.live import LiveBus
from connectors.privacy import mask
from connectors.recorder import RecordingChat, not_recorded
from connectors.settings import AppSettings

logger = logging.getLogger(__name__)

HANDBACK_INTENT = "EXTERNAL_handback"

T = TypeVar("T")
_WROTE = "tthc_wrote"


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[_WROTE] = True


RASA_DOWN = "Trợ lý (Rasa) không phản hồi nên chưa làm được việc này. Hãy thử lại sau ít phút."


class Desk:
    def __init__(
        self,
        db: Database,
        settings: AppSettings,
        rasa: RasaConversations,
        zalo: Any | None = None,
        bus: LiveBus | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.rasa = rasa
        self.zalo = zalo
        self.bus = bus or LiveBus()
        self.window_hours = settings.zalo.reply_window_hours

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction, in a worker thread; a transaction that wrote wakes the live
        streams of every replica once it committed."""

        def in_session() -> tuple[T, bool]:
            with self.db.session() as session:
                result = work(session)
                session.flush()
                wrote = bool(session.info.pop(_WROTE, False))
            return result, wrote

        result, wrote = await run_in_threadpool(in_session)
        if wrote:
            await self.bus.publish()
        return result

    # ---- the citizen's side ---------------------------------------------------------------------

    async def citizen_said(self, conversation_id: str, text: str) -> None:
        """A citizen's turn Rasa did not answer: recorded if the conversation is with the volunteers."""

        def work(session: Session) -> None:
            handoff = queue.open_handoff(session, conversation_id)
            if handoff is not None:
                queue.record(session, conversation_id, "citizen", mask(text))
                queue.touch(handoff, citizen=True)

        await self.run(work)

    async def turn(
        self,
        conversation_id: str,
        text: str,
        messages: list[BotMessage],
        recording: Callable[[Session], None] | None = None,
    ) -> tuple[list[BotMessage], bool]:
        """A turn Rasa answered, in one transaction: the citizen's text and the replies are recorded
        if the conversation is with the volunteers, and queued if the bot signalled a handoff (the
        signal itself is dropped). Returns the replies and whether the conversation is live.

        ``recording`` (the analytics recorder's, ``RecordingChat.send_unrecorded``) runs in the same
        transaction, after the desk's work; its failure never costs the reply nor the desk's work:
        it runs under a savepoint when the desk wrote, else a failure rolls back only a read."""
        signals = [message.handoff for message in messages if message.handoff is not None]
        replies = [message for message in messages if message.handoff is None]

        def work(session: Session) -> bool:
            handoff = queue.open_handoff(session, conversation_id)
            if handoff is not None:
                queue.record(session, conversation_id, "citizen", text)
                queue.touch(handoff, citizen=True)
            if signals:
                signal = signals[-1]
                if handoff is None:
                    queue.record(session, conversation_id, "citizen", mask(text))
                handoff = queue.enqueue(
                    session, conversation_id, signal.get("topic"), bool(signal.get("in_hours"))
                )
            if handoff is not None:
                for reply in replies:
                    if reply.text:
                        queue.record(session, conversation_id, "bot", reply.text)
            return handoff is not None

        if recording is None:
            return replies, await self.run(work)

        def in_session() -> tuple[bool, bool]:
            live: bool | None = None  # set once the desk's work is done
            wrote = False
            try:
                with self.db.session() as session:
                    live = work(session)
                    session.flush()
                    wrote = bool(session.info.pop(_WROTE, False))
                    if not wrote:
                        recording(session)
                    else:
                        try:
                            with session.begin_nested():
                                recording(session)
                        except Exception as error:
                            not_recorded(error)
                        session.info.pop(_WROTE, None)  # the recorder's rows wake no live stream
            except Exception as error:
                if live is None or wrote:
                    raise
                # Only the recording (or the commit of its rows) failed: the desk had only read.
                not_recorded(error)
            return bool(live), wrote

        live, wrote = await run_in_threadpool(in_session)
        if wrote:
            await self.bus.publish()
        return replies, live

    async def live(self, conversation_id: str) -> bool:
        return await self.run(lambda session: queue.open_handoff(session, conversation_id) is not None)

    # ---- delivering to the citizen's channel ----------------------------------------------------

    async def _deliver(
        self, conversation_id: str, messages: list[BotMessage], role: str, author: str | None
    ) -> None:
        # Signals (handoff, analytics records) are for the app, never for the citizen.
        messages = [message for message in messages if message.text or message.buttons]
        if conversation_id.startswith(queue.ZALO_PREFIX):
            if self.zalo is None:
                raise ConsoleActionError(503, "Kênh Zalo chưa được bật trên máy chủ này.")
            from connectors.zalo.client import ZaloError

            for message in messages:
                try:
                    await self.zalo.client.send(conversation_id[len(queue.ZALO_PREFIX) :], message)
                except ZaloError as error:
                    logger.warning("Zalo refused a console message: %s", error)
                    raise ConsoleActionError(502, "Zalo không nhận tin nhắn này; hãy thử lại sau.") from error

        def work(session: Session) -> None:
            for message in messages:
                buttons = [button.model_dump() for button in message.buttons] or None
                queue.record(
                    session, conversation_id, role, message.text, author=author, pushed=True, buttons=buttons
                )

        await self.run(work)

    # ---- the console's actions ------------------------------------------------------------------

    async def take(self, volunteer: Volunteer, conversation_id: str, take_over: bool) -> dict[str, Any]:
        def assign(session: Session) -> tuple[str, str | None, int | None]:
            handoff = queue.open_handoff(session, conversation_id)
            previous = (handoff.status, handoff.assigned_to) if handoff else ("waiting", None)
            handoff, action = queue.take(session, handoff, volunteer, take_over)
            return action, previous[0], previous[1]

        action, previous_status, previous_holder = await self.run(assign)
        try:
            joined = await self.rasa.run_response(
                conversation_id, "utter_volunteer_joined", {"volunteer_name": volunteer.name}
            )
            await self.rasa.pause(conversation_id)
            await self._deliver(conversation_id, joined, "bot", None)
        except (RasaApiError, ConsoleActionError) as error:
            logger.warning("Taking a conversation undone: %s", error)
            await self.run(
                lambda session: queue.undo_take(session, conversation_id, previous_status, previous_holder)
            )
            if isinstance(error, ConsoleActionError):
                raise
            raise ConsoleActionError(503, RASA_DOWN) from error

        def log(session: Session) -> dict[str, Any]:
            detail = {"previous_holder": previous_holder} if action == "take_over" else None
            queue.audit(session, volunteer, action, conversation_id, detail)
            return self._state(session, conversation_id)

        return await self.run(log)

    def _state(self, session: Session, conversation_id: str) -> dict[str, Any]:
        handoff = queue.latest_handoff(session, conversation_id)
        if handoff is None:
            raise ConsoleActionError(404, "Cuộc trò chuyện này không có trong hàng chờ.")
        return queue.handoff_json(session, handoff, self.window_hours)

    async def say(
        self,
        volunteer: Volunteer,
        conversation_id: str,
        text: str,
        action: str = "message",
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A volunteer's message: into the tracker, out on the citizen's channel, into the audit log."""

        def check(session: Session) -> None:
            handoff = queue.check_may_act(queue.open_handoff(session, conversation_id), volunteer)
            if queue.past_reply_window(handoff, self.window_hours):
                raise ConsoleActionError(
                    409,
                    f"Đã quá {self.window_hours:g} giờ từ tin nhắn cuối của người dân: Zalo không cho "
                    "Official Account gửi tin tư vấn nữa. Chờ người dân nhắn lại.",
                )

        await self.run(check)
        await self._deliver(conversation_id, [BotMessage(text=text)], "volunteer", volunteer.name)
        try:
            await self.rasa.volunteer_turn(conversation_id, text, volunteer.username, volunteer.name)
        except RasaApiError as error:
            # Delivered already: the tracker misses this turn, the database and audit log keep it.
            logger.warning("A volunteer's message was delivered but not added to the tracker: %s", error)

        def log(session: Session) -> dict[str, Any]:
            handoff = queue.open_handoff(session, conversation_id)
            if handoff is not None:
                queue.touch(handoff)
            queue.audit(session, volunteer, action, conversation_id, {"chars": len(text), **(detail or {})})
            return self._state(session, conversation_id)

        return await self.run(log)

    async def finish(self, volunteer: Volunteer, conversation_id: str, status: str) -> dict[str, Any]:
        """Hand back to the bot (``released``) or close (``closed``); either way the bot answers again."""

        def check(session: Session) -> bool:
            handoff = queue.check_may_act(
                queue.open_handoff(session, conversation_id), volunteer, needs_holder=False
            )
            return handoff.status == "assigned"

        was_held = await self.run(check)
        if was_held:
            try:
                await self.rasa.resume(conversation_id)
                # The rules say the hand-back and, once per conversation, the satisfaction question.
                back = await self.rasa.trigger_intent(conversation_id, HANDBACK_INTENT)
            except RasaApiError as error:
                raise ConsoleActionError(503, RASA_DOWN) from error
            await self._deliver(conversation_id, back, "bot", None)

        def done(session: Session) -> dict[str, Any]:
            handoff = queue.open_handoff(session, conversation_id)
            if handoff is not None:
                queue.finish(session, handoff, status)
            queue.audit(session, volunteer, "release" if status == "released" else "close", conversation_id)
            return self._state(session, conversation_id)

        return await self.run(done)


class HandoffChat:
    """The chat core with the handoff desk in front of it (a ``ChatBackend`` itself)."""

    def __init__(self, inner: ChatBackend, desk: Desk) -> None:
        self.inner = inner
        self.desk = desk

    async def send_turn(self, sender_id: str, text: str) -> tuple[list[BotMessage], bool]:
        """The replies, and whether the conversation is with the volunteers (queued or held)."""
        recording = None
        try:
            if isinstance(self.inner, RecordingChat):
                # The analytics recording joins the desk's transaction: one a turn, not two.
                messages, recording = await self.inner.send_unrecorded(sender_id, text)
            else:
                messages = await self.inner.send(sender_id, text)
        except BaseException:
            await self.desk.citizen_said(sender_id, text)
            raise
        # Recorded once Rasa has logged the turn: the console reloads the tracker on this write.
        return await self.desk.turn(sender_id, text, messages, recording)

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        replies, _ = await self.send_turn(sender_id, text)
        return replies

    async def status(self) -> dict[str, Any]:
        return await self.inner.status()

    async def aclose(self) -> None:
        await self.inner.aclose()
