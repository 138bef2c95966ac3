"""The handoff in two browsers: a citizen in the widget asks for a person, a volunteer in the console
sees it arrive live, takes it and writes; the citizen sees it live and after coming back; the volunteer
hands back and the bot answers the next question on the same topic. Screenshots in test-artifacts/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.console import auth
from connectors.db import Database
from connectors.run import Stack

pytestmark = pytest.mark.browser

SHADOW = "document.querySelector('#tthc-chat-widget').shadowRoot"
PASSWORD = "mat-khau-trinh-duyet-10"


def add_volunteer(stack: Stack, name: str, role: str = "volunteer") -> str:
    username = f"tnv-{uuid.uuid4().hex[:8]}"
    database = Database(stack.database_url)
    try:
        with database.session() as session:
            auth.add_volunteer(session, username, name, role, PASSWORD)
    finally:
        database.dispose()
    return username


@pytest.fixture
def contexts(browser: Any) -> Iterator[tuple[Any, Any]]:
    citizen = browser.new_context(viewport={"width": 1100, "height": 860}, locale="vi-VN")
    volunteer = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    errors: list[str] = []
    for context in (citizen, volunteer):
        context.on("weberror", lambda error: errors.append(str(error.error)))
    yield citizen, volunteer
    citizen.close()
    volunteer.close()
    assert errors == [], errors


def ask(page: Any, text: str) -> int:
    before = page.evaluate(f"{SHADOW}.querySelectorAll('.msg.bot').length")
    box = page.get_by_role("textbox", name="Câu hỏi của bạn")
    box.fill(text)
    box.press("Enter")
    return before


def wait_for_answer(page: Any, before: int) -> str:
    page.wait_for_function(
        f"{SHADOW}.querySelectorAll('.msg.bot').length > {before} && "
        f"{SHADOW}.querySelector('.typing').hidden",
        timeout=90_000,
    )
    return page.evaluate(
        f"Array.from({SHADOW}.querySelectorAll('.msg.bot')).slice({before}).map(n => n.innerText).join('\\n')"
    )


def agent_line(page: Any) -> str:
    return page.evaluate(f"{SHADOW}.querySelector('.agent').innerText")


def login(page: Any, stack: Stack, username: str) -> None:
    page.goto(f"{stack.app_url}/console")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("tab", name="Hàng chờ").wait_for()


def test_citizen_and_volunteer_round_trip(contexts: tuple[Any, Any], stack: Stack, artifacts: Path) -> None:
    citizen_context, volunteer_context = contexts
    citizen = citizen_context.new_page()
    citizen.goto(f"{stack.app_url}/")
    citizen.get_by_role("button", name="Mở trợ lý hỏi đáp thủ tục hành chính").click()
    answer = wait_for_answer(citizen, ask(citizen, "Đăng ký tạm trú cần giấy tờ gì?"))
    assert "tạm trú" in answer.lower()
    assert "Trợ lý tự động" in agent_line(citizen)

    console = volunteer_context.new_page()
    login(console, stack, add_volunteer(stack, "Nguyễn Thị Lan"))
    sender = citizen.evaluate(
        "Object.values(localStorage).map(JSON.parse).find(v => v && v.senderId).senderId"
    )
    item = console.locator(f'[data-conversation="{sender}"]')
    assert item.count() == 0

    answer = wait_for_answer(citizen, ask(citizen, "Cho tôi gặp người thật"))
    assert "tình nguyện viên" in answer.lower() and "giờ hỗ trợ" in answer.lower()
    citizen.wait_for_function(
        f"{SHADOW}.querySelector('.agent').innerText.includes('đang chờ tình nguyện viên')"
    )

    item.wait_for(timeout=15_000)  # arrives over the live stream, no reload
    text = item.inner_text()
    assert "Web" in text and "chờ" in text and "1.004194" in text and "Cho tôi gặp người thật" in text
    console.screenshot(path=str(artifacts / "console-queue.png"))

    item.click()
    console.get_by_role("button", name="Nhận cuộc trò chuyện").click()
    console.get_by_text("trợ lý đang tạm dừng").wait_for()
    console.get_by_label("Tin nhắn gửi người dân").fill(
        "Chào bạn, mình là Lan. Ở trọ thì cần thêm hợp đồng thuê nhà."
    )
    console.get_by_role("button", name="Gửi", exact=True).click()
    console.locator("#history .volunteer").filter(has_text="hợp đồng thuê nhà").wait_for()

    # The citizen sees it live, with the volunteer's name, and that a person is answering.
    bubble = citizen.locator("#tthc-chat-widget .msg.volunteer").filter(has_text="hợp đồng thuê nhà")
    bubble.wait_for(timeout=15_000)
    assert "Nguyễn Thị Lan" in bubble.inner_text()
    assert "Tình nguyện viên Nguyễn Thị Lan đang trả lời" in agent_line(citizen)
    citizen.screenshot(path=str(artifacts / "widget-volunteer.png"))

    # The citizen writes while the volunteer holds it: no bot answer; the console shows the turn live.
    ask(citizen, "Hợp đồng có cần công chứng không?")
    console.locator("#history .citizen").filter(has_text="công chứng").wait_for(timeout=15_000)
    assert citizen.locator("#tthc-chat-widget .msg.bot").filter(has_text="chưa có câu trả lời").count() == 0
    console.get_by_label("Tin nhắn gửi người dân").fill(
        "Không cần công chứng nếu chủ nhà xác nhận trên ứng dụng."
    )
    console.get_by_role("button", name="Gửi", exact=True).click()
    console.locator("#history .volunteer").filter(has_text="chủ nhà").wait_for()
    console.screenshot(path=str(artifacts / "console-conversation.png"))

    # A message sent while the citizen's page was closed is there when they come back.
    citizen.goto("about:blank")
    console.get_by_label("Tin nhắn gửi người dân").fill("Bạn cần gì thêm cứ nhắn nhé.")
    console.get_by_role("button", name="Gửi", exact=True).click()
    console.locator("#history .volunteer").filter(has_text="cứ nhắn nhé").wait_for()
    citizen.goto(f"{stack.app_url}/")
    citizen.get_by_role("dialog", name="Trợ lý Thủ tục").wait_for()
    citizen.locator("#tthc-chat-widget .msg.volunteer").filter(has_text="cứ nhắn nhé").wait_for(
        timeout=15_000
    )
    assert citizen.locator("#tthc-chat-widget .msg.volunteer").filter(has_text="chủ nhà").count() == 1

    # Hand back: the citizen is told, and the bot answers the next question on the same topic.
    console.get_by_role("button", name="Trả lại cho trợ lý").click()
    citizen.locator("#tthc-chat-widget .msg.bot").filter(has_text="Trợ lý Thủ tục tiếp tục").wait_for(
        timeout=15_000
    )
    citizen.wait_for_function(f"{SHADOW}.querySelector('.agent').innerText === 'Trợ lý tự động đang trả lời'")
    item.wait_for(state="detached", timeout=15_000)
    answer = wait_for_answer(citizen, ask(citizen, "Lệ phí bao nhiêu?"))
    assert "tạm trú" in answer.lower() and "đ" in answer, answer
    citizen.screenshot(path=str(artifacts / "widget-after-handback.png"))


def test_desk_helper_prints_a_clean_a4_checklist(
    contexts: tuple[Any, Any], stack: Stack, artifacts: Path
) -> None:
    _, volunteer_context = contexts
    page = volunteer_context.new_page()
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
    login(page, stack, add_volunteer(stack, "Lê Văn Hùng"))
    page.get_by_role("tab", name="Hỗ trợ tại quầy").click()
    page.get_by_text("Cấp tài khoản định danh điện tử mức độ 02").first.wait_for()
    page.get_by_role("searchbox", name="Tên thủ tục").fill("đăng ký tạm trú")
    page.get_by_role("button", name="Tìm", exact=True).click()
    page.locator("#results button").filter(has_text="1.004194").click()
    boxes = page.locator("#documents input[type=checkbox]")
    boxes.first.wait_for()
    missing_before = page.locator("#missing").inner_text()
    ticked = "• " + boxes.first.evaluate("box => box.parentElement.innerText").strip()
    boxes.first.check()
    missing_after = page.locator("#missing").inner_text()
    assert missing_after.count(ticked) == missing_before.count(ticked) - 1 >= 0
    page.get_by_role("button", name="In danh sách (A4)").click()
    page.wait_for_function("window.__printed === 1")
    page.emulate_media(media="print")
    assert page.locator("#app-view").is_hidden() and page.locator("#print-sheet").is_visible()
    assert "Giấy tờ còn thiếu" in page.locator("#print-sheet").inner_text()
    page.pdf(path=str(artifacts / "console-checklist-a4.pdf"), format="A4")
    page.screenshot(path=str(artifacts / "console-print.png"), full_page=True)
