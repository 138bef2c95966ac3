"""Masking of personal numbers in citizens' texts, before they are stored for analytics or logged.

``mask`` replaces phone numbers, căn cước (12 digits) and CMND (9 digits) numbers, e-mail addresses and
bank account numbers by placeholders; procedure codes (1.001193), dates, money amounts and years stay.
``install_log_masking`` puts ``MaskingFilter`` in front of every log record the process creates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

PHONE = "[SĐT]"
CCCD = "[SỐ CCCD]"
CMND = "[SỐ CMND]"
EMAIL = "[EMAIL]"
ACCOUNT = "[STK]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A run of digit groups: "0912 345 678", "0912.345.678", "(028) 3823 4567", "+84 912-345-678".
_SEPARATOR = r"(?:[ \t]?[.\-][ \t]?|[ \t]{1,2}|\)[ \t]?)"
_CHAIN = re.compile(rf"(?<!\d)(?:\([ \t]?)?\+?\d+(?:{_SEPARATOR}\d+)*(?!\d)")
_MONEY_SHAPE = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})+")
_CODE_SHAPE = re.compile(r"\d\.\d{6}")
_DATE_SHAPE = re.compile(r"\d{1,2}[.\-]\d{1,2}[.\-]\d{4}|\d{4}-\d{1,2}-\d{1,2}")
_CURRENCY_AFTER = re.compile(r"\s?(?:đồng|đ\b|vnđ|vnd|triệu|tr\b|nghìn|ngàn|k\b|tỷ)", re.IGNORECASE)
_ACCOUNT_BEFORE = re.compile(
    r"(?:\bstk\b|\bs\.?t\.?k\b|\btk\b|tài khoản|tai khoan|ngân hàng|ngan hang|\bbank\b|chuyển khoản|"
    r"chuyen khoan|vietcombank|\bvcb\b|techcombank|\btcb\b|\bbidv\b|agribank|vietinbank|\bmb\b|mbbank|"
    r"\bacb\b|vpbank|tpbank|sacombank|shb|hdbank|vib\b|ocb\b|seabank|momo|zalopay)[^\d\n]{0,30}$",
    re.IGNORECASE,
)
_MOBILE_SECOND_DIGITS = "35789"


def _kind(raw: str, before: str, after: str) -> str | None:
    """The placeholder for one run of digits, or None to keep it."""
    digits = re.sub(r"\D", "", raw)
    bare = raw.strip("()+ \t")
    if _CODE_SHAPE.fullmatch(bare) or _DATE_SHAPE.fullmatch(bare):
        return None
    if _MONEY_SHAPE.fullmatch(bare) or _CURRENCY_AFTER.match(after):
        return None
    count = len(digits)
    international = "+" in raw or digits.startswith("84")
    if international and digits.startswith("84"):
        rest = digits[2:]
        if (len(rest) == 9 and rest[0] in _MOBILE_SECOND_DIGITS) or (len(rest) == 10 and rest[0] == "2"):
            return PHONE
    if digits.startswith("0"):
        if count == 10 and digits[1] in _MOBILE_SECOND_DIGITS:
            return PHONE
        if count == 11 and digits[1] == "2":
            return PHONE
        if count == 12:
            return CCCD
    if _ACCOUNT_BEFORE.search(before) and 6 <= count <= 19:
        return ACCOUNT
    if count == 9:
        return CMND
    if count == 12:
        return CCCD
    if count >= 10:
        return ACCOUNT
    return None


def _mask_chain(text: str, start: int, raw: str) -> str:
    before, after = text[max(0, start - 60) : start], text[start + len(raw) : start + len(raw) + 8]
    kind = _kind(raw, before, after)
    if kind not in (ACCOUNT, None) or " " not in raw.strip():
        return kind or raw
    # Numbers written one after another ("năm 2024 0912345678"): a phone or an id among them is masked
    # alone; a long run with nothing recognisable in it is masked whole.
    pieces = re.split(r"([ \t]+)", raw)
    masked: list[str] = []
    offset = start
    found = False
    for piece in pieces:
        piece_kind = None
        if piece.strip():
            piece_kind = _kind(piece, text[max(0, offset - 60) : offset], text[offset + len(piece) :][:8])
        found = found or piece_kind in (PHONE, CCCD, CMND)
        masked.append(piece_kind or piece)
        offset += len(piece)
    if found:
        return "".join(masked)
    return kind or raw


def mask(text: str) -> str:
    """``text`` with its phone, căn cước/CMND, e-mail and bank account numbers replaced."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    parts: list[str] = []
    last = 0
    for match in _CHAIN.finditer(text):
        raw = match.group(0).rstrip(" \t")
        parts.append(text[last : match.start()])
        parts.append(_mask_chain(text, match.start(), raw))
        last = match.start() + len(raw)
    parts.append(text[last:])
    return "".join(parts)


def mask_optional(text: str | None) -> str | None:
    return mask(text) if isinstance(text, str) else None


# ---- logs --------------------------------------------------------------------------------------


class MaskingFilter(logging.Filter):
    """Masks a record's message, its arguments (each kept in its place, so formatters that read them
    still work) and its traceback text, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_tthc_masked", False):
            return True
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        elif record.msg is not None:
            record.msg = mask(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_argument(value) for value in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _masked_argument(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        record._tthc_masked = True  # type: ignore[attr-defined]
        return True


def _masked_argument(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return mask(value if isinstance(value, str) else str(value))


_installed: list[Callable[..., logging.LogRecord]] = []


def install_log_masking() -> None:
    """Every log record of this process, whatever its logger and handlers (uvicorn's, the app's, those
    configured later), is masked when it is created; installing twice is harmless."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    masking = MaskingFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        masking.filter(record)
        return record

    _installed.append(previous)
    logging.setLogRecordFactory(factory)
