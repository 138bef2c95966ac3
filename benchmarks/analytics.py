"""The coordinators' analytics at scale: 1 million chat turns over 180 days, with feedback, satisfaction
answers, handoffs and reports in proportion, in SQLite (a temp dir) and in PostgreSQL when it answers
(a database of its own, dropped afterwards). Times each analytics query and the whole /stats computation
(median of a few runs) over the last 30 days (the page's default) and over all 180 days.

``TTHC_BENCH_ANALYTICS_TURNS`` changes the number of turns; ``TTHC_BENCH_POSTGRES_URL`` the server
(default postgresql://postgres@127.0.0.1:5432/postgres, where the benchmark's database is created;
empty: SQLite only).
"""

from __future__ import annotations

import logging
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from connectors.console import analytics
from connectors.console.analytics_api import tables
from connectors.db import Database
from connectors.db.models import (
    Assignment,
    ChatTurn,
    ExtraPaperReport,
    Feedback,
    Handoff,
    Satisfaction,
    Volunteer,
)

log = logging.getLogger("benchmarks.analytics")

TURNS = int(os.environ.get("TTHC_BENCH_ANALYTICS_TURNS", "1000000"))
DAYS = 180
TURNS_PER_CONVERSATION = 3.5
# Per turn: feedback, a satisfaction answer, a handoff, a report of extra papers.
SHARES = {"feedback": 0.08, "satisfaction": 0.03, "handoffs": 0.01, "reports": 0.002}
OUTCOMES = (
    ("answered", 0.45),
    ("asked_back", 0.15),
    ("not_found", 0.05),
    ("not_understood", 0.05),
    ("out_of_scope", 0.05),
    ("other", 0.25),
)
PROVINCES = ("Thành phố Hà Nội", "Thành phố Hồ Chí Minh", "Thành phố Đà Nẵng", "Tỉnh Lào Cai", "Tỉnh Nghệ An")
RUNS = 5
# Stored with each answered turn, as the recorder does: the rows are as wide as real ones.
ANSWER = (
    "Đăng ký tạm trú (mã 1.004194). Giấy tờ: tờ khai thay đổi thông tin cư trú (mẫu CT01); giấy tờ chứng "
    "minh chỗ ở hợp pháp. Nộp tại Công an cấp xã nơi tạm trú, hoặc trực tuyến trên Cổng Dịch vụ công quốc "
    "gia, VNeID. Lệ phí: 15.000 đồng (trực tuyến 7.000 đồng). Thời hạn: 3 ngày làm việc. Nguồn: Cơ sở dữ "
    "liệu quốc gia về thủ tục hành chính, kiểm tra ngày 01/12/2026."
)
BATCH = 50_000
POSTGRES_URL = os.environ.get("TTHC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
POSTGRES_DB = "fb_analytics_bench"


def _codes() -> list[str]:
    try:
        from knowledge.catalogue import get_catalogue

        return [procedure.code for procedure in list(get_catalogue())[:300]]
    except Exception:
        return [f"1.{i:06d}" for i in range(300)]


class Rows:
    """Deterministic synthetic traffic, generated in time order batch by batch."""

    def __init__(self, turns: int, end: datetime) -> None:
        self.turns = turns
        self.start = end - timedelta(days=DAYS)
        self.span = DAYS * 24 * 3600.0
        self.random = random.Random(14)
        self.codes = _codes()
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.codes))]  # a few procedures dominate
        self.outcomes = [name for name, _ in OUTCOMES]
        self.outcome_weights = [share for _, share in OUTCOMES]

    def moment(self, i: int, count: int) -> datetime:
        return self.start + timedelta(seconds=self.span * (i + self.random.random()) / count)

    def conversation(self, i: int) -> tuple[str, str]:
        number = int(i / TURNS_PER_CONVERSATION)
        return (f"zalo:{number}", "zalo") if number % 10 < 3 else (f"web-{number}", "web")

    def chat_turns(self) -> Iterator[list[dict[str, Any]]]:
        pick = self.random.choices
        for first in range(0, self.turns, BATCH):
            count = min(BATCH, self.turns - first)
            outcomes = pick(self.outcomes, self.outcome_weights, k=count)
            codes = pick(self.codes, self.weights, k=count)
            batch = []
            for offset in range(count):
                i = first + offset
                conversation, channel = self.conversation(i)
                outcome = outcomes[offset]
                asked = outcome in ("answered", "asked_back")
                batch.append(
                    {
                        "conversation_id": conversation,
                        "channel": channel,
                        "at": self.moment(i, self.turns),
                        "text_masked": f"câu hỏi số {i} về thủ tục, số điện thoại [SĐT]",
                        "outcome": outcome,
                        "procedure_code": codes[offset] if asked else None,
                        "confidence": round(self.random.uniform(0.2, 1.0), 3) if asked else None,
                        "answer_text": ANSWER if asked else None,
                    }
                )
            yield batch

    def each(self, share: float) -> Iterator[tuple[int, str, str, datetime]]:
        count = int(self.turns * share)
        for n in range(count):
            i = int(n * self.turns / count)
            conversation, channel = self.conversation(i)
            yield n, conversation, channel, self.moment(i, self.turns)

    def feedback(self) -> list[dict[str, Any]]:
        rows = []
        for _, conversation, channel, at in self.each(SHARES["feedback"]):
            up = self.random.random() < 0.75
            rows.append(
                {
                    "conversation_id": conversation,
                    "channel": channel,
                    "at": at,
                    "rating": "up" if up else "down",
                    "reason": None
                    if up
                    else self.random.choice(("wrong_procedure", "missing_info", "outdated")),
                    "comment_masked": None,
                    "procedure_code": self.random.choice(self.codes),
                    "answer_text": None,
                    "question_masked": None if up else "câu hỏi bị đánh giá chưa đúng",
                }
            )
        return rows

    def satisfaction(self) -> list[dict[str, Any]]:
        levels = self.random.choices(
            (5, 4, 3, 2, 1), (0.5, 0.3, 0.1, 0.06, 0.04), k=int(self.turns * SHARES["satisfaction"])
        )
        return [
            {
                "conversation_id": conversation,
                "channel": channel,
                "at": at,
                "level": levels[n],
                "context": "end",
            }
            for n, conversation, channel, at in self.each(SHARES["satisfaction"])
        ]

    def reports(self) -> list[dict[str, Any]]:
        return [
            {
                "reference": f"PA-BENCH-{n:06d}",
                "conversation_id": conversation,
                "channel": channel,
                "at": at,
                "procedure_code": self.random.choice(self.codes[:30]),
                "procedure_name": None,
                "province": self.random.choice(PROVINCES),
                "commune": f"Phường {self.random.randint(1, 40)}",
                "place_text_masked": None,
                "asked_masked": "bản sao sổ hộ khẩu",
            }
            for n, conversation, channel, at in self.each(SHARES["reports"])
        ]

    def handoffs(self, volunteers: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        handoffs, assignments = [], []
        for n, conversation, channel, at in self.each(SHARES["handoffs"]):
            taken = self.random.random() < 0.9
            status = self.random.choice(("released", "closed")) if taken else "waiting"
            handoffs.append(
                {
                    "id": n + 1,
                    "conversation_id": conversation,
                    "channel": channel,
                    "status": status,
                    "topic": None,
                    "in_hours": True,
                    "requested_at": at,
                    "updated_at": at,
                    "last_citizen_at": at,
                    "assigned_to": None,
                }
            )
            if taken:
                started = at + timedelta(seconds=self.random.expovariate(1 / 240))
                assignments.append(
                    {
                        "handoff_id": n + 1,
                        "volunteer_id": self.random.choice(volunteers),
                        "started_at": started,
                        "ended_at": started + timedelta(minutes=10),
                        "ended_by": status,
                    }
                )
        return handoffs, assignments


def fill(database: Database, rows: Rows) -> float:
    """Bulk insert every row; the seconds it took. PostgreSQL gets the turns through COPY."""
    started = time.perf_counter()
    with database.engine.begin() as connection:
        connection.execute(
            insert(Volunteer.__table__),
            [
                {
                    "username": f"tnv{i}",
                    "name": f"TNV {i}",
                    "role": "volunteer",
                    "password_hash": "x",
                    "disabled": False,
                    "failed_logins": 0,
                    "created_at": rows.start,
                }
                for i in range(20)
            ],
        )
        volunteers = [row[0] for row in connection.execute(text("SELECT id FROM volunteers"))]
    if database.dialect == "postgresql":
        columns = (
            "conversation_id",
            "channel",
            "at",
            "text_masked",
            "outcome",
            "procedure_code",
            "confidence",
        )
        raw = database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY chat_turns ({', '.join(columns)}) FROM STDIN") as copy:
                for batch in rows.chat_turns():
                    for row in batch:
                        copy.write_row([row[column] for column in columns])
            raw.commit()
        finally:
            raw.close()
    else:
        for batch in rows.chat_turns():
            with database.engine.begin() as connection:
                connection.execute(insert(ChatTurn.__table__), batch)
    handoffs, assignments = rows.handoffs(volunteers)
    with database.engine.begin() as connection:
        for table, batch in (
            (Feedback.__table__, rows.feedback()),
            (Satisfaction.__table__, rows.satisfaction()),
            (ExtraPaperReport.__table__, rows.reports()),
            (Handoff.__table__, handoffs),
            (Assignment.__table__, assignments),
        ):
            connection.execute(insert(table), batch)
    if database.dialect == "postgresql":
        # What autovacuum does soon after a bulk load: the visibility map makes index-only scans possible.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def median_ms(work: Callable[[], Any]) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``work`` (SQLite runs in this process, so its CPU time is
    the query's; on PostgreSQL the CPU time is the client's only). The machine may be shared: wall time
    then includes waiting for a core."""
    walls, cpus = [], []
    for _ in range(RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def measure(database: Database, end: datetime) -> list[tuple[str, str, tuple[float, float]]]:
    analytics.procedure_names(["1.004194"])  # the catalogue loads once per process, not timed
    windows = {
        "30 days": analytics.Window(end - timedelta(days=30), end),
        f"{DAYS} days": analytics.Window(end - timedelta(days=DAYS), end),
    }
    queries: dict[str, Callable[[Any, analytics.Window], Any]] = {
        "turns per day and channel": analytics.turn_figures,
        "top procedures": analytics.top_procedures,
        "unanswered count": analytics.unanswered_count,
        "unanswered list (200)": analytics.unanswered,
        "feedback / helpful rate": analytics.feedback_figures,
        "satisfaction": analytics.satisfaction_figures,
        "handoffs": analytics.handoff_figures,
        "reports": analytics.report_figures,
        "whole /stats": lambda session, window: tables(analytics.stats(session, window)),
    }
    results = []
    for window_name, window in windows.items():
        for name, query in queries.items():
            with database.session() as session:
                results.append((window_name, name, median_ms(lambda q=query, s=session, w=window: q(s, w))))
    return results


def explain(database: Database, end: datetime) -> list[str]:
    """The plan of the heaviest query (turns per day and channel over 30 days)."""
    from sqlalchemy import distinct, func, select

    window = analytics.Window(end - timedelta(days=30), end)
    day = analytics.local_day(ChatTurn.at)
    query = (
        select(day, ChatTurn.channel, func.count(distinct(ChatTurn.conversation_id)), func.count())
        .where(ChatTurn.at >= window.since, ChatTurn.at < window.until)
        .group_by(day, ChatTurn.channel)
    )
    prefix = "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN "
    compiled = query.compile(database.engine, compile_kwargs={"literal_binds": False})
    with database.engine.connect() as connection:
        params = compiled.construct_params()
        processed = {
            key: (value.strftime("%Y-%m-%d %H:%M:%S.%f") if database.dialect == "sqlite" else value)
            if isinstance(value, datetime)
            else value
            for key, value in params.items()
        }
        plan = connection.exec_driver_sql(
            prefix + str(compiled),
            processed if database.dialect != "sqlite" else tuple(processed[k] for k in compiled.positiontup),
        ).all()
    return [" ".join(str(part) for part in row) for row in plan]


def report(
    kind: str, seconds: float, results: list[tuple[str, str, tuple[float, float]]], plan: list[str]
) -> None:
    print(f"\n### {kind}: {TURNS:,} chat turns over {DAYS} days, filled in {seconds:.0f} s")
    print(
        f"(median of {RUNS} runs; wall ms / CPU ms of this process; load average {os.getloadavg()[0]:.1f})\n"
    )
    print(f"| query | 30 days | {DAYS} days |")
    print("|---|---:|---:|")
    by_name: dict[str, dict[str, tuple[float, float]]] = {}
    for window_name, name, timing in results:
        by_name.setdefault(name, {})[window_name] = timing
    for name, timings in by_name.items():
        cells = [f"{wall:.0f} / {cpu:.0f}" for wall, cpu in (timings["30 days"], timings[f"{DAYS} days"])]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print("\nPlan of the turns-per-day query (30 days):")
    for line in plan:
        print(f"    {line}")


def bench(kind: str, url: str, end: datetime) -> None:
    database = Database(url)
    try:
        database.upgrade()
        seconds = fill(database, Rows(TURNS, end))
        report(kind, seconds, measure(database, end), explain(database, end))
    finally:
        database.dispose()


def _postgres_admin() -> Any | None:
    if not POSTGRES_URL:
        return None
    try:
        import psycopg

        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except Exception as error:
        log.info("PostgreSQL not reachable at %s (%s): SQLite only", POSTGRES_URL, type(error).__name__)
        return None


def main() -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="tthc-bench-analytics-") as directory:
        bench("SQLite", f"sqlite:///{Path(directory) / 'analytics.db'}", end)
    admin = _postgres_admin()
    if admin is None:
        return
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}"')
        admin.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
        try:
            base = POSTGRES_URL.rsplit("/", 1)[0]
            bench("PostgreSQL", f"{base}/{POSTGRES_DB}", end)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DB}" WITH (FORCE)')


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
