"""Resolve a place a citizen names (province or commune, old province names included).

Data: bot/data/places.json, built by training_data/build_places.py from the admin-units dataset;
former provinces follow Nghị quyết 202/2025/QH15. ``resolve_address`` also reads old addresses
(wards and districts before 1 July 2025) with the PyPI package ``vietnamadminunits``, offline only.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

PLACES_FILE = Path(__file__).resolve().parent / "data" / "places.json"
_PREFIXES = re.compile(r"^(tinh|thanh pho|tp\.?|xa|phuong|dac khu|thi tran|quan|huyen|thi xa)\s+")


@dataclass(frozen=True)
class Place:
    province: str
    commune: str | None = None
    # The former province the citizen named, merged into ``province`` (Nghị quyết 202/2025/QH15).
    former_province: str | None = None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _key(text: str) -> str:
    return _PREFIXES.sub("", normalise(text))


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Place], dict[str, list[Place]]]:
    data = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    provinces: dict[str, Place] = {}
    communes: dict[str, list[Place]] = {}
    for province in data["provinces"]:
        provinces[_key(province["name"])] = Place(province=province["full_name"])
        for commune in province["communes"]:
            place = Place(province=province["full_name"], commune=commune["full_name"])
            communes.setdefault(_key(commune["name"]), []).append(place)
    full_names = {p["name"]: p["full_name"] for p in data["provinces"]}
    for old, new in data["old_provinces"].items():
        provinces.setdefault(
            _key(old),
            Place(province=full_names[new], former_province=old),
        )
    for official, nicknames in data["nicknames"].items():
        target = provinces.get(_key(official))
        if target:
            for nickname in nicknames:
                provinces.setdefault(_key(nickname), target)
    return provinces, communes


def resolve_place(mention: str) -> Place | None:
    """The province (and commune when unambiguous) a mention names, or None."""
    if not mention or not mention.strip():
        return None
    provinces, communes = _index()
    key = _key(mention)
    text = normalise(mention)
    is_commune = bool(re.match(r"^(xa|phuong|dac khu|thi tran)\s", text))
    if not is_commune and key in provinces:
        return provinces[key]
    matches = communes.get(key, [])
    if len(matches) == 1:
        return matches[0]
    return provinces.get(key)


def _converted(mention: str) -> tuple[str | None, str | None]:
    """An old (63-province) address as today's (ward, province), from vietnamadminunits' offline
    mappings: its ``convert_address`` may ask an online geocoder for a ward split in 2025, so the
    split case takes the package's default new ward instead."""
    from vietnamadminunits import ParseMode, parse_address
    from vietnamadminunits.converter import converter_2025 as mapping

    old = parse_address(mention.replace(",", " "), mode=ParseMode.LEGACY, keep_street=False, level=3)
    province_key = next((k for k, v in mapping.DICT_PROVINCE.items() if old.province_key in v), None)
    if province_key is None:
        return None, None
    ward_key = None
    if old.ward_key:
        old_key = f"{old.province_key}_{old.district_key}_{old.ward_key}"
        kept = mapping.DICT_PROVINCE_WARD_NO_DIVIDED.get(province_key, {})
        ward_key = next((k for k, v in kept.items() if old_key in v), None)
        if ward_key is None:
            split = mapping.DICT_PROVINCE_WARD_DIVIDED.get(province_key, {}).get(old_key, [])
            ward_key = next((w["newWardKey"] for w in split if w["isDefaultNewWard"]), None)
    address = ",".join(key for key in (ward_key, province_key) if key)
    new = parse_address(address, mode=ParseMode.FROM_2025, keep_street=False, level=2 if ward_key else 1)
    return new.ward, new.province


def _today(mention: str) -> tuple[str | None, str | None]:
    """A place named with today's (34-province) units."""
    from vietnamadminunits import ParseMode, parse_address

    unit = parse_address(mention, mode=ParseMode.FROM_2025, keep_street=False, level=2)
    return unit.ward, unit.province


def resolve_address(mention: str) -> Place | None:
    """Today's commune/ward and province of a place as a citizen writes it, old names too ("quận
    Hoàn Kiếm", "P. Hàng Trống, Q. Hoàn Kiếm" -> Phường Hoàn Kiếm, Thành phố Hà Nội)."""
    if not mention or not mention.strip() or len(mention) > 200:
        return None
    found: list[tuple[str | None, str | None]] = []
    for read in (_converted, _today):
        try:
            found.append(read(mention))
        except Exception:  # the package's parsers on odd input; the bot's own data still answers
            logger.debug("vietnamadminunits could not read a place", exc_info=True)
            found.append((None, None))
    (old_ward, old_province), (new_ward, new_province) = found
    if old_ward and old_province:
        return Place(province=old_province, commune=old_ward)
    if new_ward and new_province and old_province in (None, new_province):
        return Place(province=new_province, commune=new_ward)
    if old_province or new_province:
        return Place(province=old_province or new_province or "")
    return resolve_place(mention)
