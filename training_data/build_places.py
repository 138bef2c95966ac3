"""Build the place data the bot uses from ../shared/data/admin-units (run from the repo root).

Writes bot/data/places.json (34 provinces, their communes, and the 63 pre-merger provinces) and
training_data/lookups/place.yml: the `place` regex feature, which matches the place names with and
without diacritics. Usage: `.venv/bin/python training_data/build_places.py [ADMIN_UNITS_JSON]`.

The names are written as one regex shaped like a trie (common prefixes factored out) rather than as a
Rasa lookup table: Rasa turns a lookup table into an alternation of every name, each between word
boundaries, and tries all ~6,000 of them at every position of every message (1.1 ms a message); the
trie tries only the names that go on as the text does. It matches the same spans as that alternation
(tests/rasa/test_place_regex.py): case-insensitively (the RegexFeaturizer's `case_sensitive: false`),
and where one name starts another ("Bà Rịa", "Bà Rịa - Vũng Tàu"), the shorter first, as the sorted
alternation does. Its features are the same too: regexes come before lookup tables in the
featurizer's columns, sorted by name, and `place` is the last name of either.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "admin-units" / "json"

# Provinces merged by Nghị quyết 202/2025/QH15 (in force 12/6/2025; new provinces operate from
# 1/7/2025): new province -> the former provinces it absorbed. The 11 unchanged provinces are absent.
MERGED_BY_RESOLUTION_202_2025: dict[str, list[str]] = {
    "Tuyên Quang": ["Tuyên Quang", "Hà Giang"],
    "Lào Cai": ["Lào Cai", "Yên Bái"],
    "Thái Nguyên": ["Thái Nguyên", "Bắc Kạn"],
    "Phú Thọ": ["Phú Thọ", "Vĩnh Phúc", "Hòa Bình"],
    "Bắc Ninh": ["Bắc Ninh", "Bắc Giang"],
    "Hưng Yên": ["Hưng Yên", "Thái Bình"],
    "Hải Phòng": ["Hải Phòng", "Hải Dương"],
    "Ninh Bình": ["Ninh Bình", "Hà Nam", "Nam Định"],
    "Quảng Trị": ["Quảng Trị", "Quảng Bình"],
    "Đà Nẵng": ["Đà Nẵng", "Quảng Nam"],
    "Quảng Ngãi": ["Quảng Ngãi", "Kon Tum"],
    "Gia Lai": ["Gia Lai", "Bình Định"],
    "Khánh Hòa": ["Khánh Hòa", "Ninh Thuận"],
    "Lâm Đồng": ["Lâm Đồng", "Đắk Nông", "Bình Thuận"],
    "Đắk Lắk": ["Đắk Lắk", "Phú Yên"],
    "Hồ Chí Minh": ["Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"],
    "Đồng Nai": ["Đồng Nai", "Bình Phước"],
    "Tây Ninh": ["Tây Ninh", "Long An"],
    "Cần Thơ": ["Cần Thơ", "Sóc Trăng", "Hậu Giang"],
    "Vĩnh Long": ["Vĩnh Long", "Bến Tre", "Trà Vinh"],
    "Đồng Tháp": ["Đồng Tháp", "Tiền Giang"],
    "Cà Mau": ["Cà Mau", "Bạc Liêu"],
    "An Giang": ["An Giang", "Kiên Giang"],
}
# Names people use besides the official ones.
PROVINCE_NICKNAMES: dict[str, list[str]] = {
    "Hồ Chí Minh": ["Sài Gòn", "TP HCM", "TPHCM", "HCM", "tp hồ chí minh"],
    "Hà Nội": ["HN", "Hà Lội"],
    "Bà Rịa - Vũng Tàu": ["Vũng Tàu", "Bà Rịa", "BRVT"],
    "Huế": ["Thừa Thiên Huế", "TT Huế"],
    "Đắk Lắk": ["Daklak", "Đắc Lắc"],
    "Đắk Nông": ["Đắc Nông", "Daknong"],
}


def strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in text if unicodedata.category(ch) != "Mn"))


def build(source_dir: Path) -> dict:
    source = next(source_dir.glob("simplified_json_generated_data_vn_units_*.json"))
    provinces = json.loads(source.read_text(encoding="utf-8"))
    # Tone marks are placed differently in places ("Khánh Hoà" / "Khánh Hòa"): match without them.
    by_key = {strip_accents(p["Name"]).lower(): p["Name"] for p in provinces}
    unknown = [name for name in MERGED_BY_RESOLUTION_202_2025 if strip_accents(name).lower() not in by_key]
    if unknown:
        raise SystemExit(f"Merged provinces missing from the admin units: {unknown}")
    return {
        "source": f"{source.name} (github.com/thanglequoc/vietnamese-provinces-database, MIT)",
        "old_provinces_source": "Nghị quyết 202/2025/QH15 về sắp xếp đơn vị hành chính cấp tỉnh",
        "provinces": [
            {
                "code": p["Code"],
                "name": p["Name"],
                "full_name": p["FullName"],
                "communes": [
                    {"code": w["Code"], "name": w["Name"], "full_name": w["FullName"]} for w in p["Wards"]
                ],
            }
            for p in provinces
        ],
        "old_provinces": {
            old: by_key[strip_accents(new).lower()]
            for new, olds in MERGED_BY_RESOLUTION_202_2025.items()
            for old in olds
            if old != new
        },
        "nicknames": PROVINCE_NICKNAMES,
    }


def lookup_entries(data: dict) -> list[str]:
    entries: set[str] = set()
    for province in data["provinces"]:
        entries.update({province["name"], province["full_name"]})
        for commune in province["communes"]:
            entries.add(commune["full_name"])
    entries.update(data["old_provinces"])
    for names in data["nicknames"].values():
        entries.update(names)
    entries |= {strip_accents(entry) for entry in entries}
    return sorted(entries, key=lambda e: (e.lower(), e))


def trie_regex(names: list[str]) -> str:
    r"""One regex for `names` that matches, case-insensitively, what Rasa's lookup alternation of the
    names sorted by `str.lower`, `(\bname1\b|\bname2\b|...)`, matches.

    At a position that alternation matches the first name, in that order, that the text goes on with
    and that ends on a word boundary: the shortest, since a name sorts before the names it starts. The
    trie tries a name's end (`\b`) before the longer names that go on from it, and so does the same.
    """
    end = ""  # a key no character is: a name ends at this node (and sorts before the characters)
    root: dict[str, dict] = {}
    for name in names:
        node = root
        for char in name.lower():
            node = node.setdefault(char, {})
        node[end] = {}

    def branches(node: dict[str, dict]) -> str:
        options = [r"\b" if c == end else re.escape(c) + branches(child) for c, child in sorted(node.items())]
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return r"(\b" + branches(root) + ")"


def main() -> None:
    source_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    data = build(source_dir)
    out = ROOT / "bot" / "data" / "places.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    lookup = ROOT / "training_data" / "lookups" / "place.yml"
    lookup.parent.mkdir(parents=True, exist_ok=True)
    names = lookup_entries(data)
    lines = ['version: "3.1"', "nlu:", "- regex: place", "  examples: |", f"    - {trie_regex(names)}"]
    lookup.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: {len(data['provinces'])} provinces; {lookup}: {len(names)} names")


if __name__ == "__main__":
    main()
