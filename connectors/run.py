"""`python -m connectors.run` (what `make run` calls): Rasa, the action server and the app, supervised.

``Stack`` writes a supervisord configuration for the three processes and runs supervisord in the
foreground: a process that dies is started again (with supervisord's backoff while it fails to
start), logs rotate, and a stop (Ctrl-C, or SIGTERM to the process group as a service manager sends
it) stops the app first, so replies in flight finish while Rasa still answers. The integration
tests use ``Stack`` too.

Internals stay internal: Rasa and the action server listen on loopback whatever ``TTHC_HOST`` says;
Rasa's HTTP API needs ``TTHC_RASA_TOKEN`` and the action server ``TTHC_ACTIONS_SECRET`` (both made
per run when unset). ``TTHC_SECRET_KEY`` seals the Zalo tokens; when unset, a key kept in
``var/secret.key`` (0600) is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from cryptography.fernet import Fernet

from bot.rasa_server import (
    DEFAULT_MODEL,
    RasaServer,
    action_endpoint_config,
    lock_store_config,
    tracker_store_config,
)
from connectors.settings import PROJECT_ROOT, AppSettings
from connectors.zalo.store import private_file

logger = logging.getLogger(__name__)

LOG_MAX_BYTES = "10MB"
LOG_BACKUPS = 5
# The app's graceful shutdown (Zalo replies in flight), and what supervisord grants on top.
APP_GRACE_SECONDS = 25
LOOPBACK = "127.0.0.1"
# Defaults for every process (the environment can override them): one thread per math library's pool,
# since a turn's inference is small and on a few shared cores more threads only wait for each other;
# two malloc arenas per process instead of one per thread that ever allocated (memory held idle);
# TensorFlow's own kernels instead of oneDNN's for Rasa's small DIET model (same intents and entities
# on 952 texts, confidences within 5e-7; alone 6.4 against 8.2 ms CPU a parse and 59 MiB less RSS, on
# the 1+1 stack 30 MiB less for Rasa at the same CPU a turn).
PROCESS_DEFAULTS = {
    "OMP_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}
UVICORN = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def secret_key_from(var_dir: Path) -> str:
    """``TTHC_SECRET_KEY``, or a Fernet key kept in ``var/secret.key`` (made once, 0600)."""
    key = os.environ.get("TTHC_SECRET_KEY", "").strip()
    if key:
        return key
    path = var_dir / "secret.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        private_file(path)
        path.write_bytes(Fernet.generate_key())
    return path.read_text(encoding="ascii").strip()


def _conf_value(value: str) -> str:
    """A value as supervisord reads it (it expands ``%(name)s``; a literal % is doubled)."""
    return value.replace("%", "%%")


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC to supervisord over its unix socket."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__()
        self.socket_path = str(socket_path)

    def make_connection(self, host: Any) -> Any:
        import http.client

        path = self.socket_path

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(90)  # stopProcess waits up to a stopwaitsecs
                self.sock.connect(path)

        return Connection("localhost")


class Stack:
    """Rasa, the action server and the app (uvicorn) under one supervisord, internals on loopback.

    ``state_dir`` holds the Rasa endpoints file, the supervisord configuration and socket, the
    tracker SQLite file (unless ``tracker_db`` or ``TTHC_TRACKER_STORE_URL`` says otherwise), the
    connectors state DB and the logs (``logs/``). ``app_env`` adds environment variables for the
    processes (e.g. Zalo settings). ``with_rasa=False`` runs the app alone. Use as a context manager,
    or call ``start()``, ``wait_ready()`` and ``stop()``; ``restart_rasa()`` keeps the app running.
    """

    def __init__(
        self,
        app_port: int = 8000,
        rasa_port: int = 5005,
        host: str = LOOPBACK,
        state_dir: Path | str | None = None,
        tracker_db: Path | str | None = None,
        model: Path | str = DEFAULT_MODEL,
        app_env: dict[str, str] | None = None,
        with_rasa: bool = True,
        actions_port: int | None = None,
        rasa_token: str | None = None,
        actions_secret: str | None = None,
        log_max_bytes: str = LOG_MAX_BYTES,
    ) -> None:
        self.host = host
        self.log_max_bytes = log_max_bytes
        self.app_port = app_port
        self.rasa_port = rasa_port
        self.actions_port = actions_port or free_port()
        self.state_dir = Path(state_dir) if state_dir else PROJECT_ROOT / "var"
        self.tracker_db = Path(tracker_db) if tracker_db else None
        self.model = Path(model)
        self.app_env = dict(app_env or {})
        self.with_rasa = with_rasa
        # Hex: a token starting with "-" would be read by Rasa's command line as an option.
        self.rasa_token = rasa_token or os.environ.get("TTHC_RASA_TOKEN") or secrets.token_hex(32)
        self.actions_secret = (
            actions_secret or os.environ.get("TTHC_ACTIONS_SECRET") or secrets.token_urlsafe(32)
        )
        self.logs_dir = self.state_dir / "logs"
        self._supervisord: subprocess.Popen[bytes] | None = None
        self._errors: Any = None

    # ---- addresses and files ------------------------------------------------------------------

    @property
    def app_url(self) -> str:
        return f"http://{self.host}:{self.app_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{LOOPBACK}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{LOOPBACK}:{self.actions_port}"

    @property
    def database_url(self) -> str:
        """The app's database: ``TTHC_DATABASE_URL``, or SQLite in the state directory."""
        return os.environ.get("TTHC_DATABASE_URL") or f"sqlite:///{self.state_dir / 'tthc.db'}"

    @property
    def app_log_file(self) -> Path:
        return self.logs_dir / "app.log"

    @property
    def socket_path(self) -> Path:
        return self.state_dir / "supervisor.sock"

    @property
    def programs(self) -> list[str]:
        return ["rasa", "actions", "app"] if self.with_rasa else ["app"]

    def write_endpoints(self) -> Path:
        """Rasa's endpoints: the action server with its secret, tracker in SQLite (or PostgreSQL)."""
        sqlite_path = self.tracker_db or self.state_dir / "rasa-tracker.db"
        env = {**os.environ, **self.app_env}
        config: dict[str, Any] = {
            "action_endpoint": action_endpoint_config(f"{self.actions_url}/webhook"),
            "tracker_store": tracker_store_config(env.get("TTHC_TRACKER_STORE_URL", ""), sqlite_path),
        }
        lock_store = lock_store_config(env.get("TTHC_LOCK_STORE_URL", ""))
        if lock_store:
            config["lock_store"] = lock_store
        path = self.state_dir / "rasa-endpoints.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path

    def _rasa(self) -> RasaServer:
        return RasaServer(
            port=self.rasa_port,
            host=LOOPBACK,
            model=self.model,
            endpoints=self.write_endpoints(),
            log_file=self.logs_dir / "rasa.log",
            token=self.rasa_token,
            actions_secret=self.actions_secret,
        )

    def environment(self) -> dict[str, str]:
        """The environment every supervised process gets (each reads what concerns it)."""
        env = {**PROCESS_DEFAULTS, **os.environ}
        env.update(
            PYTHONPATH=str(PROJECT_ROOT),
            RASA_TELEMETRY_ENABLED="false",
            TTHC_HOST=self.host,
            TTHC_PORT=str(self.app_port),
            TTHC_RASA_URL=self.rasa_url,
            TTHC_RASA_TOKEN=self.rasa_token,
            TTHC_ACTIONS_URL=self.actions_url,
            TTHC_ACTIONS_SECRET=self.actions_secret,
            TTHC_CONNECTORS_DB=os.environ.get("TTHC_CONNECTORS_DB") or str(self.state_dir / "connectors.db"),
            TTHC_TRACKER_DB=str(self.tracker_db or self.state_dir / "rasa-tracker.db"),
            TTHC_SECRET_KEY=secret_key_from(self.state_dir),
            TTHC_DATABASE_URL=self.database_url,
        )
        env.update(self.app_env)
        return env

    def _proxy_options(self) -> list[str]:
        """X-Forwarded-For is believed only from TTHC_TRUSTED_PROXIES (uvicorn trusts 127.0.0.1 else)."""
        proxies = {**os.environ, **self.app_env}.get("TTHC_TRUSTED_PROXIES", "").replace(" ", "")
        return ["--proxy-headers", "--forwarded-allow-ips", proxies] if proxies else ["--no-proxy-headers"]

    def app_command(self, port: int) -> list[str]:
        return [
            *UVICORN, "connectors.app:create_app", "--factory",
            "--host", self.host, "--port", str(port), *self._proxy_options(),
            # Slow clients are cut: unfinished requests (connectors.slowclients), idle keep-alives.
            "--http", "connectors.slowclients:TimedH11Protocol",
            "--timeout-keep-alive", "5", "--h11-max-incomplete-event-size", "16384",
            "--timeout-graceful-shutdown", str(APP_GRACE_SECONDS),
        ]  # fmt: skip

    @staticmethod
    def actions_command(port: int) -> list[str]:
        return [
            *UVICORN, "bot.actions.server:create_app", "--factory",
            "--host", LOOPBACK, "--port", str(port), "--timeout-keep-alive", "30",
        ]  # fmt: skip

    def _commands(self) -> dict[str, list[str]]:
        commands = {"app": self.app_command(self.app_port)}
        if self.with_rasa:
            rasa = self._rasa()
            rasa.check_installed()
            commands["rasa"] = rasa.command()
            commands["actions"] = self.actions_command(self.actions_port)
        return commands

    def ports(self) -> dict[str, int]:
        """The ports this stack listens on, by what listens there (checked free at start)."""
        ports = {"the app": self.app_port}
        if self.with_rasa:
            ports.update({"Rasa": self.rasa_port, "the action server": self.actions_port})
        return ports

    def write_supervisor_config(self) -> Path:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        state = self.state_dir
        lines = [
            "[supervisord]",
            "nodaemon=true",
            "umask=077",
            f"logfile={_conf_value(str(self.logs_dir / 'supervisord.log'))}",
            f"logfile_maxbytes={LOG_MAX_BYTES}",
            f"logfile_backups={LOG_BACKUPS}",
            f"pidfile={_conf_value(str(state / 'supervisord.pid'))}",
            f"childlogdir={_conf_value(str(self.logs_dir))}",
            "",
            "[unix_http_server]",
            f"file={_conf_value(str(self.socket_path))}",
            "chmod=0700",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        ]
        # Lower priority starts first and stops last: the app stops before Rasa and the actions (and
        # a load balancer in front of them last). Replicas are named like ``app-2``.
        priorities = {"haproxy": 5, "rasa": 10, "actions": 20, "app": 30}
        stop_wait = {"haproxy": 5, "rasa": 20, "actions": 10, "app": APP_GRACE_SECONDS + 5}
        for name, command in self._commands().items():
            kind = name.split("-")[0]
            # The token is read from supervisord's environment, not written into the file.
            line = _conf_value(shlex.join(command)).replace(self.rasa_token, "%(ENV_TTHC_RASA_TOKEN)s")
            lines += [
                "",
                f"[program:{name}]",
                f"command={line}",
                f"directory={_conf_value(str(PROJECT_ROOT))}",
                f"priority={priorities[kind]}",
                "umask=077",
                "autostart=true",
                "autorestart=true",
                "startsecs=3",
                "startretries=10",
                "stopsignal=TERM",
                f"stopwaitsecs={stop_wait[kind]}",
                "stopasgroup=true",
                "killasgroup=true",
                "redirect_stderr=true",
                f"stdout_logfile={_conf_value(str(self.logs_dir / f'{name}.log'))}",
                f"stdout_logfile_maxbytes={self.log_max_bytes}",
                f"stdout_logfile_backups={LOG_BACKUPS}",
            ]
        path = state / "supervisord.conf"
        private_file(path)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    # ---- start, watch, stop -------------------------------------------------------------------

    def start(self) -> None:
        for name, port in self.ports().items():
            if port_in_use(port):
                raise RuntimeError(f"Port {port} ({name}) is already in use; is another stack running?")
        config = self.write_supervisor_config()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        # Files an earlier version left readable by everyone become private too.
        earlier = [self.tracker_db or self.state_dir / "rasa-tracker.db", self.state_dir / "connectors.db"]
        for path in [*earlier, *self.logs_dir.glob("*.log*")]:
            if path.is_file():
                private_file(path)
        supervisord = Path(sys.executable).with_name("supervisord")
        logger.info("Starting %s under supervisord (logs: %s)", ", ".join(self.programs), self.logs_dir)
        # Every file supervisord and its processes create (databases, logs) is the owner's alone.
        errors = self.logs_dir / "supervisord.err"
        private_file(errors)
        self._errors = errors.open("ab")
        self._supervisord = subprocess.Popen(
            [str(supervisord), "-c", str(config)],
            cwd=PROJECT_ROOT,
            env=self.environment(),
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            start_new_session=True,
            umask=0o077,
        )

    def _rpc(self) -> Any:
        return xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(self.socket_path))

    def process_info(self, name: str) -> dict[str, Any] | None:
        try:
            return self._rpc().supervisor.getProcessInfo(name)
        except (OSError, xmlrpc.client.Error):
            return None

    @property
    def pids(self) -> dict[str, int | None]:
        infos = {name: self.process_info(name) for name in self.programs}
        return {name: (info or {}).get("pid") or None for name, info in infos.items()}

    def kill(self, name: str, signum: int = signal.SIGKILL) -> int:
        """Send ``signum`` to one supervised process (tests use it to simulate a crash)."""
        pid = self.pids.get(name)
        if not pid:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, signum)
        return pid

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.app_url}/healthz", timeout=10.0)
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    def dead_process(self) -> str | None:
        """Why the stack cannot serve: supervisord gone, or a process it gave up on."""
        if self._supervisord is not None and self._supervisord.poll() is not None:
            return f"supervisord exited with code {self._supervisord.returncode}; see {self.logs_dir}"
        for name in self.programs:
            info = self.process_info(name)
            if info and info.get("statename") == "FATAL":
                return f"{name} keeps failing to start; see {self.logs_dir / (name + '.log')}"
        return None

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
        rpc = self._rpc()
        rpc.supervisor.stopProcess("rasa")
        rpc.supervisor.startProcess("rasa", False)
        return self.wait_ready(timeout)

    def stop(self) -> None:
        process, self._supervisord = self._supervisord, None
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        if process is None or process.poll() is not None:
            return
        # supervisord stops its processes in order (each within its stopwaitsecs), then exits.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=APP_GRACE_SECONDS + 60)
        except subprocess.TimeoutExpired:
            logger.warning("supervisord did not stop in time; killing it and its processes")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

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
    timeout = float(os.environ.get("TTHC_READY_TIMEOUT", "300"))
    # Ctrl-C and SIGTERM both stop the stack, also when started in the background with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_keyboard_interrupt)
    stack = Stack(
        app_port=settings.port,
        rasa_port=rasa_port,
        host=settings.host,
        state_dir=os.environ.get("TTHC_STATE_DIR") or settings.var_dir,
        actions_port=urlsplit(settings.actions_url).port,
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
        # A service manager (or make) may signal again: the stop in progress finishes regardless.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
