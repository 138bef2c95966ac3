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
from dataclasses import dataclass
from datetime import date

from knowledge.importers.text import AMOUNT_IN_TEXT, DATE_RANGE, amounts_in, make_date, one_line, parse_number
from knowledge.schema import ChannelKind, Fee

PROVINCE_SET = re.compile(r"Hội đồng nhân dân|HĐND", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"(?<=[.;])\s+(?=[-+*A-ZĐÀ-Ỹ(])|(?<=;)\s+|\s+[-+*•]\s+(?!\()|\n+|^\s*[-+*•]\s*")
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_ONLINE = re.compile(r"trực tuy|điện tử|dịch vụ công", re.IGNORECASE)
_FREE = re.compile(r"miễn|không thu", re.IGNORECASE)
# The words that open a free period just before its dates ('Miễn phí từ …', the portal's 'Miễ phí').
_FREE_LEAD = re.compile(
    r"(?:miễn?\s*(?:thu\s*)?(?:lệ\s*)?phí|không thu(?:\s*(?:lệ\s*)?phí)?)(?:\s*kể)?\s*$", re.IGNORECASE
)


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
    """A figure from the cell. 'N đồng' with N < 1000 means thousands when the text confirms it, and
    nothing when the text says the fee is waived ('1 Việt Nam Đồng' … 'được miễn lệ phí')."""
    value = round(parse_number(number))
    raw = f"{number} {unit}"
    named = amounts_in(description)
    if 0 < value < 1000 and "," not in number and "." not in number:
        if any(amount == value * 1000 and currency == "VND" for amount, currency, _ in named):
            return FeeCell(value * 1000, raw=raw)
        if any(amount == value and currency == "USD" for amount, currency, _ in named):
            return FeeCell(value, currency="USD", raw=raw)
        if not named and _FREE.search(description):
            return FeeCell(free=True, raw=raw)
        return FeeCell(None, raw=raw, unclear=True)
    return FeeCell(value, raw=raw)


# A bullet that starts an item: '- ', '+ ', '* ', '• ' at the start or after a space or a full stop.
_BULLET = re.compile(r"(?:^|(?<=[\s.;:)]))([-+*•])\s+(?!\()")
# A fee computed from the case ('150.000 đồng + (số tấn x 15.000 đồng/tấn)'): one rule, no single figure.
FORMULA = re.compile(r"\s[x×]\s|\+\s*\(|^Tối (?:đa|thiểu)\b", re.IGNORECASE)
_DATE = r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})"
DATE_UNTIL = re.compile(rf"đến hết\s+(?:ngày\s+)?{_DATE}", re.IGNORECASE)


def _depths(text: str) -> list[int]:
    depth, depths = 0, []
    for char in text:
        depth += char == "("
        depths.append(depth)
        depth -= char == ")" and depth > 0
    return depths


def fee_items(text: str) -> list[str]:
    """The text cut at its top-level bullets ('* …', '- …'), outside parentheses; without bullets,
    at its sentences. The text before the first bullet is an item of its own."""
    depths = _depths(text)
    bullets = [m for m in _BULLET.finditer(text) if depths[m.start(1)] == 0]
    if not bullets:
        return clauses(text)
    top = bullets[0].group(1)
    cuts = [m.start(1) for m in bullets if m.group(1) == top]
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return [piece.strip(" .;") .lstrip("-+*• ").strip() for piece in pieces if piece.strip(" .;-+*•")]


@dataclass
class _Rule:
    amount: int | None
    currency: str
    per: str | None
    item: str
    start: date | None = None
    end: date | None = None
    percent: float | None = None


