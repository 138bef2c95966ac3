"""Volunteer accounts, argon2 password hashes, console sessions and login lock-out."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectors.db.models import ConsoleSession, Volunteer, utcnow
from connectors.settings import ConsoleSettings

ROLES = ("volunteer", "coordinator")
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
MIN_PASSWORD_CHARS = 10
WRONG_CREDENTIALS = "Sai tên đăng nhập hoặc mật khẩu."

_hasher = PasswordHasher()
# Verified against when the username does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account cannot be created or changed as asked."""


class LoginRefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự.")
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_volunteer(session: Session, username: str, name: str, role: str, password: str) -> Volunteer:
    username = username.strip().lower()
    if not re.match(USERNAME_PATTERN, username):
        raise AccountError("Tên đăng nhập gồm chữ thường không dấu, chữ số, '.', '_' hoặc '-' (2-64 ký tự).")
    if role not in ROLES:
        raise AccountError(f"Vai trò phải là một trong: {', '.join(ROLES)}.")
    if not name.strip():
        raise AccountError("Cần họ tên hiển thị (--name).")
    if session.scalar(select(Volunteer).where(Volunteer.username == username)) is not None:
        raise AccountError(f"Tên đăng nhập {username!r} đã có.")
    volunteer = Volunteer(
        username=username, name=name.strip(), role=role, password_hash=hash_password(password)
    )
    session.add(volunteer)
    session.flush()
    return volunteer


def list_volunteers(session: Session) -> list[Volunteer]:
    return list(session.scalars(select(Volunteer).order_by(Volunteer.username)))


def disable_volunteer(session: Session, username: str) -> Volunteer:
    volunteer = session.scalar(select(Volunteer).where(Volunteer.username == username.strip().lower()))
    if volunteer is None:
        raise AccountError(f"Không có tài khoản {username!r}.")
    volunteer.disabled = True
    session.execute(delete(ConsoleSession).where(ConsoleSession.volunteer_id == volunteer.id))
    return volunteer


def has_coordinator(session: Session) -> bool:
    query = select(Volunteer.id).where(Volunteer.role == "coordinator", Volunteer.disabled.is_(False))
    return session.scalar(query.limit(1)) is not None


def _clock(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")


def authenticate(session: Session, username: str, password: str, settings: ConsoleSettings) -> Volunteer:
    """The volunteer, or LoginRefusedError: wrong credentials, a locked or a disabled account."""
    volunteer = session.scalar(select(Volunteer).where(Volunteer.username == username.strip().lower()))
    if volunteer is None:
        _verify(_DUMMY_HASH, password)
        raise LoginRefusedError(401, WRONG_CREDENTIALS)
    now = utcnow()
    if volunteer.locked_until is not None and volunteer.locked_until > now:
        raise LoginRefusedError(
            423,
            "Tài khoản đang tạm khóa vì nhập sai mật khẩu nhiều lần. "
            f"Hãy thử lại sau {_clock(volunteer.locked_until)}, hoặc nhờ điều phối viên hỗ trợ.",
        )
    if not _verify(volunteer.password_hash, password):
        volunteer.failed_logins += 1
        if volunteer.failed_logins >= settings.max_failed_logins:
            volunteer.failed_logins = 0
            volunteer.locked_until = now + timedelta(minutes=settings.lock_minutes)
            raise LoginRefusedError(
                423,
                f"Sai mật khẩu {settings.max_failed_logins} lần: tài khoản bị tạm khóa đến "
                f"{_clock(volunteer.locked_until)}.",
            )
        raise LoginRefusedError(401, WRONG_CREDENTIALS)
    if volunteer.disabled:
        raise LoginRefusedError(403, "Tài khoản này đã bị vô hiệu hóa. Hãy liên hệ điều phối viên.")
    volunteer.failed_logins = 0
    volunteer.locked_until = None
    if _hasher.check_needs_rehash(volunteer.password_hash):
        volunteer.password_hash = _hasher.hash(password)
    return volunteer


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: datetime


def open_session(session: Session, volunteer: Volunteer, settings: ConsoleSettings) -> NewSession:
    now = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(hours=settings.session_hours)
    session.add(
        ConsoleSession(
            token_hash=token_hash(token), volunteer_id=volunteer.id, csrf_token=csrf, expires_at=expires
        )
    )
    return NewSession(token, csrf, expires)


def find_session(session: Session, token: str) -> ConsoleSession | None:
    found = session.get(ConsoleSession, token_hash(token))
    if found is None or found.expires_at <= utcnow() or found.volunteer.disabled:
        return None
    return found


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))
