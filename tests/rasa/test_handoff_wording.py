"""The handoff answer as Rasa words it: action_request_human's slots, then the domain's utter_handoff,
through Rasa's own domain loading and response generation (conditional variations on the slots)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import handoff

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
# Hà Nội time: Tuesday 1 December 2026 09:00 and 20:00, Saturday 5 December 12:00.
TUESDAY_MORNING = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TUESDAY_EVENING = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(DOMAIN))


def handoff_answer(
    domain: Domain, monkeypatch: pytest.MonkeyPatch, now: datetime, place: str | None
) -> list[str]:
    monkeypatch.setenv("TTHC_SUPPORT_DAYS", "1-5")
    monkeypatch.setenv("TTHC_SUPPORT_HOURS", "07:30-17:00")
    monkeypatch.setattr(handoff, "_now", lambda: now)
    message = {
        "text": "cho tôi gặp người thật",
        "intent": {"name": "request_human"},
        "entities": [{"entity": "place", "value": place}] if place else [],
    }
    sdk_tracker = Tracker("wording", {}, message, [], False, None, {}, "action_listen")
    events: list[dict[str, Any]] = asyncio.run(
        handoff.ActionRequestHuman().run(CollectingDispatcher(), sdk_tracker, {})
    )
    tracker = DialogueStateTracker.from_events(
        "wording", [SlotSet(e["name"], e["value"]) for e in events], slots=domain.slots
    )
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)

    async def say(response: str) -> str:
        return (await nlg.generate(response, tracker, "rest"))["text"]

    said, centre = asyncio.run(say("utter_handoff")).split("\n")
    return [said, centre]


def test_in_hours_a_volunteer_answers_soon(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    said, centre = handoff_answer(domain, monkeypatch, TUESDAY_MORNING, None)
    assert said.startswith("Tôi đã chuyển cuộc trò chuyện cho tình nguyện viên Đoàn Thanh niên.")
    assert "Giờ hỗ trợ: 07:30–17:00, Thứ Hai đến Thứ Sáu; bây giờ đang trong giờ" in said
    assert "Trung tâm Phục vụ hành chính công của xã/phường hoặc tỉnh nơi bạn nộp hồ sơ. Địa chỉ" in centre


def test_outside_hours_the_next_opening_and_the_centre_of_the_place_named(
    domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    said, centre = handoff_answer(domain, monkeypatch, TUESDAY_EVENING, "Đà Nẵng")
    assert said.startswith("Bây giờ đã ngoài giờ hỗ trợ của tình nguyện viên (07:30–17:00, Thứ Hai đến")
    assert said.endswith("sớm nhất 07:30 Thứ Tư 02/12.")
    assert "đến Trung tâm Phục vụ hành chính công của Thành phố Đà Nẵng;" in centre
    said, centre = handoff_answer(domain, monkeypatch, SATURDAY_NOON, "Quảng Bình")
    assert said.endswith("sớm nhất 07:30 Thứ Hai 07/12.")
    assert (
        "Trung tâm Phục vụ hành chính công của Tỉnh Quảng Trị. Tỉnh Quảng Bình cũ nay thuộc Tỉnh Quảng Trị "
        "(Nghị quyết 202/2025/QH15); hồ sơ được nhận ở bất kỳ Trung tâm nào trong tỉnh"
    ) in centre


def test_a_commune_names_its_one_stop_desk(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    _, centre = handoff_answer(domain, monkeypatch, TUESDAY_MORNING, "phường Hoàn Kiếm")
    desk = "Bộ phận một cửa / Trung tâm Phục vụ hành chính công Phường Hoàn Kiếm (Thành phố Hà Nội). Địa chỉ"
    assert desk in centre


@pytest.mark.parametrize("now", [TUESDAY_MORNING, TUESDAY_EVENING])
@pytest.mark.parametrize("place", [None, "Đà Nẵng", "Quảng Bình", "phường Hoàn Kiếm"])
def test_every_variation_is_filled_and_short(
    domain: Domain, monkeypatch: pytest.MonkeyPatch, now: datetime, place: str | None
) -> None:
    said, centre = handoff_answer(domain, monkeypatch, now, place)
    opening = "Muốn gặp cán bộ trực tiếp" if now == TUESDAY_MORNING else "Nếu cần gấp"
    assert centre.startswith(f"{opening}, bạn có thể đến ")
    assert centre.endswith("(https://dichvucong.gov.vn) và cổng dịch vụ công của tỉnh.")
    text = f"{said}\n{centre}"
    assert "None" not in text and "{" not in text and len(text) <= 600, text


def test_one_variation_per_hours_and_place(domain: Domain) -> None:
    """Rasa picks at random among the matching variations: each pair of slot values has exactly one."""
    conditions = [
        {(c["name"], c["value"]) for c in variation.get("condition") or []}
        for variation in domain.responses["utter_handoff"]
    ]
    for status in ("in_hours", "outside_hours"):
        for level in ("general", "province", "former_province", "commune"):
            wanted = {("support_status", status), ("centre_place", level)}
            assert sum(condition == wanted for condition in conditions) == 1, wanted
    assert conditions.count(set()) == 1  # the default, for slots never set
