"""Settings of the app, its channels and its runner: one pydantic-settings object per process.

Every field reads the environment variable ``TTHC_<FIELD>`` (a few keep an older, shorter name,
listed in their ``validation_alias``); the Zalo channel reads ``ZALO_<FIELD>``. Defaults work on a
developer's machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ZaloSettings(BaseSettings):
    """The Zalo Official Account channel; it is on only when the four secrets are set."""

    model_config = SettingsConfigDict(env_prefix="ZALO_", extra="ignore")

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
    # After a crash, messages younger than this are still answered at the next start; a message held
    # while Rasa is unavailable waits this long at most.
    resume_window_seconds: float = Field(default=3600.0, ge=0)
    # While Rasa is unavailable, a held message checks it again after this long (doubling, up to 10x).
    hold_poll_seconds: float = Field(default=1.0, gt=0)
    # At a stop, replies in flight get this long to finish; what is left is answered at the next start.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    # A replica answering a message holds a lease on it this long, renewed every third of it; another
    # replica takes the message over once the lease ran out (its replica died).
    lease_seconds: float = Field(default=30.0, gt=0)
    # How long message ids are kept against Zalo's retries.
    keep_message_ids_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Webhooks whose timestamp is further than this from the clock are refused (replays).
    timestamp_window_seconds: float = Field(default=15 * 60.0, gt=0)
    # Zalo accepts customer-service messages only this long after the citizen's last message.
    reply_window_hours: float = Field(default=48.0, gt=0)

    @field_validator("oa_api_base", "oauth_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @property
    def enabled(self) -> bool:
        return all((self.app_id, self.app_secret, self.oa_secret_key, self.refresh_token))


class ConsoleSettings(BaseSettings):
    """The volunteer console: cookie sessions and login lock-out (``TTHC_CONSOLE_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix="TTHC_CONSOLE_", extra="ignore")

    secure_cookies: bool = True
    session_hours: float = Field(default=12.0, gt=0)
    max_failed_logins: int = Field(default=5, ge=1)
    lock_minutes: float = Field(default=15.0, gt=0)
    login_attempts_per_minute: int = Field(default=10, ge=1)


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TTHC_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    # Rasa's HTTP API token (Rasa runs with --auth-token); the runner makes one per run when unset.
    rasa_token: str = ""
    rasa_timeout_seconds: float = Field(default=30.0, gt=0, validation_alias=_alias("TTHC_RASA_TIMEOUT"))
    # The custom-action server: loopback only, every request carries the shared secret.
    actions_url: str = "http://127.0.0.1:5055"
    actions_secret: str = ""
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Client addresses whose X-Forwarded-For is believed (a reverse proxy in front of the app).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_messages: int = Field(default=20, ge=1)
    rate_limit_window_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_alias("TTHC_RATE_LIMIT_WINDOW")
    )
    # Per client address (all sender ids together), in the same window.
    rate_limit_ip_messages: int = Field(default=60, ge=1)
    # Where the counters live: memory:// (one process) or redis://host:port/db (shared by replicas);
    # TTHC_REDIS_URL when that is set and this is not.
    rate_limit_storage: str = ""
    # Redis shared by the app's replicas (redis://host:port/db): rate-limit counters, the live push
    # fan-out, the Zalo token-refresh lock. Unset: all three stay in the process (one replica only).
    redis_url: str = ""
    # A request whose headers and body have not all arrived after this long is cut (slow clients).
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    max_chat_body_bytes: int = Field(default=16_384, ge=256)
    max_webhook_body_bytes: int = Field(default=65_536, ge=256)
    max_text_chars: int = 2000
    var_dir: Path = PROJECT_ROOT / "var"
    # The Zalo channel's former SQLite file: its state is moved into the app's database once at start.
    state_db: Path | None = Field(default=None, validation_alias=_alias("TTHC_CONNECTORS_DB"))
    # Conversations and reports (the app's tables, Rasa's tracker store) are kept this long.
    retention_days: float = Field(default=180.0, gt=0)
    retention_interval_hours: float = Field(default=6.0, gt=0)
    # Rasa's tracker store, as bot.rasa_server configures it: PostgreSQL URL, or the SQLite file.
    tracker_store_url: str = ""
    tracker_db: Path | None = None
    # Fernet key (``cryptography.fernet.Fernet.generate_key()``) sealing the Zalo tokens at rest.
    secret_key: str = ""
    zalo: ZaloSettings = Field(default_factory=ZaloSettings)
    # The app's one database (connectors/db): tthc.db in var_dir unless TTHC_DATABASE_URL says otherwise.
    database_url: str = ""
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @field_validator("rasa_url", "actions_url")
    @classmethod
    def _url_without_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _state_db_under_var(self) -> AppSettings:
        self.var_dir = self.var_dir.expanduser()
        if self.state_db is None:
            self.state_db = self.var_dir / "connectors.db"
        self.state_db = self.state_db.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'tthc.db'}"
        if not self.rate_limit_storage:
            self.rate_limit_storage = self.redis_url or "memory://"
        return self

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> AppSettings:
        return cls()
