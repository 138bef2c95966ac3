"""The FastAPI app: the chat API, health, the web widget and its demo page, the Zalo webhook.

Rasa's custom actions are not served here: they run in their own process on loopback
(``bot.actions.server``), which only Rasa reaches.

Run with ``uvicorn connectors.app:create_app --factory`` or ``python -m connectors.run``.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bot.rasa_server import ACTIONS_SECRET_HEADER
from connectors import retention
from connectors.chat import (
    RASA_UNAVAILABLE_MESSAGE,
    BotMessage,
    ChatBackend,
    RasaChat,
    RasaUnavailableError,
    spare_httpcore_the_sniffio_search,
)
from connectors.console.api import mount as mount_console
from connectors.console.desk import Desk, HandoffChat
from connectors.console.rasa_api import RasaConversations
from connectors.console.reports import build_router as build_reports_router
from connectors.db import Database
from connectors.limits import BodySizeLimitMiddleware
from connectors.live import LiveBus
from connectors.privacy import install_log_masking
from connectors.ratelimit import RATE_LIMITED_MESSAGE, RateLimiter
from connectors.recorder import RecordingChat
from connectors.settings import AppSettings

logger = logging.getLogger(__name__)

SENDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
UNEXPECTED_ERROR_MESSAGE = "Đã có lỗi ngoài ý muốn. Bạn vui lòng thử lại sau ít phút."
# What FastAPI says when reading the JSON body failed other than by a JSONDecodeError.
FASTAPI_BODY_ERROR = "There was an error parsing the body"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ChatRequest(BaseModel):
    """One turn of a conversation from the web widget (or any client of the chat API)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    sender_id: str = Field(
        pattern=SENDER_ID_PATTERN,
        description="The conversation's id, chosen by the client: letters, digits, '-' and '_'.",
        examples=["widget-3f2a9c"],
    )
    text: str = Field(description="The citizen's message.", examples=["Làm giấy khai sinh cần gì?"])


class ChatResponse(BaseModel):
    messages: list[BotMessage]
    # The conversation is with the volunteers (queued or held): the widget listens for their messages.
    live: bool = False


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, in Vietnamese, for a person to act on.")
    code: str = Field(description="A stable code: empty_body, malformed_json, rate_limited, …")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message, "code": code}, status_code=status, headers=headers)


_FIELD_NAMES = {"sender_id": "sender_id (mã cuộc trò chuyện)", "text": "text (câu hỏi)"}


def _validation_message(error: dict[str, Any]) -> str:
    location = error.get("loc", ())
    field = ".".join(str(part) for part in location if part not in ("body", "query", "path")) or "nội dung"
    label = _FIELD_NAMES.get(field, field)
    kind = error.get("type", "")
    if kind == "missing":
        return f"Thiếu trường {label}."
    if kind == "extra_forbidden":
        return f"Trường {field} không được hỗ trợ; chỉ gửi sender_id và text."
    if kind == "string_type":
        return f"Trường {label} phải là chuỗi ký tự."
    if kind == "string_pattern_mismatch":
        return "sender_id chỉ gồm chữ cái không dấu, chữ số, '-' và '_', dài 1 đến 128 ký tự."
    return f"Trường {label} không hợp lệ."