def _group_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The innermost parenthesised group holding text[start:end], or the whole text."""
    open_at = text.rfind("(", 0, start)
    while open_at >= 0:
        close_at = _closing(text, open_at)
        if close_at >= end:
            return open_at, close_at + 1
        open_at = text.rfind("(", 0, open_at)
    return 0, len(text)


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for index in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return len(text)


def _item_rules(item: str, kind: ChannelKind) -> list[_Rule]:
    """The fee rules one item names: its standing figures, and a time-bounded one."""
    span = DATE_RANGE.search(item) or DATE_UNTIL.search(item)
    figures = [(m.start(), a) for m, a in zip(AMOUNT_IN_TEXT.finditer(item), amounts_in(item), strict=True)]
    if not span:
        return [_Rule(a, c, p, item) for _, (a, c, p) in figures]
    if _ONLINE.search(item) and kind != ChannelKind.truc_tuyen and len(span.groups()) == 6:
        return [_Rule(a, c, p, item) for at, (a, c, p) in figures if at < span.start()][:1]
    if len(span.groups()) == 6:
        valid_from, valid_to = make_date(*span.group(1, 2, 3)), make_date(*span.group(4, 5, 6))
    else:
        valid_from, valid_to = None, make_date(*span.group(1, 2, 3))
    starts = [m.end("number") for m in AMOUNT_IN_TEXT.finditer(item) if m.end("number") <= span.start()]
    lead = _FREE_LEAD.search(item, max(starts[-1], span.start() - 60), span.start()) if starts else None
    if lead:
        # '5.000.000 đồng … 40.000.000 đồng (…) Miễn phí từ 07/4/2026 đến 30/6/2026': the figures are
        # the standing fees, the period is free.
        standing = [_Rule(a, c, p, _figure_case(item, at) or item) for at, (a, c, p) in figures]
        return [*standing, _Rule(0, "VND", None, item[lead.start() :].strip(), valid_from, valid_to)]
    low, high = _group_around(item, span.start(), span.end())
    inside = [f for f in figures if low <= f[0] < high]
    outside = [f for f in figures if not low <= f[0] < high]
    rules = [_Rule(a, c, p, item) for _, (a, c, p) in outside] if inside else []
    chosen = inside or outside
    percent = _PERCENT.search(item[low:high])
    if chosen:
        amount, currency, per = chosen[0][1]
        rules.append(_Rule(amount, currency, per, item, valid_from, valid_to))
    elif percent:
        rules.append(_Rule(None, "VND", None, item, valid_from, valid_to, parse_number(percent.group(1))))
    elif _FREE.search(item):
        rules.append(_Rule(0, "VND", None, item, valid_from, valid_to))
    else:
        rules.append(_Rule(None, "VND", None, item, valid_from, valid_to))
    return rules


def _figure_case(item: str, at: int) -> str | None:
    """'40.000.000 đồng/lần cấp (Đối với cảng hàng không quốc tế)': the case the parenthesis after
    the figure names, or None when none follows it."""
    match = AMOUNT_IN_TEXT.match(item, at)
    if not match:
        return None
    rest = item[match.end() :].lstrip()
    if not rest.startswith("("):
        return None
    case = rest[1 : _closing(rest, 0)].strip()
    return case if case and not (DATE_RANGE.search(case) or DATE_UNTIL.search(case)) else None


def _is_sum(amount: int, parts: list[int]) -> bool:
    return len(parts) >= 2 and amount == sum(parts)


def build_fees(
    cell: FeeCell, description: str | None, kind: ChannelKind, province_set: bool
) -> tuple[list[Fee], list[str]]:
    """Fee rules for one channel, and the problems met (for the catalogue report)."""
    problems: list[str] = []
    text = one_line(description) or ""
    items = fee_items(text)
    formulas = [item for item in items if FORMULA.search(item)]
    found = [rule for item in items if item not in formulas for rule in _item_rules(item, kind)]
    named = [r for r in found if r.start is None and r.end is None and r.amount is not None]
    bounded = [r for r in found if r.start or r.end]
    # A figure that is the sum of the items' figures (a cell of 4.000.000 over 1.000.000 + 3.000.000,
    # a bounded 2.000.000 over 500.000 + 1.500.000) is not a fee anyone pays.
    bounded = [r for r in bounded if not (r.amount and _is_sum(r.amount, [
        o.amount for o in bounded if o is not r and o.amount and (o.start, o.end) == (r.start, r.end)]))]
    distinct = list(dict.fromkeys((r.amount, r.currency) for r in named))
    by_case = len(distinct) >= 2 and len({r.item for r in named}) >= 2
    standing: list[Fee] = [Fee(amount=None, note=item) for item in formulas]
    note = text or None
    cell_is_sum = cell.amount is not None and _is_sum(cell.amount, [a for a, c in distinct if c == "VND"])
    cell_is_bounded = cell.amount is not None and any(r.amount == cell.amount for r in bounded) and not any(
        r.amount == cell.amount for r in named)
    if formulas and not named:
        problems.append("repaired: a fee computed by a formula kept as the source states it")
    elif cell.amount is not None and not (by_case or cell_is_sum or cell_is_bounded):
        per = next((r.per for r in named if r.amount == cell.amount and r.per), None)
        standing.append(Fee(amount=cell.amount, currency=cell.currency, per=per, note=note))
    elif named:
        seen: set[tuple[int | None, str]] = set()
        for rule in named:
            if (rule.amount, rule.currency) in seen:
                continue
            seen.add((rule.amount, rule.currency))
            standing.append(Fee(amount=rule.amount, currency=rule.currency, per=rule.per, note=rule.item))
        if cell.free:
            problems.append("repaired: fee column says 'Miễn phí' but the text names an amount")
        if cell_is_sum:
            problems.append("repaired: the fee column held the sum of the cases' fees")
    elif cell_is_bounded:
        standing.append(Fee(amount=None, note="Nguồn chỉ ghi mức phí có thời hạn: " + text))
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
    for rule in bounded:
        amount = rule.amount
        if amount is None and rule.percent is not None and base is not None:
            amount = round(base * rule.percent / 100)
        if amount is None:
            # Kept without a figure: the card says the source gives no amount for that period.
            rules.append(Fee(amount=None, note=rule.item, valid_from=rule.start, valid_to=rule.end))
            problems.append("a time-bounded fee rule without a figure")
            continue
        rules.append(Fee(amount=amount, currency=rule.currency, per=rule.per, note=rule.item,
                         valid_from=rule.start, valid_to=rule.end))
        problems.append("repaired: a time-bounded fee rule kept with its dates")
    return rules, problems
