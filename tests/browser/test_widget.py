"""The help widget in headless Chromium: the real demo page, the real app, the real assistant."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.run import Stack

pytestmark = pytest.mark.browser

OPEN_LABEL = "Mở trợ lý hỏi đáp thủ tục hành chính"
INPUT_LABEL = "Câu hỏi của bạn"
SHADOW = "document.querySelector('#tthc-chat-widget').shadowRoot"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def open_widget(page: Any) -> None:
    page.get_by_role("button", name=OPEN_LABEL).click()
    page.get_by_role("dialog", name="Trợ lý Thủ tục").wait_for()


def ask(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name=INPUT_LABEL)
    box.fill(text)
    box.press("Enter")


def bot_texts(page: Any) -> list[str]:
    return page.evaluate(f"Array.from({SHADOW}.querySelectorAll('.msg.bot')).map(node => node.innerText)")


def wait_for_bot_messages(page: Any, count: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        f"{SHADOW}.querySelectorAll('.msg.bot').length >= {count} && "
        f"{SHADOW}.querySelector('.typing').hidden",
        timeout=timeout,
    )


def contrast(foreground: str, background: str) -> float:
    def luminance(color: str) -> float:
        channels = [int(value) / 255 for value in re.findall(r"\d+", color)[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_conversation_survives_a_reload(page: Any, stack: Stack, artifacts: Path) -> None:
    page.goto(f"{stack.app_url}/")
    open_widget(page)
    welcome = len(bot_texts(page))
    choices = page.locator("#tthc-chat-widget .choice")
    welcome_choices = choices.count()
    ask(page, "dang ky tam tru can giay to gi")
    wait_for_bot_messages(page, welcome + 1)
    answer = "\n".join(bot_texts(page)[welcome:])
    assert "tạm trú" in answer.lower()
    assert "CT01" in answer or "tờ khai" in answer.lower(), answer
    assert "Nộp: trực tiếp" in answer and "trực tuyến" in answer and " đ" in answer, "where to file, the fee"
    assert "Bạn cần thủ tục khác?" in answer, "close variants offered under the answer"
    assert page.evaluate(f"{SHADOW}.querySelectorAll('.msg.bot li').length") >= 2, "the checklist is a list"
    page.screenshot(path=str(artifacts / "widget-answer.png"))
    checklist = page.locator("#tthc-chat-widget .msg.bot").filter(has_text="CT01").first
    checklist.evaluate("node => node.scrollIntoView({block: 'start'})")
    page.get_by_role("dialog", name="Trợ lý Thủ tục").screenshot(path=str(artifacts / "widget-checklist.png"))

    # Click a button of the answer: its payload goes to the assistant, its title shows as the user's turn.
    assert choices.count() > welcome_choices, "the answer offers buttons"
    button = choices.nth(welcome_choices)
    title = button.inner_text()
    before = len(bot_texts(page))
    button.click()
    wait_for_bot_messages(page, before + 1)
    user_turns = page.evaluate(f"Array.from({SHADOW}.querySelectorAll('.msg.user')).map(n => n.innerText)")
    assert user_turns[-1].endswith(title)
    assert "/choose" not in " ".join(bot_texts(page)[before:])
    history = bot_texts(page)

    page.reload()
    page.get_by_role("dialog", name="Trợ lý Thủ tục").wait_for()  # it stays open within the tab session
    assert bot_texts(page) == history
    assert page.evaluate(f"{SHADOW}.querySelectorAll('.msg.user').length") == 2
    page.screenshot(path=str(artifacts / "widget-after-reload.png"))

    # The same conversation goes on after the reload: a follow-up is answered.
    ask(page, "lệ phí bao nhiêu?")
    wait_for_bot_messages(page, len(history) + 1)
    assert "đ" in " ".join(bot_texts(page)[len(history) :])
    page.screenshot(path=str(artifacts / "widget-conversation.png"))


def test_keyboard_aria_and_plain_errors(page: Any, app_without_rasa: Stack) -> None:
    page.goto(f"{app_without_rasa.app_url}/")
    launcher = page.get_by_role("button", name=OPEN_LABEL)
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Trợ lý Thủ tục")
    dialog.wait_for()
    assert page.evaluate(f"{SHADOW}.activeElement.id") == "tthc-input"
    assert page.get_by_role("log").count() == 1

    page.keyboard.type("đăng ký tạm trú")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "thử lại" in alert.inner_text()  # Rasa is down: a plain sentence, no status code or stack trace
    assert "503" not in alert.inner_text()

    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate(f"{SHADOW}.activeElement.className") == "launcher"
    assert page.get_by_role("button", name=OPEN_LABEL).get_attribute("aria-expanded") == "false"


def test_readable_contrast(page: Any, app_without_rasa: Stack) -> None:
    page.goto(f"{app_without_rasa.app_url}/")
    open_widget(page)
    pairs = page.evaluate(
        f"""() => ['.launcher', '.header', '.send', '.choice', '.msg.bot', '.note'].map(selector => {{
            const node = {SHADOW}.querySelector(selector);
            const style = getComputedStyle(node);
            let background = style.backgroundColor, parent = node;
            while (background === 'rgba(0, 0, 0, 0)' && parent.parentElement) {{
                parent = parent.parentElement; background = getComputedStyle(parent).backgroundColor;
            }}
            return [selector, style.color, background];
        }})"""
    )
    for selector, foreground, background in pairs:
        assert contrast(foreground, background) >= 4.5, (selector, foreground, background)


def test_phone_width(browser: Any, app_without_rasa: Stack, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{app_without_rasa.app_url}/")
        open_widget(page)
        box = page.get_by_role("dialog", name="Trợ lý Thủ tục").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert box["y"] >= 0 and box["y"] + box["height"] <= 740
        send = page.get_by_role("button", name="Gửi").bounding_box()
        assert send["x"] + send["width"] <= 360 and send["height"] >= 40  # a finger-sized target
        page.screenshot(path=str(artifacts / "widget-phone.png"))
    finally:
        context.close()