def clean_text(text: str, max_chars: int) -> str:
    """The message as Rasa gets it (NFC, no control characters), or an ApiError a person can act on."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ApiError(422, "invalid_text", "Câu hỏi chứa ký tự không hợp lệ (không mã hóa được).") from error
    text = _CONTROL_CHARS.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if not text:
        raise ApiError(422, "empty_text", "Câu hỏi trống. Bạn hãy nhập câu hỏi về thủ tục hành chính.")
    if len(text) > max_chars:
        raise ApiError(
            422, "text_too_long", f"Câu hỏi quá dài ({len(text)} ký tự); tối đa {max_chars} ký tự."
        )
    return text


async def body_error(request: Request, errors: list[Any]) -> ApiError:
    """The error for a body FastAPI could not validate, told apart as a person needs it."""
    raw = await request.body()
    kinds = {error.get("type") for error in errors}
    if not raw.strip():
        return ApiError(400, "empty_body", 'Yêu cầu trống: hãy gửi JSON {"sender_id": ..., "text": ...}.')
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return ApiError(400, "not_text", "Nội dung gửi lên không phải văn bản UTF-8.")
    if "json_invalid" in kinds:
        try:
            json.loads(raw)
        except RecursionError:
            return ApiError(400, "too_deep", "Nội dung JSON lồng nhau quá sâu.")
        except ValueError:
            pass
        return ApiError(400, "malformed_json", "Nội dung gửi lên không phải JSON hợp lệ.")
    if errors and errors[0].get("loc") == ("body",) and errors[0].get("type") != "missing":
        return ApiError(422, "invalid_request", "Cần một đối tượng JSON có sender_id và text.")
    message = _validation_message(errors[0]) if errors else "Yêu cầu không hợp lệ."
    return ApiError(422, "invalid_request", message)


def _static_text(name: str) -> str:
    return resources.files("connectors.static").joinpath(name).read_text(encoding="utf-8")


async def actions_status(http: httpx.AsyncClient, settings: AppSettings) -> dict[str, dict[str, Any]]:
    """The action server's ``/health``: whether the actions and their search index are loaded."""
    try:
        response = await http.get(
            f"{settings.actions_url}/health",
            headers={ACTIONS_SECRET_HEADER: settings.actions_secret},
            timeout=5.0,
        )
        body = response.json()
        parts = {name: {"ready": bool(body[name]["ready"])} for name in ("actions", "search")}
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        detail = {"ready": False, "detail": f"action server: {type(error).__name__}"}
        return {"actions": detail, "search": detail}
    return parts


