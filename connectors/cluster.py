"""Replicas on one machine behind haproxy: ``python -m connectors.cluster --apps N --rasas M``.

``Cluster`` is ``connectors.run.Stack`` with N app replicas, M Rasa replicas and M action servers,
and haproxy (Debian's package) in front of each tier, all under one supervisord, which starts a
killed replica again. haproxy checks every replica every 2 s and takes one out of its backend at its
first refused connection; a request whose connection failed or whose replica died before answering
is sent again to another replica (at most ``RETRIES`` times), and one that cannot be gets a 503.
Only the public frontend listens on ``TTHC_HOST``; the Rasa and action-server frontends and the
statistics page stay on loopback.

Shared state must be configured for more than one replica: ``TTHC_DATABASE_URL`` (PostgreSQL),
``TTHC_TRACKER_STORE_URL``, ``TTHC_LOCK_STORE_URL`` and ``TTHC_REDIS_URL``; the cluster refuses to
start several replicas without them. docker/haproxy.cfg is the same topology for containers.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.rasa_server import RasaServer
from connectors.run import LOOPBACK, Stack, free_port

logger = logging.getLogger(__name__)

HAPROXY = os.environ.get("TTHC_HAPROXY", "/usr/sbin/haproxy")
RETRIES = 3
# A Rasa replica killed while it held a conversation's lock: the lock frees itself after this long.
TICKET_LOCK_LIFETIME_SECONDS = 10
CUT_REQUEST_RESPONSE = Path(__file__).resolve().parent.parent / "docker" / "haproxy-cut.http"
SHARED_SETTINGS = ("TTHC_DATABASE_URL", "TTHC_TRACKER_STORE_URL", "TTHC_LOCK_STORE_URL", "TTHC_REDIS_URL")


def haproxy_config(
    public: tuple[str, int],
    apps: list[int],
    rasa_port: int,
    rasas: list[int],
    actions_port: int,
    actions: list[int],
    stats_port: int,
    admin_socket: Path | None = None,
) -> str:
    """haproxy's configuration for the three tiers on one machine (replicas on loopback)."""

    def servers(name: str, ports: list[int]) -> list[str]:
        return [f"    server {name}-{i} {LOOPBACK}:{port}" for i, port in enumerate(ports, 1)]

    lines = [
        "global",
        "    maxconn 4096",
        *([f"    stats socket {admin_socket} mode 600 level admin"] if admin_socket else []),
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 65s",
        "    timeout server 65s",
        "    timeout http-request 10s",
        "    timeout queue 30s",
        # A busy replica may take seconds to answer its check; a dead one refuses at once, and a
        # refused connection on live traffic takes it out without waiting for the next check.
        "    timeout check 5s",
        # A request whose replica refused the connection or died before answering goes to another.
        f"    retries {RETRIES}",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response",
        # TCP checks: Rasa and uvicorn listen only once ready, and an overloaded Rasa answers an HTTP
        # check late, which would take every replica out at the peak.
        "    default-server check inter 2s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down",
        # A request cut by a dying replica that could not be sent again: 503 and Retry-After.
        f"    errorfile 502 {CUT_REQUEST_RESPONSE}",
        "",
        "frontend public",
        f"    bind {public[0]}:{public[1]}",
        "    option forwardfor",
        "    default_backend apps",
        "",
        "backend apps",
        "    balance leastconn",
        *servers("app", apps),
        "",
        "frontend rasa",
        f"    bind {LOOPBACK}:{rasa_port}",
        "    default_backend rasas",
        "",
        "backend rasas",
        "    balance leastconn",
        *servers("rasa", rasas),
        "",
        "frontend actions",
        f"    bind {LOOPBACK}:{actions_port}",
        "    default_backend actions",
        "",
        "backend actions",
        "    balance leastconn",
        *servers("actions", actions),
        "",
        "listen stats",
        f"    bind {LOOPBACK}:{stats_port}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
    ]
    return "\n".join(lines) + "\n"


