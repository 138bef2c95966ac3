"""Fee rules from the portal's fee cell and the free text beside it.

The cell is often wrong ("Miễn phí" while the text names 135.000 đồng), and the text carries
time-bounded rules ("từ 01/7/2025 đến hết 31/12/2026 ... bằng 50%"). The rules kept here are:
- a figure in the cell is the standing fee; a figure only in the text becomes the standing fee;
- a clause with a date range becomes a bounded rule (its own figure, or a percentage of the base);
  a bounded clause about online filing applies only to the online channel;
- fees a province's People's Council sets get `set_by_province` and no amount.
"""

from __future__ import annotations

import re

from knowledge.importers.text import DATE_RANGE, amounts_in, make_date, one_line, parse_number, shorten
from knowledge.schema import ChannelKind, Fee

PROVINCE_SET = re.compile(r"Hội đồng nhân dân|HĐND", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"(?<=[.;])\s+(?=[-+A-ZĐÀ-Ỹ(])|\s+[-+•]\s+|\n+|^\s*[-+•]\s*")
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_ONLINE = re.compile(r"trực tuy|điện tử|dịch vụ công", re.IGNORECASE)
_FREE = re.compile(r"miễn|không thu", re.IGNORECASE)


class FeeCell:
    """What the fee cell says: a figure with its currency, 'free', or nothing."""

    def __init__(self, amount: int | None = None, currency: str = "VND", free: bool = False,
                 raw: str | None = None, unclear: bool = False) -> None:
        self.amount = amount
        self.currency = currency
        self.free = free
        self.raw = raw
        self.unclear = unclear


def clauses(text: str) -> list[str]:
    return [part.strip(" .;") for part in _CLAUSE_SPLIT.split(text) if part and part.strip(" .;")]


def resolve_cell_figure(number: str, unit: str, description: str) -> FeeCell:
    """A figure from the cell. 'N VNĐ' with N < 1000 means thousands when the text confirms it."""
    value = round(parse_number(number))
    raw = f"{number} {unit}"
    named = amounts_in(description)
    if unit == "VNĐ" and 0 < value < 1000 and "," not in number and "." not in number:
        if any(amount == value * 1000 and currency == "VND" for amount, currency, _ in named):
            return FeeCell(value * 1000, raw=raw)
        if any(amount == value and currency == "USD" for amount, currency, _ in named):
            return FeeCell(value, currency="USD", raw=raw)
        return FeeCell(None, raw=raw, unclear=True)
    return FeeCell(value, raw=raw)


def build_fees(
    cell: FeeCell, description: str | None, kind: ChannelKind, province_set: bool
) -> tuple[list[Fee], list[str]]:
    """Fee rules for one channel, and the problems met (for the catalogue report)."""
    problems: list[str] = []
    text = one_line(description) or ""
    standing: list[Fee] = []
    bounded: list[tuple[str, object, object, int | None, float | None]] = []
    named_standing: list[tuple[int, str, str | None, str]] = []

    for clause in clauses(text):
        span = DATE_RANGE.search(clause)
        if span:
            start = make_date(*span.group(1, 2, 3))
            end = make_date(*span.group(4, 5, 6))
            if _ONLINE.search(clause) and kind != ChannelKind.truc_tuyen:
                continue
            figures = [a for a in amounts_in(clause) if a[1] == "VND"]
            percent = _PERCENT.search(clause)
            amount = figures[0][0] if figures else None
            if amount is None and not percent and _FREE.search(clause):
                amount = 0
            bounded.append((clause, start, end, amount, parse_number(percent.group(1)) if percent else None))
            continue
        for amount, currency, per in amounts_in(clause):
            named_standing.append((amount, currency, per, clause))

    note = shorten(text) if text else None
    if cell.amount is not None:
        per = next((p for a, _, p, _ in named_standing if a == cell.amount and p), None)
        standing.append(Fee(amount=cell.amount, currency=cell.currency, per=per, note=note))
    elif named_standing:
        seen: set[tuple[int, str]] = set()
        for amount, currency, per, clause in named_standing:
            if (amount, currency) in seen:
                continue
            seen.add((amount, currency))
            standing.append(Fee(amount=amount, currency=currency, per=per, note=shorten(clause, 160)))
        if cell.free:
            problems.append("repaired: fee column says 'Miễn phí' but the text names an amount")
    elif province_set and re.match(r"(miễn|không thu)", text, re.IGNORECASE):
        standing.append(Fee(amount=0, note=note))
    elif province_set or PROVINCE_SET.search(text):
        said = f"Cổng DVCQG ghi: {cell.raw}" if cell.raw else None
        standing.append(Fee(amount=None, set_by_province=True, note=note or said))
        problems.append("repaired: fee marked as set by the province (HĐND)")
    elif cell.free and re.search(r"chưa quy định", text, re.IGNORECASE):
        standing.append(Fee(amount=None, note=note))
    elif cell.free:
        standing.append(Fee(amount=0, note=note))
    elif cell.unclear:
        standing.append(Fee(amount=None, note=f"Cổng DVCQG ghi '{cell.raw}', không rõ đơn vị; xem nguồn"))
        problems.append(f"fee figure '{cell.raw}' has no clear unit")
    elif note:
        standing.append(Fee(amount=None, note=note))

    base = standing[0].amount if len(standing) == 1 else None
    rules = list(standing)
    for clause, start, end, amount, percent in bounded:
        if amount is None and percent is not None and base is not None:
            amount = round(base * percent / 100)
        if amount is None:
            problems.append("a time-bounded fee rule without a figure")
            continue
        rules.append(Fee(amount=amount, note=shorten(clause, 200), valid_from=start, valid_to=end))
        problems.append("repaired: a time-bounded fee rule kept with its dates")
    return rules, problems
