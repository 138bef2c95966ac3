"""Small text helpers shared by the importers: whitespace, amounts, dates, form codes."""

from __future__ import annotations

import re
from datetime import date

NO_INFO = ("không có thông tin", "không có", "không")

_SPACES = re.compile(r"[ \t\u00a0\u200e\u200b]+")


def clean(text: str | None) -> str | None:
    """Collapse runs of spaces, trim, and turn the portal's 'no information' markers into None."""
    if text is None:
        return None
    lines = [_SPACES.sub(" ", line).strip() for line in str(text).replace("\r", "\n").split("\n")]
    result = "\n".join(line for line in lines if line)
    if not result or result.strip(" .:-").lower() in NO_INFO:
        return None
    return result


def one_line(text: str | None) -> str | None:
    cleaned = clean(text)
    return " ".join(cleaned.split()) if cleaned else None


def shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:(") + "…"


# --- Money -------------------------------------------------------------------------------------

_GROUPED = r"\d{1,3}(?:[.,]\d{3})+"
AMOUNT_IN_TEXT = re.compile(
    rf"(?<![\d.,])(?<!năm )(?P<number>{_GROUPED}|\d+(?:[.,]\d+)?)\s*(?P<million>triệu\s*)?"
    r"(?P<unit>[đĐ]ồng|đ(?![a-zà-ỹ])|Đ(?![a-zà-ỹA-ZĐ])|VNĐ|vnđ|VND|USD)"
    r"(?:\s*/\s*(?P<per>[^.;,()\-+\n]{1,40}))?"
)


def parse_number(raw: str) -> float:
    """'135.000' / '10,000' / '1.5' → number. A lone separator followed by 3 digits groups thousands."""
    raw = raw.strip()
    if re.fullmatch(_GROUPED, raw):
        return float(re.sub(r"[.,]", "", raw))
    return float(raw.replace(",", "."))


def amounts_in(text: str) -> list[tuple[int, str, str | None]]:
    """Every money figure named in a text: (amount, currency, per)."""
    found = []
    for match in AMOUNT_IN_TEXT.finditer(text):
        value = parse_number(match["number"])
        if match["million"]:
            value *= 1_000_000
        currency = "USD" if match["unit"] == "USD" else "VND"
        per = match["per"].strip() if match["per"] else None
        if per:
            per = re.split(r"\s+(?:theo|kể|đối với|áp dụng|từ|trong|[Mm]iễn)\s", per)[0]
            # '250.000 đ/lần Đồng': the portal's currency word repeated after the unit is no part of it.
            per = re.sub(r"\s+(?:Việt Nam\s+)?(?:[Đđ]ồng|VNĐ)$", "", per)
            per = re.sub(r"^0?1\s+", "", per).strip() or None
        found.append((round(value), currency, per))
    return found


# --- Dates -------------------------------------------------------------------------------------

_DATE = r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})"
DATE_RANGE = re.compile(
    rf"từ\s+(?:ngày\s+)?{_DATE}\s*(?:đến|tới)\s+(?:hết\s+)?(?:ngày\s+)?{_DATE}", re.IGNORECASE
)
DATE_FROM = re.compile(rf"(?:từ|kể từ)\s+(?:ngày\s+)?{_DATE}", re.IGNORECASE)


def make_date(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


# --- Form codes --------------------------------------------------------------------------------

# Codes such as CT01, DC02, TK01, CC01, NA1, M01a appear in names ("theo Mẫu CT01") and in the
# published file names ("Mau CT01.docx", "MuCT01banhnh.doc" once diacritics are stripped).
_FORM_IN_NAME = re.compile(r"[Mm]ẫu\s*(?:số\s*)?([A-Z]{1,3}\s?\d{1,3}[a-z]?)(?![\w/])")
_FORM_IN_FILE = re.compile(r"(?<![A-Z])(?!TT|ND|NĐ|QD|QĐ|NQ)([A-Z]{2,3}\d{2}[a-z]?)(?!\d)")


# Any other form number the source gives: 'Mẫu số 08.ĐKT', 'Mẫu 10TP-TTTM-sđ', 'mẫu số 01/2025/LLTP',
# 'Phụ lục 12.9', and in file names 'Mẫu số 29.docx', 'mau so 12 (1).doc', 'Phulucso05a.docx'.
_CODE = r"(?=[0-9A-Za-zĐđ.\-/]*\d)([0-9A-ZĐ][0-9A-Za-zĐđ.\-/]*)"
_FORM_NUMBER_IN_NAME = re.compile(rf"(?:[Mm]ẫu|MẪU)\s*(?:số\s*)?{_CODE}")
_ANNEX_IN_NAME = re.compile(r"(?:Phụ lục|PHỤ LỤC)\s*(?:số\s*)?([0-9]+[0-9a-z.]*|[IVXL]+\b)")
_FORM_NUMBER_IN_FILE = re.compile(
    rf"^(?:\d+[.\-]\s*)?(?:Mẫu|MẪU|mẫu|Mau|mau|MAU|Mus|mus|Mu|MU)\s*(?:số|so|SỐ)?\s*{_CODE}"
)
_ANNEX_IN_FILE = re.compile(
    r"^(?:Phụ lục|PHỤ LỤC|Phu luc|Phulucso|Phlc)\s*(?:số|SỐ|so)?\s*([0-9]+[0-9A-Za-z.]*|[IVXL]+\b)"
)


def form_code(name: str, file_name: str | None = None) -> str | None:
    match = _FORM_IN_NAME.search(name)
    if match:
        return match.group(1).replace(" ", "")
    if match := _FORM_NUMBER_IN_NAME.search(name):
        return match.group(1).rstrip(".-/")
    if match := _ANNEX_IN_NAME.search(name):
        return f"Phụ lục {match.group(1).rstrip('.')}"
    for file in (file_name or "").split("; "):
        if match := _FORM_IN_FILE.search(file):
            return match.group(1)
        stem = re.sub(r"(?:\s*\(\d+\))?\.\w+$", "", file.strip())
        if match := _FORM_NUMBER_IN_FILE.search(stem):
            return match.group(1).rstrip(".-/")
        if match := _ANNEX_IN_FILE.search(stem):
            return f"Phụ lục {match.group(1).rstrip('.')}"
    return None


# --- Pre-reform wording ------------------------------------------------------------------------

PRE_REFORM = re.compile(r"cấp huyện|Ủy ban nhân dân huyện|UBND (?:cấp )?huyện|quận, huyện", re.IGNORECASE)


def mentions_district_level(*texts: str | None) -> bool:
    return any(text and PRE_REFORM.search(text) for text in texts)
