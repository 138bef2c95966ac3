"""Citizens' reports of papers asked beyond the rules, for coordinators: ``GET /console/api/reports``
(JSON, paginated) and ``GET /console/api/reports.csv`` (every matching report, for Excel).

Filters: ``province`` (today's province, any case), ``procedure`` (its code), ``since`` and ``until``
(a date, Vietnam's day, ``until`` inclusive; or a date and time with its offset). The conversation a
report came from is not shown: a report holds only what the citizen chose to write, masked.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from connectors.console.api import Authed, current_volunteer
from connectors.db.models import ExtraPaperReport

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_PAGE = 500
MAX_CSV_ROWS = 100_000
CSV_COLUMNS = {
    "reference": "Mã phản ánh",
    "at": "Thời điểm (giờ Việt Nam)",
    "channel": "Kênh",
    "procedure_code": "Mã thủ tục",
    "procedure_name": "Thủ tục",
    "province": "Tỉnh, thành phố",
    "commune": "Xã, phường, đặc khu",
    "place_text": "Nơi (người dân ghi)",
    "asked": "Giấy tờ bị yêu cầu thêm",
}
# A cell a spreadsheet would run as a formula (CSV injection) is prefixed with an apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


async def coordinator(authed: Authed = Depends(current_volunteer)) -> Authed:
    if not authed.volunteer.is_coordinator:
        raise HTTPException(403, "Chỉ điều phối viên xem được phản ánh của người dân.")
    return authed


def parse_moment(value: str | None, end_of_day: bool = False) -> datetime | None:
    """A date (Vietnam's day; its end when ``end_of_day``) or an ISO date and time (UTC unless it says)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(), VIETNAM)
        return (start + timedelta(days=1) if end_of_day else start).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"Ngày giờ không hợp lệ: {value[:40]!r} (dùng dạng 2025-11-30).") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _folded(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


@dataclass(frozen=True)
class ReportFilter:
    province: str | None
    procedure: str | None
    since: datetime | None
    until: datetime | None

    def apply(self, session: Session, query: Select[Any]) -> Select[Any]:
        if self.province:
            # Any case, in Python: SQLite's lower() folds ASCII only ("Đ", "Ắ"…).
            wanted = _folded(self.province)
            stored = session.scalars(select(ExtraPaperReport.province).distinct())
            names = [name for name in stored if name and _folded(name) == wanted]
            query = query.where(ExtraPaperReport.province.in_(names))
        if self.procedure:
            query = query.where(ExtraPaperReport.procedure_code == self.procedure.strip())
        if self.since:
            query = query.where(ExtraPaperReport.at >= self.since)
        if self.until:
            query = query.where(ExtraPaperReport.at < self.until)
        return query


def report_filter(
    province: str | None = Query(None, max_length=120, description="Tỉnh, thành phố (tên hiện nay)."),
    procedure: str | None = Query(None, max_length=64, description="Mã thủ tục, ví dụ 1.004194."),
    since: str | None = Query(None, max_length=40, description="Từ ngày (2025-11-01) hoặc thời điểm ISO."),
    until: str | None = Query(None, max_length=40, description="Đến hết ngày (2025-11-30) hoặc thời điểm."),
) -> ReportFilter:
    return ReportFilter(province, procedure, parse_moment(since), parse_moment(until, end_of_day=True))


def report_json(row: ExtraPaperReport) -> dict[str, Any]:
    return {
        "reference": row.reference,
        "at": row.at.isoformat(),
        "channel": row.channel,
        "procedure_code": row.procedure_code,
        "procedure_name": row.procedure_name,
        "province": row.province,
        "commune": row.commune,
        "place_text": row.place_text_masked,
        "asked": row.asked_masked,
    }


def find_reports(
    session: Session, filters: ReportFilter, limit: int, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """How many reports match, and one page of them, newest first."""
    total = session.scalar(filters.apply(session, select(func.count(ExtraPaperReport.id)))) or 0
    query = filters.apply(session, select(ExtraPaperReport)).order_by(
        ExtraPaperReport.at.desc(), ExtraPaperReport.id.desc()
    )
    rows = session.scalars(query.limit(limit).offset(offset))
    return total, [report_json(row) for row in rows]


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def reports_csv(reports: list[dict[str, Any]]) -> str:
    """UTF-8 with a byte-order mark (Excel reads Vietnamese right), one row per report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS.values())
    for report in reports:
        report = {
            **report,
            "at": datetime.fromisoformat(report["at"]).astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M"),
        }
        writer.writerow(safe_cell(report[key]) for key in CSV_COLUMNS)
    return "\ufeff" + buffer.getvalue()


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console/api", tags=["console"])

    @router.get("/reports")
    async def reports(
        request: Request,
        response: Response,
        filters: ReportFilter = Depends(report_filter),
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=10_000_000),
        authed: Authed = Depends(coordinator),
    ) -> list[dict[str, Any]]:
        """The reports matching the filters, newest first; ``X-Total-Count`` says how many match."""
        total, page = await request.app.state.desk.run(
            lambda session: find_reports(session, filters, limit, offset)
        )
        response.headers["X-Total-Count"] = str(total)
        return page

    @router.get("/reports.csv")
    async def reports_export(
        request: Request,
        filters: ReportFilter = Depends(report_filter),
        authed: Authed = Depends(coordinator),
    ) -> Response:
        _, rows = await request.app.state.desk.run(
            lambda session: find_reports(session, filters, MAX_CSV_ROWS)
        )
        stamp = datetime.now(VIETNAM).strftime("%Y%m%d")
        return Response(
            reports_csv(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="phan-anh-giay-to-{stamp}.csv"',
                "Cache-Control": "no-store",
            },
        )

    return router
