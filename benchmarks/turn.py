"""What one turn costs, end to end, on a 1+1 stack behind haproxy: CPU seconds per turn of each
process, Rasa's policy predictions and the policies that made them, the action-server calls and the
connections they took, and the SQL statements per turn (tracker store and app database).

CPU seconds come from ``/proc/<pid>/stat`` over a fixed load, so they hold while other jobs load the
machine (latency does not). SQL statements are counted from PostgreSQL's own log
(``TTHC_BENCH_PG_LOG``): the run's two databases (app, tracker) get ``log_statement = 'all'`` and are
dropped afterwards; the database named in a log line tells which process ran the statement.

``python -m benchmarks.turn [--model var/rasa-models/tthc.tar.gz] [--conversations 40] [--senders 4]``;
``TTHC_BENCH_PYSPY=/path/to/py-spy`` also records the stacks (py-spy's raw format) of Rasa, the app
and the action server during the load (``var/profile/<process>.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.scale import CONVERSATION, POSTGRES_URL, REDIS_URL
from connectors.cluster import Cluster
from connectors.run import free_port

PG_LOG = Path(os.environ.get("TTHC_BENCH_PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
PROCESSES = ("haproxy", "app-1", "rasa-1", "actions-1")
TICKS = os.sysconf("SC_CLK_TCK")
# Debian's log_line_prefix '%m [%p] %q%u@%d ': the database is in every line of a session.
_STATEMENT = re.compile(r"\] \w+@(\w+) LOG:  (?:statement|execute [^:]*): (.*)")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants so far."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident and proportional set size (RSS, PSS: shared pages divided among their users) of a
    process and its descendants, in MiB."""
    rss = pss = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return rss / 1024, pss / 1024


def _postgres_backends(admin: Any, databases: dict[str, str]) -> dict[int, str]:
    rows = admin.execute(
        "SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY(%s)", (list(databases.values()),)
    ).fetchall()
    role_of = {name: role for role, name in databases.items()}
    return {pid: f"postgres ({role_of[datname]})" for pid, datname in rows}


def _databases(admin: Any) -> dict[str, str]:
    names = {}
    for role in ("app", "tracker"):
        name = f"tthc_turn_{role}_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
        names[role] = name
    return names


def _statements(log_text: str, databases: dict[str, str]) -> collections.Counter[tuple[str, str]]:
    """(database role, statement kind) → count; kind is the verb and its table."""
    role_of = {name: role for role, name in databases.items()}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for match in _STATEMENT.finditer(log_text):
        role = role_of.get(match.group(1))
        if role is None:
            continue
        sql = match.group(2).strip()
        words = sql.split()
        verb = words[0].upper() if words else "?"
        table = _TABLE.search(sql)
        if verb == "SELECT" and len(words) > 1:  # SQLAlchemy puts FROM on the next line
            kind = f"SELECT {words[1].split('.')[0]}"
        elif table:
            kind = f"{verb} {table.group(1)}"
        else:
            kind = "ping (pool_pre_ping)" if verb == ";" else verb
        counts[(role, kind)] += 1
    return counts