def create_app(settings: AppSettings | None = None, chat: ChatBackend | None = None) -> FastAPI:
    """The app; ``chat`` replaces the Rasa chat core (the seam tests and other channels use)."""
    install_log_masking()
    spare_httpcore_the_sniffio_search()
    settings = settings or AppSettings.from_env()
    database = Database(settings.database_url)
    desk = Desk(
        database,
        settings,
        RasaConversations(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds),
        bus=LiveBus(settings.redis_url),
    )
    rasa_chat = chat or RasaChat(settings.rasa_url, settings.rasa_timeout_seconds, settings.rasa_token)
    # The recorder takes Rasa's analytics records out of the replies; the desk its handoff signals.
    chat_core = HandoffChat(RecordingChat(rasa_chat, database), desk)
    internal_http = httpx.AsyncClient()
    window = settings.rate_limit_window_seconds
    limiter = RateLimiter(settings.rate_limit_messages, window, settings.rate_limit_storage, "sender")
    # Rotating sender ids does not help: each client address has its own, larger budget.
    ip_limiter = RateLimiter(settings.rate_limit_ip_messages, window, settings.rate_limit_storage, "ip")
    zalo_channel = None
    if settings.zalo.enabled:
        from connectors.zalo.store import ZaloStore
        from connectors.zalo.webhook import ZaloChannel

        if not settings.secret_key:
            logger.warning("TTHC_SECRET_KEY is not set: the Zalo tokens are stored unencrypted")
        from connectors.zalo.client import ZaloClient

        store = ZaloStore(database, settings.secret_key)
        client = ZaloClient(settings.zalo, store, redis_url=settings.redis_url)
        zalo_channel = ZaloChannel(settings.zalo, store, chat_core, limiter, client)
        desk.zalo = zalo_channel

    async def _apply_retention() -> None:
        while True:
            await asyncio.to_thread(retention.purge, settings, database)
            await asyncio.sleep(settings.retention_interval_hours * 3600)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(database.upgrade)
        await desk.bus.start()
        if zalo_channel is not None and settings.state_db is not None:
            await run_in_threadpool(zalo_channel.store.import_legacy, settings.state_db)
        purging = asyncio.create_task(_apply_retention())
        if zalo_channel is not None:
            zalo_channel.resume_unanswered()
            zalo_channel.start()
        logger.info(
            "App ready; Rasa at %s; Zalo channel %s", settings.rasa_url, "on" if zalo_channel else "off"
        )
        yield
        purging.cancel()
        if zalo_channel is not None:
            await zalo_channel.aclose()
        await chat_core.aclose()
        await internal_http.aclose()
        await desk.rasa.aclose()
        await desk.bus.aclose()
        database.dispose()

    app = FastAPI(
        title="Trợ lý Thủ tục",
        description="Hỏi đáp thủ tục hành chính cho công dân.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.chat = chat_core
    app.state.zalo = zalo_channel
    app.state.limiter = limiter

    app.add_middleware(
        BodySizeLimitMiddleware,
        limits={"/api/chat": settings.max_chat_body_bytes, "/zalo/webhook": settings.max_webhook_body_bytes},
    )
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.code, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = list(error.errors())
        if errors and all(tuple(item.get("loc", ()))[:1] != ("body",) for item in errors):
            # A query or path parameter (the console's filters): no body to explain.
            return _error(422, "invalid_request", _validation_message(errors[0]))
        problem = await body_error(request, errors)
        return _error(problem.status, problem.code, problem.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == FASTAPI_BODY_ERROR:
            # A body json.loads gave up on with something other than a JSONDecodeError.
            problem = await body_error(request, [{"type": "json_invalid"}])
            return _error(problem.status, problem.code, problem.message)
        messages = {404: "Không tìm thấy địa chỉ này.", 405: "Phương thức không được hỗ trợ."}
        detail = messages.get(error.status_code) or str(error.detail)
        return _error(error.status_code, "http_error", detail, dict(error.headers or {}))

    @app.exception_handler(ClientDisconnect)
    async def _client_went_away(request: Request, _: ClientDisconnect) -> Response:
        logger.warning("Client went away before its %s %s was read", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "Unexpected %s on %s %s", type(error).__name__, request.method, request.url.path, exc_info=error
        )
        return _error(503, "unexpected_error", UNEXPECTED_ERROR_MESSAGE, {"Retry-After": "30"})

    @app.post(
        "/api/chat",
        response_model=ChatResponse,
        responses={
            400: {"model": ErrorBody, "description": "Empty, non-UTF-8 or malformed JSON body"},
            413: {"model": ErrorBody, "description": "Body too large"},
            422: {"model": ErrorBody, "description": "Fields missing, of the wrong type, or empty text"},
            429: {"model": ErrorBody, "description": "Too many messages; see Retry-After"},
            503: {"model": ErrorBody, "description": "The assistant is restarting; see Retry-After"},
        },
    )
    async def chat_endpoint(chat_request: ChatRequest, request: Request) -> ChatResponse:
        chat_request = ChatRequest(
            sender_id=chat_request.sender_id, text=clean_text(chat_request.text, settings.max_text_chars)
        )
        # The peer's address; uvicorn puts the client's there only for TTHC_TRUSTED_PROXIES.
        client_ip = request.client.host if request.client else "unknown"
        for budget, key in ((ip_limiter, client_ip), (limiter, chat_request.sender_id)):
            if not await budget.allow(key):
                wait = max(1, round(await budget.retry_after(key)))
                raise ApiError(429, "rate_limited", RATE_LIMITED_MESSAGE, {"Retry-After": str(wait)})
        try:
            messages, live = await chat_core.send_turn(chat_request.sender_id, chat_request.text)
        except RasaUnavailableError as error:
            logger.warning("Chat request not answered: %s", error)
            raise ApiError(
                503, "assistant_unavailable", RASA_UNAVAILABLE_MESSAGE, {"Retry-After": "30"}
            ) from error
        return ChatResponse(messages=messages, live=live)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        rasa, internal = await asyncio.gather(chat_core.status(), actions_status(internal_http, settings))
        ready = rasa.get("ready") and all(part["ready"] for part in internal.values())
        body = {
            "status": "ok" if ready else "degraded",
            "rasa": rasa,
            **internal,
            "zalo": {"enabled": zalo_channel is not None},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/widget.js", include_in_schema=False)
    async def widget_script() -> Response:
        return Response(
            _static_text("widget.js"),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    async def demo_portal() -> HTMLResponse:
        page = _static_text("demo.html")
        verification = settings.zalo.site_verification
        meta = (
            f'<meta name="zalo-platform-site-verification" content="{html.escape(verification, quote=True)}">'
            if verification
            else ""
        )
        return HTMLResponse(page.replace("<!--ZALO_SITE_VERIFICATION-->", meta))

    mount_console(app, desk)
    app.include_router(build_reports_router())

    if zalo_channel is not None:
        from connectors.zalo.webhook import build_router

        app.include_router(build_router(zalo_channel))

    return app
