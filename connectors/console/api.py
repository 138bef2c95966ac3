"""The console's JSON API under ``/console/api/`` (session cookie; ``X-CSRF-Token`` on every POST),
its pages, and the widget's live stream of a volunteer's messages (``/api/chat/{id}/stream``)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from connectors.console import auth, queue
from connectors.console.desk import Desk
from connectors.console.desk_helper import checklist_text, guides, procedure_json, search_procedures
from connectors.console.queue import ConsoleActionError
from connectors.console.rasa_api import RasaApiError, history
from connectors.db.models import Volunteer
from connectors.ratelimit import RateLimiter

COOKIE = "tthc_console"
CONVERSATION_ID = Path(pattern=r"^[A-Za-z0-9:_-]{1,160}$")
NO_SESSION = "Cần đăng nhập vào bảng điều khiển tình nguyện viên."
BAD_CSRF = "Thiếu hoặc sai mã chống giả mạo (X-CSRF-Token). Hãy tải lại trang."
HEARTBEAT_SECONDS = 15.0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TakeBody(_Body):
    take_over: bool = False


class MessageBody(_Body):
    text: str = Field(min_length=1, max_length=2000)


class ChecklistBody(_Body):
    code: str | None = Field(default=None, max_length=32)
    have: list[str] | None = Field(default=None, max_length=200)


class ExportBody(_Body):
    have: list[str] = Field(default_factory=list, max_length=200)
    kind: Literal["print", "conversation"] = "print"
    conversation_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9:_-]{1,160}$")


@dataclass
class Authed:
    volunteer: Volunteer
    csrf_token: str


def _desk(request: Request) -> Desk:
    return request.app.state.desk


async def current_volunteer(request: Request) -> Authed:
    token = request.cookies.get(COOKIE)
    if not token:
        raise HTTPException(401, NO_SESSION)
    desk = _desk(request)

    def lookup(session: Any) -> Authed | None:
        found = auth.find_session(session, token)
        return Authed(found.volunteer, found.csrf_token) if found else None

    authed = await desk.run(lookup)
    if authed is None:
        raise HTTPException(401, NO_SESSION)
    return authed


async def csrf_checked(request: Request, authed: Authed = Depends(current_volunteer)) -> Authed:
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent or not secrets.compare_digest(sent, authed.csrf_token):
        raise HTTPException(403, BAD_CSRF)
    return authed


def _volunteer_json(volunteer: Volunteer) -> dict[str, Any]:
    return {"username": volunteer.username, "name": volunteer.name, "role": volunteer.role}


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _until_change(desk: Desk, changed: asyncio.Event) -> float:
    """Wait until the database changed (or the poll interval passed); the seconds waited."""
    started = time.monotonic()
    await desk.bus.wait(changed, min(desk.bus.poll_seconds, HEARTBEAT_SECONDS))
    return time.monotonic() - started


def _stream(generator: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        generator,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def build_router(login_limiter: RateLimiter) -> APIRouter:
    router = APIRouter(prefix="/console", tags=["console"])

    @router.post("/api/login")
    async def login(body: LoginBody, request: Request) -> JSONResponse:
        desk = _desk(request)
        client = request.client.host if request.client else "unknown"
        if not await login_limiter.allow(f"login:{client}"):
            wait = max(1, round(await login_limiter.retry_after(f"login:{client}")))
            raise HTTPException(
                429, "Quá nhiều lần đăng nhập; hãy chờ một phút rồi thử lại.", {"Retry-After": str(wait)}
            )
        settings = desk.settings.console

        def work(session: Any) -> tuple[Volunteer, auth.NewSession] | auth.LoginRefusedError:
            try:
                volunteer = auth.authenticate(session, body.username, body.password, settings)
            except auth.LoginRefusedError as refused:
                return refused  # returned, not raised: the failed-login count must be committed
            opened = auth.open_session(session, volunteer, settings)
            queue.audit(session, volunteer, "login")
            return volunteer, opened

        outcome = await desk.run(work)
        if isinstance(outcome, auth.LoginRefusedError):
            raise HTTPException(outcome.status, outcome.message)
        volunteer, opened = outcome
        response = JSONResponse({"csrf_token": opened.csrf_token, "volunteer": _volunteer_json(volunteer)})
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int(settings.session_hours * 3600),
            path="/",
            httponly=True,
            secure=settings.secure_cookies,
            samesite="strict",
        )
        return response

    @router.post("/api/logout")
    async def logout(request: Request, authed: Authed = Depends(csrf_checked)) -> JSONResponse:
        token = request.cookies.get(COOKIE, "")
        await _desk(request).run(lambda session: auth.close_session(session, token))
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/api/me")
    async def me(authed: Authed = Depends(current_volunteer)) -> dict[str, Any]:
        return {"volunteer": _volunteer_json(authed.volunteer), "csrf_token": authed.csrf_token}

    @router.get("/api/queue")
    async def get_queue(
        request: Request, authed: Authed = Depends(current_volunteer)
    ) -> list[dict[str, Any]]:
        desk = _desk(request)
        return await desk.run(lambda session: queue.queue(session, desk.window_hours))

    @router.get("/api/events")
    async def events(request: Request, authed: Authed = Depends(current_volunteer)) -> StreamingResponse:
        """Server-sent events: ``queue`` with the whole queue whenever it or a message changes."""
        desk = _desk(request)

        def snapshot(session: Any) -> dict[str, Any]:
            return {
                "queue": queue.queue(session, desk.window_hours),
                "version": queue.last_message_id(session),
            }

        async def generate() -> AsyncIterator[str]:
            last, quiet = "", 0.0
            while not await request.is_disconnected():
                changed = desk.bus.changed()
                current = await desk.run(snapshot)
                encoded = json.dumps(current, ensure_ascii=False, sort_keys=True)
                if encoded != last:
                    last, quiet = encoded, 0.0
                    yield _sse("queue", current)
                elif quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                quiet += await _until_change(desk, changed)

        return _stream(generate())

    @router.get("/api/conversations/{conversation_id}")
    async def conversation(
        request: Request, conversation_id: str = CONVERSATION_ID, authed: Authed = Depends(current_volunteer)
    ) -> dict[str, Any]:
        desk = _desk(request)

        def state(session: Any) -> dict[str, Any] | None:
            handoff = queue.latest_handoff(session, conversation_id)
            return queue.handoff_json(session, handoff, desk.window_hours) if handoff else None

        found = await desk.run(state)
        if found is None:
            raise HTTPException(404, "Cuộc trò chuyện này không có trong hàng chờ.")
        try:
            tracker = await desk.rasa.tracker(conversation_id)
        except RasaApiError as error:
            raise HTTPException(503, "Trợ lý (Rasa) không phản hồi nên chưa đọc được lịch sử.") from error
        slots = tracker.get("slots") or {}
        return {
            **found,
            "paused": bool(tracker.get("paused")),
            "current_procedure": slots.get("current_procedure"),
            "history": history(tracker),
        }

    async def _act(coroutine: Any) -> dict[str, Any]:
        try:
            return await coroutine
        except ConsoleActionError as error:
            raise HTTPException(error.status, error.message) from error

    @router.post("/api/conversations/{conversation_id}/take")
    async def take(
        request: Request,
        body: TakeBody | None = None,
        conversation_id: str = CONVERSATION_ID,
        authed: Authed = Depends(csrf_checked),
    ) -> dict[str, Any]:
        take_over = body.take_over if body else False
        return await _act(_desk(request).take(authed.volunteer, conversation_id, take_over))

    @router.post("/api/conversations/{conversation_id}/messages")
    async def message(
        body: MessageBody,
        request: Request,
        conversation_id: str = CONVERSATION_ID,
        authed: Authed = Depends(csrf_checked),
    ) -> dict[str, Any]:
        text = body.text.strip()
        if not text:
            raise HTTPException(422, "Tin nhắn trống.")
        return await _act(_desk(request).say(authed.volunteer, conversation_id, text))

    @router.post("/api/conversations/{conversation_id}/checklist")
    async def send_checklist(
        body: ChecklistBody,
        request: Request,
        conversation_id: str = CONVERSATION_ID,
        authed: Authed = Depends(csrf_checked),
    ) -> dict[str, Any]:
        """A procedure's checklist (the conversation's topic by default) sent as the volunteer's message."""
        desk = _desk(request)
        code = body.code
        if not code:
            found = await desk.run(lambda session: queue.open_handoff(session, conversation_id))
            code = found.topic if found else None
        if not code:
            raise HTTPException(422, "Cuộc trò chuyện chưa có thủ tục; hãy chọn thủ tục trong mục tra cứu.")
        text = await run_in_threadpool(checklist_text, code, body.have)
        if text is None:
            raise HTTPException(404, f"Không có thủ tục mã {code}.")
        detail = {"code": code, "kind": "checklist", "ticked": len(body.have or [])}
        return await _act(desk.say(authed.volunteer, conversation_id, text, action="export", detail=detail))

    def finishing(status: str) -> Any:
        async def finish(
            request: Request, conversation_id: str = CONVERSATION_ID, authed: Authed = Depends(csrf_checked)
        ) -> dict[str, Any]:
            return await _act(_desk(request).finish(authed.volunteer, conversation_id, status))

        return finish

    # release hands the conversation back to the bot; close ends the request (the bot answers again too)
    router.post("/api/conversations/{conversation_id}/release", name="release")(finishing("released"))
    router.post("/api/conversations/{conversation_id}/close", name="close")(finishing("closed"))

    @router.get("/api/procedures")
    async def procedures(
        q: str = Query(min_length=2, max_length=300), authed: Authed = Depends(current_volunteer)
    ) -> list[dict[str, Any]]:
        return await run_in_threadpool(search_procedures, q)

    @router.get("/api/procedures/{code}")
    async def procedure(
        code: str = Path(pattern=r"^[A-Za-z0-9._-]{1,32}$"), authed: Authed = Depends(current_volunteer)
    ) -> dict[str, Any]:
        found = await run_in_threadpool(procedure_json, code)
        if found is None:
            raise HTTPException(404, f"Không có thủ tục mã {code}.")
        return found

    @router.post("/api/procedures/{code}/export")
    async def export(
        body: ExportBody,
        request: Request,
        code: str = Path(pattern=r"^[A-Za-z0-9._-]{1,32}$"),
        authed: Authed = Depends(csrf_checked),
    ) -> dict[str, Any]:
        """The checklist of what the person still lacks: printed (recorded here) or sent to a conversation."""
        desk = _desk(request)
        text = await run_in_threadpool(checklist_text, code, body.have)
        if text is None:
            raise HTTPException(404, f"Không có thủ tục mã {code}.")
        detail = {"code": code, "kind": body.kind, "ticked": len(body.have)}
        if body.kind == "conversation":
            if not body.conversation_id:
                raise HTTPException(422, "Chọn cuộc trò chuyện để gửi danh sách.")
            await _act(desk.say(authed.volunteer, body.conversation_id, text, action="export", detail=detail))
        else:
            await desk.run(lambda session: queue.audit(session, authed.volunteer, "export", None, detail))
        return {"text": text}

    @router.get("/api/guides")
    async def guide_list(authed: Authed = Depends(current_volunteer)) -> list[dict[str, Any]]:
        return await run_in_threadpool(guides)

    @router.get("/api/audit")
    async def audit_entries(
        request: Request, authed: Authed = Depends(current_volunteer)
    ) -> list[dict[str, Any]]:
        if not authed.volunteer.is_coordinator:
            raise HTTPException(403, "Chỉ điều phối viên xem được nhật ký.")
        return await _desk(request).run(queue.audit_log)

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static("console.html"), headers={"Cache-Control": "no-store"})

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str = Path(pattern=r"^(console\.(js|css)|common\.js)$")) -> Response:
        media = "application/javascript" if name.endswith(".js") else "text/css"
        return Response(
            _static(name), media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    return router


def _static(name: str) -> str:
    return resources.files("connectors.console.static").joinpath(name).read_text(encoding="utf-8")


def build_widget_router() -> APIRouter:
    router = APIRouter(tags=["chat"])

    @router.get("/api/chat/{sender_id}/stream")
    async def widget_stream(
        request: Request,
        sender_id: str = Path(pattern=r"^[A-Za-z0-9_-]{1,128}$"),
        after: int = Query(0, ge=0, le=2**62),
    ) -> StreamingResponse:
        """Server-sent events for the widget: ``message`` (a volunteer's or an out-of-band bot message) and
        ``status`` (who answers); the stream ends once the conversation is back with the bot."""
        desk = _desk(request)

        def poll(session: Any, seen: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            messages = [queue.message_json(row) for row in queue.pushed_after(session, sender_id, seen)]
            handoff = queue.latest_handoff(session, sender_id)
            holder = handoff.holder.name if handoff and handoff.holder else None
            status = handoff.status if handoff else "none"
            return messages, {"status": status, "volunteer": holder}

        async def generate() -> AsyncIterator[str]:
            seen, last_status, quiet = after, None, 0.0
            while not await request.is_disconnected():
                changed = desk.bus.changed()
                messages, status = await desk.run(lambda session, seen=seen: poll(session, seen))
                for item in messages:
                    seen = max(seen, item["id"])
                    yield f"id: {item['id']}\n" + _sse("message", item)
                if status != last_status:
                    last_status, quiet = status, 0.0
                    yield _sse("status", status)
                if status["status"] not in queue.OPEN_STATUSES:
                    return
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                quiet += await _until_change(desk, changed)

        return _stream(generate())

    return router


def mount(app: FastAPI, desk: Desk) -> None:
    app.state.desk = desk
    settings = desk.settings
    limiter = RateLimiter(
        settings.console.login_attempts_per_minute, 60.0, settings.rate_limit_storage, "console-login"
    )
    app.include_router(build_router(limiter))
    app.include_router(build_widget_router())
    from connectors.console import analytics_api

    app.include_router(analytics_api.build_router())
