"""Helpers of the custom actions: place resolution (old provinces), typed choices, option buttons."""

from __future__ import annotations

import json

import pytest

from bot.actions.procedures import option_button
from bot.actions.slots import option_at
from bot.places import PLACES_FILE, Place, resolve_place


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


def test_old_province_names_the_former_province() -> None:
    place = resolve_place("Quảng Bình")
    assert place == Place(province="Tỉnh Quảng Trị", former_province="Quảng Bình")
    assert resolve_place("Quảng Trị") == Place(province="Tỉnh Quảng Trị")


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
    ("ordinal", "expected"),
    [("1", "a"), ("2", "b"), ("3", "c"), ("last", "c"), ("4", None), ("0", None), ("x", None)],
)
def test_an_ordinal_value_picks_an_offered_option(ordinal: str, expected: str | None) -> None:
    assert option_at(["a", "b", "c"], ordinal) == expected


def test_option_button_payload_is_rasa_intent_syntax() -> None:
    button = option_button("1.001193", "Thủ tục đăng ký khai sinh " * 10)
    assert button["payload"] == '/choose_option{"procedure_code":"1.001193"}'
    assert len(button["title"]) <= 90
