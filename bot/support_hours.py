"""The volunteers' support hours and how they are worded.

Settings: ``TTHC_SUPPORT_DAYS`` (ISO weekdays, e.g. ``1-5`` for Monday to Friday, or ``1,3,5``),
``TTHC_SUPPORT_HOURS`` (``07:30-17:00``) and ``TTHC_SUPPORT_TIMEZONE`` (``Asia/Ho_Chi_Minh``). The
names of the days are data, bot/data/support_hours.yml; the sentences around them are the handoff
responses (bot/domain/handoff.yml), filled by ``action_request_human``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

# Read by the action server and, in tests/rasa, by Rasa's venv: no pydantic here (1.x there, 2.x here).
WORDING_FILE = Path(__file__).resolve().parent / "data" / "support_hours.yml"


@dataclass(frozen=True)
class ScheduleWording:
    """bot/data/support_hours.yml: the names of the ISO weekdays, and how a set of days is joined."""

    weekdays: dict[int, str]
    day_range: str
    day_separator: str

    def __post_init__(self) -> None:
        if sorted(self.weekdays) != list(range(1, 8)) or not all(self.weekdays.values()):
            raise ValueError(f"{WORDING_FILE.name} must name the ISO weekdays 1 to 7")

    def days(self, days: frozenset[int]) -> str:
        ordered = sorted(days)
        names = [self.weekdays[day] for day in ordered]
        if len(ordered) > 1 and ordered == list(range(ordered[0], ordered[-1] + 1)):
            return self.day_range.format(first=names[0], last=names[-1])
        return self.day_separator.join(names)


@lru_cache(maxsize=1)
def wording() -> ScheduleWording:
    data = yaml.safe_load(WORDING_FILE.read_text(encoding="utf-8"))
    return ScheduleWording(
        weekdays={int(day): str(name) for day, name in data["weekdays"].items()},
        day_range=str(data["day_range"]),
        day_separator=str(data["day_separator"]),
    )


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if not 1 <= start <= end <= 7:
            raise ValueError(f"support days must be ISO weekdays 1-7, got {text!r}")
        days.update(range(start, end + 1))
    if not days:
        raise ValueError(f"support days name no weekday: {text!r}")
    return frozenset(days)


def _parse_clock(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if int(hours) == 24 and int(minutes or 0) == 0:
        return time.max
    return time(int(hours), int(minutes or 0))


def clock(moment: time) -> str:
    return "24:00" if moment == time.max else moment.strftime("%H:%M")


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class SupportHours:
    days: frozenset[int]
    opens: time
    closes: time
    zone: tzinfo

    @classmethod
    def from_env(cls) -> SupportHours:
        opens, _, closes = (os.environ.get("TTHC_SUPPORT_HOURS") or "07:30-17:00").partition("-")
        hours = cls(
            days=_parse_days(os.environ.get("TTHC_SUPPORT_DAYS") or "1-5"),
            opens=_parse_clock(opens),
            closes=_parse_clock(closes),
            zone=_timezone(os.environ.get("TTHC_SUPPORT_TIMEZONE") or "Asia/Ho_Chi_Minh"),
        )
        if hours.opens >= hours.closes:
            raise ValueError("support hours must open before they close, e.g. 07:30-17:00")
        return hours

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.isoweekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime | None:
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            start = datetime.combine(day, self.opens, tzinfo=self.zone)
            if day.isoweekday() in self.days and start > local:
                return start
        return None