class Cluster(Stack):
    """``apps`` app replicas and ``rasas`` Rasa replicas (each with an action server) behind haproxy.

    ``app_url`` is the load balancer's public address; ``rasa_url`` and ``actions_url`` are its
    internal frontends, which the apps and Rasa use. Replicas are the supervisord programs
    ``app-1``…, ``rasa-1``…, ``actions-1``…; ``kill("rasa-2")`` simulates a crash.
    """

    def __init__(self, apps: int = 2, rasas: int = 2, app_port: int = 8000, **kwargs: Any) -> None:
        super().__init__(app_port=app_port, **kwargs)
        if apps < 1 or rasas < 1:
            raise ValueError("a cluster needs at least one app and one Rasa replica")
        self.replica_ports = {
            **{f"app-{i}": free_port() for i in range(1, apps + 1)},
            **{f"rasa-{i}": free_port() for i in range(1, rasas + 1)},
            **{f"actions-{i}": free_port() for i in range(1, rasas + 1)},
        }
        self.stats_port = free_port()
        self.app_env.setdefault("TTHC_TRUSTED_PROXIES", LOOPBACK)

    def _replicas(self, kind: str) -> list[str]:
        return [name for name in self.replica_ports if name.startswith(kind + "-")]

    @property
    def programs(self) -> list[str]:
        return ["haproxy", *self.replica_ports]

    def ports(self) -> dict[str, int]:
        frontends = {"the load balancer": self.app_port, "Rasa's frontend": self.rasa_port}
        frontends.update(
            {"the actions' frontend": self.actions_port, "haproxy's statistics": self.stats_port}
        )
        return {**frontends, **self.replica_ports}

    def check_shared_state(self) -> None:
        """Several replicas need the state they share outside their processes."""
        env = {**os.environ, **self.app_env}
        missing = [name for name in SHARED_SETTINGS if not env.get(name)]
        if missing and len(self.replica_ports) > 3:
            raise RuntimeError(f"Replicas need shared state; set {', '.join(missing)}")

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.setdefault("TICKET_LOCK_LIFETIME", str(TICKET_LOCK_LIFETIME_SECONDS))
        return env

    def write_haproxy_config(self) -> Path:
        ports = self.replica_ports
        config = haproxy_config(
            public=(self.host, self.app_port),
            apps=[ports[name] for name in self._replicas("app")],
            rasa_port=self.rasa_port,
            rasas=[ports[name] for name in self._replicas("rasa")],
            actions_port=self.actions_port,
            actions=[ports[name] for name in self._replicas("actions")],
            stats_port=self.stats_port,
            admin_socket=self.admin_socket,
        )
        path = self.state_dir / "haproxy.cfg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config, encoding="utf-8")
        return path

    def _commands(self) -> dict[str, list[str]]:
        if not Path(HAPROXY).exists() and not shutil.which("haproxy"):
            raise FileNotFoundError("haproxy is not installed; run `apt-get install haproxy`")
        self.check_shared_state()
        haproxy = HAPROXY if Path(HAPROXY).exists() else str(shutil.which("haproxy"))
        commands = {"haproxy": [haproxy, "-db", "-f", str(self.write_haproxy_config())]}
        endpoints = self.write_endpoints()
        for name, port in self.replica_ports.items():
            kind = name.split("-")[0]
            if kind == "app":
                commands[name] = self.app_command(port)
            elif kind == "actions":
                commands[name] = self.actions_command(port)
            else:
                rasa = RasaServer(
                    port=port, host=LOOPBACK, model=self.model, endpoints=endpoints,
                    token=self.rasa_token, actions_secret=self.actions_secret,
                )  # fmt: skip
                rasa.check_installed()
                commands[name] = rasa.command()
        return commands

    @property
    def admin_socket(self) -> Path:
        return self.state_dir / "haproxy.sock"

    def set_serving(self, name: str, serving: bool) -> None:
        """Put a replica in or out of its backend (haproxy's runtime API); its process keeps running."""
        import socket

        backend = {"app": "apps", "rasa": "rasas", "actions": "actions"}[name.split("-")[0]]
        command = f"{'enable' if serving else 'disable'} server {backend}/{name}\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin_socket))
            sock.sendall(command.encode())
            sock.recv(4096)

    def pid_of(self, name: str) -> int | None:
        return (self.process_info(name) or {}).get("pid") or None

    # ---- watching the replicas ----------------------------------------------------------------

    def stats(self) -> list[dict[str, str]]:
        """haproxy's statistics, one row per frontend, backend and server (its CSV columns)."""
        try:
            response = httpx.get(f"http://{LOOPBACK}:{self.stats_port}/stats;csv", timeout=5.0)
        except httpx.HTTPError:
            return []
        text = response.text.lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    def server_states(self) -> dict[str, str]:
        """``{"app-1": "UP", "rasa-2": "DOWN", …}`` as haproxy's health checks see them."""
        return {
            row["svname"]: row["status"]
            for row in self.stats()
            if row.get("svname") in self.replica_ports and row.get("pxname") in {"apps", "rasas", "actions"}
        }

    def retries(self) -> dict[str, int]:
        """Requests haproxy sent again (``wretr``) or to another replica (``wredis``), per backend."""
        totals: dict[str, int] = {}
        for row in self.stats():
            if row.get("svname") == "BACKEND":
                totals[row["pxname"]] = int(row.get("wretr") or 0) + int(row.get("wredis") or 0)
        return totals

    def served(self) -> dict[str, int]:
        """Responses each replica sent so far (haproxy's ``hrsp_*`` counters summed)."""
        counts: dict[str, int] = {}
        for row in self.stats():
            if row.get("svname") in self.replica_ports:
                counts[row["svname"]] = int(row.get("stot") or 0)
        return counts

    def all_up(self) -> bool:
        states = self.server_states()
        return len(states) == len(self.replica_ports) and all(s.startswith("UP") for s in states.values())

    def wait_all_up(self, timeout: float = 300.0) -> bool:
        """Until every replica of every tier passes haproxy's health check."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            problem = self.dead_process()
            if problem:
                logger.error("Cluster failed to start: %s", problem)
                return False
            # Listening everywhere, and the app finds Rasa, the actions and the search index ready.
            if self.all_up() and (self.health() or {}).get("status") == "ok":
                return True
            time.sleep(1.0)
        logger.error("Not every replica is up after %.0f s: %s", timeout, self.server_states())
        return False


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument("--rasas", type=int, default=2)
    parser.add_argument("--port", type=int, default=int(os.environ.get("TTHC_PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("TTHC_HOST", LOOPBACK))
    parser.add_argument("--state-dir", default=os.environ.get("TTHC_STATE_DIR", "var/cluster"))
    args = parser.parse_args()
    cluster = Cluster(
        apps=args.apps, rasas=args.rasas, app_port=args.port, rasa_port=free_port(), host=args.host,
        state_dir=Path(args.state_dir).resolve(),
    )  # fmt: skip
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cluster.start()
        if cluster.wait_all_up(float(os.environ.get("TTHC_READY_TIMEOUT", "600"))):
            print(
                f"{args.apps} app and {args.rasas} Rasa replicas ready behind {cluster.app_url}/", flush=True
            )
            print(f"haproxy statistics: http://{LOOPBACK}:{cluster.stats_port}/stats", flush=True)
        while not cluster.dead_process():
            time.sleep(1.0)
        return 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, FileNotFoundError) as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
