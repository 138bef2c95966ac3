"""The coordinators' analytics on the real app over HTTP, on SQLite and PostgreSQL: known rows inserted
through the models give exact figures in /console/api/stats, its CSVs and the unanswered exports; only
coordinators see them; bad parameters get a clear 422."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from analytics_rows import BIRTH, RESIDENCE, SINCE, UNTIL, WINDOW, fill
from console_client import ConsoleClient, add_volunteer
from test_zalo import serve

from connectors.app import create_app
from connectors.console.analytics_api import TABLES
from connectors.db import Database
from connectors.settings import AppSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def app(app_db: Database, database_url: str, tmp_path: Path) -> Iterator[str]:
    fill(app_db)
    settings = AppSettings(database_url=database_url, var_dir=tmp_path, rasa_url="http://127.0.0.1:9")
    server, thread, url = serve(create_app(settings))
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)


def coordinator_of(url: str, database_url: str) -> ConsoleClient:
    client = ConsoleClient(url)
    assert client.login(add_volunteer(database_url, role="coordinator")).status_code == 200
    return client


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_stats_are_exact_for_known_rows(app: str, database_url: str) -> None:
    client = coordinator_of(app, database_url)
    response = client.get(f"stats?{WINDOW}")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["window"]["since"] == SINCE.isoformat() and stats["window"]["until"] == UNTIL.isoformat()
    assert (stats["conversations"], stats["messages"], stats["questions"]) == (4, 8, 7)
    assert stats["by_channel"] == {
        "web": {"conversations": 3, "messages": 6, "questions": 5},
        "zalo": {"conversations": 1, "messages": 2, "questions": 2},
    }
    # not found, low confidence (0.4 < 0.5), out of scope, not understood, and one "Chưa đúng"
    assert stats["unanswered"] == 5
    assert stats["unanswered_detail"] == {"turns": 4, "feedback_down": 1, "total": 5}
    assert stats["feedback"] == {"up": 2, "down": 1}
    assert stats["satisfaction"] == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}
    assert stats["handoffs"] == 3 and stats["reports"] == 3
    assert stats["rates"] == {"helpful": 0.6667, "satisfaction": 0.75, "unanswered": 0.5714}
    assert stats["outcomes"] == {
        "answered": 3,
        "asked_back": 1,
        "not_found": 1,
        "not_understood": 1,
        "other": 1,
        "out_of_scope": 1,
    }

    daily = {(row["date"], row["channel"]): row for row in stats["daily"]}
    assert len(daily) == 14  # seven days, both channels, empty days included
    assert daily["2026-11-01", "web"] == {
        "date": "2026-11-01",
        "channel": "web",
        "conversations": 1,
        "messages": 1,
        "questions": 1,
    }
    assert (daily["2026-11-02", "web"]["messages"], daily["2026-11-02", "web"]["questions"]) == (2, 1)
    assert daily["2026-11-03", "web"] == {
        "date": "2026-11-03",
        "channel": "web",
        "conversations": 2,
        "messages": 3,
        "questions": 3,
    }
    assert daily["2026-11-05", "zalo"]["conversations"] == 1 and daily["2026-11-07", "web"]["messages"] == 0

    assert stats["top_procedures"] == [
        {"code": RESIDENCE, "name": "Đăng ký tạm trú", "questions": 3},
        {"code": BIRTH, "name": "Thủ tục đăng ký khai sinh", "questions": 1},
    ]
    feedback = {row["date"]: row for row in stats["feedback_detail"]["daily"]}
    assert feedback["2026-11-02"] == {"date": "2026-11-02", "up": 1, "down": 0, "helpful_rate": 1.0}
    assert feedback["2026-11-03"]["helpful_rate"] == 0.0 and feedback["2026-11-04"]["helpful_rate"] is None
    assert stats["feedback_detail"]["reasons"] == {"wrong_procedure": 1}
    satisfaction = {row["date"]: row for row in stats["satisfaction_detail"]["daily"]}
    assert satisfaction["2026-11-03"] == {
        "date": "2026-11-03",
        "1": 0,
        "2": 1,
        "3": 0,
        "4": 0,
        "5": 0,
        "total": 1,
        "rate": 0.0,
    }
    handoffs = stats["handoff_detail"]
    assert (handoffs["count"], handoffs["taken"], handoffs["not_taken"]) == (3, 2, 1)
    assert handoffs["wait_seconds"] == {"median": 90.0, "p90": 120.0, "max": 120.0}  # 60 s and 120 s
    assert handoffs["statuses"] == {"closed": 1, "released": 1, "waiting": 1}
    assert handoffs["ended_by"] == {"closed": 1, "released": 1, "taken_over": 1}
    assert handoffs["by_channel"] == {"web": 2, "zalo": 1}
    assert stats["reports_by_place"] == [
        {"province": "Thành phố Hà Nội", "commune": "Phường Hoàn Kiếm", "reports": 2},
        {"province": "Thành phố Hồ Chí Minh", "commune": None, "reports": 1},
    ]
    assert stats["reports_by_procedure"] == [
        {"code": RESIDENCE, "name": "Đăng ký tạm trú", "reports": 2},
        {"code": BIRTH, "name": "Thủ tục đăng ký khai sinh", "reports": 1},  # the name from the catalogue
    ]
    # a lower threshold: the 0.4 answer is no longer low confidence
    assert client.get(f"stats?{WINDOW}&low_confidence=0.3").json()["unanswered"] == 4


def test_csv_exports_match_the_page_tables(app: str, database_url: str) -> None:
    client = coordinator_of(app, database_url)
    tables = client.get(f"stats?{WINDOW}").json()["tables"]
    assert set(tables) == set(TABLES)
    for name, table in tables.items():
        rows = rows_of(client.get(f"stats/{name}.csv?{WINDOW}"))
        assert rows[0] == table["columns"], name
        assert len(rows) == len(table["rows"]) + 1, name
    assert rows_of(client.get(f"stats/procedures.csv?{WINDOW}")) == [
        ["Mã thủ tục", "Tên thủ tục", "Số câu hỏi"],
        [RESIDENCE, "Đăng ký tạm trú", "3"],
        [BIRTH, "Thủ tục đăng ký khai sinh", "1"],
    ]
    daily = rows_of(client.get(f"stats/daily.csv?{WINDOW}"))
    assert daily[0] == ["Ngày", "Kênh", "Cuộc trò chuyện", "Tin nhắn", "Câu hỏi"]
    assert ["2026-11-03", "Web", "2", "3", "3"] in daily and ["2026-11-05", "Zalo", "1", "2", "2"] in daily
    satisfaction = rows_of(client.get(f"stats/satisfaction.csv?{WINDOW}"))
    assert satisfaction[0][1:6] == [
        "Rất hài lòng",
        "Hài lòng",
        "Bình thường",
        "Không hài lòng",
        "Rất không hài lòng",
    ]
    assert ["2026-11-02", "1", "0", "0", "0", "0", "1", "100.0"] in satisfaction
    handoffs = dict(rows_of(client.get(f"stats/handoffs.csv?{WINDOW}"))[1:])
    assert handoffs["Số yêu cầu gặp tình nguyện viên"] == "3"
    assert handoffs["Thời gian chờ nhận, trung vị (giây)"] == "90.0"
    places = rows_of(client.get(f"stats/reports-by-place.csv?{WINDOW}"))
    assert places[1:] == [["Thành phố Hà Nội", "Phường Hoàn Kiếm", "2"], ["Thành phố Hồ Chí Minh", "", "1"]]

    unanswered = rows_of(client.get(f"stats/unanswered.csv?{WINDOW}"))
    texts = [row[3] for row in unanswered[1:]]
    # newest first; the cell a spreadsheet would run as a formula is defused
    assert texts == [
        '\'=HYPERLINK("http://x")',
        "thời tiết hôm nay",
        "tạm trú bao lâu",
        "khai sinh cho con",
        "làm hộ chiếu ở đâu",
    ]
    down = next(row for row in unanswered if row[3] == "tạm trú bao lâu")
    assert down[2] == "Bị đánh giá “Chưa đúng”" and down[6] == "Sai thủ tục" and down[7] == "sai rồi"
    missing = client.get(f"stats/nothing.csv?{WINDOW}")
    assert missing.status_code == 404


def test_unanswered_list_and_eval_set_export(app: str, database_url: str) -> None:
    client = coordinator_of(app, database_url)
    found = client.get(f"unanswered?{WINDOW}").json()
    assert found["count"] == {"turns": 4, "feedback_down": 1, "total": 5}
    kinds = {item["text"]: item["kind"] for item in found["items"]}
    assert kinds == {
        '=HYPERLINK("http://x")': "not_understood",
        "thời tiết hôm nay": "out_of_scope",
        "tạm trú bao lâu": "feedback_down",
        "khai sinh cho con": "low_confidence",
        "làm hộ chiếu ở đâu": "not_found",
    }
    assert len(client.get(f"unanswered?{WINDOW}&limit=2").json()["items"]) == 2

    response = client.get(f"unanswered.yaml?{WINDOW}")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    header = text.split("questions:", 1)[0]
    assert header.strip() and all(line.startswith("#") for line in header.strip().splitlines())
    assert "`codes` is left empty" in header
    exported = yaml.safe_load(text)
    assert exported == {
        "questions": [
            {"q": '=HYPERLINK("http://x")', "codes": []},
            {"q": "thời tiết hôm nay", "codes": []},
            {"q": "tạm trú bao lâu", "codes": []},
            {"q": "khai sinh cho con", "codes": []},
            {"q": "làm hộ chiếu ở đâu", "codes": []},
        ]
    }
    empty = yaml.safe_load(client.get("unanswered.yaml?since=2020-01-01&until=2020-01-02").text)
    assert empty == {"questions": []}


def test_only_coordinators_see_the_analytics(app: str, database_url: str) -> None:
    paths = (
        f"stats?{WINDOW}",
        f"stats/daily.csv?{WINDOW}",
        f"unanswered?{WINDOW}",
        f"unanswered.yaml?{WINDOW}",
    )
    anonymous = ConsoleClient(app)
    volunteer = ConsoleClient(app)
    assert volunteer.login(add_volunteer(database_url)).status_code == 200
    for path in paths:
        assert anonymous.get(path).status_code == 401, path
        refused = volunteer.get(path)
        assert refused.status_code == 403 and "điều phối viên" in refused.json()["detail"], path
    page = coordinator_of(app, database_url).get("stats")  # the default window: the last 30 days
    assert page.status_code == 200
    window = page.json()["window"]
    span = datetime.fromisoformat(window["until"]) - datetime.fromisoformat(window["since"])
    assert span == timedelta(days=30)


BAD_QUERIES = [
    ("stats", "since=hom-qua", "since"),
    ("stats", "since=2026-11-08&until=2026-11-01", "since phải trước until"),
    ("stats", "since=2020-01-01&until=2026-01-01", "tối đa 400 ngày"),
    ("stats/daily.csv", "until=2026-13-45", "until"),
    ("stats", "low_confidence=2", "low_confidence"),
    ("unanswered.yaml", "low_confidence=nan", "low_confidence"),
    ("unanswered", "limit=0", "limit"),
    ("stats/unanswered.csv", "limit=abc", "limit"),
    ("stats", "sort=desc", "không được hỗ trợ"),
    ("unanswered", "since=" + "2" * 100, "quá dài"),
]


def test_bad_parameters_get_a_clear_422(app: str, database_url: str) -> None:
    client = coordinator_of(app, database_url)
    for path, query, message in BAD_QUERIES:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.text)
        assert message in response.json()["detail"], (path, query)


def test_the_page_and_its_chart_library_are_served_by_the_app(app: str) -> None:
    import httpx

    page = httpx.get(f"{app}/console/analytics", timeout=10)
    assert page.status_code == 200 and "Thống kê" in page.text and "cdn" not in page.text.lower()
    library = httpx.get(f"{app}/console/analytics/static/chart.umd.js", timeout=10)
    assert library.status_code == 200, "run `make web-deps`"
    assert "Chart.js v4." in library.text[:400]
    script = httpx.get(f"{app}/console/analytics/static/analytics.js", timeout=10)
    assert script.status_code == 200 and "stats?" in script.text
    assert httpx.get(f"{app}/console/analytics/static/other.js", timeout=10).status_code == 404
    common = httpx.get(f"{app}/console/static/common.js", timeout=10)
    assert common.status_code == 200 and common.headers["content-type"].startswith("application/javascript")
    assert "var TTHC" in common.text
    assert httpx.get(f"{app}/console/static/other.js", timeout=10).status_code == 422  # the path pattern
