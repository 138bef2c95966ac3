"""State the app's replicas share (Redis at 127.0.0.1:6379, the app's database on SQLite and
PostgreSQL): Zalo message leases, the live-push fan-out, the Zalo token refresh under one lock, and
rate-limit counters."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from connectors.db import Database
from connectors.live import LiveBus
from connectors.ratelimit import RateLimiter
from connectors.settings import AppSettings, ZaloSettings
from connectors.zalo.client import REFRESH_TOKEN, ZaloClient
from connectors.zalo.store import ZaloStore
from tests.integration.test_zalo import APP_ID, APP_SECRET, FIRST_REFRESH_TOKEN, fake_zalo  # noqa: F401

pytestmark = pytest.mark.integration

# A database number of its own, so other users of the local Redis are not disturbed.
REDIS_URL = os.environ.get("TTHC_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


T = TypeVar("T")


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: the browser tests leave an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    yield REDIS_URL
    client.close()


def test_a_zalo_message_is_taken_over_only_once_its_replicas_lease_ran_out(app_db: Database) -> None:
    first, second, third = ZaloStore(app_db), ZaloStore(Database(app_db.url)), ZaloStore(Database(app_db.url))
    assert first.claim_message("m1", "u1", "lệ phí bao nhiêu", owner="replica-a", lease_seconds=30)
    assert second.take_over(3600, "replica-b", 30) == []  # replica a is answering it
    first.renew_leases(["m1"], "replica-a", 0.01)
    time.sleep(0.05)  # replica a died: its lease runs out
    assert [message.msg_id for message in second.take_over(3600, "replica-b", 30)] == ["m1"]
    assert third.take_over(3600, "replica-c", 30) == []  # taken once
    first.renew_leases(["m1"], "replica-a", 0.01)  # a stale replica cannot take it back
    time.sleep(0.05)
    assert third.take_over(3600, "replica-c", 30) == []
    second.release_leases(["m1"], "replica-b")  # a stop frees it for whoever comes next
    assert [message.msg_id for message in third.take_over(3600, "replica-c", 30)] == ["m1"]
    for store in (second, third):
        store.db.dispose()


def test_a_change_on_one_replica_wakes_the_streams_of_another_through_redis(redis_url: str) -> None:
    async def scenario() -> float:
        writer, reader = LiveBus(redis_url), LiveBus(redis_url)
        await writer.start()
        await reader.start()
        try:
            await asyncio.sleep(0.3)  # both subscribed
            changed = reader.changed()
            started = time.monotonic()
            await writer.publish()
            await reader.wait(changed)
            assert changed.is_set()
            return time.monotonic() - started
        finally:
            await writer.aclose()
            await reader.aclose()

    assert run_in_own_loop(scenario()) < 1.0  # pushed, not polled (the safety poll is 10 s)


def test_without_redis_a_stream_is_woken_in_its_own_process_and_polls_each_second() -> None:
    async def scenario() -> tuple[bool, float]:
        bus = LiveBus()
        changed = bus.changed()
        await bus.publish()
        woken = changed.is_set()
        started = time.monotonic()
        await bus.wait(bus.changed())
        return woken, time.monotonic() - started

    woken, waited = run_in_own_loop(scenario())
    assert woken and 0.9 < waited < 2.0


def test_replicas_refreshing_at_once_spend_the_refresh_token_once(
    fake_zalo,  # noqa: F811
    app_db: Database,
    redis_url: str,
) -> None:
    fake, api_base = fake_zalo
    settings = ZaloSettings(
        app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key="k", refresh_token=FIRST_REFRESH_TOKEN,
        oa_api_base=api_base, oauth_base=api_base, timeout_seconds=5.0,
    )  # fmt: skip
    import redis

    redis.Redis.from_url(redis_url).delete("tthc:zalo:token-refresh")

    async def scenario() -> list[str]:
        clients = [
            ZaloClient(settings, ZaloStore(Database(app_db.url)), redis_url=redis_url) for _ in range(4)
        ]
        try:
            return list(await asyncio.gather(*(client.refresh_access_token() for client in clients)))
        finally:
            for client in clients:
                await client.aclose()
                client.store.db.dispose()

    tokens = run_in_own_loop(scenario())
    assert tokens == ["access-1"] * 4
    assert len(fake.calls("/v4/oa/access_token")) == 1
    assert ZaloStore(app_db).get_token(REFRESH_TOKEN)[0] == "refresh-1"


def test_rate_limit_counters_are_shared_through_redis(redis_url: str) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    storage = AppSettings(redis_url=redis_url).rate_limit_storage
    assert storage == redis_url and AppSettings().rate_limit_storage == "memory://"
    first, second = (RateLimiter(3, 60, storage, name) for _ in range(2))

    async def scenario() -> tuple[list[bool], bool, float, float]:
        allowed = [await first.allow("sender"), await second.allow("sender"), await first.allow("sender")]
        fourth = await second.allow("sender")  # the fourth message, on the other replica
        return allowed, fourth, await second.retry_after("sender"), await first.retry_after("someone else")

    allowed, fourth, wait, other_wait = run_in_own_loop(scenario())
    assert allowed == [True] * 3 and not fourth
    assert 0 < wait <= 60 and other_wait == 0.0
