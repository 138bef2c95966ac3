"""Helpers of the custom actions: place resolution (old provinces), typed choices, topic words."""

from __future__ import annotations

import json

import pytest

from bot.actions.procedures import chosen_index, option_button, topic_words
from bot.places import PLACES_FILE, resolve_place


@pytest.mark.parametrize(
    ("mention", "province"),
    [
        ("Hà Giang", "Tỉnh Tuyên Quang"),  # merged by Nghị quyết 202/2025/QH15
        ("ha giang", "Tỉnh Tuyên Quang"),
        ("tỉnh Bình Dương", "Thành phố Hồ Chí Minh"),
        ("Sài Gòn", "Thành phố Hồ Chí Minh"),
        ("Nam Định", "Tỉnh Ninh Bình"),
        ("Khánh Hòa", "Tỉnh Khánh Hoà"),  # tone mark placed differently
        ("Thừa Thiên Huế", "Thành phố Huế"),
        ("Lạng Sơn", "Tỉnh Lạng Sơn"),
    ],
)
def test_provinces_resolve_with_old_names(mention: str, province: str) -> None:
    place = resolve_place(mention)
    assert place is not None
    assert place.province == province


def test_old_province_carries_the_legal_note() -> None:
    place = resolve_place("Quảng Bình")
    assert place is not None and place.note is not None
    assert "Quảng Trị" in place.note and "202/2025/QH15" in place.note


def test_unknown_or_empty_places() -> None:
    assert resolve_place("") is None
    assert resolve_place("   ") is None
    assert resolve_place("Atlantis") is None


def test_commune_with_a_unique_name_resolves_to_its_province() -> None:
    data = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    names: dict[str, list[str]] = {}
    for province in data["provinces"]:
        for commune in province["communes"]:
            names.setdefault(commune["name"], []).append(province["full_name"])
    unique = next(name for name, provinces in names.items() if len(provinces) == 1 and len(name) > 6)
    place = resolve_place(f"xã {unique}") or resolve_place(f"phường {unique}")
    assert place is not None and place.province == names[unique][0] and place.commune


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [("cái đầu tiên", 5, 0), ("số 2", 5, 1), ("cái thứ hai", 3, 1), ("cái cuối", 4, 3), ("số 9", 3, None)],
)
def test_typed_choice_among_offered_options(text: str, count: int, expected: int | None) -> None:
    assert chosen_index(text, count) == expected


def test_option_button_payload_is_rasa_intent_syntax() -> None:
    button = option_button("1.001193", "Thủ tục đăng ký khai sinh " * 10)
    assert button["payload"] == '/choose_option{"procedure_code":"1.001193"}'
    assert len(button["title"]) <= 90


def test_follow_up_questions_have_no_topic_words() -> None:
    assert topic_words("lệ phí bao nhiêu?") == []
    assert topic_words("nộp ở đâu vậy ạ") == []
    assert len(topic_words("còn đổi bằng lái xe thì sao")) >= 2
