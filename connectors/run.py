"""`python -m connectors.run` (what `make run` calls): Rasa and the app, started, watched, stopped.

``Stack`` holds the start/wait/stop logic; the integration tests use it too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from bot.rasa_server import DEFAULT_MODEL, RasaServer, lock_store_config, tracker_store_config
from connectors.settings import PROJECT_ROOT, AppSettings

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _stop_process(process: subprocess.Popen[bytes] | None, name: str, timeout: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        logger.warning("%s did not stop within %.0f s; killing it", name, timeout)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class Stack:
    """Rasa (``bot.rasa_server.RasaServer``) plus the FastAPI app (uvicorn subprocess) on loopback.

    ``state_dir`` holds the Rasa endpoints file, the tracker SQLite file (unless ``tracker_db`` or
    ``TTHC_TRACKER_STORE_URL`` says otherwise), the connectors state DB and both logs. ``app_env``
    adds environment variables for the app process (e.g. Zalo settings). Use as a context manager,
    or call ``start()``, ``wait_ready()`` and ``stop()``; ``restart_rasa()`` keeps the app running.
    """

    def __init__(
        self,
        app_port: int = 8000,
        rasa_port: int = 5005,
        host: str = "127.0.0.1",
        state_dir: Path | str | None = None,
        tracker_db: Path | str | None = None,
        model: Path | str = DEFAULT_MODEL,
        app_env: dict[str, str] | None = None,
        with_rasa: bool = True,
    ) -> None:
        self.host = host
        self.app_port = app_port
        self.rasa_port = rasa_port
        self.state_dir = Path(state_dir) if state_dir else PROJECT_ROOT / "var"
        self.tracker_db = Path(tracker_db) if tracker_db else None
        self.model = Path(model)
        self.app_env = dict(app_env or {})
        self.with_rasa = with_rasa
        self.logs_dir = self.state_dir / "logs"
        self.rasa: RasaServer | None = None
        self._app_process: subprocess.Popen[bytes] | None = None
        self._app_log: Any = None

    @property
    def app_url(self) -> str:
        return f"http://{self.host}:{self.app_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def database_url(self) -> str:
        """The app's database: ``TTHC_DATABASE_URL``, or SQLite in the state directory."""
        return os.environ.get("TTHC_DATABASE_URL") or f"sqlite:///{self.state_dir / 'tthc.db'}"

    @property
    def app_log_file(self) -> Path:
        return self.logs_dir / "app.log"

    @property
    def pids(self) -> dict[str, int | None]:
        return {
            "rasa": self.rasa.pid if self.rasa else None,
            "app": self._app_process.pid if self._app_process else None,
        }

    def write_endpoints(self) -> Path:
        """Rasa's endpoints: actions served by this stack's app, tracker in SQLite (or PostgreSQL)."""
        sqlite_path = self.tracker_db or self.state_dir / "rasa-tracker.db"
        config: dict[str, Any] = {
            "action_endpoint": {"url": f"{self.app_url}/webhook"},
            "tracker_store": tracker_store_config(sqlite_path=sqlite_path),
        }
        lock_store = lock_store_config()
        if lock_store:
            config["lock_store"] = lock_store
        path = self.state_dir / "rasa-endpoints.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path

    def start_rasa(self) -> None:
        if not self.with_rasa:
            return
        if port_in_use(self.rasa_port, self.host):
            raise RuntimeError(f"Port {self.rasa_port} is already in use; is another Rasa running?")
        self.rasa = RasaServer(
            port=self.rasa_port,
            host=self.host,
            model=self.model,
            endpoints=self.write_endpoints(),
            log_file=self.logs_dir / "rasa.log",
        )
        self.rasa.start()

    def start_app(self) -> None:
        if port_in_use(self.app_port, self.host):
            raise RuntimeError(f"Port {self.app_port} is already in use")
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(PROJECT_ROOT),
            RASA_TELEMETRY_ENABLED="false",
            TTHC_HOST=self.host,
            TTHC_PORT=str(self.app_port),
            TTHC_RASA_URL=self.rasa_url,
            TTHC_CONNECTORS_DB=os.environ.get("TTHC_CONNECTORS_DB") or str(self.state_dir / "connectors.db"),
            TTHC_DATABASE_URL=self.database_url,
        )
        env.update(self.app_env)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._app_log = self.app_log_file.open("ab")
        command = [
            sys.executable, "-m", "uvicorn", "connectors.app:create_app", "--factory",
            "--host", self.host, "--port", str(self.app_port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        logger.info("Starting the app on %s (log: %s)", self.app_url, self.app_log_file)
        self._app_process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._app_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        try:
            self.start_app()
            self.start_rasa()
        except BaseException:
            self.stop()
            raise

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.app_url}/healthz", timeout=10.0)
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    def dead_process(self) -> str | None:
        if self._app_process is not None and self._app_process.poll() is not None:
            return f"the app exited with code {self._app_process.returncode}; see {self.app_log_file}"
        if self.rasa is not None and self._rasa_exited():
            return f"Rasa exited; see {self.rasa.log_file}"
        return None

    def _rasa_exited(self) -> bool:
        return self.rasa is not None and self.rasa.pid is not None and not self.rasa.running

    def wait_app(self, timeout: float = 30.0) -> bool:
        """Poll until the app answers ``/healthz`` at all (ready or not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.dead_process() is None:
            if self.health() is not None:
                return True
            time.sleep(0.2)
        return False

    def wait_ready(self, timeout: float = 90.0) -> bool:
        """Poll ``/healthz`` until Rasa, the actions and the search index are all ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            problem = self.dead_process()
            if problem:
                logger.error("Stack failed to start: %s", problem)
                return False
            health = self.health()
            if health and health.get("status") == "ok":
                return True
            time.sleep(0.5)
        logger.error("Stack not ready after %.0f s: %s", timeout, self.health())
        return False

    def restart_rasa(self, timeout: float = 90.0) -> bool:
        """Stop and start Rasa alone (the app and the tracker DB stay); True once it is ready again."""
        if self.rasa is not None:
            self.rasa.stop()
        self.start_rasa()
        return self.rasa is not None and self.rasa.wait_ready(timeout)

    def stop(self) -> None:
        if self.rasa is not None:
            self.rasa.stop()
            self.rasa = None
        _stop_process(self._app_process, "the app")
        self._app_process = None
        if self._app_log is not None:
            self._app_log.close()
            self._app_log = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _announce(stack: Stack, seconds: float) -> None:
    print(f"\nTrợ lý Thủ tục is ready after {seconds:.0f} s: {stack.app_url}/", flush=True)
    print(f"Volunteer console: {stack.app_url}/console", flush=True)
    if not _has_coordinator(stack.database_url):
        same = stack.database_url == AppSettings.from_env().database_url
        prefix = "" if same else f"TTHC_DATABASE_URL={stack.database_url} "
        print(
            "No coordinator account yet. Create the first one (the password is read from stdin):\n"
            f'    {prefix}.venv/bin/tthc volunteer add USERNAME --name "Họ và tên" --role coordinator',
            flush=True,
        )
    print("Ask in the terminal with `.venv/bin/tthc chat`; press Ctrl-C to stop.", flush=True)


def _has_coordinator(url: str) -> bool:
    """Whether the app's database (migrated by the app at start) holds an active coordinator."""
    from connectors.console.auth import has_coordinator
    from connectors.db import Database

    database = Database(url)
    try:
        with database.session() as session:
            return has_coordinator(session)
    except Exception:
        logger.warning("Could not read the volunteer accounts", exc_info=True)
        return True
    finally:
        database.dispose()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = AppSettings.from_env()
    rasa_port = urlsplit(settings.rasa_url).port or 5005
    timeout = float(os.environ.get("TTHC_READY_TIMEOUT", "120"))
    # Ctrl-C and SIGTERM both stop the stack, also when started in the background with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_keyboard_interrupt)
    stack = Stack(
        app_port=settings.port,
        rasa_port=rasa_port,
        host=settings.host,
        state_dir=os.environ.get("TTHC_STATE_DIR") or None,
    )
    started = time.monotonic()
    try:
        stack.start()
        ready = stack.wait_ready(timeout)
        if ready:
            _announce(stack, time.monotonic() - started)
        else:
            problem = stack.dead_process()
            if problem:
                print(f"Could not start: {problem}", file=sys.stderr)
                return 1
            print(f"Not ready yet after {timeout:.0f} s; /healthz says: {stack.health()}", file=sys.stderr)
            print(f"Serving at {stack.app_url}/ meanwhile (Ctrl-C to stop)", flush=True)
        while not stack.dead_process():
            time.sleep(1.0)
            if not ready and (stack.health() or {}).get("status") == "ok":
                ready = True
                _announce(stack, time.monotonic() - started)
        print(f"Stopped: {stack.dead_process()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    except (RuntimeError, FileNotFoundError) as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