async def _load(url: str, conversations: int, senders: int) -> tuple[list[str], list[float]]:
    ids = [f"turn-{uuid.uuid4().hex[:12]}" for _ in range(conversations)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for conversation in ids:
        queue.put_nowait(conversation)
    latencies: list[float] = []

    async def sender(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            conversation = queue.get_nowait()
            for text in CONVERSATION:
                started = time.perf_counter()
                response = await http.post("/api/chat", json={"sender_id": conversation, "text": text})
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    return ids, latencies


def _predictions(cluster: Cluster, ids: list[str]) -> tuple[int, collections.Counter[str]]:
    """Actions Rasa predicted (every ActionExecuted after the session start), by policy and action."""
    by_policy: collections.Counter[str] = collections.Counter()
    turns = 0
    for conversation in ids:
        tracker = httpx.get(
            f"{cluster.rasa_url}/conversations/{conversation}/tracker",
            params={"token": cluster.rasa_token, "include_events": "ALL"},
            timeout=30,
        ).json()
        events = tracker["events"]
        turns += sum(1 for event in events if event["event"] == "user")
        started = False
        for event in events:
            if event["event"] == "user":
                started = True
            elif event["event"] == "action" and started:
                policy = (event.get("policy") or "none").split("_", 2)[-1]
                by_policy[f"{event['name']} by {policy}"] += 1
    return turns, by_policy


def _haproxy(cluster: Cluster) -> dict[str, dict[str, int]]:
    return {
        row["pxname"]: {
            "requests": int(row.get("req_tot") or 0),
            "connections": int(row.get("conn_tot") or 0),
        }
        for row in cluster.stats()
        if row.get("svname") == "FRONTEND"
    }


def _pyspy(pyspy: str, pids: dict[str, int], seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    out.mkdir(parents=True, exist_ok=True)
    spies = []
    for name, pid in pids.items():
        if name == "haproxy":
            continue
        command = [pyspy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50"]
        command += ["--format", "raw", "--nonblocking", "--output", str(out / f"{name}.txt")]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


def run(model: Path, conversations: int, senders: int) -> dict[str, Any]:
    import psycopg
    import redis

    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    databases = _databases(admin)
    base = POSTGRES_URL.rsplit("/", 1)[0]
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        with tempfile.TemporaryDirectory(prefix="tthc-turn-") as state_dir:
            cluster = Cluster(
                apps=1, rasas=1, app_port=free_port(), rasa_port=free_port(), state_dir=Path(state_dir),
                model=model,
                app_env={
                    "TTHC_DATABASE_URL": f"{base}/{databases['app']}",
                    "TTHC_TRACKER_STORE_URL": f"{base}/{databases['tracker']}",
                    "TTHC_LOCK_STORE_URL": REDIS_URL, "TTHC_REDIS_URL": REDIS_URL,
                    "TTHC_RATE_LIMIT_MESSAGES": "100000", "TTHC_RATE_LIMIT_IP_MESSAGES": "1000000",
                },
            )  # fmt: skip
            with cluster:
                if not cluster.wait_all_up(900):
                    raise RuntimeError(f"the replicas did not come up: {cluster.server_states()}")
                asyncio.run(_load(cluster.app_url, 4, 2))  # warm-up
                pids = {name: cluster.pid_of(name) or 0 for name in PROCESSES}
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                backends_before = _postgres_backends(admin, databases)
                backend_cpu = {pid: cpu_seconds(pid) for pid in backends_before}
                proxy_before = _haproxy(cluster)
                log_offset = PG_LOG.stat().st_size if os.access(PG_LOG, os.R_OK) else None
                pyspy = os.environ.get("TTHC_BENCH_PYSPY")
                spies = _pyspy(pyspy, pids, 40, Path("var/profile")) if pyspy else []
                started = time.monotonic()
                ids, latencies = asyncio.run(_load(cluster.app_url, conversations, senders))
                elapsed = time.monotonic() - started
                cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                # Backends that connected during the load count from 0.
                for pid, name in {**backends_before, **_postgres_backends(admin, databases)}.items():
                    cpu[name] = cpu.get(name, 0.0) + cpu_seconds(pid) - backend_cpu.get(pid, 0.0)
                memory = {name: memory_mib(pid) for name, pid in pids.items()}
                proxy_after = _haproxy(cluster)
                log_text = ""
                if log_offset is not None:
                    with PG_LOG.open("rb") as log:
                        log.seek(log_offset)
                        log_text = log.read().decode("utf-8", "replace")
                for spy in spies:
                    spy.wait(timeout=120)
                turns, by_policy = _predictions(cluster, ids)
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        for name in databases.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return {
        "turns": turns,
        "seconds": elapsed,
        "latencies": latencies,
        "cpu": cpu,
        "memory": memory,
        "predictions": by_policy,
        "proxy": {
            name: {key: proxy_after[name][key] - proxy_before.get(name, {}).get(key, 0) for key in values}
            for name, values in proxy_after.items()
        },
        "statements": _statements(log_text, databases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("var/rasa-models/tthc.tar.gz"))
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--senders", type=int, default=4)
    args, _ = parser.parse_known_args()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    result = run(args.model, args.conversations, args.senders)
    after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    turns = result["turns"]
    print(f"Model {args.model}; {turns} turns ({args.conversations} 4-turn conversations, {args.senders} "
          f"senders) in {result['seconds']:.0f} s; load average before {load}, after {after}\n")  # fmt: skip
    print("| process | CPU s per turn |\n|---|---|")
    for name, seconds in result["cpu"].items():
        print(f"| {name} | {seconds / turns * 1000:.1f} ms |")
    print(f"| total | {sum(result['cpu'].values()) / turns * 1000:.1f} ms |")
    memory = result["memory"]
    print("\n| process | RSS MiB | PSS MiB |\n|---|---|---|")
    for name, (rss, pss) in memory.items():
        print(f"| {name} | {rss:.0f} | {pss:.0f} |")
    rss, pss = (sum(values) for values in zip(*memory.values(), strict=True))
    print(f"| total | {rss:.0f} | {pss:.0f} |")
    print("\n| predicted action, by policy | per turn |\n|---|---|")
    for key, count in sorted(result["predictions"].items(), key=lambda item: -item[1]):
        print(f"| {key} | {count / turns:.2f} |")
    print("\n| haproxy frontend | requests per turn | connections per turn |\n|---|---|---|")
    for name, values in result["proxy"].items():
        if name != "stats":
            print(f"| {name} | {values['requests'] / turns:.2f} | {values['connections'] / turns:.2f} |")
    if not result["statements"]:
        print(f"\n(SQL statements not counted: {PG_LOG} is not readable)")
        return
    print("\n| database | statement | per turn |\n|---|---|---|")
    for (role, kind), count in sorted(result["statements"].items()):
        print(f"| {role} | {kind} | {count / turns:.2f} |")
    for role in ("app", "tracker"):
        total = sum(count for (r, _), count in result["statements"].items() if r == role)
        print(f"| {role} | all | {total / turns:.2f} |")


if __name__ == "__main__":
    main()
