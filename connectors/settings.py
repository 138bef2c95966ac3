"""Settings of the app and its channels, read from environment variables with working defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    return float(value) if value else default


class ZaloSettings(BaseModel):
    """The Zalo Official Account channel; it is on only when the four secrets are set."""

    app_id: str = ""
    app_secret: str = ""
    oa_secret_key: str = ""
    refresh_token: str = ""
    oa_api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    site_verification: str = ""
    send_attempts: int = Field(default=3, ge=1)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    # After a crash, messages younger than this are still answered at the next start.
    resume_window_seconds: float = Field(default=3600.0, ge=0)
    # How long message ids are kept against Zalo's retries.
    keep_message_ids_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Zalo accepts customer-service messages only this long after the citizen's last message.
    reply_window_hours: float = Field(default=48.0, gt=0)

    @property
    def enabled(self) -> bool:
        return all((self.app_id, self.app_secret, self.oa_secret_key, self.refresh_token))


class ConsoleSettings(BaseModel):
    """The volunteer console: cookie sessions and login lock-out."""

    secure_cookies: bool = True
    session_hours: float = Field(default=12.0, gt=0)
    max_failed_logins: int = Field(default=5, ge=1)
    lock_minutes: float = Field(default=15.0, gt=0)
    login_attempts_per_minute: int = Field(default=10, ge=1)


class AppSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = Field(default=30.0, gt=0)
    allowed_origins: list[str] = Field(default_factory=list)
    rate_limit_messages: int = Field(default=20, ge=1)
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    max_chat_body_bytes: int = Field(default=16_384, ge=256)
    max_webhook_body_bytes: int = Field(default=65_536, ge=256)
    max_text_chars: int = 2000
    warm_up: bool = True
    state_db: Path = PROJECT_ROOT / "var" / "connectors.db"
    zalo: ZaloSettings = Field(default_factory=ZaloSettings)
    # The app's one database (connectors/db): SQLite under var/ unless TTHC_DATABASE_URL says otherwise.
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'tthc.db'}"
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    # Rasa's HTTP API token (Rasa runs with --auth-token), sent as the `token` query parameter.
    rasa_token: str = ""

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> AppSettings:
        var_dir = Path(_env("TTHC_VAR_DIR") or PROJECT_ROOT / "var").expanduser()
        origins = [item.strip().rstrip("/") for item in _env("TTHC_ALLOWED_ORIGINS").split(",")]
        return cls(
            host=_env("TTHC_HOST", "127.0.0.1"),
            port=_env_int("TTHC_PORT", 8000),
            rasa_url=_env("TTHC_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_timeout_seconds=_env_float("TTHC_RASA_TIMEOUT", 30.0),
            allowed_origins=[origin for origin in origins if origin],
            rate_limit_messages=_env_int("TTHC_RATE_LIMIT_MESSAGES", 20),
            rate_limit_window_seconds=_env_float("TTHC_RATE_LIMIT_WINDOW", 60.0),
            max_chat_body_bytes=_env_int("TTHC_MAX_CHAT_BODY_BYTES", 16_384),
            max_webhook_body_bytes=_env_int("TTHC_MAX_WEBHOOK_BODY_BYTES", 65_536),
            warm_up=_env("TTHC_WARM_UP", "1").lower() not in {"0", "false", "no"},
            state_db=Path(_env("TTHC_CONNECTORS_DB") or var_dir / "connectors.db").expanduser(),
            rasa_token=_env("TTHC_RASA_TOKEN"),
            database_url=_env("TTHC_DATABASE_URL") or f"sqlite:///{var_dir / 'tthc.db'}",
            console=ConsoleSettings(
                secure_cookies=_env("TTHC_CONSOLE_SECURE_COOKIES", "1").lower() not in {"0", "false", "no"},
                session_hours=_env_float("TTHC_CONSOLE_SESSION_HOURS", 12.0),
                max_failed_logins=_env_int("TTHC_CONSOLE_MAX_FAILED_LOGINS", 5),
                lock_minutes=_env_float("TTHC_CONSOLE_LOCK_MINUTES", 15.0),
                login_attempts_per_minute=_env_int("TTHC_CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE", 10),
            ),
            zalo=ZaloSettings(
                app_id=_env("ZALO_APP_ID"),
                app_secret=_env("ZALO_APP_SECRET"),
                oa_secret_key=_env("ZALO_OA_SECRET_KEY"),
                refresh_token=_env("ZALO_REFRESH_TOKEN"),
                oa_api_base=_env("ZALO_OA_API_BASE", "https://openapi.zalo.me").rstrip("/"),
                oauth_base=_env("ZALO_OAUTH_BASE", "https://oauth.zaloapp.com").rstrip("/"),
                site_verification=_env("ZALO_SITE_VERIFICATION"),
                send_attempts=_env_int("ZALO_SEND_ATTEMPTS", 3),
                backoff_seconds=_env_float("ZALO_BACKOFF_SECONDS", 1.0),
                timeout_seconds=_env_float("ZALO_TIMEOUT_SECONDS", 10.0),
                resume_window_seconds=_env_float("ZALO_RESUME_WINDOW_SECONDS", 3600.0),
                reply_window_hours=_env_float("ZALO_REPLY_WINDOW_HOURS", 48.0),
            ),
        )
