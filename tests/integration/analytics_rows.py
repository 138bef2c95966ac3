"""Known rows for the analytics tests (integration and browser): inside a window of seven Vietnamese
days, on its edges, and outside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.console.queue import channel_of
from connectors.db import Database
from connectors.db.models import (
    Assignment,
    ChatTurn,
    ExtraPaperReport,
    Feedback,
    Handoff,
    Satisfaction,
    Volunteer,
)

# Vietnamese days 1 to 7 November 2026: [2026-10-31T17:00Z, 2026-11-07T17:00Z).
WINDOW = "since=2026-11-01&until=2026-11-08"
SINCE = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 7, 17, 0, tzinfo=UTC)
RESIDENCE, BIRTH = "1.004194", "1.001193"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def turn(
    conversation: str,
    moment: datetime,
    text: str,
    outcome: str,
    code: str | None = None,
    confidence: float | None = None,
) -> ChatTurn:
    return ChatTurn(
        conversation_id=conversation,
        channel=channel_of(conversation),
        at=moment,
        text_masked=text,
        outcome=outcome,
        procedure_code=code,
        confidence=confidence,
    )


def fill(database: Database) -> None:
    """Rows inside the window, on its edges, and outside it (which must not count)."""
    with database.session() as session:
        session.add_all(
            [
                turn("web-c", SINCE, "đúng lúc bắt đầu", "answered", RESIDENCE, 0.95),  # included: since
                turn("web-a", at(2, 3), "Đăng ký tạm trú cần gì", "answered", RESIDENCE, 0.9),
                turn("web-a", at(2, 3, 1), "cảm ơn", "other"),
                turn("web-a", at(2, 18), "làm hộ chiếu ở đâu", "not_found"),  # 01:00 on the 3rd in Vietnam
                turn("web-b", at(3, 2), "khai sinh cho con", "answered", BIRTH, 0.4),  # low confidence
                turn("web-b", at(3, 2, 5), "tạm trú bao lâu", "asked_back", RESIDENCE, 0.6),
                turn("zalo:777", at(5, 10), "thời tiết hôm nay", "out_of_scope"),
                turn("zalo:777", at(5, 10, 1), '=HYPERLINK("http://x")', "not_understood"),
                turn("web-old", SINCE - timedelta(seconds=1), "trước cửa sổ", "not_found", RESIDENCE),
                turn("web-late", UNTIL, "đúng lúc kết thúc", "not_found", RESIDENCE),  # excluded: until
            ]
        )
        session.add_all(
            [
                Feedback(
                    conversation_id="web-a",
                    channel="web",
                    at=at(2, 3, 2),
                    rating="up",
                    procedure_code=RESIDENCE,
                ),
                Feedback(
                    conversation_id="web-b",
                    channel="web",
                    at=at(3, 2, 6),
                    rating="down",
                    reason="wrong_procedure",
                    comment_masked="sai rồi",
                    procedure_code=RESIDENCE,
                    question_masked="tạm trú bao lâu",
                ),
                Feedback(conversation_id="zalo:777", channel="zalo", at=at(5, 10, 2), rating="up"),
                Feedback(
                    conversation_id="web-old",
                    channel="web",
                    at=at(20, 1),
                    rating="down",
                    question_masked="ngoài cửa sổ",
                ),
            ]
        )
        session.add_all(
            [
                Satisfaction(conversation_id=conversation, channel=channel, at=moment, level=level)
                for conversation, channel, moment, level in [
                    ("web-c", "web", SINCE + timedelta(minutes=5), 4),
                    ("web-a", "web", at(2, 4), 5),
                    ("web-b", "web", at(3, 3), 2),
                    ("zalo:777", "zalo", at(5, 11), 4),
                    ("web-old", "web", at(9, 1), 1),
                ]
            ]
        )
        lan = Volunteer(username="lan-analytics", name="Lan", password_hash="x")
        minh = Volunteer(username="minh-analytics", name="Minh", password_hash="x")
        session.add_all([lan, minh])
        session.flush()
        closed = Handoff(conversation_id="web-b", channel="web", status="closed", requested_at=at(3, 2, 10))
        released = Handoff(
            conversation_id="zalo:777", channel="zalo", status="released", requested_at=at(5, 10, 5)
        )
        waiting = Handoff(conversation_id="web-a", channel="web", status="waiting", requested_at=at(6, 1))
        old = Handoff(
            conversation_id="web-old",
            channel="web",
            status="closed",
            requested_at=at(1, 1) - timedelta(days=10),
        )
        session.add_all([closed, released, waiting, old])
        session.flush()
        session.add_all(
            [
                Assignment(
                    handoff_id=closed.id,
                    volunteer_id=lan.id,
                    started_at=at(3, 2, 12),
                    ended_at=at(3, 2, 15),
                    ended_by="taken_over",
                ),
                Assignment(
                    handoff_id=closed.id,
                    volunteer_id=minh.id,
                    started_at=at(3, 2, 15),
                    ended_at=at(3, 2, 30),
                    ended_by="closed",
                ),
                Assignment(
                    handoff_id=released.id,
                    volunteer_id=lan.id,
                    started_at=at(5, 10, 6),
                    ended_at=at(5, 10, 20),
                    ended_by="released",
                ),
                Assignment(
                    handoff_id=old.id,
                    volunteer_id=lan.id,
                    started_at=at(1, 1) - timedelta(days=10),
                    ended_by="closed",
                ),
            ]
        )
        session.add_all(
            [
                ExtraPaperReport(
                    reference="PA-261103-AAAAA",
                    conversation_id="web-b",
                    channel="web",
                    at=at(3, 2, 20),
                    procedure_code=RESIDENCE,
                    procedure_name="Đăng ký tạm trú",
                    province="Thành phố Hà Nội",
                    commune="Phường Hoàn Kiếm",
                    asked_masked="bản sao sổ hộ khẩu",
                ),
                ExtraPaperReport(
                    reference="PA-261105-BBBBB",
                    conversation_id="zalo:777",
                    channel="zalo",
                    at=at(5, 12),
                    procedure_code=RESIDENCE,
                    procedure_name="Đăng ký tạm trú",
                    province="Thành phố Hà Nội",
                    commune="Phường Hoàn Kiếm",
                    asked_masked="giấy xác nhận",
                ),
                ExtraPaperReport(
                    reference="PA-261101-CCCCC",
                    conversation_id="web-c",
                    channel="web",
                    at=at(1, 2),
                    procedure_code=BIRTH,
                    province="Thành phố Hồ Chí Minh",
                    asked_masked="hộ khẩu",
                ),
                ExtraPaperReport(
                    reference="PA-261020-DDDDD",
                    conversation_id="web-old",
                    channel="web",
                    at=at(1, 2) - timedelta(days=12),
                    procedure_code=BIRTH,
                    province="Tỉnh Lào Cai",
                    asked_masked="cũ",
                ),
            ]
        )
