"""Resolve a place a citizen names (province or commune, old province names included).

Data: bot/data/places.json, built by training_data/build_places.py from the admin-units dataset;
former provinces follow Nghị quyết 202/2025/QH15.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
