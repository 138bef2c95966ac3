"""Throughput of 1+1 and 2+2 replicas (app + Rasa, each Rasa with its action server) behind haproxy,
side by side in one run (one 2+2 cluster, then with its second replicas taken out of haproxy): turns/s
and latency at 10, 30 and 60 concurrent senders, each holding fresh 4-turn conversations one after the
other and sending the next turn as soon as it has the answer (closed loop: at N senders the mean latency
is N / throughput, whatever the machine); then 30 senders paced to offer 40 turns/s between them (open
loop, each sends a turn every 0.75 s; latency counted from when the turn was due, so a late answer also
delays, and is charged to, the sender's next turn); and the memory of the processes serving 1+1.

Needs the local PostgreSQL (``TTHC_BENCH_POSTGRES_URL``; a database of its own is created and
dropped) and Redis (``TTHC_BENCH_REDIS_URL``, database 13, emptied). ``TTHC_BENCH_SECONDS`` sets how
long each level runs (default 30 s).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.chat import percentile, rss_mib
from connectors.cluster import Cluster
from connectors.run import free_port

POSTGRES_URL = os.environ.get("TTHC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TTHC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SENDERS = (10, 30, 60)
PACED_SENDERS = 30
PACED_TURNS_PER_SECOND = 40.0
CONVERSATION = [
    "Con tôi mới sinh, làm giấy khai sinh cần gì?",
    "lệ phí bao nhiêu?",
    "nộp ở đâu?",
    "mất bao lâu?",
]


async def _load(
    url: str, senders: int, seconds: float, turns_per_second: float | None = None
) -> dict[str, Any]:
    """Closed loop when ``turns_per_second`` is None; else each sender's turns are due every
    ``senders / turns_per_second`` seconds, the senders' schedules evenly staggered."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds
    interval = senders / turns_per_second if turns_per_second else 0.0

    async def sender(http: httpx.AsyncClient, index: int) -> None:
        nonlocal errors
        due = time.perf_counter() + index * interval / senders
        while time.monotonic() < stop_at:
            conversation = f"bench-{uuid.uuid4().hex[:12]}"
            for text in CONVERSATION:
                if interval:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    started, due = due, due + interval
                else:
                    started = time.perf_counter()
                response = await http.post("/api/chat", json={"sender_id": conversation, "text": text})
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    limits = httpx.Limits(max_connections=senders + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.monotonic()
        await asyncio.gather(*(sender(http, index) for index in range(senders)))
        elapsed = time.monotonic() - started
    return {
        "turns_per_second": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "errors": errors,
    }


def _database() -> tuple[str, Any]:
    import psycopg

    name = f"tthc_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name, admin


def _levels(url: str, seconds: float) -> dict[int | str, dict[str, Any]]:
    levels: dict[int | str, dict[str, Any]] = {
        senders: asyncio.run(_load(url, senders, seconds)) for senders in SENDERS
    }
    levels["paced"] = asyncio.run(_load(url, PACED_SENDERS, seconds, PACED_TURNS_PER_SECOND))
    return levels


def run(seconds: float) -> dict[str, Any]:
    """One 2+2 cluster: measured as it is, then with replicas 2 taken out of haproxy (1+1; their idle
    processes stay up but get no request). Memory of 1+1 is that of the processes left serving."""
    import redis

    url, admin = _database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tthc-bench-") as state_dir:
            cluster = Cluster(
                apps=2, rasas=2, app_port=free_port(), rasa_port=free_port(), state_dir=Path(state_dir),
                app_env={
                    "TTHC_DATABASE_URL": url, "TTHC_TRACKER_STORE_URL": url, "TTHC_LOCK_STORE_URL": REDIS_URL,
                    "TTHC_REDIS_URL": REDIS_URL, "TTHC_RATE_LIMIT_MESSAGES": "100000",
                    "TTHC_RATE_LIMIT_IP_MESSAGES": "1000000",
                },
            )  # fmt: skip
            started = time.monotonic()
            with cluster:
                if not cluster.wait_all_up(900):
                    raise RuntimeError(f"the replicas did not come up: {cluster.server_states()}")
                results["ready_seconds"] = time.monotonic() - started
                asyncio.run(_load(cluster.app_url, 4, 5.0))  # warm-up of every replica
                results["2+2"] = _levels(cluster.app_url, seconds)
                for name in ("app-2", "rasa-2", "actions-2"):
                    cluster.set_serving(name, False)
                time.sleep(2.0)
                results["1+1"] = _levels(cluster.app_url, seconds)
                serving = ["haproxy", "app-1", "rasa-1", "actions-1"]
                results["memory_1+1"] = {name: rss_mib(cluster.pid_of(name) or 0) for name in serving}
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.close()
    return results


def main() -> None:
    seconds = float(os.environ.get("TTHC_BENCH_SECONDS", "30"))
    load = Path("/proc/loadavg").read_text().split()[:3]
    results = run(seconds)
    names = ["1+1", "2+2"]
    print(
        f"Load average before the run: {' '.join(load)}; each level {seconds:.0f} s, fresh 4-turn "
        "conversations\n"
    )
    print("| senders | " + " | ".join(f"{n} turns/s | {n} p50 | {n} p95 | {n} p99" for n in names) + " |")
    print("|---|" + "---|" * 4 * len(names))
    for senders in (*SENDERS, "paced"):
        cells = []
        for name in names:
            level = results[name][senders]
            cells += [f"{level['turns_per_second']:.1f}"] + [
                f"{level[p]:.0f} ms" for p in ("p50", "p95", "p99")
            ]
            if level["errors"]:
                cells[-1] += f" ({level['errors']} errors)"
        label = f"{PACED_SENDERS}, paced to {PACED_TURNS_PER_SECOND:.0f}/s" if senders == "paced" else senders
        print(f"| {label} | " + " | ".join(cells) + " |")
    memory = results["memory_1+1"]
    print(
        f"\n- paced: each of {PACED_SENDERS} senders' turns is due every "
        f"{PACED_SENDERS / PACED_TURNS_PER_SECOND:.2f} s, latency counted from when it was due"
    )
    print(f"- all 2+2 replicas up after {results['ready_seconds']:.0f} s")
    parts = ", ".join(f"{name} {mib:.0f}" for name, mib in memory.items())
    print(f"- memory of the 1+1 stack: {sum(memory.values()):.0f} MiB ({parts})")
    print(f"- load average after the run: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
