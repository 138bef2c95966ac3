"""The province's analytics, computed in the database with SQL over a ``[since, until)`` window.

Every figure is an aggregate query (GROUP BY on indexed columns) over the analytics tables
(chat_turns, feedback, satisfaction, extra_paper_reports) and the handoff queue (handoffs,
assignments). Days are Vietnamese calendar days (UTC+7, no daylight saving), bucketed in SQL the same
way on SQLite and PostgreSQL. Only the percentiles of the handoff waits are picked in Python, from the
per-handoff waits the database computes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, String, and_, distinct, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from connectors.db.models import Assignment, ChatTurn, ExtraPaperReport, Feedback, Handoff, Satisfaction
from knowledge.config import VIETNAM

DEFAULT_DAYS = 30
MAX_DAYS = 400
CHANNELS = ("web", "zalo")
# Outcomes of a turn the bot could not answer; "other" turns (greetings, buttons) are not questions.
UNANSWERED_OUTCOMES = ("not_found", "not_understood", "out_of_scope")
OUTCOMES = ("answered", "asked_back", *UNANSWERED_OUTCOMES, "other")  # "other" last
DEFAULT_LOW_CONFIDENCE = 0.5
SATISFACTION_LEVELS = (1, 2, 3, 4, 5)
SATISFIED_LEVELS = (4, 5)  # the SIPAS satisfaction rate is the share of "hài lòng" and "rất hài lòng"
TOP_PROCEDURES = 20
UNANSWERED_LIMIT = 200
MAX_UNANSWERED_LIMIT = 5000


class WindowError(ValueError):
    """A window the API cannot use, with a message for the person who asked."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    low_confidence: float = DEFAULT_LOW_CONFIDENCE

    @property
    def days(self) -> list[str]:
        """Every local calendar day the window touches, as YYYY-MM-DD."""
        first = self.since.astimezone(VIETNAM).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(VIETNAM).date()
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

    def json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "low_confidence": self.low_confidence,
        }


