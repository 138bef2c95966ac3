"""Start and stop the Rasa server (it lives in .venv-rasa) from the app venv.

The endpoints file is rendered from environment variables:

- ``TTHC_ACTION_ENDPOINT``: where Rasa calls custom actions (default: the action server,
  ``bot.actions.server``, on loopback: http://127.0.0.1:5055/webhook); every call carries the
  shared secret ``TTHC_ACTIONS_SECRET`` in a header, which Rasa substitutes from its environment
  (``${TTHC_ACTIONS_SECRET}`` in the file), so the secret is never written to disk;
- ``TTHC_TRACKER_STORE_URL``: ``postgresql://user[:password]@host[:port]/db`` for a PostgreSQL
  tracker store; without it a SQLite file under ``var/`` keeps conversations across restarts
  (``TTHC_TRACKER_DB`` overrides its path); either is Rasa's SQL store as ``bot.tracker_store``
  subclasses it;
- ``TTHC_LOCK_STORE_URL``: ``redis://[:password@]host[:port][/db]`` for a Redis lock store;
  without it Rasa keeps its locks in memory.

Rasa's HTTP API needs the token ``TTHC_RASA_TOKEN`` (``--auth-token``; clients send it as the
``token`` query parameter) and listens on loopback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import yaml

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TTHC_VAR_DIR", PROJECT_ROOT / "var")).expanduser().resolve()
RASA_VENV = Path(os.environ.get("TTHC_RASA_VENV", PROJECT_ROOT / ".venv-rasa"))
DEFAULT_MODEL = VAR_DIR / "rasa-models" / "tthc.tar.gz"
DEFAULT_ENDPOINTS = VAR_DIR / "rasa-endpoints.yml"
DEFAULT_LOG_FILE = VAR_DIR / "logs" / "rasa.log"
DEFAULT_ACTION_ENDPOINT = "http://127.0.0.1:5055/webhook"
ACTIONS_SECRET_HEADER = "X-TTHC-Actions-Secret"
# Rasa's SQL tracker store without a count query on every save (bot/tracker_store.py).
TRACKER_STORE_TYPE = "bot.tracker_store.SQLTrackerStore"


class ConfigurationError(ValueError):
    """An environment variable holds a URL that cannot be used."""


def tracker_store_config(url: str | None = None, sqlite_path: Path | None = None) -> dict[str, Any]:
    """The ``tracker_store`` section: PostgreSQL when a URL is given, otherwise SQLite."""
    url = url if url is not None else os.environ.get("TTHC_TRACKER_STORE_URL", "")
    if not url:
        path = sqlite_path or Path(os.environ.get("TTHC_TRACKER_DB", VAR_DIR / "rasa-tracker.db"))
        return {"type": TRACKER_STORE_TYPE, "dialect": "sqlite", "db": str(Path(path).expanduser().resolve())}
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ConfigurationError(f"TTHC_TRACKER_STORE_URL must start with postgresql://, got {url!r}")
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise ConfigurationError(f"TTHC_TRACKER_STORE_URL needs a host and a database name: {url!r}")
    config: dict[str, Any] = {
        "type": TRACKER_STORE_TYPE,
        "dialect": "postgresql",
        "url": parts.hostname,
        "port": parts.port or 5432,
        "db": database,
    }
    if parts.username:
        config["username"] = unquote(parts.username)
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def lock_store_config(url: str | None = None) -> dict[str, Any] | None:
    """The ``lock_store`` section for Redis, or None to keep Rasa's in-memory lock store."""
    url = url if url is not None else os.environ.get("TTHC_LOCK_STORE_URL", "")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ConfigurationError(f"TTHC_LOCK_STORE_URL must look like redis://host:port/db, got {url!r}")
    db_text = parts.path.lstrip("/") or "1"
    if not db_text.isdigit():
        raise ConfigurationError(f"The Redis database in TTHC_LOCK_STORE_URL must be a number: {url!r}")
    config: dict[str, Any] = {
        "type": "redis",
        "url": parts.hostname,
        "port": parts.port or 6379,
        "db": int(db_text),
        "key_prefix": "tthc",
    }
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def action_endpoint_config(url: str | None = None) -> dict[str, Any]:
    """The ``action_endpoint`` section; Rasa fills in the secret from its environment.

    With ``enable_selective_domain`` Rasa sends its domain (31 KB of JSON, against 3-12 KB of
    tracker) only to the actions the domain marks ``send_domain: true``, and none of ours reads it
    (tests/unit/test_action_conventions.py): it was serialised, proxied and parsed on every call."""
    return {
        "url": url or os.environ.get("TTHC_ACTION_ENDPOINT", DEFAULT_ACTION_ENDPOINT),
        "headers": {ACTIONS_SECRET_HEADER: "${TTHC_ACTIONS_SECRET}"},
        "enable_selective_domain": True,
    }


