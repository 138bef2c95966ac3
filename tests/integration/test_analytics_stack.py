"""Done when: the figures of /console/api/stats match the conversations held through /api/chat against the
real Rasa, its actions and the recorder (each figure read before and after: the stack is shared)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from console_client import ConsoleClient, add_volunteer

from connectors.run import Stack

pytestmark = pytest.mark.integration

REPORT = "cán bộ phường bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú ở Hoàn Kiếm"
REFERENCE = re.compile(r"PA-\d{6}-[2-9A-HJKMNP-Z]{5}")


def payloads(messages: list[dict[str, Any]]) -> dict[str, str]:
    return {button["title"]: button["payload"] for m in messages for button in m.get("buttons") or []}


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


class Citizens:
    """Conversations through /api/chat; counts the turns and the conversations held."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.turns = 0
        self.senders: set[str] = set()

    def new(self) -> str:
        sender = f"test-{uuid.uuid4().hex[:16]}"
        self.senders.add(sender)
        return sender

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{self.stack.app_url}/api/chat", json={"sender_id": sender, "text": text}, timeout=90
        )
        assert response.status_code == 200, response.text
        self.turns += 1
        return response.json()["messages"]


def place_count(stats: dict[str, Any], commune: str) -> int:
    return sum(row["reports"] for row in stats["reports_by_place"] if row["commune"] == commune)


def test_stats_match_the_conversations_held_through_the_chat_api(stack: Stack) -> None:
    boss = ConsoleClient(stack.app_url)
    assert boss.login(add_volunteer(stack.database_url, role="coordinator")).status_code == 200
    volunteer = ConsoleClient(stack.app_url)
    assert volunteer.login(add_volunteer(stack.database_url)).status_code == 200
    before = boss.get("stats").json()
    citizens = Citizens(stack)

    rated_up = citizens.new()  # an answer rated "Hữu ích"
    offered = payloads(citizens.say(rated_up, "đăng ký tạm trú cần giấy tờ gì"))
    assert offered["Hữu ích"] == "/feedback_up"
    citizens.say(rated_up, offered["Hữu ích"])

    rated_down = citizens.new()  # "Chưa đúng", then why
    down = payloads(citizens.say(rated_down, "đổi bằng lái xe hết hạn cần giấy tờ gì"))["Chưa đúng"]
    reasons = payloads(citizens.say(rated_down, down))
    citizens.say(rated_down, reasons["Thông tin cũ"])

    reporter = citizens.new()  # a report of extra papers, in an old district's name
    said = texts(citizens.say(reporter, REPORT))
    reference = REFERENCE.search(said)
    assert reference and "Phường Hoàn Kiếm" in said

    lost = citizens.new()  # the bot does not understand
    citizens.say(lost, "asdf ghjk lmnop")

    satisfied = citizens.new()  # the SIPAS question at the end
    citizens.say(satisfied, "làm giấy khai sinh cần gì")
    levels = payloads(citizens.say(satisfied, "cảm ơn nhé"))
    citizens.say(satisfied, levels["Hài lòng"])

    helped = citizens.new()  # a handoff a volunteer takes and closes
    citizens.say(helped, "Cho tôi gặp người thật")
    assert volunteer.ok(f"conversations/{helped}/take", {})["status"] == "assigned"
    volunteer.ok(f"conversations/{helped}/close")

    after = boss.get("stats").json()

    def grew(key: str) -> int:
        return after[key] - before[key]

    assert grew("conversations") == len(citizens.senders) == 6
    assert grew("messages") == citizens.turns
    # The typed questions (tạm trú, bằng lái, the one not understood, khai sinh; the report's and the
    # handoff's turns may carry an answer too), never the buttons' payloads nor the thanks.
    assert 4 <= grew("questions") <= citizens.turns - 5
    assert after["feedback"]["up"] - before["feedback"]["up"] == 1
    assert after["feedback"]["down"] - before["feedback"]["down"] == 1
    reasons_after, reasons_before = after["feedback_detail"]["reasons"], before["feedback_detail"]["reasons"]
    assert reasons_after.get("outdated", 0) - reasons_before.get("outdated", 0) == 1
    assert {level: after["satisfaction"][level] - before["satisfaction"][level] for level in "12345"} == {
        "1": 0, "2": 0, "3": 0, "4": 1, "5": 0,
    }  # fmt: skip
    assert grew("reports") == 1
    assert place_count(after, "Phường Hoàn Kiếm") - place_count(before, "Phường Hoàn Kiếm") == 1
    assert grew("handoffs") == 1
    handoffs_after, handoffs_before = after["handoff_detail"], before["handoff_detail"]
    assert handoffs_after["taken"] - handoffs_before["taken"] == 1
    assert handoffs_after["statuses"].get("closed", 0) - handoffs_before["statuses"].get("closed", 0) == 1
    assert grew("unanswered") >= 2  # the turn not understood and the "Chưa đúng"

    listed = boss.get("unanswered?limit=5000").json()["items"]
    mine = {(item["kind"], item["text"]) for item in listed}
    # Gibberish is listed whether NLU falls back (not understood) or the search finds nothing sure.
    assert {("not_understood", "asdf ghjk lmnop"), ("low_confidence", "asdf ghjk lmnop")} & mine
    assert ("feedback_down", "đổi bằng lái xe hết hạn cần giấy tờ gì") in mine
    exported = boss.get("unanswered.yaml?limit=5000")
    assert exported.status_code == 200 and "asdf ghjk lmnop" in exported.text
    csv = boss.get("stats/reports-by-place.csv")
    assert csv.status_code == 200 and "Phường Hoàn Kiếm" in csv.content.decode("utf-8-sig")