def _moment(value: str, name: str) -> datetime:
    """A date (midnight in Vietnam) or an ISO 8601 datetime (Vietnam time when it has no offset)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), VIETNAM).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise WindowError(
            f"Tham số {name}={value!r} không hợp lệ: dùng ngày YYYY-MM-DD hoặc thời điểm ISO 8601."
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.astimezone(UTC)


def parse_window(
    since: str | None, until: str | None, low_confidence: str | None = None, now: datetime | None = None
) -> Window:
    """The window asked for; the last 30 days by default. WindowError when it makes no sense."""
    end = _moment(until, "until") if until else (now or datetime.now(UTC))
    start = _moment(since, "since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise WindowError("Khoảng thời gian không hợp lệ: since phải trước until.")
    if end - start > timedelta(days=MAX_DAYS):
        raise WindowError(f"Khoảng thời gian quá dài: tối đa {MAX_DAYS} ngày.")
    threshold = DEFAULT_LOW_CONFIDENCE
    if low_confidence is not None:
        try:
            threshold = float(low_confidence)
        except ValueError:
            threshold = math.nan
        if not 0.0 <= threshold <= 1.0:
            raise WindowError("Tham số low_confidence phải là một số từ 0 đến 1.")
    return Window(start, end, threshold)


# ---- SQL that differs between SQLite and PostgreSQL ----------------------------------------------


class local_day(FunctionElement[str]):
    """The Vietnamese calendar day of a UTC timestamp: 'YYYY-MM-DD' on SQLite, a DATE on PostgreSQL
    (cheaper than formatting it there); ``_day`` makes both a string."""

    type = String()
    name = "local_day"
    inherit_cache = True


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+7 hours')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(({column}) AT TIME ZONE 'Asia/Ho_Chi_Minh' AS DATE)"


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


def _day(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _within(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.since, column < window.until)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---- the figures ----------------------------------------------------------------------------------


def _unanswered_condition(window: Window) -> ColumnElement[bool]:
    return or_(
        ChatTurn.outcome.in_(UNANSWERED_OUTCOMES),
        and_(
            ChatTurn.outcome != "other",
            ChatTurn.confidence.is_not(None),
            ChatTurn.confidence < window.low_confidence,
        ),
    )


def _count_if(condition: ColumnElement[bool]) -> Any:
    """``count(*) FILTER (WHERE ...)``: SQLite 3.30+ and PostgreSQL."""
    return func.count().filter(condition)


def turn_figures(session: Session, window: Window) -> dict[str, Any]:
    """Conversations, messages, questions, outcomes and unanswered turns: in total, per channel and per
    day per channel. Two scans of the window's turns: per day and channel, and per channel (a
    conversation counts once in the window even when it spans days)."""
    day = local_day(ChatTurn.at).label("day")
    daily_rows = session.execute(
        select(
            day,
            ChatTurn.channel,
            func.count(distinct(ChatTurn.conversation_id)),
            func.count(),
            _count_if(_unanswered_condition(window)),
            *(_count_if(ChatTurn.outcome == outcome) for outcome in OUTCOMES),
        )
        .where(_within(ChatTurn.at, window))
        .group_by(day, ChatTurn.channel)
    ).all()
    found = {(_day(row[0]), row[1]): [int(n or 0) for n in row[2:]] for row in daily_rows}
    channels = sorted(set(CHANNELS) | {channel for _, channel in found})
    outcomes = dict.fromkeys(OUTCOMES, 0)
    unanswered_turns = 0
    daily = []
    for each_day in window.days:
        for channel in channels:
            conversations, messages, missed, *by_outcome = found.get(
                (each_day, channel), [0] * (3 + len(OUTCOMES))
            )
            unanswered_turns += missed
            for outcome, n in zip(OUTCOMES, by_outcome, strict=True):
                outcomes[outcome] += n
            daily.append(
                {
                    "date": each_day,
                    "channel": channel,
                    "conversations": conversations,
                    "messages": messages,
                    "questions": messages - by_outcome[-1],
                }
            )
    by_channel = {channel: {"conversations": 0, "messages": 0, "questions": 0} for channel in channels}
    for channel, conversations, messages, others in session.execute(
        select(
            ChatTurn.channel,
            func.count(distinct(ChatTurn.conversation_id)),
            func.count(),
            _count_if(ChatTurn.outcome == "other"),
        )
        .where(_within(ChatTurn.at, window))
        .group_by(ChatTurn.channel)
    ):
        by_channel[channel] = {
            "conversations": int(conversations),
            "messages": int(messages),
            "questions": int(messages) - int(others or 0),
        }
    messages = sum(part["messages"] for part in by_channel.values())
    unknown = messages - sum(outcomes.values())  # outcomes no version of the recorder writes
    if unknown:
        outcomes["unknown"] = unknown
    return {
        "conversations": sum(part["conversations"] for part in by_channel.values()),
        "messages": messages,
        "questions": sum(part["questions"] for part in by_channel.values()),
        "unanswered_turns": unanswered_turns,
        "by_channel": by_channel,
        "outcomes": {outcome: n for outcome, n in sorted(outcomes.items()) if n},
        "daily": daily,
    }


def procedure_names(codes: Iterable[str]) -> dict[str, str]:
    """Names from the catalogue (loaded once per process, no search model); {} when it cannot load."""
    try:
        from knowledge.catalogue import get_catalogue

        catalogue = get_catalogue()
    except Exception:  # the figures stand without the names
        return {}
    names = {}
    for code in codes:
        procedure = catalogue.get(code)
        if procedure is not None:
            names[code] = procedure.name
    return names


def top_procedures(session: Session, window: Window, limit: int = TOP_PROCEDURES) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ChatTurn.procedure_code, func.count().label("questions"))
        .where(_within(ChatTurn.at, window), ChatTurn.procedure_code.is_not(None))
        .group_by(ChatTurn.procedure_code)
        .order_by(func.count().desc(), ChatTurn.procedure_code)
        .limit(limit)
    ).all()
    names = procedure_names(code for code, _ in rows)
    return [{"code": code, "name": names.get(code), "questions": int(count)} for code, count in rows]


def _unanswered_turn(window: Window) -> ColumnElement[bool]:
    return and_(_within(ChatTurn.at, window), _unanswered_condition(window))


def _down_feedback(window: Window) -> ColumnElement[bool]:
    return and_(_within(Feedback.at, window), Feedback.rating == "down")


def unanswered_count(session: Session, window: Window) -> dict[str, int]:
    turns = session.scalar(select(func.count()).select_from(ChatTurn).where(_unanswered_turn(window))) or 0
    down = session.scalar(select(func.count()).select_from(Feedback).where(_down_feedback(window))) or 0
    return {"turns": int(turns), "feedback_down": int(down), "total": int(turns + down)}


def unanswered(session: Session, window: Window, limit: int = UNANSWERED_LIMIT) -> list[dict[str, Any]]:
    """The latest questions the bot could not answer, and the answers rated "Chưa đúng"; newest first."""
    turns = session.execute(
        select(
            ChatTurn.at,
            ChatTurn.channel,
            ChatTurn.outcome,
            ChatTurn.text_masked,
            ChatTurn.procedure_code,
            ChatTurn.confidence,
        )
        .where(_unanswered_turn(window))
        .order_by(ChatTurn.at.desc(), ChatTurn.id.desc())
        .limit(limit)
    ).all()
    downs = session.execute(
        select(
            Feedback.at,
            Feedback.channel,
            Feedback.question_masked,
            Feedback.procedure_code,
            Feedback.reason,
            Feedback.comment_masked,
        )
        .where(_down_feedback(window))
        .order_by(Feedback.at.desc(), Feedback.id.desc())
        .limit(limit)
    ).all()
    items = [
        {
            "at": at.isoformat(),
            "channel": channel,
            "kind": outcome if outcome in UNANSWERED_OUTCOMES else "low_confidence",
            "text": text,
            "procedure": procedure,
            "confidence": confidence,
            "reason": None,
            "comment": None,
        }
        for at, channel, outcome, text, procedure, confidence in turns
    ] + [
        {
            "at": at.isoformat(),
            "channel": channel,
            "kind": "feedback_down",
            "text": question,
            "procedure": procedure,
            "confidence": None,
            "reason": reason,
            "comment": comment,
        }
        for at, channel, question, procedure, reason, comment in downs
    ]
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:limit]


def feedback_figures(session: Session, window: Window) -> dict[str, Any]:
    day = local_day(Feedback.at).label("day")
    up = _count_if(Feedback.rating == "up")
    down = _count_if(Feedback.rating == "down")
    found = {
        _day(row[0]): (int(row[1] or 0), int(row[2] or 0))
        for row in session.execute(select(day, up, down).where(_within(Feedback.at, window)).group_by(day))
    }
    daily = []
    for each_day in window.days:
        ups, downs = found.get(each_day, (0, 0))
        daily.append({"date": each_day, "up": ups, "down": downs, "helpful_rate": _rate(ups, ups + downs)})
    total_up = sum(item["up"] for item in daily)
    total_down = sum(item["down"] for item in daily)
    reasons = session.execute(
        select(Feedback.reason, func.count()).where(_down_feedback(window)).group_by(Feedback.reason)
    ).all()
    return {
        "up": total_up,
        "down": total_down,
        "helpful_rate": _rate(total_up, total_up + total_down),
        "reasons": {
            reason or "none": int(count) for reason, count in sorted(reasons, key=lambda r: r[0] or "")
        },
        "daily": daily,
    }


def satisfaction_figures(session: Session, window: Window) -> dict[str, Any]:
    day = local_day(Satisfaction.at).label("day")
    rows = session.execute(
        select(day, Satisfaction.level, func.count())
        .where(_within(Satisfaction.at, window))
        .group_by(day, Satisfaction.level)
    ).all()
    per_day: dict[str, dict[int, int]] = {}
    for each_day, level, count in rows:
        per_day.setdefault(_day(each_day), {})[int(level)] = int(count)
    daily = []
    totals = dict.fromkeys(SATISFACTION_LEVELS, 0)
    for each_day in window.days:
        counts = per_day.get(each_day, {})
        answers = sum(counts.get(level, 0) for level in SATISFACTION_LEVELS)
        satisfied = sum(counts.get(level, 0) for level in SATISFIED_LEVELS)
        for level in SATISFACTION_LEVELS:
            totals[level] += counts.get(level, 0)
        daily.append(
            {
                "date": each_day,
                **{str(level): counts.get(level, 0) for level in SATISFACTION_LEVELS},
                "total": answers,
                "rate": _rate(satisfied, answers),
            }
        )
    answers = sum(totals.values())
    return {
        "levels": {str(level): totals[level] for level in SATISFACTION_LEVELS},
        "total": answers,
        "rate": _rate(sum(totals[level] for level in SATISFIED_LEVELS), answers),
        "daily": daily,
    }


def _nearest_rank(ordered: list[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def handoff_figures(session: Session, window: Window) -> dict[str, Any]:
    """Handoffs asked for in the window: their number, the wait until a volunteer first took one, how
    they ended (the handoff's status) and how its volunteers' turns ended (assignments.ended_by)."""
    requested = _within(Handoff.requested_at, window)
    statuses = dict(
        session.execute(select(Handoff.status, func.count()).where(requested).group_by(Handoff.status)).all()
    )
    first_taken = (
        select(Assignment.handoff_id, func.min(Assignment.started_at).label("taken_at"))
        .group_by(Assignment.handoff_id)
        .subquery()
    )
    waits = sorted(
        max(0.0, float(seconds))
        for seconds in session.scalars(
            select(seconds_between(first_taken.c.taken_at, Handoff.requested_at))
            .join(first_taken, first_taken.c.handoff_id == Handoff.id)
            .where(requested)
        )
    )
    ended: dict[str, int] = {}
    for how, n in session.execute(
        select(Assignment.ended_by, func.count())
        .join(Handoff, Handoff.id == Assignment.handoff_id)
        .where(requested)
        .group_by(Assignment.ended_by)
    ):
        ended[how or "open"] = ended.get(how or "open", 0) + int(n)
    channels = dict(
        session.execute(
            select(Handoff.channel, func.count()).where(requested).group_by(Handoff.channel)
        ).all()
    )
    count = sum(int(n) for n in statuses.values())
    return {
        "count": count,
        "taken": len(waits),
        "not_taken": count - len(waits),
        "wait_seconds": {
            "median": round(statistics.median(waits), 1) if waits else None,
            "p90": round(_nearest_rank(waits, 0.9), 1) if waits else None,
            "max": round(waits[-1], 1) if waits else None,
        },
        "statuses": {status: int(n) for status, n in sorted(statuses.items())},
        "ended_by": dict(sorted(ended.items())),
        "by_channel": {channel: int(n) for channel, n in sorted(channels.items())},
    }


def report_figures(session: Session, window: Window) -> dict[str, Any]:
    within = _within(ExtraPaperReport.at, window)
    places = session.execute(
        select(ExtraPaperReport.province, ExtraPaperReport.commune, func.count())
        .where(within)
        .group_by(ExtraPaperReport.province, ExtraPaperReport.commune)
        .order_by(func.count().desc(), ExtraPaperReport.province, ExtraPaperReport.commune)
    ).all()
    procedures = session.execute(
        select(ExtraPaperReport.procedure_code, func.max(ExtraPaperReport.procedure_name), func.count())
        .where(within)
        .group_by(ExtraPaperReport.procedure_code)
        .order_by(func.count().desc(), ExtraPaperReport.procedure_code)
    ).all()
    names = procedure_names(code for code, name, _ in procedures if code and not name)
    return {
        "count": sum(int(n) for *_, n in places),
        "by_place": [
            {"province": province, "commune": commune, "reports": int(n)} for province, commune, n in places
        ],
        "by_procedure": [
            {"code": code, "name": name or names.get(code or ""), "reports": int(n)}
            for code, name, n in procedures
        ],
    }


def stats(session: Session, window: Window) -> dict[str, Any]:
    """Everything the analytics page shows; the headline figures are totals at the top level."""
    turns = turn_figures(session, window)
    feedback = feedback_figures(session, window)
    satisfaction = satisfaction_figures(session, window)
    handoffs = handoff_figures(session, window)
    reports = report_figures(session, window)
    missed = {
        "turns": turns["unanswered_turns"],
        "feedback_down": feedback["down"],
        "total": turns["unanswered_turns"] + feedback["down"],
    }
    return {
        "window": window.json(),
        "conversations": turns["conversations"],
        "messages": turns["messages"],
        "questions": turns["questions"],
        "unanswered": missed["total"],
        "feedback": {"up": feedback["up"], "down": feedback["down"]},
        "satisfaction": satisfaction["levels"],
        "handoffs": handoffs["count"],
        "reports": reports["count"],
        "rates": {
            "helpful": feedback["helpful_rate"],
            "satisfaction": satisfaction["rate"],
            "unanswered": _rate(missed["turns"], turns["questions"]),
        },
        "by_channel": turns["by_channel"],
        "outcomes": turns["outcomes"],
        "daily": turns["daily"],
        "top_procedures": top_procedures(session, window),
        "unanswered_detail": missed,
        "feedback_detail": {"reasons": feedback["reasons"], "daily": feedback["daily"]},
        "satisfaction_detail": {"answers": satisfaction["total"], "daily": satisfaction["daily"]},
        "handoff_detail": handoffs,
        "reports_by_place": reports["by_place"],
        "reports_by_procedure": reports["by_procedure"],
    }
