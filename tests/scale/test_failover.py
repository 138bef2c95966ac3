"""Scale-out on loopback (``make test-scale``): 2 app and 2 Rasa replicas behind haproxy, the local
PostgreSQL (a database of its own) and Redis (database 12), 100 conversations at once on the web and
on Zalo (the fake Zalo API), one app and one Rasa replica SIGKILLed mid-run.

Asserted: every conversation finishes with its topic kept; every turn is answered (a client's retry
of a turn cut by the failover is allowed, and counted) and is in the shared tracker; no Zalo message
is answered twice; no 5xx but 503; the killed replicas come back and serve again. The figures are
written to ``test-artifacts/scale.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.rasa_server import DEFAULT_MODEL
from connectors.cluster import Cluster
from connectors.run import free_port
from tests.integration.test_zalo import (  # noqa: F401 (the fixture)
    fake_zalo,
    sign,
    text_event,
    zalo_env,
)

pytestmark = pytest.mark.scale

POSTGRES_URL = os.environ.get("TTHC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TTHC_TEST_SCALE_REDIS_URL", "redis://127.0.0.1:6379/12")
WEB_CONVERSATIONS, ZALO_CONVERSATIONS = 70, 30
TOPICS = {
    "1.001193": "Con tôi mới sinh, làm giấy khai sinh cần gì?",
    "3.000347": "đổi bằng lái xe hết hạn cần giấy tờ gì",
}
FOLLOW_UPS = ["lệ phí bao nhiêu?", "nộp ở đâu?", "mất bao lâu?"]
TURN_DEADLINE_SECONDS = 150.0
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def shared_state() -> Iterator[str]:
    """A PostgreSQL database of its own (dropped afterwards) and an empty Redis database."""
    import psycopg
    import redis

    name = f"tthc_scale_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
        cache = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        cache.ping()
    except (psycopg.OperationalError, redis.RedisError) as error:
        pytest.fail(f"the scale test needs PostgreSQL at {POSTGRES_URL} and Redis at {REDIS_URL}: {error}")
    admin.execute(f'CREATE DATABASE "{name}"')
    cache.flushdb()
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        cache.flushdb()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def cluster(shared_state: str, fake_zalo, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"no trained Rasa model at {DEFAULT_MODEL}; run `make train`")
    _, api_base = fake_zalo
    running = Cluster(
        apps=2,
        rasas=2,
        app_port=free_port(),
        rasa_port=free_port(),
        state_dir=tmp_path,
        app_env={
            "TTHC_DATABASE_URL": shared_state,
            "TTHC_TRACKER_STORE_URL": shared_state,
            "TTHC_LOCK_STORE_URL": REDIS_URL,
            "TTHC_REDIS_URL": REDIS_URL,
            # Every test client comes from 127.0.0.1.
            "TTHC_RATE_LIMIT_MESSAGES": "1000",
            "TTHC_RATE_LIMIT_IP_MESSAGES": "100000",
            "TTHC_SUPPORT_DAYS": "1-7",
            "TTHC_SUPPORT_HOURS": "00:00-24:00",
            **zalo_env(api_base),
            "ZALO_LEASE_SECONDS": "6",
            "ZALO_HOLD_POLL_SECONDS": "0.5",
        },
    )
    running.start()
    try:
        assert running.wait_all_up(float(os.environ.get("TTHC_TEST_READY_TIMEOUT", "900"))), (
            running.server_states(),
            _tail(running.logs_dir),
        )
        yield running
    finally:
        running.stop()


def _tail(logs: Path, lines: int = 15) -> str:
    return "\n".join(
        f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for path in sorted(logs.glob("*.log"))
    )


@dataclass
class Tally:
    turns: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


async def _post_until_answered(
    http: httpx.AsyncClient, tally: Tally, url: str, **kwargs: Any
) -> httpx.Response:
    """One turn; a 503 or a cut connection (the failover window) is retried and counted."""
    deadline = time.monotonic() + TURN_DEADLINE_SECONDS
    while True:
        started = time.monotonic()
        try:
            response = await http.post(url, **kwargs)
        except httpx.TransportError as error:
            tally.errors.append(type(error).__name__)
        else:
            tally.statuses[response.status_code] += 1
            if response.status_code != 503:
                tally.latencies.append(time.monotonic() - started)
                return response
        assert time.monotonic() < deadline, "a turn was not answered within the deadline"
        tally.retries += 1
        await asyncio.sleep(1.0)


async def web_conversation(http: httpx.AsyncClient, url: str, sender: str, code: str, tally: Tally) -> None:
    for text in [TOPICS[code], *FOLLOW_UPS]:
        response = await _post_until_answered(
            http, tally, f"{url}/api/chat", json={"sender_id": sender, "text": text}
        )
        assert response.status_code == 200, (response.status_code, response.text)
        answer = " ".join(message.get("text") or "" for message in response.json()["messages"])
        assert code in answer, (sender, text, answer)
        tally.turns += 1
        await asyncio.sleep(0.3)


async def zalo_conversation(
    http: httpx.AsyncClient, url: str, fake: Any, user: str, code: str, tally: Tally, answers: dict[str, list]
) -> None:
    answers[user] = []
    for text in [TOPICS[code], *FOLLOW_UPS]:
        before = len(_delivered_to(fake, user))
        event = text_event(text, user_id=user)
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": sign(body, event["timestamp"])}
        response = await _post_until_answered(
            http, tally, f"{url}/zalo/webhook", content=body, headers=headers
        )
        assert response.status_code == 200, (response.status_code, response.text)
        # The answer arrives through the OA API; it is complete once nothing came for a while.
        deadline, last_change, seen = time.monotonic() + TURN_DEADLINE_SECONDS, time.monotonic(), before
        while True:
            await asyncio.sleep(0.25)
            now = len(_delivered_to(fake, user))
            if now != seen:
                seen, last_change = now, time.monotonic()
            if seen > before and time.monotonic() - last_change > 2.0:
                break
            assert time.monotonic() < deadline, f"Zalo user {user} got no answer to {text!r}"
        parts = _delivered_to(fake, user)[before:]
        answers[user].append(parts)
        assert code in " ".join(parts), (user, text, parts)
        tally.turns += 1


def _delivered_to(fake: Any, user: str) -> list[str]:
    return [
        item["message"].get("text", "") for item in fake.delivered if item["recipient"]["user_id"] == user
    ]


async def run_conversations(cluster: Cluster, fake: Any) -> dict[str, Any]:
    web, zalo = Tally(), Tally()
    answers: dict[str, list] = {}
    codes = list(TOPICS)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=90.0, limits=limits) as http:
        senders = [f"scale-{uuid.uuid4().hex[:10]}" for _ in range(WEB_CONVERSATIONS)]
        users = [f"9{uuid.uuid4().int % 10**17:017d}" for _ in range(ZALO_CONVERSATIONS)]
        url = cluster.app_url
        tasks = [
            *(web_conversation(http, url, s, codes[i % 2], web) for i, s in enumerate(senders)),
            *(
                zalo_conversation(http, url, fake, u, codes[i % 2], zalo, answers)
                for i, u in enumerate(users)
            ),
        ]

        async def kill_mid_run() -> dict[str, Any]:
            total = (WEB_CONVERSATIONS + ZALO_CONVERSATIONS) * (1 + len(FOLLOW_UPS))
            while web.turns + zalo.turns < total * 0.3:
                await asyncio.sleep(0.2)
            killed_at = time.monotonic()
            done_before = web.turns + zalo.turns
            for name in ("app-1", "rasa-1"):
                cluster.kill(name, signal.SIGKILL)
            back: dict[str, float] = {}
            await asyncio.sleep(3.0)
            while len(back) < 2 and time.monotonic() - killed_at < 600:
                states = cluster.server_states()
                for name in ("app-1", "rasa-1"):
                    if name not in back and states.get(name, "").startswith("UP"):
                        back[name] = round(time.monotonic() - killed_at, 1)
                await asyncio.sleep(1.0)
            return {"turns_done_at_kill": done_before, "seconds_until_back": back}

        killer = asyncio.create_task(kill_mid_run())
        started = time.monotonic()
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - started
        failover = await killer
    return {
        "web": web,
        "zalo": zalo,
        "answers": answers,
        "seconds": seconds,
        "failover": failover,
        "senders": senders,
        "users": users,
    }


def test_100_conversations_survive_the_loss_of_an_app_and_a_rasa_replica(cluster: Cluster, fake_zalo) -> None:  # noqa: F811
    fake, _ = fake_zalo
    result = asyncio.run(run_conversations(cluster, fake))
    web, zalo = result["web"], result["zalo"]
    turns_each = 1 + len(FOLLOW_UPS)

    # Every turn answered on its topic (asserted per turn), none lost.
    assert web.turns == WEB_CONVERSATIONS * turns_each and zalo.turns == ZALO_CONVERSATIONS * turns_each
    # No 5xx but 503 (the window: no replica could take the request).
    statuses = web.statuses + zalo.statuses
    assert all(status < 500 or status == 503 for status in statuses), statuses
    # No Zalo message answered twice: each turn's parts once, nothing arriving later.
    time.sleep(3.0)
    for user, turns in result["answers"].items():
        for parts in turns:
            assert len(parts) == len(set(parts)), (user, parts)
        assert sum(len(parts) for parts in turns) == len(_delivered_to(fake, user)), user

    # Every turn is in the shared tracker, in order (a retried turn may be there twice).
    rasa = httpx.Client(base_url=cluster.rasa_url, params={"token": cluster.rasa_token}, timeout=30)
    codes = list(TOPICS)
    conversations = [
        *((sender, codes[i % 2]) for i, sender in enumerate(result["senders"])),
        *((f"zalo:{user}", codes[i % 2]) for i, user in enumerate(result["users"])),
    ]
    for conversation, code in conversations:
        events = rasa.get(f"/conversations/{conversation}/tracker").json()["events"]
        said = iter(event.get("text") for event in events if event.get("event") == "user")
        assert all(text in said for text in [TOPICS[code], *FOLLOW_UPS]), conversation

    # The killed replicas are back and take traffic again.
    failover = result["failover"]
    assert set(failover["seconds_until_back"]) == {"app-1", "rasa-1"}, (failover, cluster.server_states())
    before = cluster.served()

    async def more_turns() -> None:
        tally = Tally()
        async with httpx.AsyncClient(timeout=60.0) as http:
            senders = [f"after-{i}-{uuid.uuid4().hex[:6]}" for i in range(12)]
            await asyncio.gather(
                *(web_conversation(http, cluster.app_url, s, "1.001193", tally) for s in senders)
            )

    asyncio.run(more_turns())
    after = cluster.served()
    assert after["app-1"] > before["app-1"] and after["rasa-1"] > before["rasa-1"], (before, after)

    report = {
        "conversations": {"web": WEB_CONVERSATIONS, "zalo": ZALO_CONVERSATIONS, "turns_each": turns_each},
        "seconds": round(result["seconds"], 1),
        "turns_per_second": round((web.turns + zalo.turns) / result["seconds"], 1),
        "failover": failover,
        "client_retries": {"web": web.retries, "zalo": zalo.retries},
        "cut_connections": {"web": len(web.errors), "zalo": len(zalo.errors)},
        "haproxy_retries": cluster.retries(),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "turns_lost": 0,
        "uptime": Path("/proc/loadavg").read_text().split()[:3],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "scale.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
