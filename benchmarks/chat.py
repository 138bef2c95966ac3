"""`/api/chat` latency (warm) and memory of each process.

Uses the stack at ``TTHC_APP_URL`` when one answers there (e.g. after `make run`); otherwise starts
its own (``connectors.run.Stack`` on free ports), reporting how long it took to become ready.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from connectors.run import Stack, free_port

CONVERSATION = [
    "Con tôi mới sinh, làm giấy khai sinh cần gì?",
    "lệ phí bao nhiêu?",
    "nộp ở đâu?",
    "Đăng ký tạm trú cần giấy tờ gì?",
    "mất bao lâu?",
    "làm online được không?",
    "cấp đổi giấy phép lái xe cần gì",
    "gia vang hom nay",
    "cảm ơn",
]
CONVERSATIONS = 8
WARMUP_TURNS = 5


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def pid_listening_on(port: int) -> int | None:
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in targets for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB."""
    total_kib = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total_kib += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, StopIteration):
            continue
    return total_kib / 1024


def measure(app_url: str) -> list[float]:
    latencies: list[float] = []
    with httpx.Client(base_url=app_url, timeout=60) as client:
        warm = f"bench-warm-{uuid.uuid4().hex[:8]}"
        for text in CONVERSATION[:WARMUP_TURNS]:
            client.post("/api/chat", json={"sender_id": warm, "text": text}).raise_for_status()
        for _ in range(CONVERSATIONS):
            sender = f"bench-{uuid.uuid4().hex[:12]}"
            for text in CONVERSATION:
                started = time.perf_counter()
                response = client.post("/api/chat", json={"sender_id": sender, "text": text})
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(app_url: str, rasa_url: str, actions_url: str, ready_seconds: float | None) -> None:
    latencies = measure(app_url)
    print("| measure | value |")
    print("|---|---|")
    if ready_seconds is not None:
        print(f"| stack start to ready (Rasa + actions + app, trained model) | {ready_seconds:.1f} s |")
    print(f"| /api/chat requests (warm, {CONVERSATIONS} conversations) | {len(latencies)} |")
    print(f"| /api/chat p50 | {percentile(latencies, 0.50):.0f} ms |")
    print(f"| /api/chat p95 | {percentile(latencies, 0.95):.0f} ms |")
    print(f"| /api/chat mean / max | {statistics.mean(latencies):.0f} / {max(latencies):.0f} ms |")
    processes = {"app (FastAPI)": app_url, "action server (actions + search)": actions_url, "Rasa": rasa_url}
    for name, url in processes.items():
        port = urlsplit(url).port
        pid = pid_listening_on(port) if port else None
        memory = f"{rss_mib(pid):.0f} MiB" if pid else "n/a"
        print(f"| RSS {name} | {memory} |")


def main() -> None:
    app_url = os.environ.get("TTHC_APP_URL", "http://127.0.0.1:8000").rstrip("/")
    try:
        health = httpx.get(f"{app_url}/healthz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        health = None
    if health and health.get("status") == "ok":
        print(f"Using the running stack at {app_url}\n")
        rasa_url = os.environ.get("TTHC_RASA_URL", "http://127.0.0.1:5005")
        report(app_url, rasa_url, os.environ.get("TTHC_ACTIONS_URL", "http://127.0.0.1:5055"), None)
        return
    with tempfile.TemporaryDirectory(prefix="tthc-bench-") as state_dir:
        stack = Stack(
            app_port=free_port(),
            rasa_port=free_port(),
            state_dir=Path(state_dir),
            app_env={"TTHC_RATE_LIMIT_MESSAGES": "10000", "TTHC_RATE_LIMIT_IP_MESSAGES": "100000"},
        )
        started = time.monotonic()
        with stack:
            if not stack.wait_ready(180):
                raise RuntimeError(f"the stack did not become ready: {stack.health()}")
            report(stack.app_url, stack.rasa_url, stack.actions_url, time.monotonic() - started)


if __name__ == "__main__":
    main()