def endpoints_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        "action_endpoint": action_endpoint_config(),
        "tracker_store": tracker_store_config(),
    }
    lock_store = lock_store_config()
    if lock_store:
        config["lock_store"] = lock_store
    return config


def render_endpoints(path: Path | str = DEFAULT_ENDPOINTS) -> Path:
    """Write the endpoints file Rasa reads and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = endpoints_config()
    tracker = config["tracker_store"]
    if tracker["dialect"] == "sqlite":
        Path(tracker["db"]).parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class RasaServer:
    """A ``rasa run`` subprocess serving the trained model over HTTP on loopback, behind a token.

    ``token`` defaults to ``TTHC_RASA_TOKEN``, or a new random one; ``actions_secret`` to
    ``TTHC_ACTIONS_SECRET`` (or a random one, so that no action call is accepted).
    """

    def __init__(
        self,
        port: int = 5005,
        host: str = "127.0.0.1",
        model: Path | str = DEFAULT_MODEL,
        endpoints: Path | str | None = None,
        log_file: Path | str = DEFAULT_LOG_FILE,
        token: str | None = None,
        actions_secret: str | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.model = Path(model)
        self.endpoints = Path(endpoints) if endpoints else None
        self.log_file = Path(log_file)
        self.token = token or os.environ.get("TTHC_RASA_TOKEN") or secrets.token_urlsafe(32)
        self.actions_secret = (
            actions_secret or os.environ.get("TTHC_ACTIONS_SECRET") or secrets.token_urlsafe(32)
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        endpoints = self.endpoints or render_endpoints()
        # Rasa's command line with the per-call schema check done once (bot/rasa_run.py).
        return [
            str(RASA_VENV / "bin" / "python"),
            "-m",
            "bot.rasa_run",
            "run",
            "--enable-api",
            "--auth-token",
            self.token,
            "-p",
            str(self.port),
            "-i",
            self.host,
            "-m",
            str(self.model),
            "--endpoints",
            str(endpoints),
        ]

    def environment(self) -> dict[str, str]:
        """What Rasa's process needs in its environment besides the caller's."""
        return {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(PROJECT_ROOT),
            "SANIC_HOST": self.host,
            "TTHC_ACTIONS_SECRET": self.actions_secret,
        }

    def check_installed(self) -> None:
        if not self.model.is_file():
            raise FileNotFoundError(f"No trained Rasa model at {self.model}; run `make train` first")
        if not (RASA_VENV / "bin" / "rasa").exists():
            raise FileNotFoundError(f"Rasa is not installed in {RASA_VENV}; run `make setup-rasa` first")

    def start(self) -> None:
        if self.running:
            return
        self.check_installed()
        if self.endpoints is None:
            self.endpoints = render_endpoints()
        env = dict(os.environ)
        env.update(self.environment())
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_file.open("ab")
        logger.info("Starting Rasa on %s (log: %s)", self.url, self.log_file)
        self._process = subprocess.Popen(
            self.command(),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def status(self) -> dict[str, Any] | None:
        """Rasa's ``GET /status`` body, or None when it does not answer."""
        try:
            response = httpx.get(f"{self.url}/status", params={"token": self.token}, timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def is_ready(self) -> bool:
        status = self.status()
        return bool(status and status.get("model_file"))

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Poll until the model is loaded; False on timeout or when the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                logger.error("Rasa exited with code %s; see %s", self._process.returncode, self.log_file)
                return False
            if self.is_ready():
                return True
            time.sleep(0.5)
        return False

    def stop(self, timeout: float = 15.0) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("Rasa did not stop within %.0f s; killing it", timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self._process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> RasaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
