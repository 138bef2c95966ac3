"""The custom-action server: its own process on loopback, reachable by Rasa alone.

Run with ``uvicorn bot.actions.server:create_app --factory --host 127.0.0.1 --port 5055`` (the
runner, ``connectors.run``, does). Every request must carry the shared secret
``TTHC_ACTIONS_SECRET`` in the ``X-TTHC-Actions-Secret`` header, which Rasa's ``action_endpoint``
sends; without a configured secret every request is refused. Bodies are limited before and after
inflating. ``GET /health`` says whether the actions and the search index they answer from are loaded.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.actions.endpoint import actions_ready, router
from bot.memory import release_free_memory
from bot.rasa_server import ACTIONS_SECRET_HEADER
from connectors.limits import BodySizeLimitMiddleware

logger = logging.getLogger(__name__)


class ActionServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TTHC_ACTIONS_", extra="ignore")

    secret: str = ""
    # Rasa sends the whole tracker: long conversations make large bodies, but not megabytes.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    warm_up: bool = True


class SharedSecretMiddleware:
    """401 for any request without the shared secret; nothing of the request is read before."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(ACTIONS_SECRET_HEADER.lower().encode(), b"")
        if self.secret and hmac.compare_digest(given, self.secret):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error": "Not authorised"}, status_code=401)
        await response(scope, receive, send)


def _search_ready() -> bool:
    from knowledge.search import ready

    return bool(ready())


def _warm_up() -> None:
    try:
        actions_ready()
        from knowledge.search import get_searcher

        get_searcher()
        release_free_memory()
    except Exception:
        logger.exception("Warm-up of the action server failed; /health tells which part is not ready")


async def _probe(check: Any) -> dict[str, Any]:
    try:
        return {"ready": bool(await asyncio.wait_for(asyncio.to_thread(check), timeout=5.0))}
    except Exception as error:
        return {"ready": False, "detail": type(error).__name__}


def create_app(settings: ActionServerSettings | None = None) -> FastAPI:
    settings = settings or ActionServerSettings()
    if not settings.secret:
        logger.error("TTHC_ACTIONS_SECRET is not set: every action call will be refused")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.warm_up:
            threading.Thread(target=_warm_up, name="actions-warm-up", daemon=True).start()
        yield

    app = FastAPI(title="TTHC assistant: custom actions", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.max_body_bytes = settings.max_body_bytes
    app.include_router(router)

    @app.get("/health")
    async def health() -> JSONResponse:
        actions, search = await asyncio.gather(_probe(actions_ready), _probe(_search_ready))
        ready = actions["ready"] and search["ready"]
        return JSONResponse({"actions": actions, "search": search}, status_code=200 if ready else 503)

    app.add_middleware(BodySizeLimitMiddleware, limits={"/webhook": settings.max_body_bytes})
    # Added last, so it runs first: an unauthenticated caller gets 401 before any body is read.
    app.add_middleware(SharedSecretMiddleware, secret=settings.secret)
    return app
