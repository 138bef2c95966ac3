"""The analytics page in Chromium: a coordinator logs in, follows the console's "Thống kê" link, picks a
window, sees every chart drawn and its table with the expected numbers, and downloads a CSV. A volunteer
gets no link and no figures. Screenshots in test-artifacts/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.console import auth
from connectors.db import Database
from connectors.run import Stack
from tests.integration.analytics_rows import RESIDENCE, fill

pytestmark = pytest.mark.browser

PASSWORD = "mat-khau-thong-ke-10"
CHARTS = (
    "chart-daily",
    "chart-procedures",
    "chart-feedback",
    "chart-satisfaction",
    "chart-handoffs",
    "chart-reports-place",
    "chart-reports-procedure",
)
# Non-transparent pixels of a canvas: a drawn chart has thousands, an empty canvas none.
PAINTED = """id => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]) painted++;
  return painted;
}"""


@pytest.fixture(scope="module")
def filled(app_without_rasa: Stack) -> Stack:
    database = Database(app_without_rasa.database_url)
    try:
        fill(database)
    finally:
        database.dispose()
    return app_without_rasa


def account(stack: Stack, role: str) -> str:
    username = f"dpv-{uuid.uuid4().hex[:8]}"
    database = Database(stack.database_url)
    try:
        with database.session() as session:
            auth.add_volunteer(session, username, f"Điều phối {username[-4:]}", role, PASSWORD)
    finally:
        database.dispose()
    return username


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="vi-VN", accept_downloads=True
    )
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context.new_page()
    context.close()
    assert errors == [], errors


def login(page: Any, stack: Stack, username: str) -> None:
    page.goto(f"{stack.app_url}/console")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("tab", name="Hàng chờ").wait_for()


def cells(page: Any, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#table-{table} tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))"
    )


def test_coordinator_sees_charts_tables_and_exports_csv(page: Any, filled: Stack, artifacts: Path) -> None:
    login(page, filled, account(filled, "coordinator"))
    page.get_by_role("link", name="Thống kê").click()
    page.wait_for_url("**/console/analytics")
    page.get_by_text("Đã cập nhật.").wait_for()
    page.get_by_label("Từ ngày").fill("2026-11-01")
    page.get_by_label("Đến hết ngày").fill("2026-11-07")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_function(
        "document.querySelector('#table-daily tbody td')?.innerText === '2026-11-01' && "
        "document.getElementById('status').innerText === 'Đã cập nhật.'"
    )

    summary = dict(
        page.eval_on_selector_all(
            "#summary div",
            "items => items.map(i => [i.querySelector('dt').innerText, i.querySelector('dd').innerText])",
        )
    )
    assert summary["Cuộc trò chuyện"] == "4" and summary["Câu hỏi"] == "7"
    assert summary["Chưa trả lời được"] == "5"
    assert (summary["Hữu ích"], summary["Chưa đúng"]) == ("2", "1")
    assert summary["Tỉ lệ hài lòng (SIPAS)"] == "75 %"
    assert (summary["Chuyển tình nguyện viên"], summary["Phản ánh thêm giấy tờ"]) == ("3", "3")

    for chart in CHARTS:
        label = page.locator(f"#{chart}").get_attribute("aria-label")
        assert label and label.startswith("Biểu đồ"), chart
        assert page.evaluate(f"!!Chart.getChart('{chart}')"), chart
        assert page.evaluate(PAINTED, chart) > 500, f"{chart} is not drawn"

    assert cells(page, "procedures") == [
        [RESIDENCE, "Đăng ký tạm trú", "3"],
        ["1.001193", "Thủ tục đăng ký khai sinh", "1"],
    ]
    assert ["2026-11-03", "Web", "2", "3", "3"] in cells(page, "daily")
    assert cells(page, "reports-by-place")[0] == ["Thành phố Hà Nội", "Phường Hoàn Kiếm", "2"]
    handoffs = dict(row for row in cells(page, "handoffs"))
    assert handoffs["Thời gian chờ nhận, trung vị (giây)"] == "90"
    unanswered = [row[3] for row in cells(page, "unanswered")]
    assert "làm hộ chiếu ở đâu" in unanswered and "tạm trú bao lâu" in unanswered
    captions = page.eval_on_selector_all("caption", "nodes => nodes.map(n => n.innerText)")
    assert "Thủ tục được hỏi nhiều nhất" in captions and len(captions) >= 9
    page.screenshot(path=str(artifacts / "analytics.png"), full_page=True)

    with page.expect_download() as info:
        page.locator('a[data-csv="procedures"]').click()
    download = info.value
    assert download.suggested_filename == "thong-ke-procedures-20261101-20261108.csv"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").splitlines() == [
        "Mã thủ tục,Tên thủ tục,Số câu hỏi",
        f"{RESIDENCE},Đăng ký tạm trú,3",
        "1.001193,Thủ tục đăng ký khai sinh,1",
    ]
    download.save_as(str(artifacts / download.suggested_filename))


def test_a_volunteer_gets_no_analytics(page: Any, filled: Stack, artifacts: Path) -> None:
    login(page, filled, account(filled, "volunteer"))
    assert page.get_by_role("link", name="Thống kê").count() == 0
    page.goto(f"{filled.app_url}/console/analytics")
    page.get_by_text("Chỉ điều phối viên xem được thống kê.").wait_for()
    assert page.locator("#view").is_hidden()


def test_the_default_window_ends_on_todays_date_in_vietnam_whatever_the_browsers_time_zone(
    browser: Any, filled: Stack
) -> None:
    # 17:30 UTC on 1 December is 00:30 on 2 December in Vietnam: a coordinator's browser set to UTC (or to
    # anywhere else) must still show, and ask for, the Vietnamese day that has begun.
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN", timezone_id="UTC")
    try:
        page = context.new_page()
        page.clock.set_fixed_time(datetime(2026, 12, 1, 17, 30, tzinfo=UTC))
        login(page, filled, account(filled, "coordinator"))
        page.goto(f"{filled.app_url}/console/analytics")
        page.get_by_text("Đã cập nhật.").wait_for()
        assert page.get_by_label("Đến hết ngày").input_value() == "2026-12-02"
        assert page.get_by_label("Từ ngày").input_value() == "2026-11-03"
        assert page.locator("#window").inner_text().endswith("đến trước 00:00 3/12/26")
    finally:
        context.close()


REPORT = "cán bộ phường bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú ở Hoàn Kiếm"


def summary_of(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "#summary div",
            "items => items.map(i => [i.querySelector('dt').innerText, i.querySelector('dd').innerText])",
        )
    )


def hoan_kiem_reports(page: Any) -> int:
    rows = cells(page, "reports-by-place")
    return sum(int(row[2]) for row in rows if len(row) == 3 and row[1] == "Phường Hoàn Kiếm")


def test_a_rated_answer_and_a_report_from_the_widget_show_on_the_analytics_page(
    browser: Any, stack: Stack, artifacts: Path
) -> None:
    from test_handoff_browser import ask, wait_for_answer

    coordinator = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    citizen_context = browser.new_context(viewport={"width": 1100, "height": 860}, locale="vi-VN")
    try:
        console = coordinator.new_page()
        login(console, stack, account(stack, "coordinator"))
        console.goto(f"{stack.app_url}/console/analytics")
        console.get_by_text("Đã cập nhật.").wait_for()
        before, reports_before = summary_of(console), hoan_kiem_reports(console)

        citizen = citizen_context.new_page()
        citizen.goto(f"{stack.app_url}/")
        citizen.get_by_role("button", name="Mở trợ lý hỏi đáp thủ tục hành chính").click()
        answer = wait_for_answer(citizen, ask(citizen, "Đăng ký tạm trú cần giấy tờ gì?"))
        assert "tạm trú" in answer.lower()
        shown = citizen.evaluate(
            "document.querySelector('#tthc-chat-widget').shadowRoot.querySelectorAll('.msg.bot').length"
        )
        citizen.locator("#tthc-chat-widget button.choice", has_text="Hữu ích").last.click()
        thanks = wait_for_answer(citizen, shown)
        assert "Cảm ơn" in thanks
        reported = wait_for_answer(citizen, ask(citizen, REPORT))
        assert "PA-" in reported and "Phường Hoàn Kiếm" in reported
        citizen.screenshot(path=str(artifacts / "widget-report.png"))

        console.reload()
        console.get_by_text("Đã cập nhật.").wait_for()
        after = summary_of(console)
        assert int(after["Hữu ích"]) == int(before["Hữu ích"]) + 1
        assert int(after["Phản ánh thêm giấy tờ"]) == int(before["Phản ánh thêm giấy tờ"]) + 1
        assert hoan_kiem_reports(console) == reports_before + 1
        for chart in ("chart-feedback", "chart-reports-place"):
            assert console.evaluate(PAINTED, chart) > 500, chart
        console.locator("#h-reports").scroll_into_view_if_needed()
        console.screenshot(path=str(artifacts / "analytics-after-widget.png"), full_page=True)
    finally:
        citizen_context.close()
        coordinator.close()
