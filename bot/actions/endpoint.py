"""Rasa's action webhook, run by rasa-sdk's executor: the routes of the action server.

``bot.actions.server`` serves this router on loopback behind a shared secret; Rasa's
``action_endpoint`` points at its ``/webhook``. Bodies and status codes match rasa-sdk's own action
server, except that a failure never echoes the request and a compressed body is inflated only up
to the body limit.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from rasa_sdk import utils
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

logger = logging.getLogger(__name__)

ACTIONS_PACKAGE = "bot.actions"

router = APIRouter(tags=["rasa actions"])


@lru_cache(maxsize=1)
def get_executor() -> ActionExecutor:
    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    logger.info("Registered %d Rasa actions from %s", len(executor.actions), ACTIONS_PACKAGE)
    return executor


_catalogue_loaded = threading.Event()
_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None


def _load_catalogue() -> None:
    try:
        from knowledge.catalogue import get_catalogue

        get_catalogue()
        _catalogue_loaded.set()
    except Exception:
        logger.exception("The catalogue could not be loaded for the actions")


def warm_up() -> None:
    """Load the catalogue the actions read, once, in a background thread."""
    global _warm_up_thread
    with _warm_up_lock:
        if _catalogue_loaded.is_set() or (_warm_up_thread and _warm_up_thread.is_alive()):
            return
        _warm_up_thread = threading.Thread(target=_load_catalogue, name="actions-warm-up", daemon=True)
        _warm_up_thread.start()


def actions_ready() -> bool:
    """True when the actions are registered and the catalogue they answer from is loaded.

    The first call starts loading the catalogue in the background, so a health probe never blocks.
    """
    try:
        registered = bool(get_executor().actions)
    except Exception:
        logger.exception("The Rasa actions could not be loaded")
        get_executor.cache_clear()
        return False
    warm_up()
    return registered and _catalogue_loaded.is_set()


class BodyTooLargeError(ValueError):
    """The body, once inflated, is larger than the limit."""


_WBITS = {"deflate": zlib.MAX_WBITS, "gzip": zlib.MAX_WBITS | 16}


def inflate(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding, never more than ``limit`` bytes (no zip bombs)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in _WBITS:
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(_WBITS[encoding])
    body = inflater.decompress(raw, limit + 1)
    if len(body) > limit or inflater.unconsumed_tail:
        raise BodyTooLargeError
    return body


def _decode_body(raw: bytes, encoding: str | None, limit: int) -> Any:
    raw = inflate(raw, encoding, limit)
    if not raw:
        return None
    return json.loads(raw)


MAX_BODY_BYTES = 4 * 1024 * 1024


@router.post("/webhook")
async def webhook(request: Request) -> JSONResponse:
    raw = await request.body()
    limit = getattr(request.app.state, "max_body_bytes", MAX_BODY_BYTES)
    try:
        action_call = _decode_body(raw, request.headers.get("Content-Encoding"), limit)
    except BodyTooLargeError:
        return JSONResponse({"error": "Request body too large"}, status_code=413)
    except (ValueError, zlib.error, RecursionError):
        action_call = None
    if not isinstance(action_call, dict) or not isinstance(action_call.get("next_action"), str):
        return JSONResponse({"error": "Invalid body request"}, status_code=400)

    utils.check_version_compatibility(action_call.get("version"))
    if action_call.get("domain") is None and not action_call.get("domain_digest"):
        # Rasa's selective domain (bot/rasa_server.py): no domain for actions that do not ask for it.
        # rasa-sdk refuses such a call (449, for a Rasa that sends a digest and resends); Rasa 3.6 does
        # not resend, and these actions read no domain: they run with the one rasa-sdk last received.
        action_call = {**action_call, "domain": {}}
    try:
        result = await get_executor().run(action_call)
    except ActionExecutionRejection as error:
        logger.debug(error)
        return JSONResponse({"error": error.message, "action_name": error.action_name}, status_code=400)
    except ActionNotFoundException as error:
        logger.error(error)
        return JSONResponse({"error": error.message, "action_name": error.action_name}, status_code=404)
    except ActionMissingDomainException as error:
        logger.debug(error)
        return JSONResponse({"error": error.message, "action_name": error.action_name}, status_code=449)
    except Exception:
        # Not a 500 with the request in it: the tracker holds the citizen's conversation.
        name = action_call["next_action"]
        logger.exception("Exception while running action %r", name)
        return JSONResponse({"error": "The action failed", "action_name": name}, status_code=422)
    return JSONResponse(result.model_dump() if result else None, status_code=200)


@router.get("/actions")
async def list_actions() -> JSONResponse:
    try:
        actions = [item.model_dump() for item in get_executor().list_actions()]
    except Exception:
        logger.exception("The Rasa actions could not be loaded")
        get_executor.cache_clear()
        return JSONResponse({"error": "The actions could not be loaded"}, status_code=503)
    return JSONResponse(actions, status_code=200)
